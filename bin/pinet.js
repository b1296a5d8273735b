#!/usr/bin/env node
// Tiny launcher: everything lives in the built CLI (dist/), produced by `npm install`:
// the bundle (dist/bundle/, see rolldown.config.mjs), or with PINET_UNBUNDLED=1 tsc's modules.
import { existsSync } from 'node:fs';

const unbundled = process.env.PINET_UNBUNDLED === '1';
const cli = new URL(unbundled ? '../dist/cli.js' : '../dist/bundle/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('pinet: error: the CLI is not built yet; run `npm install` (or `npm run build`) in the pinet directory\n');
  process.exit(2);
}
// --debug (or DEBUG=1; errors.ts isDebug's rule, which is not loaded yet): stack traces name
// pinet's modules and lines, not the bundle's. Source maps must be on before the modules load.
const debugEnv = process.env.DEBUG;
if (process.argv.includes('--debug') || (debugEnv !== undefined && debugEnv !== '' && debugEnv !== '0')) process.setSourceMapsEnabled(true);
// `pinet … | head` closes stdout early: stop quietly, like other command-line tools.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv);
