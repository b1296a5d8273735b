/**
 * The jobs bench/enroll-real measures, each on a fleet of fake Pis with
 * real-size boot partitions behind one rate-limited boot-server link, and
 * each returning its wall time and the bytes the Pis sent over that link
 * (payload counted by the fleet's relay, and the link's own counter with
 * Ethernet/IP/TCP headers).
 */
import { execa } from 'execa';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Fleet } from '../test/fleet/fleet.js';

export const PINET = fileURLToPath(new URL('../bin/pinet.js', import.meta.url));
export const NFS = 'nfs-host:/picluster-boot';
// The baselines users would otherwise run (the steering repository's shared/bench-anchors).
export const ANCHORS = process.env.PINET_BENCH_ANCHORS ?? fileURLToPath(new URL('../../shared/bench-anchors/', import.meta.url));

export interface Run {
  ms: number;
  /** TCP payload the Pis sent to the boot server (relay counters). */
  bytesFromPis: number;
  /** The same on the wire: the boot server link's counter, headers included. */
  wireBytesFromPis: number;
  /** The job's stdout (pinet's JSON document). */
  stdout: string;
}

interface Snapshot {
  payload: number;
  wire: number;
}

async function snapshot(fleet: Fleet): Promise<Snapshot> {
  const stats = await Promise.all(fleet.pis.map((p) => p.connectionStats()));
  const link = await fleet.linkCounters();
  return { payload: stats.reduce((n, s) => n + s.bytesFromPi, 0), wire: link.fromPis.bytes };
}

/** Time a command and count what the Pis sent meanwhile; a failing command throws with its output. */
export async function measure(fleet: Fleet, cmd: string, args: string[], opts: { input?: string; check?: boolean } = {}): Promise<Run> {
  const before = await snapshot(fleet);
  const t0 = performance.now();
  const r = await execa(cmd, args, { reject: false, input: opts.input ?? '', env: { NO_COLOR: '1' }, stdout: 'pipe', stderr: 'pipe', maxBuffer: 512 * 1024 * 1024 });
  const ms = performance.now() - t0;
  const after = await snapshot(fleet);
  if ((opts.check ?? true) && r.exitCode !== 0) {
    throw new Error(`${cmd} ${args.slice(0, 8).join(' ')} … failed (${r.exitCode}):\n${String(r.stdout).slice(-1500)}\n${String(r.stderr).slice(-1500)}`);
  }
  return { ms, bytesFromPis: after.payload - before.payload, wireBytesFromPis: after.wire - before.wire, stdout: String(r.stdout) };
}

/** Bytes of one Pi's boot partition (what `du -sb --apparent-size` counts of its files). */
export async function partitionBytes(fleet: Fleet, name: string): Promise<number> {
  const out = await fleet.pi(name).sh('find /boot/firmware -type f -printf "%s\\n"');
  return out
    .trim()
    .split('\n')
    .reduce((n, l) => n + Number(l), 0);
}

/** (a) The hashing floor: sha256sum of every Pi's boot partition, all Pis at once, inside the Pis. */
export async function hashFloor(fleet: Fleet): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    fleet.pis.map(async (p) => {
      const r = await p.exec(['sh', '-c', 'cd /boot/firmware && find . -type f -print0 | xargs -0 sha256sum > /dev/null'], { timeoutMs: 600_000 });
      if (r.code !== 0) throw new Error(`${p.name}: sha256sum failed: ${r.stderr}`);
    }),
  );
  return performance.now() - t0;
}

/** (b) The shell baseline (shared/bench-anchors/shell-enroll.sh), `xargs -P <n>`, as bench/enroll.ts runs it. */
export function shellEnroll(fleet: Fleet, exp: string): Promise<Run> {
  const names = fleet.pis.map((p) => p.name);
  return measure(
    fleet,
    'sh',
    ['-c', 'xargs -P "$4" -I{} "$0" "$1" {} "$2" "$3"', join(ANCHORS, 'shell-enroll.sh'), fleet.sshConfig, exp, NFS, String(names.length)],
    { input: `${names.join('\n')}\n` },
  );
}

/** (c) `rsync -a` of each Pi's /boot/firmware into <exp>/<name>/, `xargs -P <n>`. */
export function rsyncAll(fleet: Fleet, exp: string): Promise<Run> {
  const names = fleet.pis.map((p) => p.name);
  // The fleet's ssh config path has no spaces (startFleet refuses them), so rsync's -e splits it right.
  const script = 'xargs -P "$3" -I{} rsync -a -e "ssh -F $1" "{}:/boot/firmware/" "$2/{}/"';
  return measure(fleet, 'sh', ['-c', script, 'sh', fleet.sshConfig, exp, String(names.length)], { input: `${names.join('\n')}\n` });
}

/** (d, e) `pinet enroll` of every Pi of the fleet, `--concurrency <n>`, JSON output. */
export function pinetEnroll(fleet: Fleet, exp: string, state: string): Promise<Run> {
  const names = fleet.pis.map((p) => p.name);
  return measure(fleet, process.execPath, [
    PINET, 'enroll', '-F', fleet.sshConfig, '--nfs', NFS, '--export-dir', exp, '--state-dir', state, '--yes', '--json',
    '--concurrency', String(names.length), ...names,
  ]);
}

/** Whether pinet's JSON says the run changed nothing and copied no file (null when the document cannot be read). */
export function wasNoOp(stdout: string): boolean | null {
  try {
    const doc = JSON.parse(stdout) as { plan: { upToDate: boolean; targets: { changes: { id: string }[] }[] } };
    return doc.plan.upToDate && !doc.plan.targets.some((t) => t.changes.some((c) => c.id === 'copy'));
  } catch {
    return null;
  }
}

/** A plain copy over the link: `ssh <pi> cat <files>` from each of `pis` at once, output discarded. */
export function plainCopy(fleet: Fleet, pis: string[], files: string[]): Promise<Run> {
  for (const f of files) if (!/^[\w./-]+$/.test(f)) throw new Error(`plainCopy: ${f} is not a plain path`);
  const script = 'for h in "$@"; do ssh -F "$0" "$h" "cat $FILES" > /dev/null & done; wait';
  return measure(fleet, 'env', [`FILES=${files.join(' ')}`, 'sh', '-c', script, fleet.sshConfig, ...pis]);
}

/** MemAvailable from /proc/meminfo, in bytes. */
export async function memAvailable(): Promise<number> {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(await readFile('/proc/meminfo', 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
