/**
 * The files a Pi's bootloader will request over TFTP, computed from its
 * config.txt for its board: what enroll must copy and doctor must find
 * readable in the Pi's directory of the export.
 *
 * Pi 4 family (BCM2711), from the config_txt documentation and real boot logs
 * (the seed article's dnsmasq log, firmware UART logs):
 *
 * * `start4.elf` (also the bootloader's probe for the TFTP prefix) and
 *   `fixup4.dat`; `start_x=1` selects start4x.elf/fixup4x.dat,
 *   `start_debug=1` start4db.elf/fixup4db.dat, `gpu_mem=16` the cut-down
 *   start4cd.elf/fixup4cd.dat, `start_file`/`fixup_file` name them outright;
 * * `config.txt` and every `include`d file;
 * * the device tree (`device_tree=`, else the board's own, e.g.
 *   bcm2711-rpi-4-b.dtb), `overlays/overlay_map.dtb`, and one
 *   `overlays/<name>.dtbo` per `dtoverlay=`, under the name overlay_map.dtb
 *   maps it to on this SoC (`vc4-kms-v3d` → `vc4-kms-v3d-pi4.dtbo` on a Pi 4);
 * * `cmdline.txt` (or `cmdline=`), the kernel (`kernel=`, else `kernel8.img`
 *   since `arm_64bit` defaults to 1 on Pi 4 firmware, `kernel7l.img` with
 *   `arm_64bit=0`), the initramfs (`initramfs <files> …`, `ramfsfile=`, or
 *   with `auto_initramfs=1` the one named after a standard kernel:
 *   kernel8.img → initramfs8), `armstub=` when set;
 * * `os_prefix` in front of the OS files (kernel, initramfs, cmdline, device
 *   tree; overlays only when `<os_prefix><overlay_prefix>README` exists), not
 *   in front of names starting with `/`.
 *
 * Probes whose "file not found" is normal (pieeprom.sig, recover4.elf,
 * recovery.elf, dt-blob.bin, bootcfg.txt, armstub8-gic.bin) are listed
 * separately as optional.
 *
 * Pi 5 family (BCM2712): no start*.elf; kernel_2712.img and initramfs_2712.
 * pinet has not verified Pi 5 netboot, so such results carry `untested`.
 */

import { CONFIG_LINE_LIMIT, allValues, effectiveValue, evaluateConfigTxt, isSafeBootPath, type ConfigEvaluation, type EvaluatedLine } from './config-txt.js';
import type { Board } from './revision.js';
import { lookup } from './text.js';

export interface BootFile {
  /** Path relative to the Pi's TFTP directory. */
  path: string;
  /** The boot fails or changes when this file is missing. */
  required: boolean;
  /** Why the bootloader asks for it (the setting and line, or the default). */
  why: string;
  /** Requested only when a filter pinet could not decide holds. */
  conditional?: boolean;
}

export interface BootFilesOptions {
  /** The serial, for `[0x…]` filters. */
  serial?: string;
  /** Text of an included file, undefined when it does not exist. */
  include?: (name: string) => string | undefined;
  /** Does a file exist in the boot files (for the os_prefix checks)? undefined = cannot tell. */
  exists?: (path: string) => boolean | undefined;
}

export type BootFilesResult =
  | {
      ok: true;
      /** The files this board requests, in about the order it asks for them. */
      files: BootFile[];
      /** Probes whose absence is normal. */
      optional: BootFile[];
      notes: string[];
      /** Pi 5 family: computed from documentation, not verified on hardware. */
      untested: boolean;
      /** `include`d files the caller could not supply. */
      missingIncludes: string[];
      /** Values that could not become a safe file name, and include problems. */
      errors: string[];
      /** Filters pinet could not decide (`gpio4=1`, `EDID=…`). */
      undecided: string[];
      evaluation: ConfigEvaluation;
    }
  | { ok: false; error: string };

type BoardInput = Pick<Board, 'name' | 'family' | 'filters' | 'eepromNetboot' | 'eepromNetbootReason'> & Partial<Pick<Board, 'type' | 'memoryMB' | 'deviceTree' | 'deviceTreeNote'>>;

const RENAMED: Record<string, string> = {
  'pi3-act-led': 'act-led',
  'pi3-disable-bt': 'disable-bt',
  'pi3-disable-wifi': 'disable-wifi',
  'pi3-miniuart-bt': 'miniuart-bt',
  'rpi-cirrus-wm5102': 'cirrus-wm5102',
  'rpi-dac': 'i2s-dac',
  'rpi-display': 'watterott-display',
  'rpi-proto': 'proto-codec',
  'spi0-cs': 'spi0-2cs',
};

/** Per-SoC overlay names from overlay_map.dts (raspberrypi/linux arch/arm/boot/dts/overlays). */
const PLATFORM_NAMES: Record<'pi4' | 'pi5', Record<string, string>> = {
  pi4: {
    'vc4-kms-v3d': 'vc4-kms-v3d-pi4',
    'vc4-fkms-v3d': 'vc4-fkms-v3d-pi4',
    ramoops: 'ramoops-pi4',
    upstream: 'upstream-pi4',
  },
  pi5: Object.fromEntries([
    ...['disable-bt', 'disable-wifi', 'i2c0', 'i2c1', 'i2c2', 'i2c3', 'midi-uart0', 'midi-uart1', 'midi-uart2', 'midi-uart3', 'midi-uart4',
      'pcie-32bit-dma', 'pisound', 'spi2-1cs', 'spi2-2cs', 'spi3-1cs', 'spi3-2cs', 'spi5-1cs', 'spi5-2cs',
      'uart0', 'uart1', 'uart2', 'uart3', 'uart4', 'w1-gpio', 'w1-gpio-pullup'].map((n) => [n, `${n}-pi5`]),
    ['vc4-kms-v3d', 'vc4-kms-v3d-pi5'],
    ['vc4-kms-v3d-pi4', 'vc4-kms-v3d-pi5'],
    ['vc4-fkms-v3d', 'vc4-fkms-v3d-pi4'],
  ]),
};

/** The `.dtbo` name the firmware loads for `dtoverlay=<name>` on this SoC. */
export function overlayFileName(name: string, family: 'pi4' | 'pi5'): string {
  const renamed = lookup(RENAMED, name) ?? name;
  return lookup(PLATFORM_NAMES[family], renamed) ?? renamed;
}

const AUTO_INITRAMFS: Record<string, string> = {
  'kernel.img': 'initramfs',
  'kernel7.img': 'initramfs7',
  'kernel7l.img': 'initramfs7l',
  'kernel8.img': 'initramfs8',
  'kernel_2712.img': 'initramfs_2712',
};

function at(l: { file: string; line: number }): string {
  return `${l.file} line ${l.line}`;
}

/** Compute the boot files for `board` from its config.txt text. */
export function bootFiles(configText: string, board: BoardInput, opts: BootFilesOptions = {}): BootFilesResult {
  if (!board.eepromNetboot || board.family === 'older') {
    return { ok: false, error: `${board.name} cannot network boot from an EEPROM bootloader: ${board.eepromNetbootReason}` };
  }
  const family = board.family;
  const ctx = { board: { filters: board.filters, ...(board.type === undefined ? {} : { type: board.type }) }, ...(opts.serial ? { serial: opts.serial } : {}), ...(opts.include ? { include: opts.include } : {}) };
  const ev = evaluateConfigTxt(configText, ctx);
  const files: BootFile[] = [];
  const optional: BootFile[] = [];
  const notes: string[] = [];
  const errors = [...ev.errors];

  const add = (list: BootFile[], path: string, required: boolean, why: string, conditional = false): void => {
    const clean = path.replace(/^\/+/, '');
    if (!isSafeBootPath(clean)) {
      errors.push(`${why}: ${JSON.stringify(path)} is not a safe file name in the boot partition`);
      return;
    }
    const existing = list.find((f) => f.path === clean);
    if (existing) {
      if (!existing.why.includes(why)) existing.why += `; ${why}`;
      existing.required ||= required;
      if (!conditional) delete existing.conditional;
      return;
    }
    list.push(conditional ? { path: clean, required, why, conditional } : { path: clean, required, why });
  };

  const setting = (key: string): { value: string | undefined; where: string; maybe: { value: string; where: string; conditions: string[] }[] } => {
    const v = effectiveValue(ev, key);
    return {
      value: v.value,
      where: v.from ? at(v.from) : 'default',
      maybe: v.maybe.map((m) => ({ value: m.value, where: `${m.file} line ${m.line}`, conditions: m.conditions })),
    };
  };
  const noteMaybe = (key: string, s: ReturnType<typeof setting>): void => {
    for (const m of s.maybe) notes.push(`${key}=${m.value} (${m.where}) applies only when [${m.conditions.join('] [')}] holds; pinet could not decide that`);
  };

  // os_prefix: in front of kernel, initramfs, cmdline, device tree (and overlays, see below).
  const osPrefixSetting = setting('os_prefix');
  noteMaybe('os_prefix', osPrefixSetting);
  let osPrefix = osPrefixSetting.value ?? '';
  if (osPrefix === '' && setting('upstream_kernel').value === '1') {
    osPrefix = 'upstream/';
    notes.push('upstream_kernel=1 sets os_prefix to upstream/ and prefers upstream device tree names: untested by pinet');
  }
  const prefixed = (name: string): string => (name.startsWith('/') ? name.slice(1) : osPrefix + name);

  // The firmware (Pi 4 only).
  if (family === 'pi4') {
    add(files, 'start4.elf', true, 'the bootloader probes <prefix>start4.elf to decide whether to use the Pi\'s TFTP directory');
    const startFile = setting('start_file');
    const fixupFile = setting('fixup_file');
    const gpuMem = (board.memoryMB ?? 0) >= 1024 ? (setting('gpu_mem_1024').value ?? setting('gpu_mem').value) : setting('gpu_mem').value;
    let start = 'start4.elf';
    let fixup = 'fixup4.dat';
    let why = 'the GPU firmware (default)';
    if (setting('start_debug').value === '1') [start, fixup, why] = ['start4db.elf', 'fixup4db.dat', `start_debug=1 (${setting('start_debug').where})`];
    else if (setting('start_x').value === '1') [start, fixup, why] = ['start4x.elf', 'fixup4x.dat', `start_x=1 (${setting('start_x').where})`];
    else if (gpuMem === '16') [start, fixup, why] = ['start4cd.elf', 'fixup4cd.dat', 'gpu_mem=16 selects the cut-down firmware'];
    if (startFile.value) [start, why] = [startFile.value, `start_file=${startFile.value} (${startFile.where})`];
    if (fixupFile.value) fixup = fixupFile.value;
    add(files, start, true, why);
    add(files, fixup, true, `matches ${start}`);
  }

  add(files, 'config.txt', true, 'the firmware configuration');
  const missingIncludes: string[] = [];
  for (const inc of ev.includes) {
    add(files, inc.name, true, `include ${inc.name} (${inc.from} line ${inc.line})`, inc.applies === 'maybe');
    if (!inc.found) missingIncludes.push(inc.name);
  }

  // Device tree.
  const dt = setting('device_tree');
  noteMaybe('device_tree', dt);
  if (dt.value === '') notes.push(`device_tree= is empty (${dt.where}): the firmware loads no device tree`);
  else if (dt.value !== undefined) add(files, prefixed(dt.value), true, `device_tree=${dt.value} (${dt.where})`);
  else if (board.deviceTree !== undefined) {
    add(files, prefixed(board.deviceTree), true, `the ${board.name} device tree`);
    if (board.deviceTreeNote) notes.push(board.deviceTreeNote);
  } else errors.push(`pinet does not know which device tree ${board.name} loads`);

  // Overlays.
  const overlayPrefix = setting('overlay_prefix').value ?? 'overlays/';
  let overlayDir = overlayPrefix;
  if (osPrefix !== '') {
    const readme = `${osPrefix}${overlayPrefix}README`;
    const has = opts.exists?.(readme);
    if (has === true) overlayDir = osPrefix + overlayPrefix;
    else if (has === undefined) notes.push(`overlays come from ${osPrefix}${overlayPrefix} only if ${readme} exists; pinet assumed the shared ${overlayPrefix}`);
    optional.push({ path: readme, required: false, why: `the firmware checks it to decide whether overlays come from ${osPrefix}${overlayPrefix}` });
  }
  add(files, `${overlayDir}overlay_map.dtb`, true, 'the firmware maps overlay names for this SoC with it');
  const overlayLines: EvaluatedLine[] = [...allValues(ev, 'dtoverlay'), ...allValues(ev, 'device_tree_overlay')].sort(
    (a, b) => a.order - b.order,
  );
  for (const l of overlayLines) {
    const name = (l.line.value ?? '').split(',')[0]!.trim();
    if (name === '') continue;
    if (!/^[A-Za-z0-9_.+-]+$/.test(name)) {
      errors.push(`${at({ file: l.file, line: l.line.number })}: overlay name ${JSON.stringify(name)} is not a plain name`);
      continue;
    }
    const file = overlayFileName(name, family);
    const mapped = file === name ? '' : `, loaded as ${file} (overlay_map.dtb, ${family === 'pi4' ? 'BCM2711' : 'BCM2712'})`;
    add(files, `${overlayDir}${file}.dtbo`, l.applies === 'yes', `dtoverlay=${l.line.value} (${at({ file: l.file, line: l.line.number })})${mapped}`, l.applies === 'maybe');
  }
  const autoDetect = ['camera_auto_detect', 'display_auto_detect'].filter((key) => setting(key).value === '1');
  if (autoDetect.length > 0) {
    notes.push(`${autoDetect.map((k) => `${k}=1`).join(', ')}: the firmware also loads overlays for the cameras or displays it detects`);
  }

  // Command line.
  const cmdline = setting('cmdline');
  noteMaybe('cmdline', cmdline);
  add(files, prefixed(cmdline.value ?? 'cmdline.txt'), true, cmdline.value ? `cmdline=${cmdline.value} (${cmdline.where})` : 'the kernel command line (default name)');

  // Kernel.
  const kernel = setting('kernel');
  noteMaybe('kernel', kernel);
  let kernelName: string;
  if (kernel.value) {
    kernelName = kernel.value;
    add(files, prefixed(kernelName), true, `kernel=${kernel.value} (${kernel.where})`);
  } else if (family === 'pi5') {
    kernelName = 'kernel_2712.img';
    add(files, prefixed(kernelName), true, 'the Pi 5 family default kernel');
  } else {
    const arm64 = setting('arm_64bit');
    if (arm64.value === '0') {
      kernelName = 'kernel7l.img';
      add(files, prefixed(kernelName), true, `arm_64bit=0 (${arm64.where}): the 32-bit kernel`);
    } else {
      kernelName = 'kernel8.img';
      add(files, prefixed(kernelName), true, arm64.value ? `arm_64bit=${arm64.value} (${arm64.where}): the 64-bit kernel` : 'the default kernel (arm_64bit defaults to 1 on Pi 4 firmware)');
      if (arm64.value === undefined) {
        optional.push({ path: prefixed('kernel7l.img'), required: false, why: 'firmware older than 2023 defaults to the 32-bit kernel when arm_64bit is not set' });
      }
    }
  }

  // Initramfs: the last applicable `initramfs` line or `ramfsfile=`, else auto_initramfs.
  let initramfs: { files: string[]; why: string; conditional: boolean } | undefined;
  for (const l of ev.lines) {
    if (l.applies === 'no') continue;
    const where = at({ file: l.file, line: l.line.number });
    if (l.line.kind === 'initramfs') {
      if (l.applies === 'yes') initramfs = { files: l.line.initramfs!.files, why: `initramfs ${l.line.initramfs!.files.join(',')} (${where})`, conditional: false };
      else notes.push(`initramfs at ${where} applies only when [${l.conditions.join('] [')}] holds`);
    } else if (l.line.kind === 'setting' && l.line.key === 'ramfsfile') {
      if (l.applies === 'yes') initramfs = { files: l.line.value!.split(',').filter(Boolean), why: `ramfsfile=${l.line.value} (${where})`, conditional: false };
      else notes.push(`ramfsfile at ${where} applies only when [${l.conditions.join('] [')}] holds`);
    }
  }
  if (initramfs) for (const f of initramfs.files) add(files, prefixed(f), true, initramfs.why);
  else if (setting('auto_initramfs').value === '1') {
    const auto = lookup(AUTO_INITRAMFS, kernelName.replace(/^.*\//, ''));
    if (auto) add(files, prefixed(auto), false, `auto_initramfs=1 (${setting('auto_initramfs').where}): loaded if present, next to ${kernelName}`);
    else notes.push(`auto_initramfs=1 finds an initramfs only for the standard kernel names, not ${kernelName}`);
  }

  const armstub = setting('armstub');
  if (armstub.value) add(files, armstub.value, true, `armstub=${armstub.value} (${armstub.where})`);

  // Probes.
  const probe = (path: string, why: string): void => {
    if (!files.some((f) => f.path === path)) optional.push({ path, required: false, why });
  };
  probe('pieeprom.sig', 'the bootloader looks for a self-update');
  if (family === 'pi4') {
    probe('recover4.elf', 'recovery probe');
    probe('recovery.elf', 'recovery probe');
    probe('dt-blob.bin', 'optional board pin configuration');
    probe('bootcfg.txt', 'optional bootloader configuration');
    if (!armstub.value && kernelName !== 'kernel7l.img') probe('armstub8-gic.bin', 'the firmware looks for an ARM stub before using its built-in one');
  }

  if (family === 'pi5') {
    notes.push(`${board.name}: network boot on the Pi 5 family differs from the Pi 4 (no start*.elf) and is untested by pinet`);
  }
  if (ev.undecided.length > 0) notes.push(`filters pinet cannot decide: [${ev.undecided.join('] [')}]; lines under them may or may not apply`);
  for (const l of ev.longLines) notes.push(`${l.file} line ${l.line} is longer than ${CONFIG_LINE_LIMIT} characters: the firmware cuts it`);

  return { ok: true, files, optional, notes, untested: family === 'pi5', missingIncludes, errors, undecided: ev.undecided, evaluation: ev };
}
