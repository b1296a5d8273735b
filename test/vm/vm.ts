/**
 * A VM of the lab: an address on the LAN, a tap, an SSH relay from the host,
 * an SSH host key (known to the lab's ssh_config), a directory with its
 * console logs, and the boots it went through. The boot itself (which kernel,
 * which disk) is decided by the caller: server VMs (servers.ts) boot the
 * image's kernel with their root on a disk; VM Pis (vm-pi.ts) boot what
 * their bootloader found.
 */
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ssh } from '../fleet/openssh.js';
import type { SshOptions, SshResult } from '../fleet/openssh.js';
import { writeIdentity } from './identity.js';
import type { IdentityInput } from './identity.js';
import { acquireBootToken, sh, waitFor } from './lab.js';
import type { VmLab } from './lab.js';
import { Qemu } from './qemu.js';
import type { VmDisk, VmShare } from './qemu.js';

export interface BootSpec {
  kernel: string;
  initrd: string | null;
  /** The command line as the bootloader found it; the lab adds ` console=ttyS0`. */
  cmdline: string;
  disk: VmDisk | null;
  shares?: VmShare[];
}

export interface BootRecord {
  n: number;
  dir: string;
  consoleLog: string;
  startedAt: number;
  /** When SSH answered (ms after start), if it did. */
  sshAfterMs: number | null;
  exit: { code: number | null; signal: string | null } | null;
  cmdline: string;
}

export class LabVm {
  readonly dir: string;
  sshPort = 0;
  hostKey = { privateKey: '', publicKey: '' };
  tap = '';
  qemu: Qemu | null = null;
  readonly boots: BootRecord[] = [];
  memMB = 1024;
  cpus = 1;

  constructor(
    readonly lab: VmLab,
    readonly name: string,
    readonly mac: string,
    readonly ip: string,
  ) {
    this.dir = join(lab.dir, 'vms', name);
  }

  /** Directory, tap, relay, host key, DHCP reservation; once per VM. */
  async prepare(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    this.tap = await this.lab.tap();
    this.sshPort = await this.lab.relay(this.ip);
    const key = join(this.dir, 'ssh_host_ed25519_key');
    await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${this.name}`, '-f', key]);
    this.hostKey = { privateKey: await readFile(key, 'utf8'), publicKey: (await readFile(`${key}.pub`, 'utf8')).trim() + '\n' };
    await this.lab.dhcpHost(this.mac, this.ip, this.name);
    await this.lab.addSshHost(this.name, this.sshPort, this.hostKey.publicKey, this.ip);
  }

  identity(extra: Partial<IdentityInput> = {}): IdentityInput {
    return {
      name: this.name,
      mac: this.mac,
      ip: `${this.ip}/24`,
      gw: this.lab.serverIp,
      hosts: this.lab.hosts(),
      authorizedKey: this.lab.publicKey,
      hostKey: this.hostKey,
      ...extra,
    };
  }

  /** Start QEMU on `boot`; returns at once (see waitForSsh). */
  async start(boot: BootSpec, id: IdentityInput): Promise<BootRecord> {
    if (this.qemu?.running) throw new Error(`${this.name} is already running`);
    const n = this.boots.length + 1;
    const dir = join(this.dir, `boot-${n}`);
    await mkdir(dir, { recursive: true });
    const idFile = join(dir, 'identity.tar');
    await writeIdentity(idFile, id);
    const cmdline = `${boot.cmdline.trim()} console=ttyS0`;
    const consoleLog = join(dir, 'console.log');
    await writeFile(join(dir, 'cmdline'), cmdline + '\n');
    const release = await acquireBootToken(this.name);
    this.lab.ledger.add(`boot token of ${this.name}`, release, release);
    this.qemu = await Qemu.start({
      name: this.name,
      netns: this.lab.lanNs,
      tap: this.tap,
      mac: this.mac,
      kernel: boot.kernel,
      initrd: boot.initrd,
      append: cmdline,
      disk: boot.disk,
      memMB: this.memMB,
      cpus: this.cpus,
      fwCfg: [{ name: 'opt/pinet/identity', file: idFile }],
      shares: boot.shares ?? [],
      consoleLog,
      accel: this.lab.accel,
    });
    const q = this.qemu;
    this.lab.ledger.add(`QEMU ${this.name} (pid ${q.pid})`, () => q.stop().then(() => undefined), () => q.killNow());
    const rec: BootRecord = { n, dir, consoleLog, startedAt: q.startedAt, sshAfterMs: null, exit: null, cmdline };
    this.boots.push(rec);
    void q.exited.then((e) => {
      rec.exit = e;
      void appendFile(join(this.dir, 'boots.log'), `boot ${n}: QEMU exited (${e.code ?? e.signal}) after ${Math.round((Date.now() - q.startedAt) / 1000)} s\n`);
    });
    await appendFile(join(this.dir, 'boots.log'), `boot ${n}: QEMU pid ${q.pid}, ${boot.disk ? `disk ${boot.disk.file}` : 'no disk'}, cmdline: ${cmdline}\n`);
    void this.watchBoot(rec, q, release);
    return rec;
  }

  get lastBoot(): BootRecord | undefined {
    return this.boots[this.boots.length - 1];
  }

  /**
   * From QEMU's start: poll SSH until it answers (then the boot token goes
   * to the next VM) or QEMU exits. Runs for every boot, so a VM that nobody
   * waits for does not keep its token.
   */
  private async watchBoot(rec: BootRecord, q: Qemu, release: () => void): Promise<void> {
    try {
      while (q.running && !this.lab.closing) {
        const r = await this.ssh('true', { timeoutMs: 15_000, args: ['-o', 'ConnectTimeout=5'] }).catch(() => null);
        if (r?.code === 0) {
          rec.sshAfterMs = Date.now() - rec.startedAt;
          await appendFile(join(this.dir, 'boots.log'), `boot ${rec.n}: SSH after ${(rec.sshAfterMs / 1000).toFixed(1)} s\n`);
          return;
        }
        await new Promise((r2) => setTimeout(r2, 1000));
      }
    } finally {
      release();
    }
  }

  /** Wait until sshd of the current boot answers (fails early when QEMU exits). */
  async waitForSsh(timeoutMs = 240_000): Promise<number> {
    const rec = this.lastBoot;
    const q = this.qemu;
    if (!rec || !q) throw new Error(`${this.name} was never started`);
    await waitFor(`${this.name} to answer over SSH (console: ${rec.consoleLog})`, async () => {
      if (rec.sshAfterMs !== null) return true;
      if (!q.running) throw new Error(`${this.name}: QEMU exited before SSH answered; console ${rec.consoleLog}:\n${await this.consoleTail(rec)}`);
      return false;
    }, timeoutMs, 250);
    return rec.sshAfterMs!;
  }

  async consoleTail(rec = this.lastBoot, lines = 40): Promise<string> {
    if (!rec) return '';
    const text = await readFile(rec.consoleLog, 'utf8').catch(() => '');
    return text.split('\n').slice(-lines).join('\n');
  }

  ssh(command: string, opts: SshOptions & { user?: string } = {}): Promise<SshResult> {
    return ssh(this.lab.sshConfig, `${opts.user ?? 'root'}@${this.name}`, command, opts);
  }

  /** Run a command; throw with its output unless it exits 0. */
  async run(command: string, opts: SshOptions & { user?: string } = {}): Promise<string> {
    const r = await this.ssh(command, opts);
    if (r.code !== 0) throw new Error(`${this.name}: ${command} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  async stop(): Promise<void> {
    await this.qemu?.stop();
  }
}
