/**
 * The VM lab's network and shared services, one per test file: a LAN
 * namespace with a bridge (its address .1 is the boot server's: the real
 * dnsmasq with pinet's config runs there), a "router" namespace (.2) whose
 * dnsmasq hands out the addresses (no-ping), NFS-Ganesha in its own
 * namespace (.3), tap devices for the VMs on the bridge, and SSH relays from
 * the host's 127.0.0.1 to the VMs (the host's namespace gets no address).
 * Addresses: 10.251.(160+slot).0/24 inside 10.251.160.0/20, one /24 per
 * running lab. Everything is recorded in a ledger and undone by stop(), by a
 * failed start, or at process exit.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Ledger } from '../fleet/ledger.js';
import { Ganesha } from './ganesha.js';
import type { GaneshaExport } from './ganesha.js';
import { ensureImage } from './images.js';
import type { LabImage } from './images.js';

const run = promisify(execFile);
const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RELAY = fileURLToPath(new URL('./relay-main.ts', import.meta.url));
const SLOT_DIR = '/run/pinet-vm-lab';
const SLOTS = 16;
export const PINET = join(PROJECT_ROOT, 'bin/pinet.js');

export async function sh(cmd: string, args: string[], opts: { input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
    if (opts.input !== undefined) c.stdin!.end(opts.input);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Claim a free slot (a lock file holding our PID; a dead owner's slot is taken over after its namespaces are removed). */
function claimSlot(): number {
  mkdirSync(SLOT_DIR, { recursive: true });
  for (let n = 0; n < SLOTS; n++) {
    const file = join(SLOT_DIR, `slot-${n}`);
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return n;
    } catch {
      let owner = 0;
      try {
        owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
      } catch {
        continue;
      }
      if (owner && !alive(owner)) {
        cleanupSlotSync(n);
        rmSync(file, { force: true });
        n--; // try this slot again
      }
    }
  }
  throw new Error(`all ${SLOTS} VM lab slots are in use (${SLOT_DIR})`);
}

function namespacesOf(slot: number): string[] {
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  } catch {
    return [];
  }
  const prefix = `pvm${slot}-`;
  return list.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(prefix));
}

/** Remove the namespaces of a slot whose owner is gone (a crashed test). Its QEMUs died with their parent's relays? No: killed here by namespace. */
function cleanupSlotSync(slot: number): void {
  for (const ns of namespacesOf(slot)) {
    // Processes still inside the namespace (a QEMU whose test crashed): stop them by PID.
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    } catch {
      // no such namespace any more
    }
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

/**
 * How many VMs may boot at once on this machine (all labs, all test
 * processes): a boot under TCG is CPU-bound, and seven at once on two cores
 * made single boots take over seven minutes. A token is a lock file holding
 * the owner's PID; a dead owner's token is taken over.
 */
export const PARALLEL_BOOTS = Number(process.env.PINET_VM_PARALLEL_BOOTS ?? 3);

export async function acquireBootToken(label: string): Promise<() => void> {
  mkdirSync(SLOT_DIR, { recursive: true });
  for (;;) {
    for (let k = 0; k < PARALLEL_BOOTS; k++) {
      const file = join(SLOT_DIR, `boot-${k}`);
      try {
        const fd = openSync(file, 'wx');
        writeSync(fd, `${process.pid} ${label}\n`);
        closeSync(fd);
        let released = false;
        return () => {
          if (!released) rmSync(file, { force: true });
          released = true;
        };
      } catch {
        let owner = 0;
        try {
          owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
        } catch {
          continue;
        }
        if (owner && !alive(owner)) rmSync(file, { force: true });
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface LabOptions {
  /** A label for logs and directory names. */
  name: string;
  /** Exports of NFS-Ganesha, started with the lab (none: no Ganesha). */
  ganesha?: GaneshaExport[];
  /** Keep the lab directory after stop() (its logs); default: keep only when a test failed (see keepDir()). */
  keepDir?: boolean;
  log?: (line: string) => void;
}

export interface BootServerOptions {
  /** The TFTP root (a host directory). */
  tftpRoot: string;
  /** Extra arguments for `pinet render-dnsmasq`. */
  renderArgs?: string[];
}

export class VmLab {
  readonly ledger = new Ledger();
  readonly octet: number;
  readonly lanNs: string;
  readonly routerNs: string;
  readonly nfsNs: string;
  readonly subnet: string;
  readonly serverIp: string;
  readonly routerIp: string;
  readonly nfsIp: string;
  ganesha: Ganesha | null = null;
  bootDnsmasq: { pid: number; confFile: string; logFile: string; child: ChildProcess } | null = null;
  identityFile = '';
  publicKey = '';
  private readonly dhcpHosts = new Map<string, string>();
  private router: ChildProcess | null = null;
  private exitHook: (() => void) | null = null;
  private tapCount = 0;
  private readonly sshHosts = new Map<string, { port: number; hostKey: string; ip: string }>();
  private readonly names = new Map<string, string>();
  keep: boolean;
  /** TCG unless PINET_VM_ACCEL=kvm (the /dev/kvm here is a nested PVM device stock kernels cannot use; see README). */
  accel: 'tcg' | 'kvm' = process.env.PINET_VM_ACCEL === 'kvm' ? 'kvm' : 'tcg';

  private constructor(
    readonly slot: number,
    readonly dir: string,
    readonly image: LabImage,
    readonly opts: LabOptions,
  ) {
    this.octet = 160 + slot;
    this.lanNs = `pvm${slot}-lan`;
    this.routerNs = `pvm${slot}-rtr`;
    this.nfsNs = `pvm${slot}-nfs`;
    this.subnet = `10.251.${this.octet}.0/24`;
    this.serverIp = this.addr(1);
    this.routerIp = this.addr(2);
    this.nfsIp = this.addr(3);
    this.keep = opts.keepDir ?? false;
  }

  addr(host: number): string {
    return `10.251.${this.octet}.${host}`;
  }

  log(line: string): void {
    this.opts.log?.(`[vm-lab ${this.opts.name}] ${line}`);
  }

  static async start(opts: LabOptions): Promise<VmLab> {
    const image = await ensureImage({ log: opts.log });
    const slot = claimSlot();
    const base = join('/var/tmp', 'pinet-vm-lab');
    await mkdir(base, { recursive: true });
    const dir = await mkdtemp(join(base, `${opts.name.replace(/[^\w-]/g, '_')}-`));
    const lab = new VmLab(slot, dir, image, opts);
    lab.ledger.add(`slot ${slot}`, () => rmSync(join(SLOT_DIR, `slot-${slot}`), { force: true }), () => rmSync(join(SLOT_DIR, `slot-${slot}`), { force: true }));
    lab.ledger.add(`directory ${dir}`, () => (lab.keep ? undefined : rm(dir, { recursive: true, force: true })), () => undefined);
    const onExit = () => {
      lab.closing = true;
      lab.ledger.unwindSync();
    };
    process.once('exit', onExit);
    lab.exitHook = onExit;
    try {
      await lab.createNetwork();
      await lab.createKey();
      await lab.startRouter();
      if (opts.ganesha) await lab.startGanesha(opts.ganesha);
      return lab;
    } catch (err) {
      await lab.stop();
      throw err;
    }
  }

  private async createNetwork(): Promise<void> {
    const all = [this.lanNs, this.routerNs, this.nfsNs];
    this.ledger.add(`namespaces ${all.join(' ')}`, () => {
      cleanupSlotSync(this.slot);
    }, () => cleanupSlotSync(this.slot));
    for (const ns of all) {
      await sh('ip', ['netns', 'add', ns]);
      await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const mac = `02:70:76:6d:${this.octet.toString(16).padStart(2, '0')}:01`;
    await sh('ip', ['-n', this.lanNs, '-batch', '-'], {
      input: [
        `link add br0 address ${mac} type bridge forward_delay 0`,
        `addr add ${this.serverIp}/24 dev br0`,
        'link set br0 up',
      ].join('\n') + '\n',
    });
    for (const [ns, host] of [[this.routerNs, 2], [this.nfsNs, 3]] as const) {
      const port = `v${host}`;
      await sh('ip', ['link', 'add', port, 'netns', this.lanNs, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await sh('ip', ['-n', this.lanNs, 'link', 'set', port, 'master', 'br0', 'up']);
      await sh('ip', ['-n', ns, 'addr', 'add', `${this.addr(host)}/24`, 'dev', 'eth0']);
      await sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', this.serverIp]);
    }
  }

  private async createKey(): Promise<void> {
    this.identityFile = join(this.dir, 'id_ed25519');
    await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `pinet-vm-lab@${this.opts.name}`, '-f', this.identityFile]);
    this.publicKey = (await readFile(`${this.identityFile}.pub`, 'utf8')).trim();
  }

  /** The LAN's DHCP server (a home router): fixed addresses per MAC, `no-ping`. */
  private async startRouter(): Promise<void> {
    const conf = join(this.dir, 'router.conf');
    await writeFile(join(this.dir, 'router-hosts'), '');
    await writeFile(
      conf,
      [
        '# pinet VM lab: the LAN\'s router (DHCP only)',
        'port=0',
        'interface=eth0',
        'bind-interfaces',
        `dhcp-range=${this.addr(100)},${this.addr(199)},255.255.255.0,12h`,
        `dhcp-option=option:router,${this.serverIp}`,
        `dhcp-hostsfile=${join(this.dir, 'router-hosts')}`,
        `dhcp-leasefile=${join(this.dir, 'router.leases')}`,
        'dhcp-authoritative',
        'no-ping',
        'log-dhcp',
        `log-facility=${join(this.dir, 'router.log')}`,
        'user=root',
        '',
      ].join('\n'),
    );
    const child = spawn('nsenter', [`--net=/run/netns/${this.routerNs}`, '--', 'dnsmasq', '--keep-in-foreground', `--conf-file=${conf}`, `--pid-file=${join(this.dir, 'router.pid')}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    this.router = child;
    this.ledger.add(`router dnsmasq ${child.pid}`, () => killChild(child), () => killChildSync(child));
    await waitFor('the router\'s dnsmasq', async () => {
      if (child.exitCode !== null) throw new Error(`router dnsmasq exited: ${err}${(await readFile(join(this.dir, 'router.log'), 'utf8').catch(() => '')).slice(-2000)}`);
      return (await readFile(join(this.dir, 'router.log'), 'utf8').catch(() => '')).includes('DHCP, IP range');
    }, 15_000);
  }

  /** A fixed address for a MAC from the router (re-read at once). */
  async dhcpHost(mac: string, ip: string, name: string): Promise<void> {
    this.dhcpHosts.set(mac, `${mac},${ip},${name}`);
    await writeFile(join(this.dir, 'router-hosts'), [...this.dhcpHosts.values()].join('\n') + '\n');
    if (this.router?.pid) process.kill(this.router.pid, 'SIGHUP');
  }

  async startGanesha(exports: GaneshaExport[]): Promise<Ganesha> {
    const dir = join(this.dir, 'ganesha');
    await mkdir(dir, { recursive: true });
    const g = new Ganesha(this.nfsNs, this.nfsIp, this.subnet, dir);
    this.ganesha = g;
    this.ledger.add('NFS-Ganesha', () => g.stop(), () => g.killNow());
    await g.start(exports);
    return g;
  }

  /**
   * The boot server: the real dnsmasq on br0 (.1) with the config pinet
   * renders (`pinet render-dnsmasq`), TFTP from `tftpRoot`, logging to a
   * file (for `pinet doctor --log`). Requires `npm run build`.
   */
  async startBootServer(o: BootServerOptions): Promise<{ confFile: string; logFile: string }> {
    if (this.bootDnsmasq) throw new Error('the boot server is already running');
    const confFile = join(this.dir, 'boot-dnsmasq.conf');
    const logFile = join(this.dir, 'boot-dnsmasq.log');
    const rendered = await sh(process.execPath, [PINET, 'render-dnsmasq', '--subnet', this.subnet, '--tftp-root', o.tftpRoot, '--interface', 'br0', ...(o.renderArgs ?? [])]);
    await writeFile(confFile, `${rendered}\n# pinet VM lab: log to a file for pinet doctor --log\nlog-facility=${logFile}\nbind-interfaces\n`);
    const child = spawn('nsenter', [`--net=/run/netns/${this.lanNs}`, '--', 'dnsmasq', '--keep-in-foreground', `--conf-file=${confFile}`, `--pid-file=${join(this.dir, 'boot-dnsmasq.pid')}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    this.bootDnsmasq = { pid: child.pid!, confFile, logFile, child };
    this.ledger.add(`boot server dnsmasq ${child.pid}`, () => killChild(child), () => killChildSync(child));
    await waitFor('the boot server\'s dnsmasq', async () => {
      if (child.exitCode !== null) throw new Error(`boot server dnsmasq exited: ${err}${(await readFile(logFile, 'utf8').catch(() => '')).slice(-2000)}`);
      return (await readFile(logFile, 'utf8').catch(() => '')).includes('TFTP root is');
    }, 15_000);
    return { confFile, logFile };
  }

  private vmIndex = 0;
  /** A number for the next VM Pi (its address is .20 + n). */
  nextIndex(): number {
    return this.vmIndex++;
  }

  /** A tap device on the bridge for a VM (QEMU opens it by name inside the LAN namespace). */
  async tap(): Promise<string> {
    const name = `tap${this.tapCount++}`;
    await sh('ip', ['-n', this.lanNs, 'tuntap', 'add', 'dev', name, 'mode', 'tap']);
    await sh('ip', ['-n', this.lanNs, 'link', 'set', name, 'master', 'br0', 'up']);
    return name;
  }

  /**
   * A relay from a new port on the host's 127.0.0.1 to `ip:port` on the LAN
   * (a process in the LAN namespace, stopped with the lab).
   */
  async relay(ip: string, port = 22): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const local = (server.address() as net.AddressInfo).port;
    const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number') throw new Error('no file descriptor for the relay socket');
    const log = await open(join(this.dir, `relay-${local}.log`), 'a');
    const child = spawn('nsenter', [`--net=/run/netns/${this.lanNs}`, '--', process.execPath, '--import', 'tsx', RELAY, ip, String(port)], {
      cwd: PROJECT_ROOT,
      stdio: ['pipe', log.fd, log.fd, fd],
    });
    await log.close();
    server.close();
    this.ledger.add(`relay ${local} → ${ip}:${port}`, () => killChild(child), () => killChildSync(child));
    return local;
  }

  /** ssh_config for the lab's VMs: `ssh -F <this> root@<vm name>` (also pinet's `-F`). */
  get sshConfig(): string {
    return join(this.dir, 'ssh_config');
  }

  get knownHosts(): string {
    return join(this.dir, 'known_hosts');
  }

  /**
   * The same for a process running inside the LAN namespace (see inLan()):
   * the VMs by their addresses on the LAN, port 22.
   */
  get sshConfigLan(): string {
    return join(this.dir, 'ssh_config.lan');
  }

  async addSshHost(name: string, port: number, hostKey: string, ip: string): Promise<void> {
    this.sshHosts.set(name, { port, hostKey, ip });
    const entries = [...this.sshHosts.entries()];
    await writeFile(this.knownHosts, entries.map(([n, h]) => `${n} ${h.hostKey.trim()}\n`).join(''));
    for (const lan of [false, true]) {
      await this.writeSshConfig(lan ? this.sshConfigLan : this.sshConfig, entries.map(([n, h]) =>
        [`Host ${n}`, `    HostName ${lan ? h.ip : '127.0.0.1'}`, `    Port ${lan ? 22 : h.port}`, `    HostKeyAlias ${n}`, ''].join('\n'),
      ).join(''));
    }
  }

  private async writeSshConfig(file: string, hosts: string): Promise<void> {
    await writeFile(
      file,
      hosts +
        [
          'Host *',
          '    User root',
          `    IdentityFile ${this.identityFile}`,
          '    IdentitiesOnly yes',
          `    UserKnownHostsFile ${this.knownHosts}`,
          '    StrictHostKeyChecking yes',
          '    BatchMode yes',
          '    LogLevel ERROR',
          '',
        ].join('\n'),
    );
  }

  /** argv that runs `argv` inside the LAN namespace (where the boot server's address is): nsenter. */
  inLan(argv: string[]): string[] {
    return ['nsenter', `--net=/run/netns/${this.lanNs}`, '--', ...argv];
  }

  /** A name in every VM's /etc/hosts (set before the VM boots). */
  addName(ip: string, name: string): void {
    this.names.set(name, ip);
  }

  hosts(): Array<[string, string]> {
    return [[this.serverIp, 'boot-server'], [this.nfsIp, 'nfs-host'], ...[...this.names.entries()].map(([n, ip]) => [ip, n] as [string, string])];
  }

  /** Mark the lab's directory to be kept (call from a failing test: its logs explain). */
  keepDir(): void {
    this.keep = true;
  }

  /** True once stop() began: VMs must not power on again. */
  closing = false;

  async stop(): Promise<void> {
    this.closing = true;
    const errors = await this.ledger.unwind();
    if (this.exitHook) process.removeListener('exit', this.exitHook);
    if (this.keep) this.log(`kept ${this.dir}`);
    if (errors.length) throw new Error(`VM lab cleanup: ${errors.join('; ')}`);
  }
}

export function killChild(child: ChildProcess, ms = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export function killChildSync(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export { run as execFileAsync };
