import { describe, expect, it } from 'vitest';
import { interpretPi, type RawPi } from '../../src/pi/facts.js';
import { fixture, type System } from './fixtures.js';

function raw(sys: System, extra: Partial<RawPi> = {}): RawPi {
  const r: RawPi = {
    cpuinfo: fixture(sys, 'cpuinfo'),
    osRelease: fixture(sys, 'os-release'),
    fstab: fixture(sys, 'fstab'),
    eepromConfig: fixture(sys, 'eeprom-config'),
    configTxt: fixture(sys, 'config.txt'),
    cmdlineTxt: fixture(sys, 'cmdline.txt'),
    bootFileNames: ['config.txt', 'cmdline.txt', 'start4.elf'],
    ...extra,
  };
  return r;
}

describe('interpretPi', () => {
  it('Ubuntu 24.04 on a Pi 4B, as pinet info shows it', () => {
    const f = interpretPi(raw('ubuntu-2404-pi4b', { mounts: fixture('ubuntu-2404-pi4b', 'mounts'), mac: 'e4:5f:01:98:e0:82', eepromUpdateDefaults: null }));
    expect(f.serial).toEqual({ known: true, value: { full: '10000000bf9fed6f', tftpDir: 'bf9fed6f', source: 'cpuinfo', notes: [] } });
    expect(f.board.known && [f.board.value.name, f.board.value.memoryMB, f.board.value.eepromNetboot]).toEqual(['Pi 4B', 4096, true]);
    expect(f.model).toBe('Raspberry Pi 4 Model B Rev 1.4');
    expect(f.os.known && f.os.value.name).toBe('Ubuntu 24.04 (noble)');
    expect(f.bootPartition).toEqual({
      known: true,
      value: { mountpoint: '/boot/firmware', source: 'fstab', fstabLine: 2, fstabSource: 'LABEL=system-boot', mounted: { source: '/dev/mmcblk0p1', fstype: 'vfat', nfs: false } },
    });
    expect(f.bootloader.known && f.bootloader.value.bootOrder).toMatchObject({ ok: true, source: 'default' });
    expect(f.bootloader.known && f.bootloader.value.tftp).toMatchObject({ ok: true, dir: 'bf9fed6f' });
    expect(f.bootloader.known && f.bootloader.value.updates.updatesEnabled).toBe(true);
    expect(f.bootloader.known && f.bootloader.value.pending).toEqual({ known: true, value: { state: 'not-pending', reason: 'no update files in the boot partition', files: [] } });
    expect(f.cmdline.known && f.cmdline.value.method).toBe('local');
    expect(f.bootFiles.known && f.bootFiles.value.files.map((x) => x.path)).toContain('vmlinuz');
  });

  it('Raspberry Pi OS Bullseye: boot at /boot, and it is Raspberry Pi OS', () => {
    const f = interpretPi(raw('raspios-bullseye-pi4b'));
    expect(f.bootPartition.known && f.bootPartition.value.mountpoint).toBe('/boot');
    expect(f.os.known && f.os.value.kind).toBe('raspios');
  });

  it('Bookworm with /etc/rpi-issue: Raspberry Pi OS; serial from the devicetree when cpuinfo has none', () => {
    const f = interpretPi(raw('raspios-bookworm-pi4b', { rpiIssue: true, cpuinfo: 'Revision\t: d03115\n', serialNumber: fixture('raspios-bookworm-pi4b', 'serial-number'), model: fixture('raspios-bookworm-pi4b', 'model') }));
    expect(f.os.known && f.os.value.kind).toBe('raspios');
    expect(f.serial.known && f.serial.value.source).toBe('devicetree');
    expect(f.model).toBe('Raspberry Pi 4 Model B Rev 1.5');
  });

  it('a CM4 with updates disabled by default', () => {
    const f = interpretPi({ cpuinfo: fixture('cm4-raspios-bookworm', 'cpuinfo'), eepromConfig: fixture('cm4-raspios-bookworm', 'eeprom-config'), eepromUpdateDefaults: fixture('cm4-raspios-bookworm', 'rpi-eeprom-update') });
    expect(f.bootloader.known && f.bootloader.value.updates.updatesEnabled).toBe(false);
    expect(f.bootloader.known && f.bootloader.value.bootOrder.ok && f.bootloader.value.bootOrder.explanation).toMatch(/SD\/eMMC/);
  });

  it('a pending update staged by rpi-eeprom-config --apply', () => {
    const f = interpretPi(raw('raspios-bookworm-pi4b', { bootFileNames: ['config.txt', 'pieeprom.upd', 'pieeprom.sig', 'recovery.bin'] }));
    expect(f.bootloader.known && f.bootloader.value.pending.known && f.bootloader.value.pending.value.state).toBe('pending');
  });

  it('nothing read: every part is unknown with a reason, nothing throws', () => {
    const f = interpretPi({});
    for (const part of [f.serial, f.board, f.os, f.bootPartition, f.bootloader, f.cmdline, f.bootFiles]) {
      expect(part.known).toBe(false);
      if (!part.known) expect(part.reason).not.toBe('');
    }
  });

  it('garbage everywhere: unknown, not a crash', () => {
    const g = '\0\xff[all]\nSerial : zz\nRevision : q\n';
    const f = interpretPi({ cpuinfo: g, osRelease: g, fstab: g, mounts: g, eepromConfig: g, configTxt: g, cmdlineTxt: g, otpDump: g, serialNumber: g, bootFileNames: [g] });
    expect(f.serial.known).toBe(false);
    expect(f.board.known).toBe(false);
    expect(f.bootFiles.known).toBe(false);
    expect(f.cmdline.known).toBe(false);
  });
});
