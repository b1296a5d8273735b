/**
 * The TFTP requests of a Pi 4 network boot, in the order a real one sends
 * them: the seed article's dnsmasq log of a real Pi 4 (and the captures in
 * rpi-eeprom#74, #87, #687).
 *
 * bootloader (EEPROM code):
 *   probe <prefix>start4.elf (tsize, aborted at the OACK: "Early terminate");
 *   found → that prefix for everything, else <prefix>start.elf, else no prefix;
 *   config.txt; pieeprom.sig (+ pieeprom.upd) when ENABLE_SELF_UPDATE;
 *   recover4.elf, recovery.elf (not found is normal); start4.elf, fixup4.dat;
 * firmware (start4.elf), each file opened (first block, then aborted) before
 * it is read, except the optional ones:
 *   recovery.elf, config.txt, dt-blob.bin, recovery.elf, config.txt (now
 *   read: includes fetched here), bootcfg.txt, os_prefix checks, the
 *   initramfs, the device tree, overlays/overlay_map.dtb, config.txt,
 *   each overlays/<name>.dtbo, cmdline.txt, the kernel (opened three times,
 *   with armstub8-gic.bin looked for in between), then the kernel read.
 *
 * A required file that fails throws RequiredFileFailed (tftp-session.ts).
 */
import { readFileSync } from 'node:fs';
import { firmwareFiles, osFiles, withOsPrefix } from './boot-files.js';
import { readConfigTxt, type ConfigTxt } from './config-txt.js';
import { tftpPrefixFor } from './eeprom.js';
import type { NetworkBootInput } from './network-boot.js';
import { RequiredFileFailed, type TftpSession } from './tftp-session.js';
import type { BootFiles, TftpRequestRecord } from './types.js';

/** The requests of a network boot, in the real order; returns the boot files. */
export async function tftpSequence(i: NetworkBootInput, t: TftpSession, setPrefix: (p: string) => void): Promise<BootFiles> {
  const { log, eeprom, board } = i;
  const tryPrefix = tftpPrefixFor(eeprom, i.serial8, i.mac);

  // The size probe decides the prefix. No answer at all is a dead TFTP server: the attempt fails.
  let prefix = '';
  const first = await t.request(`${tryPrefix}start4.elf`, 'probe', 'start4.elf probe', { required: false });
  if (first.outcome === 'timeout') throw new RequiredFileFailed({ file: first.file, purpose: 'start4.elf probe', outcome: 'timeout', message: `${first.file}: the TFTP server did not answer`, stage: 'bootloader' });
  if (first.outcome === 'probed') prefix = tryPrefix;
  else if (tryPrefix !== '') {
    const second = await t.request(`${tryPrefix}start.elf`, 'probe', 'start.elf probe', { required: false });
    if (second.outcome === 'probed') prefix = tryPrefix;
  }
  setPrefix(prefix);
  log.line(prefix ? `TFTP: prefix ${prefix} (${tryPrefix}start4.elf found)` : `TFTP: no prefix (${tryPrefix}start4.elf not found)`);
  const P = (name: string): string => `${prefix}${name}`;
  const get = (name: string, purpose: string, required: boolean, save = true) => t.request(P(name), 'get', purpose, { required, ...(save && { saveAs: name }) });
  const open = (name: string, purpose: string, required: boolean) => t.request(P(name), 'probe-block', purpose, { required });
  /** The firmware's way: open (first block), then read the file. */
  const load = async (name: string, purpose: string, required: boolean): Promise<TftpRequestRecord | undefined> => {
    const o = await open(name, purpose, required);
    if (o.outcome !== 'probed') return undefined;
    return get(name, purpose, required);
  };
  const configCtx = (includePrefix: (n: string) => Promise<string | null>) => ({ board, serial8: i.serial8, readInclude: includePrefix });
  const textOf = (r: TftpRequestRecord | undefined): string | null => (r?.outcome === 'sent' && r.savedAs ? readFileSync(r.savedAs, 'latin1') : null);

  // Bootloader: config.txt for start_file/fixup_file, self-update, recovery, the firmware.
  const bootCfg = textOf(await get('config.txt', 'config.txt (bootloader)', false));
  const bootConfig = bootCfg === null ? undefined : await readConfigTxt(bootCfg, configCtx(async () => null));
  if (eeprom.enableSelfUpdate) {
    const sig = await get('pieeprom.sig', 'self-update signature', false, false);
    if (sig.outcome === 'sent') {
      await get('pieeprom.upd', 'self-update image', false, false);
      log.line('BOOTLOADER: pieeprom.sig found: a real Pi flashes pieeprom.upd if it differs from its EEPROM and resets (not emulated)');
    }
  }
  for (const name of ['recover4.elf', 'recovery.elf']) {
    const r = await get(name, 'recovery', false, false);
    if (r.outcome === 'sent') log.line(`BOOTLOADER: ${name} found: a real Pi would run it (EEPROM recovery), not the OS (not emulated)`);
  }
  const fw = firmwareFiles(bootConfig);
  await get(fw.start, 'firmware', true);
  await get(fw.fixup, 'firmware fixup', true);
  t.stage = 'firmware';
  log.line(`FIRMWARE: ${fw.start} running`);

  // Firmware: config.txt (read three times), then the OS files.
  await get('recovery.elf', 'recovery', false, false);
  await load('config.txt', 'config.txt', false);
  await get('dt-blob.bin', 'dt-blob', false);
  await get('recovery.elf', 'recovery', false, false);
  const cfgRecord = await load('config.txt', 'config.txt', false);
  const includeReader = async (name: string): Promise<string | null> => textOf(await load(name, `include ${name}`, false));
  const config: ConfigTxt = await readConfigTxt(textOf(cfgRecord) ?? '', configCtx(includeReader));
  for (const note of config.notes) log.line(`FIRMWARE: config.txt: ${note}`);
  await get('bootcfg.txt', 'bootcfg.txt', false);
  const os = osFiles(config, board);

  let osPrefix = os.osPrefix;
  if (osPrefix) {
    const k = await open(withOsPrefix(os.kernel, osPrefix), 'os_prefix check (kernel)', false);
    const d = await open(withOsPrefix(os.dtb, osPrefix), 'os_prefix check (dtb)', false);
    if (k.outcome !== 'probed' || d.outcome !== 'probed') {
      log.line(`FIRMWARE: os_prefix ${osPrefix} ignored: its kernel or device tree is missing`);
      osPrefix = '';
    }
  }
  const name = (n: string): string => withOsPrefix(n, osPrefix);
  let overlayDir = os.overlayPrefix;
  if (osPrefix && os.overlays.length > 0) {
    const readme = await open(`${osPrefix}${os.overlayPrefix}README`, 'overlays README', false);
    if (readme.outcome === 'probed') overlayDir = `${osPrefix}${os.overlayPrefix}`;
  }

  const initramfs: string[] = [];
  for (const f of os.initramfs.files) {
    const r = await load(name(f), 'initramfs', os.initramfs.required);
    if (r?.outcome === 'sent') initramfs.push(name(f));
  }
  await load(name(os.dtb), 'device tree', true);
  await load(`${overlayDir}overlay_map.dtb`, 'overlay map', false);
  await load('config.txt', 'config.txt', false);
  const overlays: string[] = [];
  for (const ov of os.overlays) {
    const r = await load(`${overlayDir}${ov}.dtbo`, `overlay ${ov}`, false);
    if (r?.outcome === 'sent') overlays.push(`${overlayDir}${ov}.dtbo`);
    else log.line(`FIRMWARE: failed to load overlay '${ov}'`);
  }
  const cmdline = await load(name(os.cmdline), 'cmdline.txt', true);
  await open(name(os.kernel), 'kernel', true);
  if (os.armstub) await get(os.armstub.file, 'armstub', os.armstub.required);
  await open(name(os.kernel), 'kernel', true);
  await open(name(os.kernel), 'kernel', true);
  await get(name(os.kernel), 'kernel', true);

  const cmdlineText = textOf(cmdline) ?? '';
  log.line(`FIRMWARE: kernel ${name(os.kernel)}${initramfs.length ? `, initramfs ${initramfs.join(',')}` : ''}, dtb ${name(os.dtb)}; cmdline: ${cmdlineText.trim()}`);
  return {
    dir: i.outDir,
    start: t.localPath(fw.start),
    fixup: t.localPath(fw.fixup),
    config: cfgRecord?.savedAs,
    kernel: t.localPath(name(os.kernel)),
    initramfs: initramfs.map((f) => t.localPath(f)),
    dtb: t.localPath(name(os.dtb)),
    overlays: overlays.map((f) => t.localPath(f)),
    cmdlinePath: t.localPath(name(os.cmdline)),
    cmdline: cmdlineText.replace(/\r?\n$/, ''),
    names: { kernel: name(os.kernel), initramfs, dtb: name(os.dtb), cmdline: name(os.cmdline), overlays },
  };
}
