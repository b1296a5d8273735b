/**
 * The emulator's own config.txt reading (no root, no network): sections and
 * filters per board, includes, initramfs lines, overlays, and the boot files
 * the firmware derives from them (kernel, initramfs, dtb, os_prefix).
 */
import { describe, expect, it } from 'vitest';
import { boardOf } from './board.js';
import { autoInitramfsName, firmwareFiles, osFiles, withOsPrefix } from './boot-files.js';
import { readConfigTxt } from './config-txt.js';

const pi4 = boardOf('d03114');
const pi400 = boardOf('c03130');
const cm4 = boardOf('a03140');
const ctx = (board = pi4, includes: Record<string, string> = {}) => ({ board, serial8: 'bf9fed6f', readInclude: (n: string) => includes[n] ?? null });

describe('boards', () => {
  it('names the Pi 4 family by revision, with its filters and device tree', () => {
    expect(pi4).toMatchObject({ type: 0x11, filters: ['pi4'], dtb: 'bcm2711-rpi-4-b.dtb', supported: true });
    expect(pi400).toMatchObject({ type: 0x13, filters: ['pi4', 'pi400'], dtb: 'bcm2711-rpi-400.dtb', supported: true });
    for (const rev of ['a03140', 'b03140', 'c03140', 'd03140']) expect(boardOf(rev)).toMatchObject({ type: 0x14, filters: ['pi4', 'cm4'], dtb: 'bcm2711-rpi-cm4.dtb' });
    expect(boardOf(0xd03115).revision).toBe('d03115');
  });

  it('does not play a Pi 5 or a Pi 3, and says why', () => {
    expect(boardOf('d04170')).toMatchObject({ supported: false, unsupportedReason: expect.stringMatching(/Raspberry Pi 5.*no start\.elf/) });
    expect(boardOf('a02082')).toMatchObject({ supported: false, unsupportedReason: expect.stringMatching(/no EEPROM bootloader/) });
    expect(() => boardOf('zz')).toThrow(/not a hex revision code/);
  });
});

describe('config.txt sections', () => {
  const text = ['# comment', 'kernel=all.img', '[pi4]', 'cmdline=pi4.txt', '[pi400]', 'cmdline=pi400.txt', '[cm4]', 'cmdline=cm4.txt', '[none]', 'kernel=never.img', '[all]', 'arm_64bit=1'].join('\n');

  it('a Pi 4B applies [all] and [pi4], not [pi400], [cm4] or [none]', async () => {
    const c = await readConfigTxt(text, ctx(pi4));
    expect(Object.fromEntries(c.settings)).toEqual({ kernel: 'all.img', cmdline: 'pi4.txt', arm_64bit: '1' });
  });

  it('a Pi 400 sees [pi4] and then its own [pi400]; a CM4 its [cm4]', async () => {
    expect((await readConfigTxt(text, ctx(pi400))).settings.get('cmdline')).toBe('pi400.txt');
    expect((await readConfigTxt(text, ctx(cm4))).settings.get('cmdline')).toBe('cm4.txt');
  });

  it('model filters replace each other, other filters combine with them, [all] resets both', async () => {
    const t = ['[0xbf9fed6f]', 'a=serial', '[pi3]', 'b=pi3-and-serial', '[pi4]', 'c=pi4-and-serial', '[0x12345678]', 'd=other-serial', '[all]', 'e=all', '[board-type=0x11]', 'f=type'].join('\n');
    const c = await readConfigTxt(t, ctx());
    expect(Object.fromEntries(c.settings)).toEqual({ a: 'serial', c: 'pi4-and-serial', e: 'all', f: 'type' });
  });

  it('takes [EDID=…], [gpioN=V] and unknown filters as not matching, with a note; [HDMI:0] matches', async () => {
    const t = ['[EDID=DEL-DELL_U2422H]', 'a=1', '[all]', '[gpio4=1]', 'b=1', '[all]', '[HDMI:0]', 'c=1', '[all]', '[frobnicate]', 'd=1'].join('\n');
    const c = await readConfigTxt(t, ctx());
    expect(Object.fromEntries(c.settings)).toEqual({ c: '1' });
    expect(c.notes.join('\n')).toMatch(/EDID=DEL-DELL_U2422H.*no monitor[\s\S]*gpio4=1.*not emulated[\s\S]*frobnicate.*does not know/);
  });

  it('reads initramfs lines (several files), dtoverlay names without parameters, and keeps the last value of a key', async () => {
    const t = ['kernel=a', 'initramfs initrd.img followkernel', 'dtoverlay=vc4-kms-v3d,cma-512', 'dtoverlay=disable-bt', 'dtoverlay=', 'kernel=b', 'initramfs one.cpio,two.cpio 0x01000000', 'not a setting'].join('\n');
    const c = await readConfigTxt(t, ctx());
    expect(c.settings.get('kernel')).toBe('b');
    expect(c.initramfs).toEqual({ files: ['one.cpio', 'two.cpio'], address: '0x01000000' });
    expect(c.overlays).toEqual(['vc4-kms-v3d', 'disable-bt']);
    expect(c.notes).toEqual(['config.txt:8: not a setting: "not a setting"']);
  });

  it('reads an include in place, under the filters active at that point; a missing one is noted as not found', async () => {
    const t = ['kernel=main', 'include extra.txt', '[pi400]', 'include pi400.txt', '[all]', 'include missing.txt', 'cmdline=after.txt'].join('\n');
    const c = await readConfigTxt(t, ctx(pi4, { 'extra.txt': 'kernel=from-extra\n[cm4]\ncmdline=cm4.txt\n[all]\n', 'pi400.txt': 'kernel=pi400-only\n' }));
    expect(c.settings.get('kernel')).toBe('from-extra');
    expect(c.settings.get('cmdline')).toBe('after.txt');
    expect(c.includes).toEqual([
      { name: 'extra.txt', found: true },
      { name: 'missing.txt', found: false },
    ]);
  });

  it('copes with CRLF line ends, blanks and comments after a section header', async () => {
    const c = await readConfigTxt('[pi4]  # the Pi 4\r\n  kernel = vmlinuz \r\n\r\n', ctx());
    expect(c.settings.get('kernel')).toBe('vmlinuz');
  });
});

describe('boot files from config.txt', () => {
  const files = async (text: string, board = pi4) => osFiles(await readConfigTxt(text, ctx(board)), board);

  it("Ubuntu's config: kernel=vmlinuz, initramfs initrd.img followkernel (required), the board's dtb", async () => {
    expect(await files('[pi4]\nkernel=vmlinuz\ninitramfs initrd.img followkernel\n[all]\ndtoverlay=dwc2\n')).toMatchObject({
      kernel: 'vmlinuz',
      initramfs: { files: ['initrd.img'], required: true },
      cmdline: 'cmdline.txt',
      dtb: 'bcm2711-rpi-4-b.dtb',
      overlays: ['dwc2'],
      armstub: { file: 'armstub8-gic.bin', required: false },
    });
  });

  it("Raspberry Pi OS: no kernel= → kernel8.img; auto_initramfs=1 → initramfs8, loaded only if present", async () => {
    expect(await files('arm_64bit=1\nauto_initramfs=1\n')).toMatchObject({ kernel: 'kernel8.img', initramfs: { files: ['initramfs8'], required: false } });
    expect(autoInitramfsName('boot/kernel_2712.img')).toBe('boot/initramfs_2712');
    expect(autoInitramfsName('vmlinuz')).toBeUndefined();
  });

  it('arm_64bit=0 → kernel7l.img and no GIC armstub; armstub= names a required stub', async () => {
    expect(await files('arm_64bit=0\n')).toMatchObject({ kernel: 'kernel7l.img', arm64: false, armstub: undefined });
    expect(await files('armstub=my-stub.bin\n')).toMatchObject({ armstub: { file: 'my-stub.bin', required: true } });
    expect(await files('enable_gic=0\n')).toMatchObject({ armstub: undefined });
  });

  it('cmdline=, device_tree=, os_prefix and overlay_prefix; a leading / bypasses os_prefix', async () => {
    const f = await files('cmdline=cmd.txt\ndevice_tree=my.dtb\nos_prefix=next/\noverlay_prefix=ovl/\n', pi400);
    expect(f).toMatchObject({ cmdline: 'cmd.txt', dtb: 'my.dtb', osPrefix: 'next/', overlayPrefix: 'ovl/' });
    expect(withOsPrefix('vmlinuz', 'next/')).toBe('next/vmlinuz');
    expect(withOsPrefix('/common/vmlinuz', 'next/')).toBe('common/vmlinuz');
    expect((await files('', cm4)).dtb).toBe('bcm2711-rpi-cm4.dtb');
  });

  it('firmware names: start_file/fixup_file, start_x, start_debug, else start4.elf + fixup4.dat', async () => {
    const fw = async (t: string) => firmwareFiles(await readConfigTxt(t, ctx()));
    expect(await fw('')).toEqual({ start: 'start4.elf', fixup: 'fixup4.dat' });
    expect(await fw('start_x=1')).toEqual({ start: 'start4x.elf', fixup: 'fixup4x.dat' });
    expect(await fw('start_debug=1')).toEqual({ start: 'start4db.elf', fixup: 'fixup4db.dat' });
    expect(await fw('start_file=s.elf\nfixup_file=f.dat')).toEqual({ start: 's.elf', fixup: 'f.dat' });
    expect(firmwareFiles(undefined)).toEqual({ start: 'start4.elf', fixup: 'fixup4.dat' });
  });
});
