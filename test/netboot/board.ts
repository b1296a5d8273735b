/**
 * Which board a revision code names, as the emulated bootloader sees it:
 * the model filters of config.txt it answers to, its device tree, its
 * firmware file names, and whether the emulator plays it at all (the Pi 4
 * family only: a Pi 5 fetches no start.elf and older Pis have no EEPROM
 * bootloader). Revision codes: bits 4-11 are the board type (new-style codes,
 * bit 23 set), per the Raspberry Pi revision-code table.
 */

export interface Board {
  /** The revision as 6 lowercase hex digits. */
  revision: string;
  /** Board type (bits 4-11): 0x11 Pi 4B, 0x13 Pi 400, 0x14 CM4, 0x15 CM4S, 0x17 Pi 5. */
  type: number;
  name: string;
  /** Model filters of config.txt that apply (`[pi4]`, `[pi400]`, ...). */
  filters: string[];
  /** The device tree the firmware loads by default. */
  dtb: string;
  /** The four-character code in DHCP option 97 (`RPi4`). */
  fourcc: string;
  /** Only the Pi 4 family is emulated. */
  supported: boolean;
  /** Why not, for an unsupported board. */
  unsupportedReason?: string;
}

interface Known {
  name: string;
  filters: string[];
  dtb: string;
}

const PI4_FAMILY: Record<number, Known> = {
  0x11: { name: 'Raspberry Pi 4 Model B', filters: ['pi4'], dtb: 'bcm2711-rpi-4-b.dtb' },
  0x13: { name: 'Raspberry Pi 400', filters: ['pi4', 'pi400'], dtb: 'bcm2711-rpi-400.dtb' },
  0x14: { name: 'Raspberry Pi Compute Module 4', filters: ['pi4', 'cm4'], dtb: 'bcm2711-rpi-cm4.dtb' },
  0x15: { name: 'Raspberry Pi Compute Module 4S', filters: ['pi4', 'cm4s'], dtb: 'bcm2711-rpi-cm4s.dtb' },
};

const PI5_FAMILY: Record<number, string> = { 0x17: 'Raspberry Pi 5', 0x18: 'Raspberry Pi Compute Module 5', 0x19: 'Raspberry Pi 500' };

export function parseRevision(revision: string | number): number {
  const n = typeof revision === 'number' ? revision : Number.parseInt(revision.replace(/^0x/i, ''), 16);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff || (typeof revision === 'string' && !/^(0x)?[0-9a-f]{1,8}$/i.test(revision))) {
    throw new Error(`board revision ${JSON.stringify(revision)} is not a hex revision code like d03114`);
  }
  return n;
}

export function boardOf(revision: string | number): Board {
  const n = parseRevision(revision);
  const hex = n.toString(16).padStart(6, '0');
  const newStyle = (n & 0x800000) !== 0;
  const type = (n >> 4) & 0xff;
  const known = newStyle ? PI4_FAMILY[type] : undefined;
  if (known) return { revision: hex, type, ...known, fourcc: 'RPi4', supported: true };
  const pi5 = newStyle ? PI5_FAMILY[type] : undefined;
  if (pi5) {
    return {
      revision: hex,
      type,
      name: pi5,
      filters: ['pi5'],
      dtb: 'bcm2712-rpi-5-b.dtb',
      fourcc: 'RPi5',
      supported: false,
      unsupportedReason: `${pi5} (revision ${hex}) network-boots differently (no start.elf, kernel_2712.img, bcm2712 device trees); not emulated`,
    };
  }
  return {
    revision: hex,
    type,
    name: `board type 0x${type.toString(16)}`,
    filters: [],
    dtb: '',
    fourcc: '',
    supported: false,
    unsupportedReason: `revision ${hex} is not a Pi 4 family board (Pi 4B, Pi 400, CM4, CM4S): it has no EEPROM bootloader to emulate`,
  };
}
