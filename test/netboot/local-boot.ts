/**
 * BOOT_ORDER modes 1 (SD / eMMC), 4 and 5 (USB), 6 (NVMe): boot from a local
 * medium. A directory stands for the medium's boot partition: it boots when
 * it holds the firmware (start4.elf and fixup4.dat, or what config.txt's
 * start_file/fixup_file name); then the firmware reads config.txt and loads
 * the kernel, initramfs, device tree, overlays and cmdline.txt from it, by
 * the same rules as a network boot (boot-files.ts), and they are copied to
 * the output directory. A callback medium answers for itself. No medium, or
 * no firmware on it: the mode is absent and the walk goes on.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import type { Board } from './board.js';
import { firmwareFiles, osFiles, withOsPrefix } from './boot-files.js';
import { readConfigTxt } from './config-txt.js';
import type { BootLog } from './log.js';
import type { BootFiles, BootMedium, LocalBootContext, NetbootFailure, PiIdentity } from './types.js';

export interface LocalBootOutcome {
  verdict: 'booted' | 'absent' | 'firmware-failed';
  reason: string;
  files?: BootFiles;
  failure?: NetbootFailure;
}

function inside(root: string, name: string): string {
  return join(root, normalize(name).replace(/^(\.\.(\/|$))+/, '').replace(/^\/+/, ''));
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export async function localBoot(
  medium: BootMedium | undefined,
  mode: LocalBootContext['mode'],
  ctx: { round: number; pi: PiIdentity; board: Board; serial8: string; outDir: string; log: BootLog },
): Promise<LocalBootOutcome> {
  const { log } = ctx;
  if (medium === undefined) return { verdict: 'absent', reason: `no ${mode} medium attached` };
  if (typeof medium === 'function') {
    const answer = await medium({ mode, round: ctx.round, pi: ctx.pi });
    const reason = answer.reason ?? (answer.bootable ? `the ${mode} medium booted` : `the ${mode} medium is not bootable`);
    log.line(`${mode}: ${reason}`);
    return { verdict: answer.bootable ? 'booted' : 'absent', reason };
  }
  const root = typeof medium === 'string' ? medium : medium.dir;
  if (!existsSync(root)) return { verdict: 'absent', reason: `${mode} medium ${root} does not exist` };
  const readText = (name: string): string | null => (isFile(inside(root, name)) ? readFileSync(inside(root, name), 'latin1') : null);
  const configText = readText('config.txt');
  const configCtx = { board: ctx.board, serial8: ctx.serial8, readInclude: (n: string) => readText(n) };
  const config = await readConfigTxt(configText ?? '', configCtx);
  const fw = firmwareFiles(config);
  for (const f of [fw.start, fw.fixup]) {
    if (!isFile(inside(root, f))) {
      const reason = `${mode} medium ${root} has no ${f}: not bootable`;
      log.line(`${mode}: ${reason}`);
      return { verdict: 'absent', reason };
    }
  }
  log.line(`${mode}: ${fw.start} found on ${root}${configText === null ? ' (no config.txt)' : ''}`);
  for (const note of config.notes) log.line(`FIRMWARE: config.txt: ${note}`);
  const os = osFiles(config, ctx.board);
  let osPrefix = os.osPrefix;
  if (osPrefix && !(isFile(inside(root, withOsPrefix(os.kernel, osPrefix))) && isFile(inside(root, withOsPrefix(os.dtb, osPrefix))))) osPrefix = '';
  const name = (n: string): string => withOsPrefix(n, osPrefix);
  const overlayDir = osPrefix && isFile(inside(root, `${osPrefix}${os.overlayPrefix}README`)) ? `${osPrefix}${os.overlayPrefix}` : os.overlayPrefix;

  const copy = (n: string): string => {
    const to = inside(ctx.outDir, n);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(inside(root, n), to);
    return to;
  };
  const fail = (file: string, purpose: string): LocalBootOutcome => {
    const message = `${file} (${purpose}) is not on the ${mode} medium`;
    log.line(`FIRMWARE: ${message}`);
    return { verdict: 'firmware-failed', reason: message, failure: { file, purpose, outcome: 'not-found', message, stage: 'firmware' } };
  };
  const initramfs: string[] = [];
  for (const f of os.initramfs.files) {
    if (isFile(inside(root, name(f)))) initramfs.push(name(f));
    else if (os.initramfs.required) return fail(name(f), 'initramfs');
  }
  for (const [f, purpose] of [
    [name(os.dtb), 'device tree'],
    [name(os.cmdline), 'cmdline.txt'],
    [name(os.kernel), 'kernel'],
  ] as const) {
    if (!isFile(inside(root, f))) return fail(f, purpose);
  }
  if (os.armstub?.required && !isFile(inside(root, os.armstub.file))) return fail(os.armstub.file, 'armstub');
  const overlays = os.overlays.map((o) => `${overlayDir}${o}.dtbo`).filter((f) => isFile(inside(root, f)));
  const cmdline = readText(name(os.cmdline)) ?? '';
  const files: BootFiles = {
    dir: ctx.outDir,
    start: copy(fw.start),
    fixup: copy(fw.fixup),
    ...(configText !== null && { config: copy('config.txt') }),
    kernel: copy(name(os.kernel)),
    initramfs: initramfs.map(copy),
    dtb: copy(name(os.dtb)),
    overlays: overlays.map(copy),
    cmdlinePath: copy(name(os.cmdline)),
    cmdline: cmdline.replace(/\r?\n$/, ''),
    names: { kernel: name(os.kernel), initramfs, dtb: name(os.dtb), cmdline: name(os.cmdline), overlays },
  };
  log.line(`FIRMWARE: kernel ${name(os.kernel)} from ${mode}; cmdline: ${cmdline.trim()}`);
  return { verdict: 'booted', reason: `booted from the ${mode} medium ${root}`, files };
}
