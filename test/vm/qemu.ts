/**
 * One QEMU process: a q35 amd64 VM booted straight from a kernel, initramfs
 * and command line (what a Pi's bootloader loads), with its NIC on a tap
 * device of the lab's LAN namespace (QEMU runs inside that namespace), its
 * serial console written to a log file, `-no-reboot` (a reboot inside the
 * VM ends the process, as does a poweroff: the console log tells them
 * apart; the harness then plays the bootloader again after a reboot), and
 * started and stopped by PID. TCG by default; KVM only when asked for and
 * when it really boots a plain kernel (see kvmWorks in accel.ts).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';

export interface VmDisk {
  file: string;
  format: 'qcow2' | 'raw';
  /** `sd`: an SD card on an SDHCI controller (the guest sees mmcblk0, as on a Pi); `virtio`: vda. */
  as: 'sd' | 'virtio';
}

export interface VmShare {
  tag: string;
  path: string;
  readonly: boolean;
}

export interface VmSpec {
  name: string;
  /** Network namespace holding the tap device (QEMU runs there). */
  netns: string;
  tap: string;
  mac: string;
  kernel: string;
  initrd: string | null;
  append: string;
  disk: VmDisk | null;
  memMB: number;
  cpus: number;
  /** QEMU fw_cfg files (`opt/...` names) the guest reads under /sys/firmware/qemu_fw_cfg. */
  fwCfg: Array<{ name: string; file: string }>;
  shares: VmShare[];
  consoleLog: string;
  accel: 'tcg' | 'kvm';
}

export interface VmExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Values that go into QEMU's comma-separated options must not contain commas. */
function optValue(what: string, value: string): string {
  if (/[,\0\n]/.test(value)) throw new Error(`QEMU ${what} ${JSON.stringify(value)} must not contain a comma or newline`);
  return value;
}

export function qemuArgs(s: VmSpec): string[] {
  const args = [
    '-name', optValue('name', s.name),
    '-machine', 'q35',
    '-accel', s.accel === 'kvm' ? 'kvm' : 'tcg,tb-size=256',
    '-cpu', s.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(s.cpus),
    '-m', String(s.memMB),
    '-nodefaults', '-no-user-config', '-display', 'none', '-vga', 'none',
    '-no-reboot',
    '-serial', `file:${optValue('console log', s.consoleLog)}`,
    '-kernel', s.kernel,
    '-append', s.append,
    '-netdev', `tap,id=lan,ifname=${optValue('tap', s.tap)},script=no,downscript=no`,
    '-device', `virtio-net-pci,netdev=lan,mac=${optValue('mac', s.mac)}`,
    '-device', 'virtio-rng-pci',
  ];
  if (s.initrd) args.push('-initrd', s.initrd);
  if (s.disk) {
    const d = `if=none,id=disk0,file=${optValue('disk', s.disk.file)},format=${s.disk.format},cache=unsafe,discard=unmap`;
    args.push('-drive', d);
    if (s.disk.as === 'sd') args.push('-device', 'sdhci-pci', '-device', 'sd-card,drive=disk0');
    else args.push('-device', 'virtio-blk-pci,drive=disk0');
  }
  for (const f of s.fwCfg) args.push('-fw_cfg', `name=${optValue('fw_cfg name', f.name)},file=${optValue('fw_cfg file', f.file)}`);
  for (const sh of s.shares) {
    args.push(
      '-virtfs',
      `local,path=${optValue('share', sh.path)},mount_tag=${optValue('tag', sh.tag)},security_model=none${sh.readonly ? ',readonly=on' : ''}`,
    );
  }
  return args;
}

/** A running QEMU. */
export class Qemu {
  readonly exited: Promise<VmExit>;
  private done = false;

  private constructor(
    readonly spec: VmSpec,
    readonly child: ChildProcess,
    readonly startedAt: number,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.done = true;
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return !this.done;
  }

  /** Start QEMU inside `spec.netns`; QEMU's own messages go to `<consoleLog>.qemu`. */
  static async start(spec: VmSpec): Promise<Qemu> {
    const err = await open(`${spec.consoleLog}.qemu`, 'a');
    try {
      const child = spawn('nsenter', [`--net=/run/netns/${spec.netns}`, '--', 'qemu-system-x86_64', ...qemuArgs(spec)], {
        stdio: ['ignore', err.fd, err.fd],
      });
      const q = new Qemu(spec, child, Date.now());
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', () => resolve());
        child.once('error', reject);
      });
      return q;
    } finally {
      await err.close();
    }
  }

  /** Power off: SIGTERM (QEMU exits at once), SIGKILL if it is still there after `ms`. */
  async stop(ms = 5000): Promise<VmExit> {
    if (this.done) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!this.done) this.child.kill('SIGKILL');
    }, ms);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** For exit handlers: SIGKILL now, no waiting. */
  killNow(): void {
    if (!this.done) this.child.kill('SIGKILL');
  }
}
