/**
 * Which files a Pi 4 loads, decided from its config.txt the way the
 * bootloader and the firmware decide (raspberrypi/documentation,
 * config_txt/boot.adoc):
 *
 * - firmware: `start_file`/`fixup_file`, else `start_x=1` → start4x.elf,
 *   `start_debug=1` → start4db.elf, else start4.elf + fixup4.dat;
 * - kernel: `kernel=`, else kernel8.img (arm_64bit defaults to 1 on the Pi 4
 *   family), kernel7l.img with `arm_64bit=0`;
 * - initramfs: the `initramfs` line (every comma-separated file is needed),
 *   else with `auto_initramfs=1` the kernel's companion (kernel8.img →
 *   initramfs8), loaded only if present;
 * - `cmdline=` (default cmdline.txt), `device_tree=` (default the board's dtb);
 * - `os_prefix` goes in front of the kernel, initramfs, cmdline, dtb and
 *   overlays; a name starting with `/` bypasses it; overlays come from
 *   `${os_prefix}${overlay_prefix}` only when that holds a README;
 * - a 64-bit kernel with the GIC enabled (the default) makes the firmware
 *   look for armstub8-gic.bin (optional: it has one built in); `armstub=`
 *   names a stub that must exist.
 */
import type { Board } from './board.js';
import { configNumber, type ConfigTxt } from './config-txt.js';

export interface FirmwareFiles {
  start: string;
  fixup: string;
}

export interface OsFiles {
  kernel: string;
  /** Explicit `initramfs` files are required; an `auto_initramfs` one is loaded only if present. */
  initramfs: { files: string[]; required: boolean };
  cmdline: string;
  dtb: string;
  osPrefix: string;
  overlayPrefix: string;
  overlays: string[];
  armstub?: { file: string; required: boolean };
  arm64: boolean;
}

export function firmwareFiles(config: Pick<ConfigTxt, 'settings'> | undefined): FirmwareFiles {
  const s = config?.settings ?? new Map<string, string>();
  if (s.get('start_file') && s.get('fixup_file')) return { start: s.get('start_file')!, fixup: s.get('fixup_file')! };
  if (config && configNumber(config, 'start_x') === 1) return { start: 'start4x.elf', fixup: 'fixup4x.dat' };
  if (config && configNumber(config, 'start_debug') === 1) return { start: 'start4db.elf', fixup: 'fixup4db.dat' };
  return { start: s.get('start_file') ?? 'start4.elf', fixup: s.get('fixup_file') ?? 'fixup4.dat' };
}

/** kernel8.img → initramfs8 (auto_initramfs), keeping the directory part. */
export function autoInitramfsName(kernel: string): string | undefined {
  const slash = kernel.lastIndexOf('/');
  const dir = kernel.slice(0, slash + 1);
  const m = /^kernel(.*)\.img$/.exec(kernel.slice(slash + 1));
  return m ? `${dir}initramfs${m[1]}` : undefined;
}

export function osFiles(config: Pick<ConfigTxt, 'settings' | 'overlays' | 'initramfs'>, board: Pick<Board, 'dtb'>): OsFiles {
  const s = config.settings;
  const arm64 = configNumber(config, 'arm_64bit') !== 0;
  const kernel = s.get('kernel') ?? (arm64 ? 'kernel8.img' : 'kernel7l.img');
  let initramfs: OsFiles['initramfs'] = { files: [], required: false };
  if (config.initramfs && config.initramfs.files.length > 0) initramfs = { files: config.initramfs.files, required: true };
  else if (configNumber(config, 'auto_initramfs') === 1) {
    const auto = autoInitramfsName(kernel);
    if (auto) initramfs = { files: [auto], required: false };
  }
  let armstub: OsFiles['armstub'];
  if (s.get('armstub')) armstub = { file: s.get('armstub')!, required: true };
  else if (arm64 && configNumber(config, 'enable_gic') !== 0) armstub = { file: 'armstub8-gic.bin', required: false };
  return {
    kernel,
    initramfs,
    cmdline: s.get('cmdline') ?? 'cmdline.txt',
    dtb: s.get('device_tree') ?? board.dtb,
    osPrefix: s.get('os_prefix') ?? '',
    overlayPrefix: s.get('overlay_prefix') ?? 'overlays/',
    overlays: config.overlays,
    armstub,
    arm64,
  };
}

/** A name as the firmware resolves it under `os_prefix` (a leading `/` bypasses the prefix). */
export function withOsPrefix(name: string, osPrefix: string): string {
  return name.startsWith('/') ? name.replace(/^\/+/, '') : `${osPrefix}${name}`;
}
