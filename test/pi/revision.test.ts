import { describe, expect, it } from 'vitest';
import { boardTypeFilter, decodeRevision, formatMemory } from '../../src/pi/revision.js';

function board(code: string) {
  const r = decodeRevision(code);
  if (!r.ok) throw new Error(r.error);
  return r;
}

describe('decodeRevision: boards that netboot from EEPROM', () => {
  it.each([
    ['a03111', 'Pi 4B', 1024, 'BCM2711', 'bcm2711-rpi-4-b.dtb', ['pi4']],
    ['c03114', 'Pi 4B', 4096, 'BCM2711', 'bcm2711-rpi-4-b.dtb', ['pi4']],
    ['d03115', 'Pi 4B', 8192, 'BCM2711', 'bcm2711-rpi-4-b.dtb', ['pi4']],
    ['c03130', 'Pi 400', 4096, 'BCM2711', 'bcm2711-rpi-400.dtb', ['pi4', 'pi400']],
    ['a03140', 'CM4', 1024, 'BCM2711', 'bcm2711-rpi-cm4.dtb', ['pi4', 'cm4']],
    ['d03141', 'CM4', 8192, 'BCM2711', 'bcm2711-rpi-cm4.dtb', ['pi4', 'cm4']],
    ['b03150', 'CM4S', 2048, 'BCM2711', 'bcm2711-rpi-cm4s.dtb', ['pi4', 'cm4s']],
    ['c04170', 'Pi 5', 4096, 'BCM2712', 'bcm2712-rpi-5-b.dtb', ['pi5']],
    ['e04171', 'Pi 5', 16384, 'BCM2712', 'bcm2712-rpi-5-b.dtb', ['pi5']],
    ['d04180', 'CM5', 8192, 'BCM2712', 'bcm2712-rpi-cm5-cm5io.dtb', ['pi5', 'cm5']],
    ['d04190', 'Pi 500', 8192, 'BCM2712', 'bcm2712-rpi-500.dtb', ['pi5', 'pi500']],
  ])('%s is a %s with %i MB, %s', (code, name, mem, proc, dt, filters) => {
    const b = board(code);
    expect(b.name).toBe(name);
    expect(b.memoryMB).toBe(mem);
    expect(b.processor).toBe(proc);
    expect(b.deviceTree).toBe(dt);
    expect(b.filters).toEqual(filters);
    expect(b.eepromNetboot).toBe(true);
    expect(b.style).toBe('new');
  });

  it('decodes the documentation example c03111 field by field', () => {
    const b = board('c03111');
    expect(b).toMatchObject({ type: 0x11, boardRevision: '1.1', manufacturer: 'Sony UK', family: 'pi4' });
    expect(b.flags).toEqual({ overvoltageDisallowed: false, otpProgramDisallowed: false, otpReadDisallowed: false, warrantyVoided: false });
    expect(boardTypeFilter(b)).toBe('board-type=0x11');
    expect(formatMemory(b)).toBe('4 GB');
  });

  it('accepts 0x prefixes, leading zeros, upper case and whitespace', () => {
    expect(board(' 0x00C03114\n').code).toBe('c03114');
  });

  it('reads the high flag bits', () => {
    const b = board('a2c03114');
    expect(b.flags.overvoltageDisallowed).toBe(true);
    expect(b.flags.otpReadDisallowed).toBe(true);
    expect(b.flags.warrantyVoided).toBe(true);
  });

  it('says CM4 updates are off by default and Pi 5 is untested', () => {
    expect(board('a03140').eepromNetbootReason).toMatch(/CM4_ENABLE_RPI_EEPROM_UPDATE/);
    expect(board('c04170').eepromNetbootReason).toMatch(/untested/);
    expect(board('c04170').deviceTreeNote).toMatch(/D0/);
  });
});

describe('decodeRevision: older boards', () => {
  it.each([
    ['a02082', 'Pi 3B', 'BCM2837', ['pi3']],
    ['a020d3', 'Pi 3B+', 'BCM2837', ['pi3', 'pi3+']],
    ['902120', 'Pi Zero 2 W', 'BCM2837', ['pi0', 'pi0w', 'pi02']],
    ['a01041', 'Pi 2B', 'BCM2836', ['pi2']],
    ['9000c1', 'Pi Zero W', 'BCM2835', ['pi0', 'pi0w']],
  ])('%s is a %s, unsupported for EEPROM netboot', (code, name, proc, filters) => {
    const b = board(code);
    expect(b.name).toBe(name);
    expect(b.processor).toBe(proc);
    expect(b.filters).toEqual(filters);
    expect(b.eepromNetboot).toBe(false);
    expect(b.eepromNetbootReason).toMatch(/no bootloader EEPROM/);
  });

  it.each([
    ['000e', 'Pi 1B', 512, 'Sony UK'],
    ['0002', 'Pi 1B', 256, 'Egoman'],
    ['0015', 'Pi 1A+', 256, 'Embest'],
    ['0011', 'CM1', 512, 'Sony UK'],
  ])('old-style %s is a %s', (code, name, mem, maker) => {
    const b = board(code);
    expect(b).toMatchObject({ style: 'old', name, memoryMB: mem, manufacturer: maker, eepromNetboot: false });
  });

  it('reads the warranty bit of old-style codes (100000e)', () => {
    const b = board('100000e');
    expect(b.name).toBe('Pi 1B');
    expect(b.flags.warrantyVoided).toBe(true);
  });
});

describe('decodeRevision: unknown and malformed', () => {
  it('names an unknown board type and refuses EEPROM netboot for it', () => {
    const b = board('d041f0');
    expect(b.name).toBe('unknown board type 0x1f');
    expect(b.family).toBe('pi5');
    expect(b.eepromNetboot).toBe(false);
    expect(b.eepromNetbootReason).toMatch(/not in pinet's table/);
  });

  it('marks "other" memory as unknown', () => {
    const b = board('f03114');
    expect(b.memoryMB).toBeUndefined();
    expect(formatMemory(b)).toBe('unknown');
  });

  it.each(['', 'xyz', 'c03114c03114', '0001', '$(id)', 'c0 3114', '-1'])('refuses %j', (code) => {
    const r = decodeRevision(code);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/revision code/);
  });
});
