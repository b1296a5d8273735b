/**
 * `pinet enroll` sends each unique boot file once (issue 14), end to end on
 * fake Pis with real-size boot partitions (Ubuntu 24.04 and Raspberry Pi
 * OS Bookworm, test/fleet/real-boot.ts), through real sshd: what the Pis
 * send over the link is counted by the fleet's relay (connectionStats), and
 * every Pi's directory in the export is compared with that Pi's own files,
 * byte for byte (the Pi on a newer kernel and the per-Pi cmdline.txt and
 * user-data included).
 */
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pinet } from '../helpers/cli.js';
import { describeAsRoot } from '../helpers/env.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import type { FakePi } from '../fleet/fake-pi.js';
import { parseJson, piSnapshot } from './helpers.js';

const NFS = 'nfs-host:/picluster-boot';
const NEWER = '6.8.0-1010-raspi';

interface FileFacts {
  size: number;
  sha256: string;
  /** Whole seconds. */
  mtime: number;
}

interface Doc {
  plan: {
    upToDate: boolean;
    transfer?: { files: number; bytes: number; pis: number; network: { files: number; bytes: number; senders: number; largestSender: number }; local: { files: number; bytes: number } };
    targets: { target: string; changes: { id: string; detail?: { files?: string[]; bytes?: number; network?: { bytes: number; files: number } } }[] }[];
  };
  results: { host: string; dir?: string; result: string; error?: string; report?: { done: string[]; notDone: string[]; undone: string[] } }[];
}

/** Every file of the Pi's boot partition: size, SHA-256 (openssl, inside the Pi) and mtime. */
async function piFiles(pi: FakePi): Promise<Map<string, FileFacts>> {
  const facts = await pi.sh("cd /boot/firmware && find . -type f -printf '%s %T@ %P\\n'");
  const sums = await pi.sh('cd /boot/firmware && find . -type f -print0 | xargs -0 openssl dgst -sha256 -r');
  const hashes = new Map(
    sums
      .trim()
      .split('\n')
      .map((l) => [l.slice(66).replace(/^\.\//, ''), l.slice(0, 64)] as const),
  );
  const out = new Map<string, FileFacts>();
  for (const line of facts.trim().split('\n')) {
    const [size, mtime, ...rest] = line.split(' ');
    const path = rest.join(' ');
    out.set(path, { size: Number(size), mtime: Math.floor(Number(mtime)), sha256: hashes.get(path)! });
  }
  return out;
}

/** Every file of a directory in the export: size, SHA-256, mtime, and the modes of files and directories. */
async function exportFiles(dir: string): Promise<{ files: Map<string, FileFacts>; modes: Set<string> }> {
  const files = new Map<string, FileFacts>();
  const modes = new Set<string>();
  async function walk(rel: string): Promise<void> {
    for (const n of await readdir(join(dir, rel))) {
      const r = rel ? `${rel}/${n}` : n;
      const st = await lstat(join(dir, r));
      modes.add(`${st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other'} ${(st.mode & 0o7777).toString(8)}`);
      if (st.isDirectory()) await walk(r);
      else files.set(r, { size: st.size, mtime: Math.floor(st.mtimeMs / 1000), sha256: createHash('sha256').update(await readFile(join(dir, r))).digest('hex') });
    }
  }
  await walk('');
  return { files, modes };
}

/** The distinct contents (SHA-256 and size) of several Pis' files, and their bytes. */
function distinct(all: Map<string, FileFacts>[]): { files: number; bytes: number } {
  const seen = new Map<string, number>();
  for (const m of all) for (const f of m.values()) seen.set(`${f.sha256}-${f.size}`, f.size);
  return { files: seen.size, bytes: [...seen.values()].reduce((n, b) => n + b, 0) };
}

const sum = (m: Map<string, FileFacts>): number => [...m.values()].reduce((n, f) => n + f.size, 0);

describeAsRoot('pinet enroll at real sizes: each unique boot file crosses the network once', () => {
  let fleet: Fleet;
  let scratch: string;
  let exportDir: string;
  let stateDir: string;
  const own = new Map<string, Map<string, FileFacts>>();
  const main = ['ub-01', 'ub-02', 'ub-03', 'ub-new', 'bw-01', 'bw-02'];

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'pinet-send-once-'));
    await chmod(scratch, 0o755);
    exportDir = join(scratch, 'export');
    stateDir = join(scratch, 'state');
    await mkdir(exportDir);
    fleet = await startFleet({
      bootImage: 'real',
      linkMbps: 1000,
      bootTimeoutMs: 120_000,
      pis: [
        { name: 'ub-01', variant: 'ubuntu-2404-pi4' },
        { name: 'ub-02', variant: 'ubuntu-2404-pi4' },
        { name: 'ub-03', variant: 'ubuntu-2404-pi4' },
        { name: 'ub-new', variant: 'ubuntu-2404-pi4', kernelVersion: NEWER },
        { name: 'bw-01', variant: 'rpios-bookworm-pi4' },
        { name: 'bw-02', variant: 'rpios-bookworm-pi4' },
        { name: 'ch-01', variant: 'ubuntu-2404-pi4' },
        { name: 'ch-02', variant: 'ubuntu-2404-pi4' },
        { name: 'ch-03', variant: 'ubuntu-2404-pi4' },
      ],
    });
    for (const p of fleet.pis) own.set(p.name, await piFiles(p));
  });
  afterAll(async () => {
    await fleet?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const enroll = (args: string[]) => pinet(['enroll', '-F', fleet.sshConfig, '--nfs', NFS, '--export-dir', exportDir, '--state-dir', stateDir, ...args], { timeout: 600_000 });
  const sentByPis = async (names: string[]): Promise<number> => (await Promise.all(names.map((n) => fleet.pi(n).connectionStats()))).reduce((n, s) => n + s.bytesFromPi, 0);
  const stores = async (): Promise<string[]> => (await readdir(exportDir)).filter((n) => n.startsWith('.pinet-store-'));

  /** The Pi's directory in the export holds exactly the Pi's own files: same bytes, its mtimes, 0644 files and 0755 directories. */
  async function expectCopyOf(name: string): Promise<void> {
    const pi = fleet.pi(name);
    const mine = own.get(name)!;
    const { files, modes } = await exportFiles(join(exportDir, pi.serial8));
    expect([...files.keys()].sort(), name).toEqual([...mine.keys()].sort());
    for (const [path, f] of mine) expect(files.get(path), `${name}: ${path}`).toEqual(f);
    expect([...modes].sort(), name).toEqual(['dir 755', 'file 644']);
  }

  it('the plan says what crosses the network (each distinct content once) and what is copied here; a dry run changes nothing', async () => {
    const before = await sentByPis(main);
    const r = await enroll([...main, '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = parseJson<Doc>(r.stdout);
    const all = main.map((n) => own.get(n)!);
    const d = distinct(all);
    expect(doc.plan.transfer).toEqual({
      files: all.reduce((n, m) => n + m.size, 0),
      bytes: all.reduce((n, m) => n + sum(m), 0),
      pis: main.length,
      network: { files: d.files, bytes: d.bytes, senders: expect.any(Number), largestSender: expect.any(Number) },
      local: { files: all.reduce((n, m) => n + m.size, 0) - d.files, bytes: all.reduce((n, m) => n + sum(m), 0) - d.bytes },
    });
    // The same image's partitions share nearly everything: one Ubuntu Pi's partition is more than all the distinct bytes of three.
    expect(distinct(['ub-01', 'ub-02', 'ub-03'].map((n) => own.get(n)!)).bytes).toBeLessThan(sum(own.get('ub-01')!));
    // Each Pi's part of the sending, in its copy's detail, adds up to what crosses the network.
    const parts = doc.plan.targets.map((t) => t.changes.find((c) => c.id === 'copy')!.detail!.network!.bytes);
    expect(parts.reduce((n, b) => n + b, 0)).toBe(d.bytes);
    expect(Math.max(...parts)).toBe(doc.plan.transfer!.network.largestSender);
    // The text plan says it in one line.
    const text = await enroll([...main, '--dry-run']);
    expect(text.stdout).toMatch(/^copy: \d+ files \(\S+ \S+\) into 6 Pis' directories: \S+ \S+ over the network \(\d+ distinct files, each sent once, by \d+ Pis, at most \S+ \S+ from one\), \S+ \S+ copied on this machine$/m);
    expect(await readdir(exportDir)).toEqual([]);
    // A dry run reads the files to copy to hash them, and sends only the hashes.
    expect((await sentByPis(main)) - before).toBeLessThan(2 * main.length * 256 * 1024);
  });

  it('enrolls them with --concurrency 2: each distinct content crosses the link once, every directory is its Pi\'s own files byte for byte', async () => {
    const before = await sentByPis(main);
    const r = await enroll([...main, '--yes', '--json', '--concurrency', '2']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const sent = (await sentByPis(main)) - before;
    const doc = parseJson<Doc>(r.stdout);
    expect(doc.results.map((x) => [x.host, x.result])).toEqual(main.map((n) => [n, 'enrolled']));
    const d = distinct(main.map((n) => own.get(n)!));
    // What the Pis sent: the distinct contents once, plus SSH framing, tar headers, the listings and hashes (small).
    expect(sent).toBeGreaterThanOrEqual(d.bytes);
    expect(sent).toBeLessThan(d.bytes * 1.01 + main.length * 256 * 1024);
    // Less than two Ubuntu partitions for six Pis: identical files were not sent twice.
    expect(sent).toBeLessThan(2 * sum(own.get('ub-01')!));
    for (const n of main) await expectCopyOf(n);
    // The Pi on the newer kernel has its own kernel, the Bookworm Pis their own cmdline.txt, the Ubuntu Pis their own user-data.
    const file = (n: string, p: string) => own.get(n)!.get(p)!.sha256;
    expect(file('ub-new', 'vmlinuz')).not.toBe(file('ub-01', 'vmlinuz'));
    expect(file('bw-01', 'cmdline.txt')).not.toBe(file('bw-02', 'cmdline.txt'));
    expect(file('ub-01', 'user-data')).not.toBe(file('ub-02', 'user-data'));
    // Progress said the bytes over the network and copied here, in total with a rate.
    expect(r.stderr).toMatch(/^total over the network: (\S+ \S+) of \1 from \d+ Pis in [\d.]+ s/m);
    expect(r.stderr).toMatch(/^total copied on this machine: (\S+ \S+) of \1 for 6 Pis in [\d.]+ s/m);
    expect(await stores()).toEqual([]);
    // A first enroll: each Pi's boot files were hashed in the detection's round trip, not in a step of their own.
    expect(r.stderr).toMatch(/: reading the Pi$/m);
    expect(r.stderr).not.toMatch(/: hashing the \d+ files? to copy/);
  });

  it('the no-op re-run reads no boot file on the Pis or here, sends no content and copies nothing', async () => {
    // Every tool that could read a boot file's contents on the Pis logs itself.
    for (const n of main) {
      for (const tool of ['tar', 'sha256sum', 'openssl', 'python3']) {
        await fleet.pi(n).writeFile(`/usr/local/bin/${tool}`, `#!/bin/sh\nprintf '%s\\n' "${tool} $*" >> /run/pinet-tool-calls\nexec /usr/bin/${tool} "$@"\n`, 0o755);
      }
    }
    const atimes = async (reset = false) => {
      const out: string[] = [];
      for (const n of main) {
        const dir = join(exportDir, fleet.pi(n).serial8);
        for (const f of await readdir(dir, { recursive: true })) {
          let st = await lstat(join(dir, f));
          // relatime moves an atime at a read only when it is older than the mtime or ctime: set it so (this moves the ctime to now).
          if (reset && st.isFile()) {
            await utimes(join(dir, f), new Date(st.mtimeMs - 1000), st.mtime);
            st = await lstat(join(dir, f));
          }
          out.push(`${f} ${st.atimeMs} ${st.mtimeMs} ${st.ctimeMs}`);
        }
      }
      return out;
    };
    await atimes(true);
    const exportBefore = [(await lstat(exportDir)).mtimeMs, ...(await atimes())];
    const before = await sentByPis(main);
    const r = await enroll([...main, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = parseJson<Doc>(r.stdout);
    expect(doc.plan.upToDate).toBe(true);
    expect(doc.plan.transfer).toBeUndefined();
    // No file read here (a read would move its atime: relatime, and their ctimes are newer), nothing created or removed in the export.
    expect([(await lstat(exportDir)).mtimeMs, ...(await atimes())]).toEqual(exportBefore);
    // On the Pis: no archive, no hash of a boot file, no Python (not even rpi-eeprom-config): only the
    // staged bootloader update is hashed, by which its config is known from the first run.
    for (const n of main) {
      const calls = (await fleet.pi(n).sh('cat /run/pinet-tool-calls 2>/dev/null || true')).split('\n').filter(Boolean);
      expect(calls.filter((c) => c !== 'sha256sum /boot/firmware/pieeprom.upd'), n).toEqual([]);
      await fleet.pi(n).sh('rm -f /usr/local/bin/tar /usr/local/bin/sha256sum /usr/local/bin/openssl /usr/local/bin/python3 /run/pinet-tool-calls');
    }
    expect((await sentByPis(main)) - before).toBeLessThan(main.length * 128 * 1024);
  });

  it('a Pi whose file changes between hashing and sending fails alone, changed in nothing; another Pi sends that content; a second run completes', async () => {
    const names = ['ch-01', 'ch-02', 'ch-03'];
    // ch-02's tar changes the first file it is asked to send (one byte, same size) before archiving it.
    const changer = [
      '#!/bin/sh',
      'names=$(mktemp)',
      'cat > "$names"',
      'first=$(head -z -n 1 "$names" | tr -d "\\000")',
      'b=$(head -c 1 "$first" | od -An -tu1 | tr -d " ")',
      'printf "$(printf "\\\\%03o" $(( (b + 1) % 256 )))" | dd of="$first" bs=1 count=1 conv=notrunc 2>/dev/null',
      'echo "$first" > /run/pinet-changed',
      'exec /usr/bin/tar "$@" < "$names"',
      '',
    ].join('\n');
    await fleet.pi('ch-02').writeFile('/usr/local/bin/tar', changer, 0o755);
    const before = await Promise.all(names.map((n) => piSnapshot(fleet.pi(n))));
    const r = await enroll([...names, '--yes', '--json']);
    const changed = (await fleet.pi('ch-02').sh('cat /run/pinet-changed')).trim().replace(/^\.\//, '');
    await fleet.pi('ch-02').sh('rm -f /usr/local/bin/tar /run/pinet-changed');
    expect(r.code, r.stderr).toBe(1);
    expect(changed).not.toBe('');
    const doc = parseJson<Doc>(r.stdout);
    const res = new Map(doc.results.map((x) => [x.host, x]));
    expect(res.get('ch-02')).toMatchObject({ result: 'failed', error: expect.stringContaining(`ch-02`) });
    expect(res.get('ch-02')!.error).toContain(`/boot/firmware/${changed} changed since it was hashed`);
    expect(res.get('ch-02')!.report).toMatchObject({ done: [], notDone: ['send'] });
    expect(res.get('ch-01')!.result).toBe('enrolled');
    expect(res.get('ch-03')!.result).toBe('enrolled');
    // Nothing of ch-02 changed: its fstab, hooks, bootloader config, backups; no directory in the export.
    expect(await piSnapshot(fleet.pi('ch-02'))).toBe(before[1]);
    await expect(lstat(join(exportDir, fleet.pi('ch-02').serial8))).rejects.toMatchObject({ code: 'ENOENT' });
    // The others got every file, the one ch-02 should have sent included (from one of them).
    for (const n of ['ch-01', 'ch-03']) await expectCopyOf(n);
    expect(await stores()).toEqual([]);
    // Run again: ch-02's changed file is its own now, sent by itself.
    own.set('ch-02', await piFiles(fleet.pi('ch-02')));
    const again = await enroll(['ch-02', '--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
    await expectCopyOf('ch-02');
    expect(await stores()).toEqual([]);
  });
});
