/**
 * One fake Pi as a test holds it: who it is (name, serial, MAC, port…), and
 * what a test does to it from the outside: run commands inside it as root,
 * read and write its files, reboot it, update its kernel, read its EEPROM,
 * and break its network (cut, throttle, block).
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { deterministicBytes } from './bytes.js';
import type { DaemonClient } from './daemon-client.js';
import { CAPS_DROP_ARG } from './materialize.js';
import type { PiIdentity } from './pi-image.js';
import type { PiStatus } from './protocol.js';
import { REAL_KERNEL_SIZES, realKernelLabels } from './real-boot.js';
import type { RelayStats } from './relay.js';
import { fingerprint } from './ssh-keys.js';
import type { VariantName } from './variants.js';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Data for the command's stdin. */
  input?: string | Buffer;
  /** Run as this user of the Pi instead of root. */
  user?: string;
  timeoutMs?: number;
}

export interface PiStat {
  type: 'file' | 'directory' | 'symlink' | 'other';
  /** Permission bits, e.g. 0o600. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
}

/** What a FakePi needs from its fleet. */
export interface PiHost {
  daemon: DaemonClient;
  /** The fleet's state directory as the host reaches it (through the holder's mount namespace). */
  stateRoot: string;
  bootFilesBytes: number;
  /** Make a new host key pair for a Pi (files in the fleet's directory). */
  newHostKey(name: string): Promise<{ privateKey: string; publicKey: string }>;
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class FakePi {
  readonly name: string;
  readonly variant: VariantName;
  readonly index: number;
  /** 16 hex digits, as /proc/cpuinfo prints it. */
  readonly serial: string;
  /** The last 8 hex digits: the Pi's TFTP directory name. */
  readonly serial8: string;
  readonly mac: string;
  readonly revision: string;
  readonly model: string;
  readonly board: string;
  readonly os: string;
  /** Where its boot partition is mounted: /boot/firmware or /boot. */
  readonly bootMount: string;
  /** Its address on the fleet's LAN. */
  readonly ip: string;
  /** Its SSH port on the host's 127.0.0.1. */
  readonly port: number;
  /** Its network namespace (`ip netns exec <netns> ...`). */
  readonly netns: string;
  private hostKeyLine: string;
  private kernelUpdates = 0;

  constructor(
    readonly identity: PiIdentity,
    net: { ip: string; port: number; netns: string },
    hostKey: string,
    private readonly host: PiHost,
  ) {
    this.name = identity.name;
    this.variant = identity.variant;
    this.index = identity.index;
    this.serial = identity.serial;
    this.serial8 = identity.serial8;
    this.mac = identity.mac;
    this.revision = identity.revision;
    this.model = identity.model;
    this.board = identity.board.name;
    this.os = identity.os.name;
    this.bootMount = identity.os.bootMount;
    this.ip = net.ip;
    this.port = net.port;
    this.netns = net.netns;
    this.hostKeyLine = hostKey;
  }

  /** Its current SSH host key (`ssh-ed25519 AAAA...`). */
  get hostKey(): string {
    return this.hostKeyLine;
  }

  /** `SHA256:...` of its host key, as ssh prints it. */
  get hostKeyFingerprint(): string {
    return fingerprint(this.hostKeyLine);
  }

  /**
   * Give the Pi a new SSH host key (as after a reinstall) and restart its
   * sshd; known_hosts files written before still hold the old key, so a
   * client sees "REMOTE HOST IDENTIFICATION HAS CHANGED". Returns the new
   * public key line.
   */
  async regenerateHostKey(): Promise<string> {
    const key = await this.host.newHostKey(this.name);
    await this.writeFile('/etc/ssh/ssh_host_ed25519_key', key.privateKey, 0o600);
    await this.writeFile('/etc/ssh/ssh_host_ed25519_key.pub', key.publicKey + '\n', 0o644);
    this.hostKeyLine = key.publicKey;
    await this.sh('kill -HUP 1');
    await waitForBanner(this.port, 10_000);
    return key.publicKey;
  }

  /** Whether the Pi has an EEPROM bootloader (and the rpi-eeprom tools). */
  get hasEeprom(): boolean {
    return this.identity.bootloaderConfig !== null;
  }

  /** Its state directory on the host: upper/ (what the Pi changed), boot/ (its SD card), boot.log… */
  get stateDir(): string {
    return join(this.host.stateRoot, `pi-${this.index}`);
  }

  status(): Promise<PiStatus> {
    return this.host.daemon.request<PiStatus>({ op: 'status', pi: this.index });
  }

  /** Wait until the Pi has completed more than `after` boots and its sshd answers. */
  waitForBoot(opts: { after?: number; timeoutMs?: number } = {}): Promise<PiStatus> {
    return this.host.daemon.request<PiStatus>({ op: 'waitBoot', pi: this.index, after: opts.after ?? 0, timeoutMs: opts.timeoutMs ?? 60_000 });
  }

  /** Reboot it (as `reboot` inside it does) and wait until it is back; returns the new boot number. */
  async reboot(opts: { timeoutMs?: number } = {}): Promise<number> {
    const before = await this.waitForBoot({ timeoutMs: opts.timeoutMs });
    await this.host.daemon.request({ op: 'reboot', pi: this.index });
    return (await this.waitForBoot({ after: before.boot, timeoutMs: opts.timeoutMs })).boot;
  }

  /** Power it off (it stays off; its port resets connections) and on again. */
  powerOff(): Promise<void> {
    return this.host.daemon.request({ op: 'powerOff', pi: this.index }).then(() => undefined);
  }

  async powerOn(opts: { timeoutMs?: number } = {}): Promise<number> {
    const before = await this.status();
    await this.host.daemon.request({ op: 'powerOn', pi: this.index });
    return (await this.waitForBoot({ after: before.boot, timeoutMs: opts.timeoutMs })).boot;
  }

  /**
   * Drop every live TCP connection to it, like a network failure: clients
   * see a reset. `blackhole` keeps the Pi's side open and silent (the Pi does
   * not notice, as when a cable is pulled). Returns how many were cut.
   */
  cutConnections(mode: 'reset' | 'blackhole' = 'reset'): Promise<number> {
    return this.host.daemon.request<number>({ op: 'cut', pi: this.index, mode });
  }

  /** Limit its bandwidth (each direction, all its connections together); null lifts the limit. */
  async throttle(bytesPerSecond: number | null): Promise<void> {
    await this.host.daemon.request({ op: 'throttle', pi: this.index, bytesPerSecond });
  }

  /** New connections: `drop` (accepted, never answered), `reset`, or null (normal). */
  async blockConnections(mode: 'drop' | 'reset' | null): Promise<void> {
    await this.host.daemon.request({ op: 'block', pi: this.index, mode });
  }

  /** Connections to its port: accepted since start, and open now. */
  connectionStats(): Promise<RelayStats> {
    return this.host.daemon.request<RelayStats>({ op: 'stats', pi: this.index });
  }

  private async initPid(timeoutMs: number): Promise<number> {
    const status = await this.status();
    if (status.state === 'up' && status.initPid) return status.initPid;
    const up = await this.waitForBoot({ after: status.state === 'up' ? 0 : status.boot, timeoutMs });
    if (!up.initPid) throw new Error(`${this.name}: running, but its PID 1 is unknown`);
    return up.initPid;
  }

  private async run(argv: string[], opts: ExecOptions = {}): Promise<{ code: number; stdout: Buffer; stderr: Buffer }> {
    if (argv.length === 0) throw new Error(`${this.name}: exec needs a command`);
    const timeoutMs = opts.timeoutMs ?? 60_000;
    for (let attempt = 0; ; attempt++) {
      const pid = await this.initPid(timeoutMs);
      const user = opts.user ?? 'root';
      const home = user === 'root' ? '/root' : `/home/${user}`;
      const as = user === 'root' ? [] : [`--reuid=${user}`, `--regid=${user}`, '--init-groups'];
      const args = [
        '-t', String(pid), '-m', '-u', '-i', '-n', '-p', '-r', '-w', '--',
        'setpriv', '--bounding-set', CAPS_DROP_ARG, ...as, '--',
        'env', '-i', `PATH=${PATH}`, `HOME=${home}`, `USER=${user}`, `LOGNAME=${user}`, 'LANG=C.UTF-8', 'SHELL=/bin/bash',
        ...argv,
      ];
      const result = await new Promise<{ code: number; stdout: Buffer; stderr: Buffer }>((resolve, reject) => {
        const child = spawn('nsenter', args, { stdio: ['pipe', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (d: Buffer) => out.push(d));
        child.stderr.on('data', (d: Buffer) => err.push(d));
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          if (signal === 'SIGKILL') reject(new Error(`${this.name}: ${argv.join(' ')} did not finish within ${timeoutMs} ms`));
          else resolve({ code: code ?? 128, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
        });
        child.stdin.on('error', () => undefined);
        child.stdin.end(opts.input ?? '');
      });
      // nsenter itself failed because the Pi rebooted under us: once more.
      if (result.code !== 0 && attempt === 0 && /^nsenter: /m.test(result.stderr.toString())) continue;
      return result;
    }
  }

  /** Run a command inside the Pi (its namespaces, its root, its dropped capabilities) as root or `user`. */
  async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.run(argv, opts);
    return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
  }

  /** Run a shell script inside the Pi; throws unless it exits 0; returns its stdout. */
  async sh(script: string, opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(['sh', '-c', script], opts);
    if (r.code !== 0) throw new Error(`${this.name}: script failed (exit ${r.code}): ${r.stderr.trim()}\n${script}`);
    return r.stdout;
  }

  async readFile(path: string): Promise<Buffer> {
    const r = await this.run(['cat', '--', path]);
    if (r.code !== 0) throw new Error(`${this.name}: cannot read ${path}: ${r.stderr.toString().trim()}`);
    return r.stdout;
  }

  async readText(path: string): Promise<string> {
    return (await this.readFile(path)).toString('utf8');
  }

  /** Write a file as root (replacing its content in place; new files get `mode`, default 0644). */
  async writeFile(path: string, data: string | Buffer, mode?: number, owner?: { uid: number; gid: number }): Promise<void> {
    const script = 'cat > "$1" && { [ -z "$2" ] || chmod "$2" "$1"; } && { [ -z "$3" ] || chown "$3" "$1"; }';
    const r = await this.run(['sh', '-c', script, 'sh', path, mode === undefined ? '' : mode.toString(8), owner ? `${owner.uid}:${owner.gid}` : ''], {
      input: data,
    });
    if (r.code !== 0) throw new Error(`${this.name}: cannot write ${path}: ${r.stderr.toString().trim()}`);
  }

  async exists(path: string): Promise<boolean> {
    return (await this.run(['test', '-e', path])).code === 0;
  }

  /** stat(2) of a path inside the Pi (following symlinks; `lstat` for the link itself). */
  async stat(path: string, opts: { lstat?: boolean } = {}): Promise<PiStat> {
    const r = await this.run(['stat', ...(opts.lstat ? [] : ['-L']), '-c', '%f %u %g %s %.3Y', '--', path]);
    if (r.code !== 0) throw new Error(`${this.name}: cannot stat ${path}: ${r.stderr.toString().trim()}`);
    const [rawMode, uid, gid, size, mtime] = r.stdout.toString().trim().split(' ');
    const full = Number.parseInt(rawMode ?? '0', 16);
    const fmt = full & 0o170000;
    return {
      type: fmt === 0o100000 ? 'file' : fmt === 0o040000 ? 'directory' : fmt === 0o120000 ? 'symlink' : 'other',
      mode: full & 0o7777,
      uid: Number(uid),
      gid: Number(gid),
      size: Number(size),
      mtimeMs: Math.round(Number(mtime) * 1000),
    };
  }

  /** The bootloader config the EEPROM holds now (what rpi-eeprom-config prints), or null without an EEPROM. */
  async eepromConfig(): Promise<string | null> {
    if (!this.hasEeprom) return null;
    return readFile(join(this.stateDir, 'sysfw', 'fake-videocore', 'bootloader_config'), 'utf8');
  }

  /** The config of an update staged in the boot partition (pieeprom.upd), or null when none is pending. */
  async pendingEepromConfig(): Promise<string | null> {
    if (!this.hasEeprom) return null;
    const r = await this.run([
      'sh', '-c', '[ -f "$1/pieeprom.upd" ] || exit 3; exec python3 /usr/lib/fake-pi/fake_eeprom.py extract "$1/pieeprom.upd"', 'sh', this.bootMount,
    ]);
    if (r.code === 3) return null;
    if (r.code !== 0) throw new Error(`${this.name}: cannot read the staged EEPROM update: ${r.stderr.toString().trim()}`);
    return r.stdout.toString('utf8');
  }

  /** What happened at each boot (bootloader update, boot partition mount, NFS). */
  async bootLog(): Promise<string> {
    return readFile(join(this.stateDir, 'boot.log'), 'utf8');
  }

  /** Output of its init and sshd (for debugging a failing test). */
  async consoleLog(): Promise<string> {
    return readFile(join(this.stateDir, 'console.log'), 'utf8');
  }

  /**
   * A kernel update as the OS's packages do it: the new kernel
   * (/boot/vmlinuz-VERSION, `mode`, default 0600 root like Ubuntu's) and
   * initramfs are installed, then the hooks in /etc/kernel/postinst.d run in
   * run-parts order; the distribution's own hooks copy them into the boot
   * partition (Ubuntu's flash-kernel, Raspberry Pi OS's z50-raspi-firmware)
   * and run /etc/initramfs/post-update.d. On Bullseye the package writes the
   * boot partition's kernel8.img itself.
   */
  async simulateKernelUpdate(opts: { version?: string; mode?: number } = {}): Promise<{ version: string; output: string }> {
    const n = ++this.kernelUpdates;
    const os = this.identity.os;
    const version = opts.version ?? nextKernelVersion(this.identity.kernelVersion, n);
    if (!/^[0-9][0-9A-Za-z.+~-]*$/.test(version)) throw new Error(`kernel version ${JSON.stringify(version)} is not a package version`);
    const mode = opts.mode ?? 0o600;
    const { kernel } = os.kernelFiles(this.identity.board);
    // A real boot partition gets the real sizes and the same bytes as any other Pi on that kernel
    // (the initramfs its own when the Pi builds its own: ownInitramfs).
    const real = this.identity.bootImage === 'real' && (os.name === 'ubuntu-2404' || os.name === 'rpios-bookworm');
    const size = real ? REAL_KERNEL_SIZES[os.name as 'ubuntu-2404'].kernel : Math.max(4096, Math.floor(this.host.bootFilesBytes * 0.45));
    const initrdSize = real ? REAL_KERNEL_SIZES[os.name as 'ubuntu-2404'].initramfs : Math.floor(size * 0.6);
    const labels = real
      ? realKernelLabels(os.name, this.identity.board, version, this.identity.ownInitramfs ? this.serial : null)
      : { kernel: `kernel/${this.serial}/${version}`, initramfs: `initrd/${this.serial}/${version}` };
    const kernelData = deterministicBytes(labels.kernel, size);
    let kernelPath: string;
    if (os.kernelInstall === 'direct') {
      kernelPath = `${os.bootMount}/${kernel}`;
      await this.writeFile(kernelPath, kernelData, mode);
    } else {
      kernelPath = `/boot/vmlinuz-${version}`;
      await this.writeFile(kernelPath, kernelData, mode);
      await this.writeFile(`/boot/initrd.img-${version}`, deterministicBytes(labels.initramfs, initrdSize), 0o644);
      await this.exec(['sh', '-c', 'ln -sfn "vmlinuz-$1" /boot/vmlinuz && ln -sfn "initrd.img-$1" /boot/initrd.img', 'sh', version]);
    }
    const r = await this.exec(['run-parts', '--report', '--exit-on-error', `--arg=${version}`, `--arg=${kernelPath}`, '/etc/kernel/postinst.d']);
    if (r.code !== 0) throw new Error(`${this.name}: kernel hooks failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    return { version, output: r.stdout + r.stderr };
  }
}

/** Wait until an SSH server answers with its banner on 127.0.0.1:port. */
export async function waitForBanner(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      let data = '';
      const done = (v: boolean) => {
        s.destroy();
        resolve(v);
      };
      s.setTimeout(2000, () => done(false));
      s.on('data', (d: Buffer) => {
        data += d.toString('latin1');
        if (data.includes('SSH-2.0')) done(true);
      });
      s.on('error', () => done(false));
      s.on('close', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`no SSH banner on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The version after `base` for the n-th simulated update (keeps the OS's version format). */
export function nextKernelVersion(base: string, n: number): string {
  const ubuntu = /^(\d+\.\d+\.\d+)-(\d+)-(raspi)$/.exec(base);
  if (ubuntu) return `${ubuntu[1]}-${Number(ubuntu[2]) + n}-${ubuntu[3]}`;
  const rpi = /^(\d+\.\d+)\.(\d+)(\+.*)$/.exec(base);
  if (rpi) return `${rpi[1]}.${Number(rpi[2]) + n}${rpi[3]}`;
  return `${base}.${n}`;
}
