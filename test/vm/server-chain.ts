/**
 * One backend's machines for server-setup-e2e.test.ts: a lab of its own
 * (its own LAN, so two boot servers' proxy DHCP never answer the same Pi),
 * an NFS server VM, a boot server VM running pinet from this checkout, and
 * a VM Pi; with the steps a user takes there (pinet on the boot server) and
 * the truth read back from the real systems. Two chains run side by side,
 * one per backend: TCG VMs are single-threaded, so two chains use the
 * machine's two CPUs where one would leave one idle.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { expect } from 'vitest';
import { shellJoin } from '../../src/util/shell.js';
import { VmLab } from './lab.js';
import { ServerVm } from './servers.js';
import { VmPi } from './vm-pi.js';

export const EXPORT = '/srv/picluster-boot';
export const BOOT_MS = 420_000;
export const PINET_MS = 600_000;

export type Squash = 'none' | 'tftp-user' | 'root';
export type Backend = 'kernel-nfs' | 'ganesha';

/** A command's --json document, or undefined when it printed none. */
export function jsonDoc<T>(stdout: string): T | undefined {
  try {
    return JSON.parse(stdout) as T;
  } catch {
    return undefined;
  }
}

export interface SetupDoc {
  dryRun: boolean;
  plan: { upToDate?: boolean; targets: { changes: { id: string; summary: string }[]; warnings: string[] }[] };
  result: { result: string; error?: string; changes?: string[] };
}

export interface EnrollDoc {
  plan: { upToDate: boolean; targets: { changes: { id: string }[] }[] };
  results: { host: string; result: string; error?: string }[];
}

/** What one backend × squash cycle saw: the evidence the README's squash default rests on. */
export interface CycleFacts {
  backend: Backend;
  squash: Squash;
  kernelUpdate?: { code: number; output: string; from: string; to: string };
  stored?: string;
  netboot?: { outcome?: string; vmlinuz?: string; running?: string };
}

export class ServerChain {
  lab!: VmLab;
  nfs!: ServerVm;
  boot!: ServerVm;
  pi!: VmPi;
  tftpUser = { uid: -1, gid: -1 };
  /** The first step that failed: the later ones of this chain do not run. */
  broken: string | undefined;
  failed = false;
  readonly facts: CycleFacts[] = [];

  constructor(readonly backend: Backend) {}

  get nfsSource(): string {
    return `${this.nfs.ip}:${EXPORT}`;
  }

  /** The lab, its three VMs booted, SSH from the boot server to the others, dnsmasq running as installed. */
  async start(): Promise<void> {
    const tag = this.backend === 'kernel-nfs' ? 'knfs' : 'gnsh';
    this.lab = await VmLab.start({ name: `setup-${tag}`, log: (l) => process.stderr.write(`${l}\n`) });
    [this.nfs, this.boot, this.pi] = await Promise.all([
      ServerVm.start(this.lab, { name: 'nfs-server', host: 5 }),
      ServerVm.start(this.lab, { name: 'boot-server', host: 6, pinet: true }),
      VmPi.create(this.lab, this.lab.nextIndex(), { name: `pi-${tag}` }),
    ]);
    await this.pi.powerOn();
    await Promise.all([this.nfs.waitForSsh(BOOT_MS), this.boot.waitForSsh(BOOT_MS), this.pi.vm.waitForSsh(BOOT_MS)]);
    // The boot server reaches the NFS server and the Pi by their LAN addresses, with the lab's key, as root.
    const key = await readFile(this.lab.identityFile, 'utf8');
    const knownHosts = await readFile(this.lab.knownHosts, 'utf8');
    const config = [this.nfs, this.pi.vm].map((v) => `Host ${v.name}\n    HostName ${v.ip}\n    HostKeyAlias ${v.name}\n`).join('') + 'Host *\n    User root\n';
    await this.boot.run('umask 077; mkdir -p /root/.ssh; cat > /root/.ssh/id_ed25519', { input: key });
    await this.boot.run('cat > /root/.ssh/known_hosts', { input: knownHosts });
    await this.boot.run('cat > /root/.ssh/config', { input: config });
    // A fresh Debian boot server with dnsmasq installed: the service runs (with its default config).
    await this.boot.run('systemctl enable --now dnsmasq');
    // Both NFS servers are installed and stopped (the image disables them): Ganesha as apt leaves it, running;
    // the Linux one stays stopped, and setup must start it (its plan says so).
    if (this.backend === 'ganesha') await this.nfs.run('systemctl enable --now nfs-ganesha && systemctl is-active nfs-ganesha');
    // dnsmasq drops root to user dnsmasq and, without group=, to its compiled-in group dip.
    const ids = (await this.boot.run('id -u dnsmasq; getent group dip | cut -d: -f3')).trim().split('\n').map(Number);
    this.tftpUser = { uid: ids[0]!, gid: ids[1]! };
  }

  async stop(): Promise<void> {
    if (!this.lab) return;
    if (this.failed) this.lab.keepDir();
    await this.lab.stop();
  }

  /** Runs a step of this chain; after a failure the rest stop at once instead of waiting out their boots. */
  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.broken) throw new Error(`${this.backend}: not run, an earlier step failed (${this.broken})`);
    try {
      return await fn();
    } catch (err) {
      this.failed = true;
      this.broken = name;
      throw new Error(`${this.backend}: ${name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  /** pinet on the boot server, as root; stdout (JSON with --json) and stderr apart. */
  pinet(args: string[], timeoutMs = PINET_MS) {
    return this.boot.ssh(shellJoin(['pinet', ...args]), { timeoutMs });
  }

  async setup(squash: Squash, extra: string[] = []) {
    const r = await this.pinet(['server', 'setup', '--export', this.backend, '--on', 'nfs-server', '--nfs', this.nfsSource, '--subnet', this.lab.subnet, '--squash', squash, '--yes', '--json', ...extra]);
    return { ...r, doc: jsonDoc<SetupDoc>(r.stdout) };
  }

  async enroll(extra: string[] = []) {
    const r = await this.pinet(['enroll', this.pi.name, '--nfs', this.nfsSource, '--boot-order', 'net-first', '--yes', '--json', ...extra]);
    return { ...r, doc: jsonDoc<EnrollDoc>(r.stdout) };
  }

  /** A file from the boot server VM's TFTP server, fetched from the LAN as a Pi would. */
  async tftpFromLan(file: string): Promise<string> {
    const argv = this.lab.inLan([process.execPath, '--import', 'tsx', fileURLToPath(new URL('./tftp-get.ts', import.meta.url)), this.boot.ip, file]);
    const r = await execa(argv[0]!, argv.slice(1), { reject: false, timeout: 60_000, stripFinalNewline: false });
    if (r.exitCode !== 0) throw new Error(`TFTP ${file} from ${this.boot.ip}: ${r.stderr}`);
    return String(r.stdout);
  }

  /** The running dnsmasq's PID on the boot server (0: not running). */
  async dnsmasqPid(): Promise<number> {
    return Number((await this.boot.run('systemctl show -p MainPID --value dnsmasq')).trim());
  }

  /** uid:gid mode of a path on the NFS server (the truth, not the client's view). */
  async statOnServer(path: string): Promise<string> {
    return (await this.nfs.run(`stat -c '%u:%g %a' ${shellJoin([path])}`)).trim();
  }

  /** What the NFS server exports now, as its own tools say. */
  exportedOptions(): Promise<string> {
    return this.backend === 'kernel-nfs' ? this.nfs.run('exportfs -v') : this.nfs.run('cat /etc/ganesha/pinet.conf');
  }

  expectSquash(squash: Squash, text: string): void {
    const u = this.tftpUser;
    if (this.backend === 'kernel-nfs') {
      expect(text).toContain(EXPORT);
      if (squash === 'none') expect(text).toMatch(/no_root_squash/);
      if (squash === 'root') expect(text).toMatch(/[(,]root_squash/);
      if (squash === 'tftp-user') expect(text).toMatch(new RegExp(`all_squash.*anonuid=${u.uid}.*anongid=${u.gid}|anonuid=${u.uid},anongid=${u.gid}.*all_squash`));
    } else {
      expect(text).toMatch(new RegExp(`Path = "${EXPORT}"`));
      if (squash === 'none') expect(text).toMatch(/Squash = (No_Root_Squash|None)/i);
      if (squash === 'root') expect(text).toMatch(/Squash = Root_Squash/i);
      if (squash === 'tftp-user') {
        expect(text).toMatch(/Squash = All_Squash/i);
        expect(text).toMatch(new RegExp(`Anonymous_Uid = ${u.uid}`));
      }
    }
  }

  /** The owner the exported tree needs for a squash mode. */
  ownerFor(squash: Squash): string {
    return squash === 'none' ? '0:0' : squash === 'root' ? '65534:65534' : `${this.tftpUser.uid}:${this.tftpUser.gid}`;
  }

  /** The Pi's /boot/firmware mount, made again after the NFS server changed under it (stale file handles). */
  async remountPiBoot(): Promise<void> {
    await this.pi.run('umount -l /boot/firmware 2>/dev/null; mount /boot/firmware && findmnt -n -o SOURCE /boot/firmware');
  }
}
