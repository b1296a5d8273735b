import { describe, expect, it } from 'vitest';
import { eepromUpdatesEnabled, parseEepromUpdateDefaults, pendingUpdate } from '../../src/pi/eeprom-update.js';
import { decodeRevision, type Board } from '../../src/pi/revision.js';
import { fixture } from './fixtures.js';

function board(code: string): Board {
  const r = decodeRevision(code);
  if (!r.ok) throw new Error(r.error);
  return r;
}

describe('parseEepromUpdateDefaults', () => {
  it('reads the file Raspberry Pi OS ships', () => {
    const d = parseEepromUpdateDefaults(fixture('raspios-bookworm-pi4b', 'rpi-eeprom-update'));
    expect(d.vars).toEqual({
      FIRMWARE_ROOT: '/usr/lib/firmware/raspberrypi/bootloader',
      FIRMWARE_RELEASE_STATUS: 'default',
      FIRMWARE_BACKUP_DIR: '/var/lib/raspberrypi/bootloader/backup',
      EEPROM_CONFIG_HOOK: '',
    });
    expect(d.complexLines).toEqual([]);
  });

  it('takes quotes, export and trailing comments; lists shell code it will not run', () => {
    const d = parseEepromUpdateDefaults("export A='1'\nB=\"x y\" # c\nC=$(id)\nif true; then D=1; fi\nE=`id`\r\n");
    expect(d.vars).toEqual({ A: '1', B: 'x y' });
    expect(d.complexLines).toEqual([3, 4, 5]);
  });
});

describe('eepromUpdatesEnabled', () => {
  const defaults = fixture('cm4-raspios-bookworm', 'rpi-eeprom-update');

  it('Pi 4B: enabled', () => {
    expect(eepromUpdatesEnabled(board('c03114'), defaults)).toEqual({ updatesEnabled: true, reason: 'rpi-eeprom-update manages the Pi 4B bootloader' });
  });

  it('CM4 by default: disabled, and --apply would silently do nothing; the hint gives both routes', () => {
    const r = eepromUpdatesEnabled(board('d03141'), defaults);
    expect(r.updatesEnabled).toBe(false);
    expect(r.reason).toMatch(/CM4_ENABLE_RPI_EEPROM_UPDATE is not set/);
    expect(r.reason).toMatch(/changes nothing/);
    expect(r.hint).toMatch(/rpiboot/);
    expect(r.hint).toMatch(/RPI_EEPROM_IMMEDIATE_UPDATE=1/);
  });

  it('CM4S too; a missing defaults file means disabled', () => {
    expect(eepromUpdatesEnabled(board('b03150'), undefined).updatesEnabled).toBe(false);
  });

  it('CM4 with CM4_ENABLE_RPI_EEPROM_UPDATE=1: enabled', () => {
    expect(eepromUpdatesEnabled(board('d03141'), defaults + 'CM4_ENABLE_RPI_EEPROM_UPDATE=1\n').updatesEnabled).toBe(true);
    expect(eepromUpdatesEnabled(board('d03141'), 'CM4_ENABLE_RPI_EEPROM_UPDATE="1"\n').updatesEnabled).toBe(true);
    expect(eepromUpdatesEnabled(board('d03141'), 'CM4_ENABLE_RPI_EEPROM_UPDATE=yes\n').updatesEnabled).toBe(false);
  });

  it('CM4 with shell code pinet cannot evaluate: unknown', () => {
    const r = eepromUpdatesEnabled(board('d03141'), '[ -f /x ] && CM4_ENABLE_RPI_EEPROM_UPDATE=1\n');
    expect(r.updatesEnabled).toBe('unknown');
    expect(r.reason).toMatch(/line 1/);
  });

  it('older boards have no EEPROM; an unknown board is unknown', () => {
    expect(eepromUpdatesEnabled(board('a02082'), defaults).updatesEnabled).toBe(false);
    expect(eepromUpdatesEnabled(undefined, defaults).updatesEnabled).toBe('unknown');
  });
});

describe('pendingUpdate', () => {
  const boot = ['bcm2711-rpi-4-b.dtb', 'cmdline.txt', 'config.txt', 'fixup4.dat', 'kernel8.img', 'overlays', 'start4.elf'];

  it('nothing staged: not pending', () => {
    expect(pendingUpdate(boot)).toEqual({ state: 'not-pending', reason: 'no update files in the boot partition', files: [] });
  });

  it('what rpi-eeprom-config --apply stages: pending', () => {
    const r = pendingUpdate([...boot, 'pieeprom.upd', 'pieeprom.sig', 'recovery.bin']);
    expect(r.state).toBe('pending');
    expect(r.files).toEqual(['pieeprom.sig', 'pieeprom.upd', 'recovery.bin']);
  });

  it('after the reboot recovery.bin has renamed itself: not pending (any case, any number)', () => {
    expect(pendingUpdate([...boot, 'pieeprom.upd', 'pieeprom.sig', 'RECOVERY.000']).state).toBe('not-pending');
    expect(pendingUpdate([...boot, 'recovery.001']).reason).toMatch(/recovery.001 shows recovery.bin already ran/);
  });

  it('a VL805 update with recovery.bin: pending', () => {
    expect(pendingUpdate([...boot, 'recovery.bin', 'vl805.bin', 'vl805.sig']).state).toBe('pending');
  });

  it('self-update files alone, or half an update: unknown, with the reason', () => {
    expect(pendingUpdate([...boot, 'pieeprom.upd', 'pieeprom.sig'])).toMatchObject({ state: 'unknown', reason: expect.stringMatching(/self-update/) });
    expect(pendingUpdate([...boot, 'pieeprom.upd']).reason).toMatch(/without pieeprom.sig/);
    expect(pendingUpdate([...boot, 'recovery.bin']).reason).toMatch(/incomplete/);
  });
});
