/**
 * A boot LAN for watch's tests (root only): a server namespace holding a
 * bridge `br0` (the LAN, `10.251.<net>.1/24`) where the real dnsmasq and
 * `pinet watch` run, and one namespace per Pi whose `eth0` carries the Pi's
 * MAC on that bridge, so the server's neighbour table maps its address to
 * its MAC as on a real LAN. Also: an export directory laid out like Pis'
 * boot partitions, an inventory, and `pinet watch` as a child process whose
 * stdout is read event by event.
 *
 * Everything is named with the test's pid and net, recorded, and removed in
 * reverse by `cleanup()`: processes by PID, namespaces by name, directories
 * by path. Addresses exist only inside the namespaces created here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { renderDnsmasqConfig } from '../../net/helpers/netns.js';
import { bootPi, type BootOptions, type BootResult as EmulatedBoot } from '../../netboot/index.js';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const PINET = join(REPO, 'bin/pinet.js');

export async function sh(cmd: string, args: string[]): Promise<string> {
  const r = await execa(cmd, args, { reject: false, timeout: 30_000 });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.exitCode}): ${String(r.stderr).trim()}`);
  return String(r.stdout);
}

export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface LabPi {
  name: string;
  mac: string;
  serial: string;
  ip: string;
  netns: string;
}

/** A Pi 4 boot partition as Ubuntu lays it out (small placeholder files with real names). */
export const UBUNTU_BOOT: Record<string, number> = {
  'start4.elf': 220_000,
  'fixup4.dat': 5_400,
  'bcm2711-rpi-4-b.dtb': 52_000,
  'overlays/overlay_map.dtb': 5_000,
  'cmdline.txt': 0,
  vmlinuz: 480_000,
  'initrd.img': 360_000,
};
export const UBUNTU_CONFIG = '[all]\nkernel=vmlinuz\ninitramfs initrd.img followkernel\narm_64bit=1\n';

export class WatchLab {
  readonly prefix: string;
  readonly base: string;
  private undo: (() => Promise<unknown>)[] = [];
  srv = '';
  server = '';
  dnsmasqPid = 0;
  /** The config file of the dnsmasq started last. */
  lastConf = '';
  private stopDnsmasq: (() => Promise<void>) | undefined;
  readonly pis: LabPi[] = [];

  /** `net`: the third octet of this lab's /24, inside 10.251.180.0/22. */
  constructor(tag: string, readonly net: number) {
    if (net < 180 || net > 183) throw new Error('watch tests use 10.251.180.0/22');
    this.prefix = `pw-${tag}-${process.pid}`;
    this.base = `10.251.${net}`;
    this.server = `${this.base}.1`;
  }

  defer(fn: () => Promise<unknown>): void {
    this.undo.push(fn);
  }

  async cleanup(): Promise<void> {
    const errors: string[] = [];
    for (const fn of this.undo.splice(0).reverse()) await fn().catch((e: Error) => errors.push(e.message));
    if (errors.length) throw new Error(`cleanup: ${errors.join('; ')}`);
  }

  async dir(name: string): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), `${this.prefix}-${name}-`));
    await chmod(d, 0o755);
    this.defer(() => rm(d, { recursive: true, force: true }));
    return d;
  }

  async namespace(role: string): Promise<string> {
    const name = `${this.prefix}-${role}`;
    await sh('ip', ['netns', 'add', name]);
    this.defer(() => sh('ip', ['netns', 'del', name]));
    await sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** The server namespace with the LAN bridge. */
  async lan(): Promise<string> {
    this.srv = await this.namespace('srv');
    await sh('ip', ['-n', this.srv, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh('ip', ['-n', this.srv, 'addr', 'add', `${this.server}/24`, 'dev', 'br0']);
    await sh('ip', ['-n', this.srv, 'link', 'set', 'br0', 'up']);
    return this.srv;
  }

  /** A Pi: its own namespace, eth0 with its MAC on br0, address .10+n. */
  async addPi(name: string, opts: { mac?: string; serial?: string } = {}): Promise<LabPi> {
    const n = this.pis.length;
    const mac = opts.mac ?? `dc:a6:32:${this.net.toString(16).padStart(2, '0')}:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
    const serial = opts.serial ?? randomBytes(4).toString('hex');
    const netns = await this.namespace(`p${n}`);
    const port = `v${process.pid % 10000}p${n}`;
    await sh('ip', ['link', 'add', 'eth0', 'netns', netns, 'address', mac, 'type', 'veth', 'peer', 'name', port, 'netns', this.srv]);
    await sh('ip', ['-n', this.srv, 'link', 'set', port, 'master', 'br0']);
    await sh('ip', ['-n', this.srv, 'link', 'set', port, 'up']);
    const ip = `${this.base}.${10 + n}`;
    await sh('ip', ['-n', netns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await sh('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
    await waitFor(`carrier on ${name}`, async () => ((await sh('ip', ['-n', netns, '-o', 'link', 'show', 'dev', 'eth0'])).includes('LOWER_UP') ? true : undefined), 10_000);
    const pi = { name, mac, serial, ip, netns };
    this.pis.push(pi);
    return pi;
  }

  /** `<root>/<dir>/` with the Pi's boot files; `modes` overrides a file's mode, `skip` leaves files out. */
  async bootDir(root: string, dir: string, o: { files?: Record<string, number>; config?: string; modes?: Record<string, number>; skip?: string[] } = {}): Promise<void> {
    const files = o.files ?? UBUNTU_BOOT;
    const base = join(root, dir);
    await mkdir(join(base, 'overlays'), { recursive: true, mode: 0o755 });
    await chmod(base, 0o755);
    await chmod(join(base, 'overlays'), 0o755);
    await writeFile(join(base, 'config.txt'), o.config ?? UBUNTU_CONFIG, { mode: 0o644 });
    for (const [f, size] of Object.entries(files)) {
      if (o.skip?.includes(f)) continue;
      const p = join(base, f);
      await mkdir(dirname(p), { recursive: true, mode: 0o755 });
      await writeFile(p, f === 'cmdline.txt' ? 'console=serial0,115200 root=/dev/nfs nfsroot=10.251.180.1:/srv/root,vers=3 ip=dhcp rw\n' : randomBytes(size));
      await chmod(p, o.modes?.[f] ?? 0o644);
    }
  }

  /** An inventory with these Pis enrolled (StateStore's file format). */
  /** An inventory as enroll writes it: address "name (ip)", and the SSH port when it is not 22. */
  async inventory(stateDir: string, exportDir: string, pis: { pi: LabPi; dir?: string; sshPort?: number }[]): Promise<void> {
    const now = new Date().toISOString();
    const entries = Object.fromEntries(
      pis.map(({ pi, dir, sshPort }) => {
        const serial = `10000000${pi.serial}`;
        return [
          serial,
          { serial, dir: dir ?? pi.serial, prefixMode: 'serial', mac: pi.mac, host: pi.name, address: `${pi.name} (${pi.ip})`, ...(sshPort !== undefined && sshPort !== 22 && { port: sshPort }), board: 'Raspberry Pi 4 Model B', revision: 'd03114', bootMount: '/boot/firmware', exportDir, nfs: 'nfs-host:/picluster-boot', enrolledAt: now, updatedAt: now, changes: [], hooks: [] },
        ];
      }),
    );
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await writeFile(join(stateDir, 'inventory.json'), JSON.stringify({ version: 1, pis: entries }, null, 2));
  }

  /** The real dnsmasq in the server namespace with the config pinet renders (plus `extra` lines), logging to `logFile`. */
  async dnsmasq(tftpRoot: string, o: { logFile: string; extra?: string[]; edit?: (conf: string) => string }): Promise<{ conf: string; pid: number; stop: () => Promise<void> }> {
    const dir = await this.dir('dnsmasq');
    let conf = await renderDnsmasqConfig({ subnet: `${this.base}.0/24`, tftpRoot });
    if (o.edit) conf = o.edit(conf);
    conf += `${[`log-facility=${o.logFile}`, `dhcp-leasefile=${join(dir, 'leases')}`, `pid-file=${join(dir, 'pid')}`, ...(o.extra ?? [])].join('\n')}\n`;
    const confFile = join(dir, 'dnsmasq.conf');
    await writeFile(confFile, conf);
    const child = spawn('ip', ['netns', 'exec', this.srv, 'dnsmasq', '--keep-in-foreground', `--conf-file=${confFile}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let gone = false;
    void exited.then(() => (gone = true));
    const stop = async (): Promise<void> => {
      if (gone) return;
      process.kill(child.pid!, 'SIGTERM');
      await exited;
    };
    this.defer(stop);
    await waitFor('dnsmasq to open its TFTP server', async () => {
      if (gone) throw new Error(`dnsmasq exited: ${stderr}`);
      return /TFTP root is /.test(await readFile(o.logFile, 'utf8').catch(() => '')) ? true : undefined;
    }, 15_000);
    this.dnsmasqPid = child.pid!;
    this.lastConf = confFile;
    this.stopDnsmasq = stop;
    return { conf: confFile, pid: child.pid!, stop };
  }

  /** Stop the running dnsmasq and start another with a new config. */
  async dnsmasqRestart(tftpRoot: string, o: { logFile: string; extra?: string[]; edit?: (conf: string) => string }): Promise<{ conf: string; pid: number; stop: () => Promise<void> }> {
    await this.stopDnsmasq?.();
    return this.dnsmasq(tftpRoot, o);
  }

  /**
   * Power on a Pi with test/netboot's bootloader emulator: BOOT_ORDER
   * NETWORK only, its address static (a proxy-only LAN has no router), and
   * the firmware halting at a file it cannot load, as a Pi 4 does.
   */
  async emulate(pi: LabPi, o: Partial<Omit<BootOptions, 'pi' | 'nic' | 'outDir'>> = {}): Promise<EmulatedBoot> {
    const outDir = await this.dir(`out-${pi.name}`);
    return bootPi({
      pi: { mac: pi.mac, serial: `10000000${pi.serial}`, revision: 'd03114', name: pi.name },
      eeprom: { BOOT_ORDER: '0xf2', DHCP_TIMEOUT: 5000, DHCP_REQ_TIMEOUT: 1000 },
      maxRounds: 1,
      ...o,
      nic: { netns: pi.netns, iface: 'eth0', address: `${pi.ip}/24` },
      outDir,
    });
  }

  /** Real OpenSSH sshd in a Pi's namespace: the Pi "came up". Returns its port. */
  async sshd(pi: LabPi, port = 22): Promise<void> {
    const dir = await this.dir(`sshd-${pi.name}`);
    await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
    const conf = join(dir, 'sshd_config');
    await writeFile(conf, [`Port ${port}`, `ListenAddress ${pi.ip}`, `HostKey ${join(dir, 'host_key')}`, `PidFile ${join(dir, 'sshd.pid')}`, 'UsePAM no', 'PasswordAuthentication no', ''].join('\n'));
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    const child = spawn('ip', ['netns', 'exec', pi.netns, '/usr/sbin/sshd', '-D', '-e', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    this.defer(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid!, 'SIGTERM');
        await exited;
      }
    });
  }
}

/** `pinet watch` running in the server namespace; its stdout lines as they come. */
export class WatchProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(lab: WatchLab, args: string[], opts: { input?: string; env?: Record<string, string> } = {}) {
    this.child = spawn('ip', ['netns', 'exec', lab.srv, process.execPath, PINET, 'watch', ...args], {
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (opts.input !== undefined) this.child.stdin!.end(opts.input);
    this.child.stdout!.on('data', (b: Buffer) => (this.stdout += b.toString()));
    this.child.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
    lab.defer(() => this.stop().catch(() => undefined));
  }

  /** The NDJSON events so far (with --json). */
  events(): Record<string, any>[] {
    return this.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, any>);
  }

  async waitForEvent(what: string, pred: (e: Record<string, any>) => boolean, timeoutMs = 30_000): Promise<Record<string, any>> {
    return waitFor(what, () => this.events().find(pred), timeoutMs).catch((err: Error) => {
      throw new Error(`${err.message}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
    });
  }

  /** Ctrl-C (SIGINT to watch itself, not to `ip netns exec`), then its exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    process.kill(this.child.pid!, 'SIGINT');
    return this.exited;
  }

  async exit(): Promise<number | null> {
    return this.exited;
  }
}
