/**
 * The PXE sub-options carried in DHCP option 43 when the vendor class is
 * `PXEClient` (Intel PXE specification 2.1, section 2.4): discovery control
 * (6), boot servers (8), boot menu (9), menu prompt (10), boot item (71).
 * This is where the Raspberry Pi bootloader looks for its "Raspberry Pi
 * Boot" menu entry. Pure functions; decoding never throws.
 */
import { formatIPv4, parseIPv4 } from '../util/ipv4.js';

export const PXE_SUBOPTION = {
  MTFTP_ADDRESS: 1,
  DISCOVERY_CONTROL: 6,
  MULTICAST_ADDRESS: 7,
  BOOT_SERVERS: 8,
  BOOT_MENU: 9,
  MENU_PROMPT: 10,
  BOOT_ITEM: 71,
} as const;

/**
 * The text the Pi bootloader looks for in option 43 (its `PXE_OPTION43`
 * setting; the same value as `RPI_MENU_TEXT` in src/server/dnsmasq.ts).
 */
export const PI_BOOT_TEXT = 'Raspberry Pi Boot';

export interface PxeBootServer {
  type: number;
  addresses: string[];
}

export interface PxeMenuEntry {
  type: number;
  text: string;
}

export interface PxeOptions {
  /** Bits: 1 no broadcast discovery, 2 no multicast discovery, 4 only listed servers, 8 boot the file in the offer without a menu. */
  discoveryControl?: number;
  multicastAddress?: string;
  bootServers: PxeBootServer[];
  menu: PxeMenuEntry[];
  menuPrompt?: { timeout: number; text: string };
  bootItem?: { type: number; layer: number };
  /** Sub-options this module does not interpret, as hex. */
  other: { code: number; hex: string }[];
  problems: string[];
}

function parseBootServers(data: Buffer, problems: string[]): PxeBootServer[] {
  const out: PxeBootServer[] = [];
  let i = 0;
  while (i < data.length) {
    if (i + 3 > data.length) {
      problems.push(`sub-option 8 (boot servers): ${data.length - i} stray bytes at the end`);
      break;
    }
    const type = data.readUInt16BE(i);
    const count = data[i + 2]!;
    if (i + 3 + count * 4 > data.length) {
      problems.push(`sub-option 8 (boot servers): type ${type} lists ${count} addresses but the data ends early`);
      break;
    }
    const addresses: string[] = [];
    for (let k = 0; k < count; k++) addresses.push(formatIPv4(data.readUInt32BE(i + 3 + k * 4)));
    out.push({ type, addresses });
    i += 3 + count * 4;
  }
  return out;
}

function parseMenu(data: Buffer, problems: string[]): PxeMenuEntry[] {
  const out: PxeMenuEntry[] = [];
  let i = 0;
  while (i < data.length) {
    if (i + 3 > data.length) {
      problems.push(`sub-option 9 (boot menu): ${data.length - i} stray bytes at the end`);
      break;
    }
    const type = data.readUInt16BE(i);
    const len = data[i + 2]!;
    if (i + 3 + len > data.length) {
      problems.push(`sub-option 9 (boot menu): entry of type ${type} claims ${len} bytes of text but only ${data.length - i - 3} remain`);
      out.push({ type, text: data.toString('latin1', i + 3) });
      break;
    }
    out.push({ type, text: data.toString('latin1', i + 3, i + 3 + len) });
    i += 3 + len;
  }
  return out;
}

export function decodePxeOptions(data: Buffer): PxeOptions {
  const result: PxeOptions = { bootServers: [], menu: [], other: [], problems: [] };
  const { problems } = result;
  let i = 0;
  let ended = false;
  while (i < data.length && !ended) {
    const code = data[i]!;
    if (code === 0) {
      i += 1;
      continue;
    }
    if (code === 255) {
      ended = true;
      break;
    }
    if (i + 1 >= data.length) {
      problems.push(`sub-option ${code} at offset ${i} has no length byte`);
      return result;
    }
    const len = data[i + 1]!;
    if (i + 2 + len > data.length) {
      problems.push(`sub-option ${code} at offset ${i} claims ${len} bytes but only ${data.length - i - 2} remain`);
      return result;
    }
    const value = data.subarray(i + 2, i + 2 + len);
    i += 2 + len;
    switch (code) {
      case PXE_SUBOPTION.DISCOVERY_CONTROL:
        if (len === 1) result.discoveryControl = value[0]!;
        else problems.push(`sub-option 6 (discovery control) is ${len} bytes long, not 1`);
        break;
      case PXE_SUBOPTION.MULTICAST_ADDRESS:
        if (len === 4) result.multicastAddress = formatIPv4(value.readUInt32BE(0));
        else problems.push(`sub-option 7 (multicast address) is ${len} bytes long, not 4`);
        break;
      case PXE_SUBOPTION.BOOT_SERVERS:
        result.bootServers.push(...parseBootServers(value, problems));
        break;
      case PXE_SUBOPTION.BOOT_MENU:
        result.menu.push(...parseMenu(value, problems));
        break;
      case PXE_SUBOPTION.MENU_PROMPT:
        if (len >= 1) result.menuPrompt = { timeout: value[0]!, text: value.toString('latin1', 1) };
        else problems.push('sub-option 10 (menu prompt) is empty');
        break;
      case PXE_SUBOPTION.BOOT_ITEM:
        if (len === 4) result.bootItem = { type: value.readUInt16BE(0), layer: value.readUInt16BE(2) };
        else problems.push(`sub-option 71 (boot item) is ${len} bytes long, not 4`);
        break;
      default:
        result.other.push({ code, hex: value.toString('hex') });
    }
  }
  if (!ended && data.length > 0) problems.push('no END sub-option (255)');
  return result;
}

export interface PxeOptionsInput {
  discoveryControl?: number;
  bootServers?: PxeBootServer[];
  menu?: PxeMenuEntry[];
  menuPrompt?: { timeout: number; text: string };
  bootItem?: { type: number; layer: number };
}

function sub(code: number, value: Buffer): Buffer {
  if (value.length > 255) throw new RangeError(`PXE sub-option ${code} would be ${value.length} bytes; at most 255 fit`);
  return Buffer.concat([Buffer.from([code, value.length]), value]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** Option 43 bytes, in the order dnsmasq writes them (6, 10, 8, 9, 71), ending with 255. */
export function encodePxeOptions(o: PxeOptionsInput): Buffer {
  const parts: Buffer[] = [];
  if (o.discoveryControl !== undefined) parts.push(sub(6, Buffer.from([o.discoveryControl])));
  if (o.menuPrompt) parts.push(sub(10, Buffer.concat([Buffer.from([o.menuPrompt.timeout]), Buffer.from(o.menuPrompt.text, 'latin1')])));
  if (o.bootServers?.length) {
    const servers = o.bootServers.map((s) => {
      const addrs = s.addresses.map((a) => {
        const n = parseIPv4(a);
        if (n === null) throw new RangeError(`boot server address ${JSON.stringify(a)} is not IPv4`);
        const b = Buffer.alloc(4);
        b.writeUInt32BE(n);
        return b;
      });
      return Buffer.concat([u16(s.type), Buffer.from([addrs.length]), ...addrs]);
    });
    parts.push(sub(8, Buffer.concat(servers)));
  }
  if (o.menu?.length) {
    const entries = o.menu.map((e) => {
      const text = Buffer.from(e.text, 'latin1');
      return Buffer.concat([u16(e.type), Buffer.from([text.length]), text]);
    });
    parts.push(sub(9, Buffer.concat(entries)));
  }
  if (o.bootItem) parts.push(sub(71, Buffer.concat([u16(o.bootItem.type), u16(o.bootItem.layer)])));
  parts.push(Buffer.from([255]));
  return Buffer.concat(parts);
}

export type PiBootMatch = 'menu-entry' | 'raw-text' | 'none';

/**
 * Whether option 43 carries the text the Pi bootloader looks for: in a PXE
 * menu entry (what dnsmasq's `pxe-service` produces), or only somewhere in
 * the raw bytes (what some guides put into option 43 by hand).
 */
export function piBootMatch(option43: Buffer, pxe: PxeOptions, text = PI_BOOT_TEXT): PiBootMatch {
  if (pxe.menu.some((e) => e.text.includes(text))) return 'menu-entry';
  if (option43.includes(Buffer.from(text, 'latin1'))) return 'raw-text';
  return 'none';
}
