/**
 * A VM Pi: a Pi of the fake fleet's identities (serial, MAC, revision, the
 * fake EEPROM) whose OS is a real Linux kernel in QEMU. Every power-on plays
 * the Pi 4 bootloader with test/netboot's emulator: BOOT_ORDER from the
 * Pi's EEPROM, the SD card (its FAT boot partition, read from the VM's disk)
 * when attached, and NETWORK against the lab's real dnsmasq (proxy DHCP,
 * TFTP) from a namespace with the Pi's MAC; then QEMU boots exactly the
 * kernel, initramfs and cmdline.txt that were loaded, plus console=ttyS0.
 * A reboot inside the VM ends QEMU (-no-reboot) and goes through the same
 * path (the kernel's last console line says "Restarting system"); after a
 * poweroff ("Power down") the Pi stays off until powerOn().
 *
 * The EEPROM is the harness's: a staged update (pieeprom.upd whose SHA-256
 * matches pieeprom.sig, with recovery.bin) on the SD card is flashed at the
 * next power-on, as the Pi 4's boot ROM runs recovery.bin; over the network
 * the bootloader's self-update (pieeprom.sig/.upd fetched by TFTP) is
 * applied likewise. The guest then removes the staged files (the image's
 * pinet-lab-eeprom, as rpi-eeprom-update.service does).
 *
 * Each boot leaves in <vm dir>/boot-N/: bootloader.log (every line of the
 * emulator), bootloader.json (its result: every TFTP request), the fetched
 * files, cmdline, console.log; <vm dir>/boots.log has one line per event.
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EEPROM_IMAGES, resolveIdentity } from '../fleet/pi-image.js';
import type { PiIdentity } from '../fleet/pi-image.js';
import { ASSETS_DIR } from '../fleet/layers.js';
import { bootPi, createPiNic } from '../netboot/index.js';
import type { BootResult } from '../netboot/index.js';
import type { EepromState } from './identity.js';
import { sh, waitFor } from './lab.js';
import type { VmLab } from './lab.js';
import { LabVm } from './vm.js';
import type { BootRecord } from './vm.js';

export interface VmPiSpec {
  name: string;
  serial?: string;
  mac?: string;
  revision?: string;
  /** The EEPROM's config (default: the ubuntu-2404-pi4 fake Pi's, BOOT_ORDER=0xf41). */
  bootloaderConfig?: string;
  /** An SD card with the lab image (default true); false: a diskless Pi. */
  sdCard?: boolean;
  memMB?: number;
}

export interface PowerOnResult {
  boot: BootResult;
  record: BootRecord | null;
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isFile(), () => false);
}

export class VmPi {
  readonly vm: LabVm;
  readonly identity: PiIdentity;
  eeprom: EepromState;
  /** The SD card's overlay (qcow2 over the lab image), whether attached or not. */
  readonly sdDisk: string;
  sdAttached: boolean;
  readonly bootResults: BootResult[] = [];
  /** A reboot inside the VM powers it on again (the default); false leaves it off. */
  autoRestart = true;
  private stopping = false;
  private cycle: Promise<void> | null = null;
  private lastError: Error | null = null;

  private constructor(
    readonly lab: VmLab,
    readonly index: number,
    spec: VmPiSpec,
  ) {
    this.identity = resolveIdentity(
      { name: spec.name, variant: 'ubuntu-2404-pi4', serial: spec.serial, mac: spec.mac, revision: spec.revision, bootloaderConfig: spec.bootloaderConfig },
      index,
      new Set(),
    );
    this.vm = new LabVm(lab, spec.name, this.identity.mac, lab.addr(20 + index));
    if (spec.memMB) this.vm.memMB = spec.memMB;
    const built = EEPROM_IMAGES['2711'].timestamp;
    this.eeprom = { config: this.identity.bootloaderConfig ?? '[all]\nBOOT_ORDER=0xf41\n', build: built, updated: built + 3600, appliedSha: null };
    this.sdDisk = join(this.vm.dir, 'sd.qcow2');
    this.sdAttached = spec.sdCard ?? true;
  }

  static async create(lab: VmLab, index: number, spec: VmPiSpec): Promise<VmPi> {
    const pi = new VmPi(lab, index, spec);
    await pi.vm.prepare();
    await sh('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', lab.image.sdRaw, '-F', 'raw', pi.sdDisk]);
    await pi.saveEeprom();
    return pi;
  }

  get name(): string {
    return this.vm.name;
  }
  get serial8(): string {
    return this.identity.serial8;
  }
  get mac(): string {
    return this.identity.mac;
  }
  get ip(): string {
    return this.vm.ip;
  }
  get dir(): string {
    return this.vm.dir;
  }

  private async saveEeprom(): Promise<void> {
    await writeFile(join(this.dir, 'eeprom.json'), JSON.stringify(this.eeprom, null, 2) + '\n');
    await writeFile(join(this.dir, 'eeprom.conf'), this.eeprom.config);
  }

  private async note(line: string): Promise<void> {
    await appendFile(join(this.dir, 'boots.log'), `${new Date().toISOString()} ${line}\n`);
    this.lab.log(`${this.name}: ${line}`);
  }

  /** Flash `upd` if pieeprom.sig matches it and it is not what the EEPROM already has. */
  private async flash(upd: string, sig: string, from: string): Promise<boolean> {
    if (!(await isFile(upd)) || !(await isFile(sig))) return false;
    const data = await readFile(upd);
    const sha = createHash('sha256').update(data).digest('hex');
    const sigText = await readFile(sig, 'utf8');
    if (sigText.trim().split(/\s+/)[0] !== sha) {
      await this.note(`bootloader: pieeprom.sig on ${from} does not match pieeprom.upd; not flashed`);
      return false;
    }
    if (sha === this.eeprom.appliedSha) return false;
    const py = join(ASSETS_DIR, 'fake_eeprom.py');
    const config = await sh('python3', [py, 'extract', upd]);
    const build = Number((await sh('python3', [py, 'build-timestamp', upd])).trim());
    const ts = /^ts:\s*(\d+)$/m.exec(sigText);
    this.eeprom = { config, build, updated: ts ? Number(ts[1]) : build, appliedSha: sha };
    await this.saveEeprom();
    await this.note(`bootloader: EEPROM flashed from ${from}; config now: ${config.trim().replace(/\n/g, ' | ')}`);
    return true;
  }

  /** The SD card's boot partition as a directory (read from the disk while QEMU is off). */
  private async readSdBoot(dir: string): Promise<string> {
    const fat = join(dir, 'sd-boot.fat');
    const out = join(dir, 'sd-boot');
    await mkdir(out, { recursive: true });
    const { offset, size } = this.lab.image.bootPartition;
    const mb = 1024 * 1024;
    await sh('qemu-img', ['dd', '-f', 'qcow2', '-O', 'raw', `bs=${mb}`, `skip=${offset / mb}`, `count=${size / mb}`, `if=${this.sdDisk}`, `of=${fat}`]);
    await sh('env', ['MTOOLS_SKIP_CHECK=1', 'mcopy', '-s', '-n', '-m', '-i', fat, '::*', `${out}/`]).catch(() => '');
    await rm(fat, { force: true });
    return out;
  }

  /** Play the bootloader, then start QEMU on what it loaded. Returns when QEMU runs (or the Pi did not boot). */
  async powerOn(): Promise<PowerOnResult> {
    if (this.lab.closing) throw new Error(`${this.name}: the lab is stopping`);
    if (this.vm.qemu?.running) throw new Error(`${this.name} is already on`);
    const n = this.vm.boots.length + 1;
    const dir = join(this.dir, `boot-${n}`);
    await mkdir(dir, { recursive: true });
    let sdDir: string | undefined;
    if (this.sdAttached) {
      sdDir = await this.readSdBoot(dir);
      // The boot ROM runs recovery.bin from the SD card first: it flashes a staged update.
      if (await isFile(join(sdDir, 'recovery.bin'))) await this.flash(join(sdDir, 'pieeprom.upd'), join(sdDir, 'pieeprom.sig'), 'the SD card');
    }
    let result = await this.bootloader(dir, sdDir, 'bootloader');
    const upd = result.requests.find((r) => r.file.endsWith('pieeprom.upd') && r.outcome === 'sent' && r.savedAs);
    const sig = result.requests.find((r) => r.file.endsWith('pieeprom.sig') && r.outcome === 'sent' && r.savedAs);
    if (upd?.savedAs && sig?.savedAs && (await this.flash(upd.savedAs, sig.savedAs, 'TFTP (self-update)'))) {
      result = await this.bootloader(dir, sdDir, 'bootloader-after-update');
    }
    if (result.outcome === 'halted' && result.failure?.outcome === 'timeout' && result.failure.stage === 'firmware') {
      // The firmware got no TFTP answer in its time (a boot server VM stalled under TCG load): power-cycle once,
      // as a user would. Wrong files, refusals and missing files are answers, not timeouts: they stay failures.
      await this.note(`power-on ${n}: ${result.summary}; power-cycling once`);
      result = await this.bootloader(dir, sdDir, 'bootloader-retry');
    }
    this.bootResults.push(result);
    if (result.outcome !== 'booted' || !result.files) {
      await this.note(`power-on ${n}: did not boot: ${result.summary}`);
      return { boot: result, record: null };
    }
    const f = result.files;
    const fromSd = result.mode === 'SD';
    const record = await this.vm.start(
      {
        kernel: f.kernel,
        initrd: f.initramfs[0] ?? null,
        cmdline: f.cmdline,
        disk: this.sdAttached ? { file: this.sdDisk, format: 'qcow2', as: 'sd' } : null,
      },
      this.vm.identity({ pi: { identity: this.identity, eeprom: this.eeprom } }),
    );
    await this.note(`power-on ${n}: booted ${result.mode}${fromSd ? '' : ` from ${result.network?.tftpServer} ${result.network?.prefix}`}: ${f.names.kernel} + ${f.names.initramfs.join(',')}, cmdline: ${f.cmdline}`);
    const q = this.vm.qemu!;
    void q.exited.then(async (e) => {
      if (this.stopping || !this.autoRestart || this.lab.closing) return;
      const tail = await this.vm.consoleTail(record, 5);
      if (!/reboot: Restarting system/.test(tail)) {
        await this.note(`QEMU exited (${e.code ?? e.signal}) without a reboot (console: ${tail.trim().split('\n').pop()}); the Pi stays off`);
        return;
      }
      // -no-reboot: the guest rebooted. Power it on again through the bootloader.
      this.cycle = (async () => {
        await this.note(`QEMU exited (${e.code ?? e.signal}): the Pi rebooted; powering on again`);
        try {
          await this.powerOn();
        } catch (err) {
          this.lastError = err as Error;
          await this.note(`power-on after reboot failed: ${(err as Error).message}`);
        }
      })();
    });
    return { boot: result, record };
  }

  private async bootloader(dir: string, sdDir: string | undefined, tag: string): Promise<BootResult> {
    const nicNs = `pvm${this.lab.slot}-b${this.index}`;
    const out = join(dir, tag);
    const nic = await createPiNic({ netns: nicNs, mac: this.mac, lanNetns: this.lab.lanNs, bridge: 'br0', bridgePort: `pb${this.index}` });
    let result: BootResult;
    try {
      result = await bootPi({
        pi: { mac: this.mac, serial: this.identity.serial, revision: this.identity.revision, name: this.name },
        eeprom: this.eeprom.config,
        nic: { netns: nic.netns, iface: nic.iface },
        media: sdDir ? { sd: sdDir } : {},
        outDir: out,
        maxRounds: 2,
      });
    } finally {
      await nic.remove();
    }
    await writeFile(join(dir, `${tag}.log`), result.log.join('\n') + '\n');
    await writeFile(join(dir, `${tag}.json`), JSON.stringify(result, null, 2) + '\n');
    return result;
  }

  /** Wait for boot number `n` (1-based; default the next one after `after`) to answer over SSH. */
  async waitForBoot(opts: { after?: number; timeoutMs?: number } = {}): Promise<number> {
    const after = opts.after ?? 0;
    const timeoutMs = opts.timeoutMs ?? 300_000;
    await waitFor(`${this.name} to power on again (boot ${after + 1})`, () => {
      if (this.lastError) throw this.lastError;
      return this.vm.boots.length > after || (this.bootResults.length > after && this.bootResults[this.bootResults.length - 1]!.outcome !== 'booted');
    }, timeoutMs, 200);
    const last = this.bootResults[this.bootResults.length - 1];
    if (this.vm.boots.length <= after) throw new Error(`${this.name} did not boot: ${last?.summary}`);
    return this.vm.waitForSsh(timeoutMs);
  }

  /** `systemctl reboot` inside, then wait until the next boot answers over SSH. */
  async reboot(timeoutMs = 300_000): Promise<number> {
    const before = this.vm.boots.length;
    await this.vm.ssh('systemctl reboot', { timeoutMs: 30_000 }).catch(() => undefined);
    return this.waitForBoot({ after: before, timeoutMs });
  }

  /** The last boot's bootloader result. */
  get lastBootResult(): BootResult | undefined {
    return this.bootResults[this.bootResults.length - 1];
  }

  ssh(command: string, opts: Parameters<LabVm['ssh']>[1] = {}) {
    return this.vm.ssh(command, opts);
  }
  run(command: string, opts: Parameters<LabVm['run']>[1] = {}) {
    return this.vm.run(command, opts);
  }

  /** Pull the plug (no restart); powerOn() starts it again. */
  async powerOff(): Promise<void> {
    this.stopping = true;
    try {
      await this.vm.stop();
      await this.cycle;
      await this.vm.stop();
    } finally {
      this.stopping = false;
    }
  }

  async stop(): Promise<void> {
    this.autoRestart = false;
    await this.powerOff();
  }
}
