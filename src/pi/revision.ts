/**
 * Board revision codes (`Revision : c03114` in /proc/cpuinfo) decoded into
 * what pinet needs to know about a board: its name, RAM, processor, whether it
 * can network boot from its bootloader EEPROM, the config.txt filters that
 * apply to it and the device tree file its firmware loads.
 *
 * Source: raspberrypi/documentation, computers/raspberry-pi/revision-codes.adoc
 * (bit layout NOQuuuWuFMMMCCCCPPPPTTTTTTTTRRRR, type and processor tables,
 * old-style codes 0002–0015) and config_txt/conditional.adoc (model filters).
 */

import { showValue } from './text.js';

export type Processor = 'BCM2835' | 'BCM2836' | 'BCM2837' | 'BCM2711' | 'BCM2712';

/** The two EEPROM bootloader families; everything else is `older`. */
export type Family = 'pi4' | 'pi5' | 'older';

export interface Board {
  /** The code as 6 to 8 lowercase hex digits, without `0x`. */
  code: string;
  style: 'new' | 'old';
  /** Board type (bits 4–11), new-style codes only. */
  type?: number;
  /** `Pi 4B`, `Pi 400`, `CM4`, `Pi 5`, `Pi 3B+`, ... */
  name: string;
  /** Board revision as printed on the board, e.g. `1.4`. */
  boardRevision: string;
  /** RAM in MB, or undefined when the code says "other". */
  memoryMB?: number;
  manufacturer: string;
  processor?: Processor;
  family: Family;
  /** Bits 29–31 and 25 of new-style codes. */
  flags: { overvoltageDisallowed: boolean; otpProgramDisallowed: boolean; otpReadDisallowed: boolean; warrantyVoided: boolean };
  /** Can this board network boot from its bootloader EEPROM (the only netboot pinet manages)? */
  eepromNetboot: boolean;
  /** Why (always set; says what is unsupported or uncertain). */
  eepromNetbootReason: string;
  /** config.txt model filters this board reads, besides `[all]`: `pi4`, `cm4`, ... */
  filters: string[];
  /** The device tree file the firmware loads when config.txt names none. */
  deviceTree?: string;
  /** Set when `deviceTree` is a best guess (carrier board, silicon stepping). */
  deviceTreeNote?: string;
}

export type BoardResult = ({ ok: true } & Board) | { ok: false; error: string };

const PROCESSORS: Processor[] = ['BCM2835', 'BCM2836', 'BCM2837', 'BCM2711', 'BCM2712'];
const MEMORY_MB = [256, 512, 1024, 2048, 4096, 8192, 16384];
const MANUFACTURERS = ['Sony UK', 'Egoman', 'Embest', 'Sony Japan', 'Embest', 'Stadium'];

interface TypeInfo {
  name: string;
  filters: string[];
  deviceTree?: string;
  deviceTreeNote?: string;
}

const PI5_DT_NOTE =
  'Pi 5 family: boards with D0-stepping silicon may use bcm2712d0-* files; untested by pinet';

/** Board types (bits 4–11) from revision-codes.adoc, with the filters of conditional.adoc. */
const TYPES: Record<number, TypeInfo> = {
  0x00: { name: 'Pi 1A', filters: ['pi1'], deviceTree: 'bcm2708-rpi-b.dtb' },
  0x01: { name: 'Pi 1B', filters: ['pi1'], deviceTree: 'bcm2708-rpi-b.dtb' },
  0x02: { name: 'Pi 1A+', filters: ['pi1'], deviceTree: 'bcm2708-rpi-b-plus.dtb' },
  0x03: { name: 'Pi 1B+', filters: ['pi1'], deviceTree: 'bcm2708-rpi-b-plus.dtb' },
  0x04: { name: 'Pi 2B', filters: ['pi2'], deviceTree: 'bcm2709-rpi-2-b.dtb' },
  0x05: { name: 'Alpha (prototype)', filters: [] },
  0x06: { name: 'CM1', filters: ['pi1', 'cm1'], deviceTree: 'bcm2708-rpi-cm.dtb' },
  0x08: { name: 'Pi 3B', filters: ['pi3'], deviceTree: 'bcm2710-rpi-3-b.dtb' },
  0x09: { name: 'Pi Zero', filters: ['pi0'], deviceTree: 'bcm2708-rpi-zero.dtb' },
  0x0a: { name: 'CM3', filters: ['pi3', 'cm3'], deviceTree: 'bcm2710-rpi-cm3.dtb' },
  0x0c: { name: 'Pi Zero W', filters: ['pi0', 'pi0w'], deviceTree: 'bcm2708-rpi-zero-w.dtb' },
  0x0d: { name: 'Pi 3B+', filters: ['pi3', 'pi3+'], deviceTree: 'bcm2710-rpi-3-b-plus.dtb' },
  0x0e: { name: 'Pi 3A+', filters: ['pi3', 'pi3+'], deviceTree: 'bcm2710-rpi-3-a-plus.dtb' },
  0x0f: { name: 'internal use', filters: [] },
  0x10: { name: 'CM3+', filters: ['pi3', 'pi3+', 'cm3+'], deviceTree: 'bcm2710-rpi-cm3.dtb' },
  0x11: { name: 'Pi 4B', filters: ['pi4'], deviceTree: 'bcm2711-rpi-4-b.dtb' },
  0x12: { name: 'Pi Zero 2 W', filters: ['pi0', 'pi0w', 'pi02'], deviceTree: 'bcm2710-rpi-zero-2-w.dtb' },
  0x13: { name: 'Pi 400', filters: ['pi4', 'pi400'], deviceTree: 'bcm2711-rpi-400.dtb' },
  0x14: { name: 'CM4', filters: ['pi4', 'cm4'], deviceTree: 'bcm2711-rpi-cm4.dtb' },
  0x15: { name: 'CM4S', filters: ['pi4', 'cm4s'], deviceTree: 'bcm2711-rpi-cm4s.dtb' },
  0x16: { name: 'internal use', filters: [] },
  0x17: { name: 'Pi 5', filters: ['pi5'], deviceTree: 'bcm2712-rpi-5-b.dtb', deviceTreeNote: PI5_DT_NOTE },
  0x18: {
    name: 'CM5',
    filters: ['pi5', 'cm5'],
    deviceTree: 'bcm2712-rpi-cm5-cm5io.dtb',
    deviceTreeNote: 'CM5: the device tree depends on the carrier board (cm5io or cm4io); untested by pinet',
  },
  0x19: { name: 'Pi 500', filters: ['pi5', 'pi500'], deviceTree: 'bcm2712-rpi-500.dtb', deviceTreeNote: PI5_DT_NOTE },
  0x1a: {
    name: 'CM5 Lite',
    filters: ['pi5', 'cm5'],
    deviceTree: 'bcm2712-rpi-cm5l-cm5io.dtb',
    deviceTreeNote: 'CM5 Lite: the device tree depends on the carrier board (cm5io or cm4io); untested by pinet',
  },
  0x1b: { name: 'CM0', filters: ['pi0', 'pi0w', 'pi02', 'cm0'] },
};

/** Board types whose EEPROM bootloader can network boot (Pi 4 and Pi 5 families). */
const EEPROM_TYPES = new Set([0x11, 0x13, 0x14, 0x15, 0x17, 0x18, 0x19, 0x1a]);

/** Old-style codes 0002–0015 (revision-codes.adoc): model, board revision, RAM, manufacturer. */
const OLD: Record<number, [string, string, number, string]> = {
  0x02: ['Pi 1B', '1.0', 256, 'Egoman'],
  0x03: ['Pi 1B', '1.0', 256, 'Egoman'],
  0x04: ['Pi 1B', '2.0', 256, 'Sony UK'],
  0x05: ['Pi 1B', '2.0', 256, 'Qisda'],
  0x06: ['Pi 1B', '2.0', 256, 'Egoman'],
  0x07: ['Pi 1A', '2.0', 256, 'Egoman'],
  0x08: ['Pi 1A', '2.0', 256, 'Sony UK'],
  0x09: ['Pi 1A', '2.0', 256, 'Qisda'],
  0x0d: ['Pi 1B', '2.0', 512, 'Egoman'],
  0x0e: ['Pi 1B', '2.0', 512, 'Sony UK'],
  0x0f: ['Pi 1B', '2.0', 512, 'Egoman'],
  0x10: ['Pi 1B+', '1.2', 512, 'Sony UK'],
  0x11: ['CM1', '1.0', 512, 'Sony UK'],
  0x12: ['Pi 1A+', '1.1', 256, 'Sony UK'],
  0x13: ['Pi 1B+', '1.2', 512, 'Embest'],
  0x14: ['CM1', '1.0', 512, 'Embest'],
  0x15: ['Pi 1A+', '1.1', 256, 'Embest'],
};

const NO_EEPROM = 'has no bootloader EEPROM: its network boot lives in the boot ROM/bootcode.bin, which pinet does not manage';

/**
 * Decode a revision code (`c03114`, `0xc03114`, `0x00c03114`, `000e`, with
 * surrounding whitespace). Unknown board types decode with a clear name and
 * `eepromNetboot: false`.
 */
export function decodeRevision(raw: string): BoardResult {
  const trimmed = raw.replace(/\0+$/, '').trim();
  const hex = trimmed.replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{1,8}$/.test(hex)) {
    return { ok: false, error: `revision code ${showValue(trimmed)} is not 1 to 8 hex digits` };
  }
  const value = parseInt(hex, 16) >>> 0;
  const code = value.toString(16).padStart(hex.length <= 4 ? 4 : 6, '0');
  const flags = {
    overvoltageDisallowed: (value & 0x80000000) !== 0,
    otpProgramDisallowed: (value & 0x40000000) !== 0,
    otpReadDisallowed: (value & 0x20000000) !== 0,
    warrantyVoided: (value & 0x02000000) !== 0,
  };

  if ((value & 0x00800000) === 0) {
    // Old-style: sequential codes; a set warranty bit shows as a leading 1 (e.g. 100000e).
    const old = OLD[value & 0x00ffffff];
    if (old === undefined) return { ok: false, error: `revision code ${showValue(trimmed)} is neither a known old-style code nor new-style (bit 23 clear)` };
    const [name, boardRevision, memoryMB, manufacturer] = old;
    return {
      ok: true,
      code,
      style: 'old',
      name,
      boardRevision,
      memoryMB,
      manufacturer,
      processor: 'BCM2835',
      family: 'older',
      flags: { ...flags, warrantyVoided: (value & 0x01000000) !== 0 },
      eepromNetboot: false,
      eepromNetbootReason: `${name} ${NO_EEPROM}`,
      filters: name === 'CM1' ? ['pi1', 'cm1'] : ['pi1'],
    };
  }

  const type = (value >> 4) & 0xff;
  const proc = PROCESSORS[(value >> 12) & 0xf];
  const mem = MEMORY_MB[(value >> 20) & 0x7];
  const manufacturer = MANUFACTURERS[(value >> 16) & 0xf] ?? `manufacturer ${(value >> 16) & 0xf}`;
  const info = TYPES[type];
  const typeHex = `0x${type.toString(16).padStart(2, '0')}`;
  const name = info?.name ?? `unknown board type ${typeHex}`;
  const family: Family = proc === 'BCM2711' ? 'pi4' : proc === 'BCM2712' ? 'pi5' : 'older';

  let eepromNetboot = false;
  let eepromNetbootReason: string;
  if (info !== undefined && EEPROM_TYPES.has(type)) {
    eepromNetboot = true;
    eepromNetbootReason =
      family === 'pi5'
        ? `${name} boots from its EEPROM bootloader (Pi 5 family: netboot differs from the Pi 4 in places and is untested by pinet)`
        : type === 0x14 || type === 0x15
          ? `${name} boots from its EEPROM bootloader; rpi-eeprom-update is disabled on it by default (see CM4_ENABLE_RPI_EEPROM_UPDATE)`
          : `${name} boots from its EEPROM bootloader`;
  } else if (info === undefined) {
    eepromNetbootReason = `${name} (processor ${proc ?? 'unknown'}) is not in pinet's table of boards: treated as unsupported until verified`;
  } else {
    eepromNetbootReason = `${name} ${NO_EEPROM}`;
  }

  const board: Board = {
    code,
    style: 'new',
    type,
    name,
    boardRevision: `1.${value & 0xf}`,
    manufacturer,
    family,
    flags,
    eepromNetboot,
    eepromNetbootReason,
    filters: info?.filters ?? [],
  };
  if (mem !== undefined) board.memoryMB = mem;
  if (proc !== undefined) board.processor = proc;
  if (info?.deviceTree !== undefined) board.deviceTree = info.deviceTree;
  if (info?.deviceTreeNote !== undefined) board.deviceTreeNote = info.deviceTreeNote;
  return { ok: true, ...board };
}

/** `4 GB`, `512 MB`, or `unknown` (the code's "other" memory size). */
export function formatMemory(board: Pick<Board, 'memoryMB'>): string {
  if (board.memoryMB === undefined) return 'unknown';
  return board.memoryMB >= 1024 ? `${board.memoryMB / 1024} GB` : `${board.memoryMB} MB`;
}

/** `board-type=0x11`: the one-board filter of config.txt, for new-style codes. */
export function boardTypeFilter(board: Pick<Board, 'type'>): string | undefined {
  return board.type === undefined ? undefined : `board-type=0x${board.type.toString(16).padStart(2, '0')}`;
}

