/**
 * The jobs bench/enroll-real measures, each on a fleet of fake Pis with
 * real-size boot partitions behind one rate-limited boot-server link, and
 * each returning its wall time and the bytes the Pis sent over that link
 * (payload counted by the fleet's relay, and the link's own counter with
 * Ethernet/IP/TCP headers).
 */
import { execa } from 'execa';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Fleet } from '../test/fleet/fleet.js';
import { realBootLayout } from '../test/fleet/real-boot.js';

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
  /** Its stderr (pinet's progress lines). */
  stderr: string;
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
  return { ms, bytesFromPis: after.payload - before.payload, wireBytesFromPis: after.wire - before.wire, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** pinet's own totals of a run (its progress lines): bytes over the network and copied here, with their rates. */
export function pinetTotals(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('total '));
}

/** The machine's load averages (1, 5, 15 min), for the record beside each figure. */
export async function loadAverage(): Promise<string> {
  return (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
}

/** Bytes of one Pi's boot partition (what `du -sb --apparent-size` counts of its files). */
export async function partitionBytes(fleet: Fleet, name: string): Promise<number> {
  const out = await fleet.pi(name).sh('find /boot/firmware -type f -printf "%s\\n"');
  return out
    .trim()
    .split('\n')
    .reduce((n, l) => n + Number(l), 0);
}

/**
 * The bytes of the distinct file contents across all the fleet's boot
 * partitions: what must cross the link at least once, whatever the tool
 * (from the fleet's own description of each Pi's partition).
 */
export function distinctBytes(fleet: Fleet): number {
  const seen = new Map<string, number>();
  for (const p of fleet.pis) {
    const id = p.identity;
    const layout = realBootLayout(
      id.os.name,
      id.board,
      { version: id.kernelVersion, previous: id.previousKernelVersion, ownInitramfs: id.ownInitramfs },
      { name: id.name, serial: id.serial },
      { configTxt: id.os.configTxt(id.board), cmdline: id.os.cmdline(id.partuuid) },
    );
    for (const f of layout.shared) seen.set(`${f.label}\t${f.size}`, f.size);
    for (const f of layout.text) seen.set(`text\t${f.text}`, Buffer.byteLength(f.text));
  }
  return [...seen.values()].reduce((n, b) => n + b, 0);
}

/**
 * (a) The hashing floor: every Pi's boot partition hashed, all Pis at once,
 * inside the Pis: with coreutils' `sha256sum` (the issue's floor), with
 * `openssl dgst -sha256` (which uses the CPU's SHA instructions), or with
 * Python's hashlib (OpenSSL's SHA-256 too: what pinet's hash-files.sh uses).
 */
export async function hashFloor(fleet: Fleet, hasher: 'sha256sum' | 'openssl' | 'python3' = 'sha256sum'): Promise<number> {
  const cmd =
    hasher === 'sha256sum'
      ? 'sha256sum'
      : hasher === 'openssl'
        ? 'openssl dgst -sha256'
        : `python3 -I -S -c 'import hashlib, sys
for f in sys.argv[1:]:
    h = hashlib.sha256()
    with open(f, "rb") as x:
        for b in iter(lambda: x.read(1 << 20), b""):
            h.update(b)'`;
  const t0 = performance.now();
  await Promise.all(
    fleet.pis.map(async (p) => {
      const r = await p.exec(['sh', '-c', `cd /boot/firmware && find . -type f -print0 | xargs -0 ${cmd} > /dev/null`], { timeoutMs: 600_000 });
      if (r.code !== 0) throw new Error(`${p.name}: sha256sum failed: ${r.stderr}`);
    }),
  );
  return performance.now() - t0;
}

/** (b) The shell baseline (shared/bench-anchors/shell-enroll.sh), `xargs -P <n>`, as bench/enroll.ts runs it. */
export async function shellEnroll(fleet: Fleet, exp: string): Promise<Run> {
  const names = fleet.pis.map((p) => p.name);
  await mkdir(exp, { recursive: true });
  return measure(
    fleet,
    'sh',
    ['-c', 'xargs -P "$4" -I{} "$0" "$1" {} "$2" "$3"', join(ANCHORS, 'shell-enroll.sh'), fleet.sshConfig, exp, NFS, String(names.length)],
    { input: `${names.join('\n')}\n` },
  );
}

/** (c) `rsync -a` of each Pi's /boot/firmware into <exp>/<name>/, `xargs -P <n>`. */
export async function rsyncAll(fleet: Fleet, exp: string): Promise<Run> {
  const names = fleet.pis.map((p) => p.name);
  await mkdir(exp, { recursive: true });
  // The fleet's ssh config path has no spaces (startFleet refuses them), so rsync's -e splits it right.
  const script = 'xargs -P "$3" -I{} rsync -a -e "ssh -F $1" "{}:/boot/firmware/" "$2/{}/"';
  return measure(fleet, 'sh', ['-c', script, 'sh', fleet.sshConfig, exp, String(names.length)], { input: `${names.join('\n')}\n` });
}

/** (d, e) `pinet enroll` of every Pi of the fleet, `--concurrency <n>`, JSON output. */
export async function pinetEnroll(fleet: Fleet, exp: string, state: string): Promise<Run> {
  const names = fleet.pis.map((p) => p.name);
  await mkdir(exp, { recursive: true });
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

/** The sink of rawCopy: counts what `n` connections send, prints the total when the last one closes. */
const SINK = `
const net = require('node:net');
const n = Number(process.argv[1]);
let total = 0, closed = 0;
const s = net.createServer((c) => {
  c.on('data', (d) => { total += d.length; });
  c.on('close', () => { if (++closed === n) { process.stdout.write('total ' + total + '\\n'); process.exit(0); } });
});
s.listen(0, '0.0.0.0', () => process.stdout.write('port ' + s.address().port + '\\n'));
`;

/**
 * A plain TCP copy over the link, no SSH: each of `pis` sends `file` (bash's
 * /dev/tcp) to a sink in the boot server's namespace, all at once. Returns the
 * wall time and the bytes the sink received.
 */
export async function rawCopy(fleet: Fleet, pis: string[], file: string): Promise<{ ms: number; bytes: number }> {
  const sink = execa('ip', ['netns', 'exec', fleet.bootServer.namespace, process.execPath, '-e', SINK, String(pis.length)], { reject: false, stdout: 'pipe' });
  try {
    const port = await new Promise<string>((resolve, reject) => {
      let out = '';
      sink.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^port (\d+)$/m.exec(out);
        if (m) resolve(m[1]!);
      });
      sink.catch(reject);
      setTimeout(() => reject(new Error('the copy sink did not start')), 10_000);
    });
    const t0 = performance.now();
    await Promise.all(
      pis.map(async (name) => {
        const r = await fleet.pi(name).exec(['bash', '-c', 'exec 3<>"/dev/tcp/$1/$2" && cat -- "$3" >&3', 'bash', fleet.bootServer.ip, port, file], { timeoutMs: 600_000 });
        if (r.code !== 0) throw new Error(`${name}: copy failed: ${r.stderr}`);
      }),
    );
    const done = await sink;
    const ms = performance.now() - t0;
    const total = /^total (\d+)$/m.exec(String(done.stdout));
    if (!total) throw new Error(`the copy sink ended without a total: ${String(done.stdout)}`);
    return { ms, bytes: Number(total[1]) };
  } finally {
    if (sink.pid !== undefined && sink.exitCode === null) sink.kill('SIGKILL');
  }
}

/** MemAvailable from /proc/meminfo, in bytes. */
export async function memAvailable(): Promise<number> {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(await readFile('/proc/meminfo', 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
