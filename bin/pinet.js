#!/usr/bin/env node
// Tiny launcher: everything lives in the built CLI (dist/), produced by `npm install`.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('pinet: error: the CLI is not built yet; run `npm install` (or `npm run build`) in the pinet directory\n');
  process.exit(2);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv);
