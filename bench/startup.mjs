#!/usr/bin/env node
// bench/startup: how fast pinet starts, compared with a bare `node -e ""` in
// the same run (this machine is noisy, so only the ratio means something).
// Target (issue 2): `pinet render-dnsmasq --subnet 10.0.0.0/24` ≤ 2.5× node.
// Also (issue 9): which of pinet's modules `pinet list` and `pinet list --help`
// load: a command must not load another command's code (list must not load enroll).
// Usage: node bench/startup.mjs [runs] [pinet-bin] [before-bin]   (default 20 runs of each, interleaved;
//        pinet-bin: another checkout's bin/pinet.js; before-bin: an older checkout's, whose commands
//        run interleaved in the same loop so that before and after see the same machine load)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 20);
// The commands run in / (no pinet.yaml around): the paths given are resolved here first.
const pinet = resolve(process.argv[3] ?? fileURLToPath(new URL('../bin/pinet.js', import.meta.url)));
const before = process.argv[4] && resolve(process.argv[4]);
/** Temporary directories of this run, removed when it ends (however it ends). */
const scratch = [];
const tempDir = (prefix) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
};
process.on('exit', () => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});
const emptyState = tempDir('pinet-bench-state-');
const cases = {
  'node -e ""': [process.execPath, ['-e', '']],
  'pinet render-dnsmasq --subnet 10.0.0.0/24': [process.execPath, [pinet, 'render-dnsmasq', '--subnet', '10.0.0.0/24']],
  'pinet --help': [process.execPath, [pinet, '--help']],
  'same, with a pinet.yaml (YAML + schema loaded)': [process.execPath, [pinet, 'render-dnsmasq'], withConfig()],
  'pinet list (empty inventory)': [process.execPath, [pinet, 'list', '--state-dir', emptyState]],
  'pinet list --help': [process.execPath, [pinet, 'list', '--help']],
  ...(before && {
    'before: pinet render-dnsmasq --subnet 10.0.0.0/24': [process.execPath, [before, 'render-dnsmasq', '--subnet', '10.0.0.0/24']],
    'before: pinet --help': [process.execPath, [before, '--help']],
    'before: same, with a pinet.yaml': [process.execPath, [before, 'render-dnsmasq'], withConfig()],
    'before: pinet list (empty inventory)': [process.execPath, [before, 'list', '--state-dir', emptyState]],
    'before: pinet list --help': [process.execPath, [before, 'list', '--help']],
  }),
};

function withConfig() {
  const dir = tempDir('pinet-bench-');
  writeFileSync(join(dir, 'pinet.yaml'), 'export-dir: /mnt/netboot\ndnsmasq:\n  subnet: 10.0.0.0/24\n');
  return dir;
}

function once([cmd, args, cwd = '/']) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}

const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (const c of Object.values(cases)) once(c); // warm the page cache
// Every other round runs the cases in reverse order, as bench/lib.ts's roundOrder (this file runs
// with plain node, without tsx): a run right after another is slower on this machine (~10 ms).
for (let i = 0; i < runs; i++) {
  const order = Object.entries(cases);
  if (i % 2) order.reverse();
  for (const [name, c] of order) times[name].push(once(c));
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const base = median(times['node -e ""']);
console.log(`startup, median of ${runs} interleaved runs each:`);
for (const [name, t] of Object.entries(times)) {
  console.log(`  ${name.padEnd(48)} ${median(t).toFixed(1).padStart(7)} ms   ${(median(t) / base).toFixed(2)}x node`);
}
const ratio = median(times['pinet render-dnsmasq --subnet 10.0.0.0/24']) / base;
console.log(`ratio render-dnsmasq / node: ${ratio.toFixed(2)} (target <= 2.5): ${ratio <= 2.5 ? 'OK' : 'TOO SLOW'}`);

// Which of pinet's own modules each command loads: a resolve hook (module.register) records every
// module URL under dist/ that the command imports, statically or lazily. PINET_UNBUNDLED=1 runs
// tsc's modules (one file per source module) instead of the bundle, so the URLs name them.
const hook = `data:text/javascript,${encodeURIComponent(`
  import { appendFileSync } from 'node:fs';
  export async function resolve(spec, ctx, next) {
    const r = await next(spec, ctx);
    if (r.url.includes('/dist/') && !r.url.includes('/dist/bundle/') && process.env.PINET_TRACE) appendFileSync(process.env.PINET_TRACE, r.url + '\\n');
    return r;
  }`)}`;
const register = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(hook)});`)}`;
function modulesOf(args) {
  const trace = join(mkdtempSync(join(tmpdir(), 'pinet-trace-')), 'modules');
  writeFileSync(trace, '');
  const r = spawnSync(process.execPath, ['--import', register, pinet, ...args], { env: { ...process.env, PINET_TRACE: trace, PINET_UNBUNDLED: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`pinet ${args.join(' ')} failed: ${r.stderr}`);
  return [...new Set(readFileSync(trace, 'utf8').split('\n').filter(Boolean).map((u) => u.replace(/^.*\/dist\//, '')))].sort();
}
console.log('\nmodules of pinet each command loads:');
for (const args of [['list', '--help'], ['list', '--state-dir', emptyState], ['render-dnsmasq', '--subnet', '10.0.0.0/24']]) {
  const mods = modulesOf(args);
  const foreign = mods.filter((m) => /(^|\/)(enroll|rollback|doctor)[./]/.test(m) || m.startsWith('jobs/'));
  console.log(`  pinet ${args.join(' ').replace(emptyState, '<dir>').padEnd(44)} ${String(mods.length).padStart(3)} modules; other jobs' code: ${foreign.length ? foreign.join(', ') : 'none'}`);
}
