/**
 * Facts about the Raspberry Pi boards the fake fleet imitates: revision codes,
 * model texts, device-tree compatible strings, serial and MAC formats, and the
 * `/proc/cpuinfo` text a real board's kernel prints. Pure data and pure
 * functions; nothing here touches the machine.
 *
 * Sources: the revision-code bit layout and board types of the Raspberry Pi
 * documentation ("Raspberry Pi revision codes"), `pi-netboot.md`, and the way
 * rpi-eeprom-update decodes the revision (bit 23 new-style flag, bits 12-15
 * processor, bits 4-11 board type).
 */

export type BoardName = 'pi4' | 'pi400' | 'cm4' | 'pi5' | 'pi3';

export interface Board {
  name: BoardName;
  /** Default new-style revision code (hex, lowercase, no 0x). */
  revision: string;
  /** device-tree `compatible` entries, most specific first. */
  compatible: string[];
  /** The device tree blob the firmware loads for this board. */
  dtb: string;
  /** SoC name used in rpi-eeprom paths (`bootloader-2711`) or null without EEPROM. */
  eepromChip: '2711' | '2712' | null;
  /** MAC address prefix (OUI) of the wired interface. */
  oui: string;
  /** The 8 leading hex digits of the 16-digit serial, or null for a random full serial (Pi 5). */
  serialPrefix: string | null;
  /** Lines of one processor block in /proc/cpuinfo (without `processor`). */
  cpuBlock: string[];
  /** Whether /proc/cpuinfo has a `Hardware` line (the Pi 5 kernel prints none). */
  hardwareLine: boolean;
  /** The firmware's start file for this board, or null (Pi 5 has its firmware in the EEPROM). */
  startElf: string | null;
  fixupDat: string | null;
  /** The kernel the firmware picks by default on a 64-bit Raspberry Pi OS. */
  defaultKernel: string;
  /** The initramfs Raspberry Pi OS's `auto_initramfs=1` picks for that kernel. */
  autoInitramfs: string;
}

const A72 = [
  'BogoMIPS\t: 108.00',
  'Features\t: fp asimd evtstrm crc32 cpuid',
  'CPU implementer\t: 0x41',
  'CPU architecture: 8',
  'CPU variant\t: 0x0',
  'CPU part\t: 0xd08',
  'CPU revision\t: 3',
];

export const BOARDS: Record<BoardName, Board> = {
  pi4: {
    name: 'pi4',
    revision: 'd03114',
    compatible: ['raspberrypi,4-model-b', 'brcm,bcm2711'],
    dtb: 'bcm2711-rpi-4-b.dtb',
    eepromChip: '2711',
    oui: 'dc:a6:32',
    serialPrefix: '10000000',
    cpuBlock: A72,
    hardwareLine: true,
    startElf: 'start4.elf',
    fixupDat: 'fixup4.dat',
    defaultKernel: 'kernel8.img',
    autoInitramfs: 'initramfs8',
  },
  pi400: {
    name: 'pi400',
    revision: 'c03130',
    compatible: ['raspberrypi,400', 'brcm,bcm2711'],
    dtb: 'bcm2711-rpi-400.dtb',
    eepromChip: '2711',
    oui: 'e4:5f:01',
    serialPrefix: '10000000',
    cpuBlock: A72,
    hardwareLine: true,
    startElf: 'start4.elf',
    fixupDat: 'fixup4.dat',
    defaultKernel: 'kernel8.img',
    autoInitramfs: 'initramfs8',
  },
  cm4: {
    name: 'cm4',
    revision: 'd03140',
    compatible: ['raspberrypi,4-compute-module', 'brcm,bcm2711'],
    dtb: 'bcm2711-rpi-cm4.dtb',
    eepromChip: '2711',
    oui: 'dc:a6:32',
    serialPrefix: '10000000',
    cpuBlock: A72,
    hardwareLine: true,
    startElf: 'start4.elf',
    fixupDat: 'fixup4.dat',
    defaultKernel: 'kernel8.img',
    autoInitramfs: 'initramfs8',
  },
  pi5: {
    name: 'pi5',
    revision: 'd04170',
    compatible: ['raspberrypi,5-model-b', 'brcm,bcm2712'],
    dtb: 'bcm2712-rpi-5-b.dtb',
    eepromChip: '2712',
    oui: '2c:cf:67',
    serialPrefix: null,
    cpuBlock: [
      'BogoMIPS\t: 108.00',
      'Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp',
      'CPU implementer\t: 0x41',
      'CPU architecture: 8',
      'CPU variant\t: 0x4',
      'CPU part\t: 0xd0b',
      'CPU revision\t: 1',
    ],
    hardwareLine: false,
    startElf: null,
    fixupDat: null,
    defaultKernel: 'kernel_2712.img',
    autoInitramfs: 'initramfs_2712',
  },
  pi3: {
    name: 'pi3',
    revision: 'a02082',
    compatible: ['raspberrypi,3-model-b', 'brcm,bcm2837'],
    dtb: 'bcm2710-rpi-3-b.dtb',
    eepromChip: null,
    oui: 'b8:27:eb',
    serialPrefix: '00000000',
    cpuBlock: [
      'BogoMIPS\t: 38.40',
      'Features\t: fp asimd evtstrm crc32 cpuid',
      'CPU implementer\t: 0x41',
      'CPU architecture: 8',
      'CPU variant\t: 0x0',
      'CPU part\t: 0xd03',
      'CPU revision\t: 4',
    ],
    hardwareLine: true,
    startElf: 'start.elf',
    fixupDat: 'fixup.dat',
    defaultKernel: 'kernel8.img',
    autoInitramfs: 'initramfs8',
  },
};

/** Board type (bits 4-11 of a new-style revision) → the model name the kernel prints. */
const MODEL_BY_TYPE: Record<number, string> = {
  0x08: 'Raspberry Pi 3 Model B',
  0x0d: 'Raspberry Pi 3 Model B Plus',
  0x11: 'Raspberry Pi 4 Model B',
  0x13: 'Raspberry Pi 400',
  0x14: 'Raspberry Pi Compute Module 4',
  0x15: 'Raspberry Pi Compute Module 4S',
  0x17: 'Raspberry Pi 5 Model B',
  0x18: 'Raspberry Pi Compute Module 5',
  0x19: 'Raspberry Pi 500',
};

/** The `Model` text for a revision code, e.g. `d03114` → `Raspberry Pi 4 Model B Rev 1.4`. */
export function modelForRevision(revision: string): string {
  const code = parseRevision(revision);
  const type = (code >> 4) & 0xff;
  const rev = code & 0xf;
  const name = MODEL_BY_TYPE[type] ?? `Raspberry Pi (board type 0x${type.toString(16)})`;
  return `${name} Rev 1.${rev}`;
}

export function parseRevision(revision: string): number {
  if (!/^[0-9a-f]{1,8}$/i.test(revision)) {
    throw new Error(`fake Pi revision ${JSON.stringify(revision)} is not a hex revision code (e.g. d03114)`);
  }
  return Number.parseInt(revision, 16);
}

/**
 * The full `/proc/cpuinfo` of a 64-bit kernel on this board: four processor
 * blocks, then `Hardware`, `Revision`, `Serial` and `Model`, with the tab
 * layout of the real file.
 */
export function renderCpuinfo(board: Board, revision: string, serial: string, model: string): string {
  const blocks: string[] = [];
  for (let cpu = 0; cpu < 4; cpu++) {
    blocks.push([`processor\t: ${cpu}`, ...board.cpuBlock].join('\n') + '\n');
  }
  const tail = [
    ...(board.hardwareLine ? ['Hardware\t: BCM2835'] : []),
    `Revision\t: ${revision}`,
    `Serial\t\t: ${serial}`,
    `Model\t\t: ${model}`,
  ];
  return blocks.join('\n') + '\n' + tail.join('\n') + '\n';
}

/** A device-tree string property: each string NUL-terminated, as in /sys/firmware/devicetree. */
export function dtStrings(...values: string[]): Buffer {
  return Buffer.from(values.map((v) => v + '\0').join(''), 'utf8');
}

/** A device-tree 32-bit cell (big-endian), e.g. `system/linux,revision`. */
export function dtU32(value: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(value >>> 0);
  return buf;
}

/** A device-tree 64-bit cell (big-endian), e.g. `system/linux,serial`. */
export function dtU64(hex16: string): Buffer {
  return Buffer.from(hex16.padStart(16, '0'), 'hex');
}

/** `vcgencmd otp_dump` text: rows 08-66, row 28 the serial's low 32 bits, 29 its complement, 30 the revision. */
export function renderOtpDump(serial: string, revision: string): string {
  const low = Number.parseInt(serial.slice(-8), 16) >>> 0;
  const rows: string[] = [];
  for (let row = 8; row <= 66; row++) {
    let value = 0;
    if (row === 16) value = 0x00280000;
    if (row === 28) value = low;
    if (row === 29) value = ~low >>> 0;
    if (row === 30) value = parseRevision(revision);
    if (row === 32 || row === 33) value = 0xffffffff;
    rows.push(`${String(row).padStart(2, '0')}:${value.toString(16).padStart(8, '0')}`);
  }
  return rows.join('\n') + '\n';
}
