/**
 * Every parser and editor in src/pi takes text from a Pi, which may be
 * anything: none of them may throw, whatever the input. They return a clear
 * error or "unknown" instead.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bootFiles } from '../../src/pi/boot-files.js';
import { currentBootOrder, editBootOrder } from '../../src/pi/boot-order-edit.js';
import { interpretPi } from '../../src/pi/facts.js';
import { ensureNetwork, explainBootOrder, parseBootOrder, resolveBootOrder } from '../../src/pi/boot-order.js';
import { checkCmdline, describeCmdline, parseCmdline, serializeCmdline, setNfsRoot, setRbdRoot } from '../../src/pi/cmdline.js';
import { evaluateConfigTxt, parseConfigTxt } from '../../src/pi/config-txt.js';
import { detectSerial, normaliseSerial, parseCpuinfo, parseOtpDump } from '../../src/pi/cpuinfo.js';
import { getKey, parseEepromConfig, serializeEepromConfig, setKey, tftpDirectory } from '../../src/pi/eeprom-config.js';
import { eepromUpdatesEnabled, parseEepromUpdateDefaults, pendingUpdate } from '../../src/pi/eeprom-update.js';
import { checkBootNfs, parseFstab, restoreBootLine, setBootNfs } from '../../src/pi/fstab.js';
import { findMountAt, parseMountinfo, parseMounts, parseProcMounts } from '../../src/pi/mounts.js';
import { classifyOs, parseOsRelease } from '../../src/pi/os-release.js';
import { decodeRevision } from '../../src/pi/revision.js';
import { HOSTILE } from './fixtures.js';

/** Text that looks a bit like the files these parsers read, with garbage mixed in. */
const token = fc.oneof(
  fc.constantFrom(
    '[all]', '[pi4]', '[none]', '[gpio4=1]', '[0x12345678]', '[board-type=0x11]', '[', ']', '=', '#', ':', ',', '\\040', '"', "'",
    'Serial\t: ', 'Revision\t: ', 'root=', 'nfsroot=', 'rbdroot=', 'boot=rbd', 'include ', 'initramfs ', 'kernel=', 'dtoverlay=',
    'os_prefix=', 'auto_initramfs=1', 'BOOT_ORDER=', 'TFTP_PREFIX=', '0x', 'f241', '/boot/firmware', '/boot', 'nfs', 'vfat',
    '# pinet: replaced: ', ' - ', '28:', 'ID=', '..', '/', '\0', '\r', '\n', '\r\n', '\t', ' ',
  ),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
);
const text = fc.oneof(fc.array(token, { maxLength: 40 }).map((t) => t.join('')), fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom(...HOSTILE));

const boards = ['c03114', 'c03130', 'd03141', 'b03150', 'c04170', 'd04180', 'a02082'].map((c) => {
  const b = decodeRevision(c);
  if (!b.ok) throw new Error(c);
  return b;
});

function total(name: string, fn: (s: string, t: string) => unknown): void {
  it(`${name} never throws`, () => {
    fc.assert(
      fc.property(text, text, (s, t) => {
        fn(s, t);
      }),
      { numRuns: Number(process.env.PINET_FC_RUNS ?? 300) },
    );
  });
}

describe('never throws', () => {
  total('cpuinfo', (s, t) => {
    parseCpuinfo(s);
    normaliseSerial(s);
    parseOtpDump(s);
    detectSerial({ cpuinfo: s, serialNumber: t, otpDump: s });
  });
  total('revision', (s) => decodeRevision(s));
  total('os-release', (s) => classifyOs(parseOsRelease(s), { rpiIssue: s.length % 2 === 0 }));
  total('mounts', (s, t) => {
    findMountAt(parseProcMounts(s).entries, t);
    findMountAt(parseMountinfo(s).entries, t);
    parseMounts(s);
  });
  total('fstab', (s, t) => {
    parseFstab(s);
    const r = setBootNfs(s, { nfs: 'nfs-host:/export', dir: 'bf9fed6f' });
    if (r.ok) expect(restoreBootLine(r.text).ok).toBe(true);
    setBootNfs(s, { nfs: t, dir: t, options: t, mountpoint: t });
    restoreBootLine(s);
    checkBootNfs(s, { nfs: t, dir: t });
  });
  total('cmdline', (s, t) => {
    const r = parseCmdline(s);
    if (r.ok) {
      describeCmdline(r.words);
      checkCmdline(r.words, 'nfs');
      const n = setNfsRoot(r.words, '10.0.0.5', '/x');
      if (n.ok) serializeCmdline(n.words);
      setNfsRoot(r.words, t, t);
      setRbdRoot(r.words, { mons: t, user: t, key: t, pool: t, image: t });
      serializeCmdline(r.words);
    }
  });
  total('bootorder', (s) => {
    const r = parseBootOrder(s);
    if (r.ok) {
      explainBootOrder(r.order);
      ensureNetwork(r.order);
    }
    resolveBootOrder(s);
  });
  total('bootloader config', (s, t) => {
    const c = parseEepromConfig(s);
    expect(serializeEepromConfig(c)).toBe(s);
    getKey(c, t);
    setKey(c, 'BOOT_ORDER', t);
    setKey(c, t, '0xf241');
    tftpDirectory({ config: c, serialDir: t, mac: t });
  });
  total('BOOT_ORDER in the bootloader config', (s, t) => {
    for (const family of ['pi4', 'pi5', 'older', undefined] as const) {
      currentBootOrder(s, family);
      editBootOrder(s, family);
      editBootOrder(s, family, { order: t, force: t.length % 2 === 0 });
    }
  });
  total('interpretPi', (s, t) => {
    interpretPi({
      cpuinfo: s, serialNumber: t, model: t, otpDump: s, osRelease: s, fstab: s, mounts: t, eepromConfig: s,
      eepromUpdateDefaults: t, bootFileNames: t.split('\n'), configTxt: s, cmdlineTxt: t, includes: { [t]: s }, mac: t,
    });
    interpretPi({ cpuinfo: `Revision\t: c03114\nSerial\t: 10000000bf9fed6f\n${s}`, configTxt: s, eepromConfig: t, fstab: t, cmdlineTxt: s });
  });
  total('rpi-eeprom-update', (s, t) => {
    parseEepromUpdateDefaults(s);
    for (const b of boards) eepromUpdatesEnabled(b, s);
    pendingUpdate(s.split(/[\n/]/).concat(t));
  });
  total('config.txt and boot files', (s, t) => {
    parseConfigTxt(s);
    evaluateConfigTxt(s, { board: boards[0]!, serial: t, include: () => t });
    for (const b of boards) bootFiles(s, b, { serial: t, include: (n) => (n.length % 2 ? t : undefined), exists: () => undefined });
  });
});

describe('keys that name Object.prototype members', () => {
  it('are plain names, not prototype lookups', () => {
    expect(resolveBootOrder('__proto__').ok).toBe(false);
    expect(resolveBootOrder('constructor').ok).toBe(false);
    const r = bootFiles('dtoverlay=__proto__\ndtoverlay=constructor\nkernel=__proto__\nauto_initramfs=1\n', boards[0]!);
    expect(r.ok && r.files.map((f) => f.path)).toEqual(expect.arrayContaining(['overlays/__proto__.dtbo', 'overlays/constructor.dtbo', '__proto__']));
    const c = parseCpuinfo('__proto__\t: x\nconstructor\t: y\nhasOwnProperty\t: z\n');
    expect(c.fields.constructor).toBe('y');
    expect(Object.keys(c.fields)).toEqual(['__proto__', 'constructor', 'hasOwnProperty']);
    expect(parseOsRelease('constructor=1\n__proto__=2\n').id).toBeUndefined();
    expect(parseEepromUpdateDefaults('toString=1\n').vars.toString).toBe('1');
  });
});

describe('very long binary input', () => {
  it('a 250 kB garbage file', () => {
    const big = 'x=y\n[pi4]\n\0\r\n'.repeat(20_000);
    expect(parseConfigTxt(big).length).toBeGreaterThan(50_000);
    expect(bootFiles(big, boards[0]!).ok).toBe(true);
    expect(parseFstab(big).length).toBeGreaterThan(50_000);
    expect(setBootNfs(big, { nfs: 'h:/x', dir: 'd' }).ok).toBe(false);
  });
});
