import { describe, expect, it } from 'vitest';
import { bootFiles, overlayFileName, type BootFilesOptions } from '../../src/pi/boot-files.js';
import { decodeRevision, type Board } from '../../src/pi/revision.js';
import { fixture } from './fixtures.js';

function board(code: string): Board {
  const r = decodeRevision(code);
  if (!r.ok) throw new Error(r.error);
  return r;
}

function files(config: string, code = 'c03114', opts: BootFilesOptions = {}) {
  const r = bootFiles(config, board(code), opts);
  if (!r.ok) throw new Error(r.error);
  return r;
}

const paths = (r: ReturnType<typeof files>) => r.files.map((f) => f.path);
const required = (r: ReturnType<typeof files>) => r.files.filter((f) => f.required).map((f) => f.path);

describe("the seed article's Ubuntu Pi 4B", () => {
  // Every file the article's dnsmasq log shows as sent (…/bf9fed6f/<file>), and every "not found".
  const sent = [
    'start4.elf', 'config.txt', 'fixup4.dat', 'initrd.img', 'bcm2711-rpi-4-b.dtb', 'overlays/overlay_map.dtb',
    'overlays/dwc2.dtbo', 'overlays/disable-bt.dtbo', 'overlays/disable-wifi.dtbo', 'cmdline.txt', 'vmlinuz',
  ];
  const notFound = ['pieeprom.sig', 'recover4.elf', 'recovery.elf', 'dt-blob.bin', 'bootcfg.txt', 'armstub8-gic.bin'];

  it('requests exactly the files the log shows as sent', () => {
    const r = files(fixture('ubuntu-2404-pi4b', 'config.txt'));
    expect([...required(r)].sort()).toEqual([...sent].sort());
    expect(r.files.every((f) => f.required)).toBe(true);
  });

  it('lists the "not found" probes as optional', () => {
    expect(files(fixture('ubuntu-2404-pi4b', 'config.txt')).optional.map((f) => f.path)).toEqual(notFound);
  });

  it('says why, with the line', () => {
    const r = files(fixture('ubuntu-2404-pi4b', 'config.txt'));
    expect(r.files.find((f) => f.path === 'vmlinuz')!.why).toBe('kernel=vmlinuz (config.txt line 2)');
    expect(r.files.find((f) => f.path === 'initrd.img')!.why).toBe('initramfs initrd.img (config.txt line 4)');
    expect(r.files.find((f) => f.path === 'start4.elf')!.why).toMatch(/probes <prefix>start4.elf/);
    expect(r.untested).toBe(false);
  });
});

describe('Raspberry Pi OS', () => {
  it('Bookworm on a Pi 4B: kernel8.img, initramfs8 if present, vc4-kms-v3d loaded as vc4-kms-v3d-pi4', () => {
    const r = files(fixture('raspios-bookworm-pi4b', 'config.txt'), 'd03115');
    expect(paths(r)).toEqual([
      'start4.elf', 'fixup4.dat', 'config.txt', 'bcm2711-rpi-4-b.dtb', 'overlays/overlay_map.dtb',
      'overlays/vc4-kms-v3d-pi4.dtbo', 'cmdline.txt', 'kernel8.img', 'initramfs8',
    ]);
    expect(r.files.find((f) => f.path === 'initramfs8')).toMatchObject({ required: false, why: expect.stringMatching(/auto_initramfs=1 .*loaded if present/) });
    expect(r.files.find((f) => f.path === 'overlays/vc4-kms-v3d-pi4.dtbo')!.why).toMatch(/dtoverlay=vc4-kms-v3d \(config.txt line 26\), loaded as vc4-kms-v3d-pi4/);
  });

  it('Bookworm on a CM4 and a Pi 400: their own device trees', () => {
    expect(paths(files(fixture('raspios-bookworm-pi4b', 'config.txt'), 'd03141'))).toContain('bcm2711-rpi-cm4.dtb');
    expect(paths(files(fixture('raspios-bookworm-pi4b', 'config.txt'), 'c03130'))).toContain('bcm2711-rpi-400.dtb');
  });

  it('Bullseye without arm_64bit: kernel8.img on current firmware, kernel7l.img named as the older default', () => {
    const r = files(fixture('raspios-bullseye-pi4b', 'config.txt'), 'b03112');
    expect(required(r)).toContain('kernel8.img');
    expect(r.optional[0]).toMatchObject({ path: 'kernel7l.img', why: expect.stringMatching(/older than 2023/) });
    expect(paths(r)).not.toContain('initramfs8');
  });

  it('Pi 5: no start4.elf, kernel_2712.img, initramfs_2712, -pi5 overlays, marked untested', () => {
    const r = files(fixture('pi5-raspios-bookworm', 'config.txt'), 'c04170');
    expect(paths(r)).toEqual([
      'config.txt', 'bcm2712-rpi-5-b.dtb', 'overlays/overlay_map.dtb', 'overlays/vc4-kms-v3d-pi5.dtbo', 'cmdline.txt', 'kernel_2712.img', 'initramfs_2712',
    ]);
    expect(r.untested).toBe(true);
    expect(r.notes.join('\n')).toMatch(/untested/);
    expect(paths(files(fixture('pi5-raspios-bookworm', 'config.txt'), 'd04180'))).toContain('overlays/dwc2.dtbo');
  });
});

describe('settings that change the names', () => {
  it('arm_64bit=0 selects kernel7l.img, and auto_initramfs follows it', () => {
    expect(paths(files('arm_64bit=0\nauto_initramfs=1\n'))).toEqual(expect.arrayContaining(['kernel7l.img', 'initramfs7l']));
  });

  it('auto_initramfs finds nothing for a custom kernel name, and says so', () => {
    const r = files('kernel=vmlinuz\nauto_initramfs=1\n');
    expect(paths(r)).not.toContain('initramfs8');
    expect(r.notes.join()).toMatch(/only for the standard kernel names, not vmlinuz/);
  });

  it('an explicit initramfs wins over auto_initramfs; several files and ramfsfile work', () => {
    expect(paths(files('auto_initramfs=1\ninitramfs a.gz,b.gz followkernel\n'))).toEqual(expect.arrayContaining(['a.gz', 'b.gz']));
    expect(paths(files('auto_initramfs=1\ninitramfs a.gz followkernel\n'))).not.toContain('initramfs8');
    expect(paths(files('initramfs a.gz followkernel\nramfsfile=r1,r2\n'))).toEqual(expect.arrayContaining(['r1', 'r2']));
    expect(paths(files('initramfs a.gz followkernel\nramfsfile=r1,r2\n'))).not.toContain('a.gz');
  });

  it('start_x, start_debug, gpu_mem=16 and start_file pick the firmware, start4.elf stays as the probe', () => {
    expect(paths(files('start_x=1\n')).slice(0, 3)).toEqual(['start4.elf', 'start4x.elf', 'fixup4x.dat']);
    expect(paths(files('start_debug=1\n')).slice(0, 3)).toEqual(['start4.elf', 'start4db.elf', 'fixup4db.dat']);
    expect(paths(files('gpu_mem=16\n')).slice(0, 3)).toEqual(['start4.elf', 'start4cd.elf', 'fixup4cd.dat']);
    expect(paths(files('gpu_mem=64\ngpu_mem_1024=16\n')).slice(0, 3)).toEqual(['start4.elf', 'start4cd.elf', 'fixup4cd.dat']);
    expect(paths(files('start_file=my.elf\nfixup_file=my.dat\n')).slice(0, 3)).toEqual(['start4.elf', 'my.elf', 'my.dat']);
  });

  it('device_tree=, an empty device_tree=, cmdline= and armstub=', () => {
    expect(paths(files('device_tree=custom.dtb\ncmdline=cmd-nfs.txt\narmstub=bl31.bin\n'))).toEqual(expect.arrayContaining(['custom.dtb', 'cmd-nfs.txt', 'bl31.bin']));
    expect(paths(files('armstub=bl31.bin\n'))).not.toContain('armstub8-gic.bin');
    const none = files('device_tree=\n');
    expect(paths(none).some((p) => p.endsWith('.dtb') && p !== 'overlays/overlay_map.dtb')).toBe(false);
    expect(none.notes.join()).toMatch(/loads no device tree/);
  });

  it('os_prefix goes in front of kernel, initramfs, cmdline and device tree, not firmware or config; / bypasses it', () => {
    const r = files('os_prefix=ubuntu/\nkernel=vmlinuz\ninitramfs initrd.img followkernel\narmstub=stub.bin\ndtoverlay=dwc2\n');
    expect(paths(r)).toEqual([
      'start4.elf', 'fixup4.dat', 'config.txt', 'ubuntu/bcm2711-rpi-4-b.dtb', 'overlays/overlay_map.dtb', 'overlays/dwc2.dtbo',
      'ubuntu/cmdline.txt', 'ubuntu/vmlinuz', 'ubuntu/initrd.img', 'stub.bin',
    ]);
    expect(r.optional[0]!.path).toBe('ubuntu/overlays/README');
    expect(paths(files('os_prefix=ubuntu/\nkernel=/common.img\n'))).toContain('common.img');
  });

  it('overlays move under os_prefix only when its overlays/README exists', () => {
    const r = files('os_prefix=next/\ndtoverlay=dwc2\n', 'c03114', { exists: (p) => p === 'next/overlays/README' });
    expect(paths(r)).toEqual(expect.arrayContaining(['next/overlays/overlay_map.dtb', 'next/overlays/dwc2.dtbo']));
  });

  it('renamed overlays and the same overlay twice', () => {
    const r = files('dtoverlay=pi3-disable-bt\ndtoverlay=disable-bt\ndtoverlay=\ndtparam=audio=on\ndevice_tree_overlay=i2c3\n');
    expect(paths(r).filter((p) => p.endsWith('.dtbo'))).toEqual(['overlays/disable-bt.dtbo', 'overlays/i2c3.dtbo']);
    expect(overlayFileName('pi3-disable-bt', 'pi5')).toBe('disable-bt-pi5');
    expect(overlayFileName('vc4-kms-v3d-pi4', 'pi5')).toBe('vc4-kms-v3d-pi5');
    expect(overlayFileName('dwc2', 'pi4')).toBe('dwc2');
  });

  it('includes are requested; missing ones are reported', () => {
    const r = files('include syscfg.txt\ninclude usercfg.txt\n', 'c03114', { include: (n) => (n === 'syscfg.txt' ? 'kernel=vmlinuz\n' : undefined) });
    expect(paths(r)).toEqual(expect.arrayContaining(['syscfg.txt', 'usercfg.txt', 'vmlinuz']));
    expect(r.missingIncludes).toEqual(['usercfg.txt']);
  });

  it('undecided filters give conditional files and a note', () => {
    const r = files('[gpio4=1]\ndtoverlay=gpio-shutdown\n[all]\n');
    expect(r.files.find((f) => f.path === 'overlays/gpio-shutdown.dtbo')).toMatchObject({ required: false, conditional: true });
    expect(r.undecided).toEqual(['gpio4=1']);
    expect(r.notes.join()).toMatch(/\[gpio4=1\]/);
  });
});

describe('hostile config.txt values', () => {
  it.each([
    ['kernel=../../etc/shadow', /kernel=..\/..\/etc\/shadow/],
    ['cmdline=a/../../b', /not a safe file name/],
    ['device_tree=x\u0001y', /not a safe file name/],
    ['dtoverlay=$(id)', /overlay name "\$\(id\)" is not a plain name/],
    ['dtoverlay=../../x', /is not a plain name/],
    ['initramfs ../x followkernel', /not a safe file name/],
    ['os_prefix=../', /not a safe file name/],
  ])('%j becomes an error, not a path', (line, why) => {
    const r = files(`${line}\n`);
    expect(r.errors.join('\n')).toMatch(why);
    expect(paths(r).every((p) => !p.split('/').includes('..'))).toBe(true);
  });
});

describe('boards that cannot netboot from EEPROM', () => {
  it('refuses with the reason', () => {
    const r = bootFiles('', board('a02082'));
    expect(r).toEqual({ ok: false, error: 'Pi 3B cannot network boot from an EEPROM bootloader: Pi 3B has no bootloader EEPROM: its network boot lives in the boot ROM/bootcode.bin, which pinet does not manage' });
  });
});
