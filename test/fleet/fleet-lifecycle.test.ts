/**
 * A fleet's life: ten Pis start and stop cleanly; stop(), a failed start,
 * SIGTERM of the CLI and a crashed owner all leave no namespace, mount,
 * process, port, lock or directory behind; cleanupStale() removes what a
 * crash left.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, open, rm, unlink } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAsRoot } from '../helpers/env.js';
import { startFleet } from './fleet.js';
import type { Fleet } from './fleet.js';
import { ssh } from './openssh.js';
import { until } from './wait.js';
import { cleanupStale } from './stale.js';
import { LOCK_DIR } from './slot.js';
import type { VariantName } from './variants.js';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What a fleet put on the machine, to check that it is gone afterwards. */
interface Footprint {
  namespaces: string[];
  pids: number[];
  ports: number[];
  dir: string;
}

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n !== '');
}

/** Whether a process exists (a zombie counts: nobody reaped it). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function mountLines(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ').slice(4, 5).join(' '))
    .filter((m) => m !== '');
}

function locksOwnedBy(dir: string): string[] {
  if (!existsSync(LOCK_DIR)) return [];
  return readdirSync(LOCK_DIR).filter((f) => {
    try {
      return JSON.parse(readFileSync(join(LOCK_DIR, f), 'utf8')).dir === dir;
    } catch {
      return false;
    }
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

async function footprint(fleet: Fleet): Promise<Footprint> {
  const statuses = await Promise.all(fleet.pis.map((p) => p.status()));
  const holder = Number(/^\/proc\/(\d+)\//.exec(fleet.pis[0]!.stateDir)?.[1]);
  return {
    namespaces: [fleet.lanNamespace, ...fleet.pis.map((p) => p.netns)],
    pids: [fleet.daemonPid, holder, ...statuses.map((s) => s.initPid!)],
    ports: fleet.pis.map((p) => p.port),
    dir: fleet.dir,
  };
}

async function expectGone(f: Footprint, mountsBefore: string[]): Promise<void> {
  const ns = namespaces();
  for (const n of f.namespaces) expect(ns, `namespace ${n}`).not.toContain(n);
  for (const pid of f.pids) expect(alive(pid), `process ${pid}`).toBe(false);
  for (const port of f.ports) expect(await refused(port), `port ${port}`).toBe(true);
  expect(existsSync(f.dir), f.dir).toBe(false);
  expect(locksOwnedBy(f.dir)).toEqual([]);
  const mounts = mountLines();
  expect(mounts.filter((m) => m.includes(f.dir))).toEqual([]);
  // Only this fleet's: other test files run fleets of their own at the same time.
  expect(mounts.filter((m) => !mountsBefore.includes(m) && f.namespaces.some((n) => m.includes(`/${n} `)))).toEqual([]);
}

/** Start the CLI in the background like a benchmark does; resolve with its JSON description. */
async function cliUp(args: string[]): Promise<{ child: ChildProcess; description: Record<string, any> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'up', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`cli exited ${code}: ${stderr}`)));
  });
  return { child, description: JSON.parse(line) };
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

describeAsRoot('fake-Pi fleet: start, stop and clean up', () => {
  let mountsBefore: string[];
  beforeAll(() => {
    mountsBefore = mountLines();
  });

  it('starts ten Pis of mixed variants, each answering with its own serial, and stops them cleanly', async () => {
    const variants: VariantName[] = ['ubuntu-2404-pi4', 'rpios-bookworm-pi4', 'rpios-bullseye-pi4', 'cm4', 'no-boot-order', 'pi5', 'pi3'];
    const fleet = await startFleet({
      pis: Array.from({ length: 10 }, (_, i) => ({ name: `pi-${String(i + 1).padStart(2, '0')}`, variant: variants[i % variants.length]! })),
    });
    let f: Footprint;
    try {
      process.stderr.write(`fleet of 10 started in ${fleet.startupMs} ms\n`);
      f = await footprint(fleet);
      expect(new Set(fleet.pis.map((p) => p.serial8)).size).toBe(10);
      expect(new Set(fleet.pis.map((p) => p.port)).size).toBe(10);
      const serials = await Promise.all(fleet.pis.map((p) => ssh(fleet.sshConfig, `pi@${p.name}`, "sed -n 's/^Serial[[:space:]]*: //p' /proc/cpuinfo")));
      expect(serials.map((r) => r.stdout.trim())).toEqual(fleet.pis.map((p) => p.serial));
      // Each Pi sees only its own network: eth0 with its address, the LAN behind it.
      const addr = await ssh(fleet.sshConfig, 'pi-03', 'ip -o -4 addr show eth0');
      expect(addr.stdout).toContain(`${fleet.pis[2]!.ip}/24`);
      expect(fleet.pis[2]!.ip.startsWith(fleet.lan.subnet.replace(/0\/24$/, ''))).toBe(true);
      expect(fleet.lan.subnet).toMatch(/^10\.251\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.0\/24$/);
    } finally {
      await fleet.stop();
    }
    await expectGone(f!, mountsBefore);
    await fleet.stop(); // a second stop is harmless
  });

  it('leaves nothing behind when a Pi cannot boot', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'pinet-fleet-test-'));
    const dir = join(parent, 'fleet');
    try {
      const before = namespaces();
      const start = startFleet({
        dir,
        pis: [
          { name: 'good', variant: 'pi3' },
          { name: 'broken', variant: 'ubuntu-2404-pi4', files: { '/etc/ssh/sshd_config': 'NoSuchOption yes\n' } },
        ],
        bootTimeoutMs: 20_000,
      });
      await expect(start).rejects.toThrow(/broken: boot failed 3 times/);
      expect(namespaces().filter((n) => !before.includes(n) && n.includes(`-${process.pid}-`))).toEqual([]);
      expect(existsSync(dir)).toBe(false);
      expect(locksOwnedBy(dir)).toEqual([]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('refuses bad options before creating anything', async () => {
    await expect(startFleet({ pis: [] })).rejects.toThrow(/at least one Pi/);
    await expect(startFleet({ pis: [{ name: 'a', variant: 'pi3' }, { name: 'a', variant: 'pi3' }] })).rejects.toThrow(/two Pis are named "a"/);
    await expect(startFleet({ pis: [{ name: 'x', variant: 'pi9' as VariantName }] })).rejects.toThrow(/unknown fake-Pi variant "pi9"/);
    await expect(startFleet({ pis: [{ name: 'x', variant: 'pi3' }], exports: { 'nfs-host picluster': '/srv' } })).rejects.toThrow(/server:\/path/);
  });

  it('the CLI serves benchmarks: JSON on stdout, ssh works, SIGTERM stops everything', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'pinet-fleet-cli-'));
    const dir = join(parent, 'fleet');
    const { child, description } = await cliUp(['--count', '3', '--variant', 'ubuntu-2404-pi4,pi5', '--dir', dir, '--boot-files-mb', '1']);
    try {
      expect(description.pis.map((p: { name: string; variant: string }) => `${p.name}:${p.variant}`)).toEqual([
        'pi-01:ubuntu-2404-pi4',
        'pi-02:pi5',
        'pi-03:ubuntu-2404-pi4',
      ]);
      expect(JSON.parse(readFileSync(join(dir, 'fleet.json'), 'utf8'))).toEqual(description);
      const r = await ssh(description.sshConfig, 'pi-02', 'hostname');
      expect(r.stdout).toBe('pi-02\n');
      const ns = [description.lan.namespace, ...description.pis.map((p: { netns: string }) => p.netns)];
      child.kill('SIGTERM');
      expect(await exited(child)).toBe(0);
      expect(namespaces().filter((n) => ns.includes(n))).toEqual([]);
      expect(existsSync(dir)).toBe(false);
      for (const p of description.pis) expect(await refused(p.port)).toBe(true);
    } finally {
      child.kill('SIGTERM');
      await exited(child);
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('cleans up by itself when its owner is killed without a chance to stop it', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'pinet-fleet-crash-'));
    const dir = join(parent, 'fleet');
    const { child, description } = await cliUp(['--count', '2', '--dir', dir, '--boot-files-mb', '1']);
    try {
      const ns = [description.lan.namespace, ...description.pis.map((p: { netns: string }) => p.netns)];
      child.kill('SIGKILL');
      await exited(child);
      await until('the orphaned fleet to remove itself', () => namespaces().every((n) => !ns.includes(n)) && !existsSync(dir));
      expect(locksOwnedBy(dir)).toEqual([]);
      for (const p of description.pis) expect(await refused(p.port)).toBe(true);
    } finally {
      child.kill('SIGKILL');
      await exited(child);
      await rm(parent, { recursive: true, force: true });
    }
  });

  describe('cleanupStale()', () => {
    let live: Fleet;
    beforeAll(async () => {
      live = await startFleet({ pis: [{ name: 'live', variant: 'pi3' }], bootFilesMB: 1 });
    });
    afterAll(async () => {
      await live?.stop();
    });

    it("removes a dead run's namespaces, lock and directory, and leaves live fleets alone", async () => {
      const dead = spawn('true');
      await exited(dead);
      const pid = dead.pid!;
      expect(alive(pid)).toBe(false);
      const dir = await mkdtemp(join(tmpdir(), 'pinet-fleet-'));
      // A slot lock of the dead run, in a free slot.
      let lockFile = '';
      for (let i = 63; i >= 0 && !lockFile; i--) {
        const candidate = join(LOCK_DIR, `slot-${String(i).padStart(2, '0')}.lock`);
        try {
          const fh = await open(candidate, 'wx');
          await fh.writeFile(JSON.stringify({ pid, start: null, dir }) + '\n');
          await fh.close();
          lockFile = candidate;
        } catch {
          // Taken by a running fleet.
        }
      }
      const slot = /slot-(\d\d)/.exec(lockFile)![1];
      const leftovers = [`pfl${slot}-${pid}-lan`, `pfl${slot}-${pid}-p0`];
      for (const n of leftovers) execFileSync('ip', ['netns', 'add', n]);
      try {
        const report = await cleanupStale();
        expect(report.namespaces).toEqual(expect.arrayContaining(leftovers));
        expect(report.locks).toContain(lockFile);
        expect(report.dirs).toContain(dir);
        expect(namespaces().filter((n) => leftovers.includes(n))).toEqual([]);
        expect(existsSync(lockFile)).toBe(false);
        expect(existsSync(dir)).toBe(false);
        // The live fleet was not touched.
        expect(namespaces()).toContain(live.lanNamespace);
        expect((await ssh(live.sshConfig, 'live', 'echo alive')).stdout).toBe('alive\n');
      } finally {
        for (const n of leftovers) if (namespaces().includes(n)) execFileSync('ip', ['netns', 'del', n]);
        await unlink(lockFile).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
