#!/usr/bin/env node
// Tiny launcher: everything lives in the built CLI (dist/), produced by `npm install`.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('pinet: error: the CLI is not built yet; run `npm install` (or `npm run build`) in the pinet directory\n');
  process.exit(2);
}
// `pinet … | head` closes stdout early: stop quietly, like other command-line tools.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv);
