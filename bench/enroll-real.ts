/**
 * bench/enroll-real: enrolling a fleet at real sizes (issue 14). Fake Pis
 * with the real Ubuntu 24.04 boot partition (~170 MiB, all on one image; or
 * Raspberry Pi OS Bookworm's, --os bookworm),
 * the boot server's link to all of them limited to 1 Gb/s. One run of each
 * job, on fresh fleets, printing times, the bytes the Pis sent over the link,
 * and the ratios the issue sets as targets:
 *
 *  (a) the hashing floor: sha256sum of all boot partitions at once here;
 *  (b) the shell baseline (../shared/bench-anchors/shell-enroll.sh), xargs -P N;
 *  (c) rsync -a of each Pi's /boot/firmware, xargs -P N;
 *  (d) pinet enroll on 1 Pi, and on N Pis with --concurrency N;
 *  (e) pinet's second (no-op) run on the N enrolled Pis;
 *  (f) every Pi on a different kernel (nothing shared but the firmware): rsync and pinet.
 *
 * Targets: bytes sent <= 1.2x one Pi's partition; pinet <= 1/3 of shell and
 * of rsync; pinet N <= 1.5 x (floor + pinet 1 Pi); no-op <= 1/10 of the
 * first run; (f) pinet <= rsync. Exits 1 when a target is missed.
 *
 *   sudo npm run bench:enroll-real [-- --pis 50 --mbps 1000 --os ubuntu|bookworm --skip-kernels --own-initramfs]
 *
 * --own-initramfs: every Pi built its initrd.img itself after its kernel
 * upgrade (as real Pis do: mkinitramfs output differs per build unless
 * SOURCE_DATE_EPOCH is set), so ~52 MiB of each Pi's partition is its own.
 * --os bookworm: Raspberry Pi OS Bookworm's bootfs (68 MiB, two kernels,
 * a cmdline.txt of its own on every Pi) instead of Ubuntu 24.04's.
 *
 * Each figure is printed with the machine's load averages beside it, and
 * each pinet run with its own totals (bytes over the network and copied on
 * this machine, with their rates).
 *
 * First it checks the link: a plain copy over SSH of N MB takes about N/125 s
 * at 1 Gb/s (and at 100 Mb/s, N/12.5 s).
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startFleet, type Fleet } from '../test/fleet/fleet.js';
import type { PiSpec } from '../test/fleet/pi-image.js';
import {
  ANCHORS,
  PINET,
  distinctBytes,
  hashFloor,
  loadAverage,
  memAvailable,
  partitionBytes,
  pinetEnroll,
  pinetTotals,
  plainCopy,
  rawCopy,
  removeDir,
  rsyncAll,
  shellEnroll,
  wasNoOp,
  type Run,
} from './real-fleet.js';

const { values } = parseArgs({
  options: {
    pis: { type: 'string', default: '50' },
    mbps: { type: 'string', default: '1000' },
    'skip-kernels': { type: 'boolean', default: false },
    'own-initramfs': { type: 'boolean', default: false },
    os: { type: 'string', default: 'ubuntu' },
  },
});
const N = Number(values.pis);
const MBPS = Number(values.mbps);
const VARIANT = values.os === 'bookworm' ? ('rpios-bookworm-pi4' as const) : ('ubuntu-2404-pi4' as const);
const OS_NAME = values.os === 'bookworm' ? 'Raspberry Pi OS Bookworm' : 'Ubuntu 24.04';
/** The partition's initramfs and kernel, for the link check. */
const BIG = values.os === 'bookworm' ? ['/boot/firmware/initramfs8', '/boot/firmware/kernel8.img'] : ['/boot/firmware/initrd.img', '/boot/firmware/vmlinuz'];
if (!(Number.isInteger(N) && N >= 2 && N <= 200) || !(MBPS > 0) || !['ubuntu', 'bookworm'].includes(values.os!)) {
  console.error('usage: enroll-real.ts [--pis N (2-200)] [--mbps RATE] [--os ubuntu|bookworm] [--skip-kernels] [--own-initramfs]');
  process.exit(2);
}
for (const [what, ok] of [
  [`the baselines in ${ANCHORS} (set PINET_BENCH_ANCHORS)`, existsSync(join(ANCHORS, 'shell-enroll.sh'))],
  [`the built pinet (${PINET}; npm run build)`, existsSync(PINET)],
] as const) {
  if (!ok) {
    console.error(`bench/enroll-real: missing ${what}`);
    process.exit(2);
  }
}
if ((await execa('sh', ['-c', 'command -v rsync'], { reject: false })).exitCode !== 0) {
  console.error('bench/enroll-real: rsync is not installed (Debian package rsync)');
  process.exit(2);
}

const scratch = await mkdtemp(join(tmpdir(), 'pinet-bench-real-'));
await chmod(scratch, 0o755);
let serial = 0;
const dirs = () => {
  serial++;
  return { exp: join(scratch, `export-${serial}`), state: join(scratch, `state-${serial}`) };
};
const names = (n: number) => Array.from({ length: n }, (_, i) => `pi-${String(i + 1).padStart(2, '0')}`);

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
function line(label: string, r: Run, onePi: number, load?: string): void {
  console.log(
    `  ${label.padEnd(44)} ${s(r.ms).padStart(8)}   sent ${gb(r.bytesFromPis).padStart(8)} (${(r.bytesFromPis / onePi).toFixed(2)}x one Pi; wire ${gb(r.wireBytesFromPis)})${load ? `   load ${load}` : ''}`,
  );
  for (const t of pinetTotals(r.stderr)) console.log(`      pinet: ${t}`);
}
let ok = true;
function target(label: string, value: number, limit: number, detail: string): void {
  const pass = value <= limit;
  ok &&= pass;
  console.log(`  ${label.padEnd(58)} ${value.toFixed(2).padStart(6)}  (target <= ${Number(limit.toFixed(2))})  ${pass ? 'OK' : 'MISSED'}   ${detail}`);
}

/** A fleet of `n` real-size Pis (--os) behind the limited link, with its start-up cost printed. */
async function fleetOf(n: number, what: string, spec: (name: string, i: number) => Partial<PiSpec> = () => ({})): Promise<Fleet> {
  const memBefore = await memAvailable();
  const fleet = await startFleet({
    bootImage: 'real',
    linkMbps: MBPS,
    bootTimeoutMs: 180_000,
    pis: names(n).map((name, i) => ({ name, variant: VARIANT, ownInitramfs: values['own-initramfs'], ...spec(name, i) })),
  });
  const mem = await fleet.memoryUsage();
  const memAfter = await memAvailable();
  console.log(
    `\n${what}: ${n} Pis up in ${s(fleet.startupMs)}; tmpfs ${mb(mem.usedBytes)} for ${fleet.sharedBoot.trees} distinct boot tree(s); MemAvailable -${mb(memBefore - memAfter)}; load ${await loadAverage()}`,
  );
  return fleet;
}

const results: Record<string, Run> = {};
let floorMs = 0;
let floorSslMs = 0;
let floorKernelsMs = 0;
let onePi = 0;
let distinct = 0;
let onePiKernels = 0;

try {
  // 1. N Pis on one image: the link check, the floor, rsync, pinet and its no-op re-run.
  let fleet = await fleetOf(N, 'One image');
  try {
    onePi = await partitionBytes(fleet, 'pi-01');
    distinct = distinctBytes(fleet);
    console.log(
      `  one Pi's boot partition: ${mb(onePi)} in ${(await fleet.pi('pi-01').sh('find /boot/firmware -type f | wc -l')).trim()} files; distinct contents across the fleet: ${mb(distinct)} (${(distinct / onePi).toFixed(2)}x one Pi: the least any tool must send)`,
    );

    // The link: a plain TCP copy (no SSH), then SSH, without and with the limit.
    const copyPis = names(Math.min(10, N));
    const rate = (bytes: number, ms: number) => `${((bytes * 8) / (ms / 1000) / 1e6).toFixed(0)} Mb/s`;
    const initrd = BIG[0]!;
    console.log(`  link check: each of ${copyPis.length} Pis sends its ${initrd} at once (plain TCP to the boot server's namespace, no SSH)`);
    for (const mbps of [null, MBPS, MBPS / 10]) {
      await fleet.setLinkRate(mbps);
      const pis = mbps === MBPS / 10 ? copyPis.slice(0, 1) : copyPis;
      const c = await rawCopy(fleet, pis, initrd);
      const expect = mbps === null ? '' : `; ${mb(c.bytes)} at ${mbps / 8} MB/s = ${((c.bytes * 8) / (mbps * 1e6)).toFixed(1)} s`;
      console.log(`    ${(mbps === null ? 'no limit' : `${mbps} Mb/s`).padEnd(10)} ${mb(c.bytes)} from ${pis.length} Pi(s) in ${s(c.ms)}: ${rate(c.bytes, c.ms)}${expect}`);
    }
    for (const mbps of [null, MBPS]) {
      await fleet.setLinkRate(mbps);
      const c = await plainCopy(fleet, copyPis, BIG);
      console.log(
        `    over SSH (ssh <pi> cat), ${mbps === null ? 'no limit' : `${mbps} Mb/s`}: ${mb(c.bytesFromPis)} from ${copyPis.length} Pis in ${s(c.ms)}: ${rate(c.bytesFromPis, c.ms)} of payload, ${rate(c.wireBytesFromPis, c.ms)} on the wire`,
      );
    }
    await fleet.setLinkRate(MBPS);

    floorMs = await hashFloor(fleet);
    floorSslMs = await hashFloor(fleet, 'openssl');
    const floorPyMs = await hashFloor(fleet, 'python3');
    console.log(
      `  (a) hashing floor: sha256sum of ${N} partitions at once   ${s(floorMs)}   (openssl dgst -sha256: ${s(floorSslMs)}; python3 hashlib, as pinet hashes: ${s(floorPyMs)})   load ${await loadAverage()}`,
    );
    const r = dirs();
    results.rsync = await rsyncAll(fleet, r.exp);
    line(`(c) rsync -a, xargs -P ${N}`, results.rsync, onePi, await loadAverage());
    await removeDir(r.exp);
    const p = dirs();
    results.pinet = await pinetEnroll(fleet, p.exp, p.state);
    line(`(d) pinet enroll, ${N} Pis, --concurrency ${N}`, results.pinet, onePi, await loadAverage());
    results.noop = await pinetEnroll(fleet, p.exp, p.state);
    const noop = wasNoOp(results.noop.stdout);
    line(`(e) pinet enroll again (${noop === null ? 'no-op: unknown' : noop ? 'no-op, nothing copied' : 'NOT a no-op'})`, results.noop, onePi, await loadAverage());
    if (noop === false) ok = false;
    await removeDir(p.exp);
  } finally {
    await fleet.stop();
  }

  // 2. The shell baseline changes the Pis: a fresh fleet.
  fleet = await fleetOf(N, 'Shell baseline');
  try {
    const d = dirs();
    results.shell = await shellEnroll(fleet, d.exp);
    line(`(b) shell-enroll.sh, xargs -P ${N}`, results.shell, onePi, await loadAverage());
    await removeDir(d.exp);
  } finally {
    await fleet.stop();
  }

  // 3. One Pi.
  fleet = await fleetOf(1, 'One Pi');
  try {
    const d = dirs();
    results.one = await pinetEnroll(fleet, d.exp, d.state);
    line('(d) pinet enroll, 1 Pi', results.one, onePi, await loadAverage());
    await removeDir(d.exp);
  } finally {
    await fleet.stop();
  }

  // 4. Every Pi on its own kernel (and its own previous kernel): only the firmware is shared.
  if (!values['skip-kernels']) {
    fleet = await fleetOf(N, 'Every Pi on a different kernel', (_name, i) => ({
      kernelVersion: values.os === 'bookworm' ? `6.6.${100 + i}+rpt-rpi-v8` : `6.8.0-${2000 + i}-raspi`,
      previousKernelVersion: `6.8.0-${1100 + i}-raspi`, // Ubuntu's .bak set; Bookworm keeps no previous kernel
    }));
    try {
      onePiKernels = await partitionBytes(fleet, 'pi-01');
      const d = distinctBytes(fleet);
      console.log(`  distinct contents across the fleet: ${gb(d)} (${(d / onePiKernels).toFixed(2)}x one Pi)`);
      floorKernelsMs = await hashFloor(fleet);
      console.log(`  (a) hashing floor   ${s(floorKernelsMs)}`);
      const r = dirs();
      results.rsyncKernels = await rsyncAll(fleet, r.exp);
      line(`(f) rsync -a, xargs -P ${N}`, results.rsyncKernels, onePiKernels, await loadAverage());
      await removeDir(r.exp);
      const p = dirs();
      results.pinetKernels = await pinetEnroll(fleet, p.exp, p.state);
      line(`(f) pinet enroll, --concurrency ${N}`, results.pinetKernels, onePiKernels, await loadAverage());
      await removeDir(p.exp);
    } finally {
      await fleet.stop();
    }
  }

  const got = (k: string): Run => {
    const r = results[k];
    if (!r) throw new Error(`bench/enroll-real: no result for ${k}`);
    return r;
  };
  const [pinet, shell, rsync, one, noop] = ['pinet', 'shell', 'rsync', 'one', 'noop'].map(got) as [Run, Run, Run, Run, Run];
  console.log(`\nIssue 14 targets (${N} Pis, real ${OS_NAME} sizes, link ${MBPS} Mb/s${values['own-initramfs'] ? ', every Pi its own initramfs' : ''}):`);
  target('bytes the Pis sent / one Pi\'s boot partition', pinet.bytesFromPis / onePi, 1.2, `${gb(pinet.bytesFromPis)} / ${mb(onePi)}`);
  target('pinet / shell baseline', pinet.ms / shell.ms, 1 / 3, `${s(pinet.ms)} / ${s(shell.ms)}`);
  target('pinet / rsync', pinet.ms / rsync.ms, 1 / 3, `${s(pinet.ms)} / ${s(rsync.ms)}`);
  const bound = 1.5 * (floorMs + one.ms);
  target('pinet / (1.5 x (hashing floor + pinet 1 Pi))', pinet.ms / bound, 1, `${s(pinet.ms)} / 1.5 x (${s(floorMs)} + ${s(one.ms)}) = ${s(bound)}`);
  console.log(
    `  (the same with openssl's floor, which uses the CPU's SHA instructions: 1.5 x (${s(floorSslMs)} + ${s(one.ms)}) = ${s(1.5 * (floorSslMs + one.ms))}; ratio ${(pinet.ms / (1.5 * (floorSslMs + one.ms))).toFixed(2)})`,
  );
  target('no-op second run / first run', noop.ms / pinet.ms, 0.1, `${s(noop.ms)} / ${s(pinet.ms)}`);
  if (results.pinetKernels && results.rsyncKernels) {
    target('every Pi a different kernel: pinet / rsync', results.pinetKernels.ms / results.rsyncKernels.ms, 1, `${s(results.pinetKernels.ms)} / ${s(results.rsyncKernels.ms)}`);
  }
  console.log(`  (for the real-hardware model) pinet ${N} Pis / pinet 1 Pi: ${(pinet.ms / one.ms).toFixed(1)}  (the fake Pis share this machine's CPUs)`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
process.exitCode = ok ? 0 : 1;
