/**
 * The bootloader's own settings: the EEPROM config text as
 * `rpi-eeprom-config` prints it (`[all]` and `KEY=value` lines; conditional
 * sections work as in config.txt, except EDID) or the properties as an
 * object, turned into the numbers and strings the emulator acts on, with the
 * bootloader's defaults (raspberrypi/documentation,
 * raspberry-pi/eeprom-bootloader.adoc).
 */
import type { Board } from './board.js';
import { readConfigTxt } from './config-txt.js';
import type { EepromSettings } from './types.js';

export interface Eeprom {
  /** The BOOT_ORDER value as written (`0xf21`), or the default. */
  bootOrderText: string;
  bootOrder: number;
  tftpPrefix: 0 | 1 | 2;
  tftpPrefixStr: string;
  tftpIp?: string;
  clientIp?: string;
  subnet?: string;
  gateway?: string;
  pxeOption43: string;
  dhcpTimeoutMs: number;
  dhcpReqTimeoutMs: number;
  tftpFileTimeoutMs: number;
  netBootMaxRetries: number;
  sdBootMaxRetries: number;
  /** undefined: the default `RPi4` fourcc; 0: serial ×4. */
  dhcpOption97?: number;
  rebootOnFatalError: boolean;
  bootWatchdogTimeout: number;
  enableSelfUpdate: boolean;
  /** Keys the emulator ignores or values it could not read. */
  notes: string[];
}

export const DEFAULT_BOOT_ORDER = 0xf41;
const KNOWN = new Set<keyof EepromSettings>([
  'BOOT_ORDER',
  'TFTP_PREFIX',
  'TFTP_PREFIX_STR',
  'TFTP_IP',
  'CLIENT_IP',
  'SUBNET',
  'GATEWAY',
  'PXE_OPTION43',
  'DHCP_TIMEOUT',
  'DHCP_REQ_TIMEOUT',
  'TFTP_FILE_TIMEOUT',
  'NET_BOOT_MAX_RETRIES',
  'SD_BOOT_MAX_RETRIES',
  'DHCP_OPTION97',
  'REBOOT_ON_FATAL_ERROR',
  'BOOT_WATCHDOG_TIMEOUT',
  'ENABLE_SELF_UPDATE',
]);

/** The EEPROM config text → properties, for this board (sections applied). */
export async function parseEepromConfig(text: string, board: Pick<Board, 'filters' | 'type'>, serial8: string): Promise<{ settings: EepromSettings; notes: string[] }> {
  const config = await readConfigTxt(text, { board, serial8 }, 'bootloader config');
  const settings: Record<string, string> = {};
  const notes = [...config.notes];
  for (const d of config.applied) {
    const key = d.key.toUpperCase();
    settings[key] = d.value;
  }
  return { settings: settings as EepromSettings, notes };
}

function num(value: string | number | undefined, key: string, fallback: number, notes: string[]): number {
  if (value === undefined || value === '') return fallback;
  if (typeof value === 'number') return value;
  const t = value.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return Number.parseInt(t.slice(2), 16);
  if (/^-?[0-9]+$/.test(t)) return Number.parseInt(t, 10);
  notes.push(`${key}=${value} is not a number; the default ${fallback} is used`);
  return fallback;
}

function text(value: string | number | undefined): string | undefined {
  if (value === undefined) return undefined;
  const t = String(value).trim();
  return t === '' ? undefined : t;
}

export function resolveEeprom(settings: EepromSettings, extraNotes: string[] = []): Eeprom {
  const notes = [...extraNotes];
  for (const key of Object.keys(settings)) {
    if (!KNOWN.has(key as keyof EepromSettings)) notes.push(`${key} is not emulated (ignored)`);
  }
  const rawOrder = settings.BOOT_ORDER;
  const bootOrder = num(rawOrder, 'BOOT_ORDER', DEFAULT_BOOT_ORDER, notes) >>> 0;
  const bootOrderText =
    rawOrder === undefined || rawOrder === '' ? `0x${DEFAULT_BOOT_ORDER.toString(16)} (default)` : typeof rawOrder === 'number' ? `0x${rawOrder.toString(16)}` : rawOrder.trim();
  const prefix = num(settings.TFTP_PREFIX, 'TFTP_PREFIX', 0, notes);
  if (![0, 1, 2].includes(prefix)) notes.push(`TFTP_PREFIX=${prefix} is not 0, 1 or 2; 0 (serial) is used`);
  const opt97 = settings.DHCP_OPTION97 === undefined ? undefined : num(settings.DHCP_OPTION97, 'DHCP_OPTION97', 0x34695052, notes);
  return {
    bootOrderText,
    bootOrder,
    tftpPrefix: ([0, 1, 2].includes(prefix) ? prefix : 0) as 0 | 1 | 2,
    tftpPrefixStr: text(settings.TFTP_PREFIX_STR) ?? '',
    tftpIp: text(settings.TFTP_IP),
    clientIp: text(settings.CLIENT_IP),
    subnet: text(settings.SUBNET),
    gateway: text(settings.GATEWAY),
    pxeOption43: text(settings.PXE_OPTION43) ?? 'Raspberry Pi Boot',
    dhcpTimeoutMs: num(settings.DHCP_TIMEOUT, 'DHCP_TIMEOUT', 45000, notes),
    dhcpReqTimeoutMs: num(settings.DHCP_REQ_TIMEOUT, 'DHCP_REQ_TIMEOUT', 4000, notes),
    tftpFileTimeoutMs: num(settings.TFTP_FILE_TIMEOUT, 'TFTP_FILE_TIMEOUT', 30000, notes),
    netBootMaxRetries: num(settings.NET_BOOT_MAX_RETRIES, 'NET_BOOT_MAX_RETRIES', 0, notes),
    sdBootMaxRetries: num(settings.SD_BOOT_MAX_RETRIES, 'SD_BOOT_MAX_RETRIES', 0, notes),
    dhcpOption97: opt97 === 0x34695052 ? undefined : opt97,
    rebootOnFatalError: num(settings.REBOOT_ON_FATAL_ERROR, 'REBOOT_ON_FATAL_ERROR', 0, notes) === 1,
    bootWatchdogTimeout: num(settings.BOOT_WATCHDOG_TIMEOUT, 'BOOT_WATCHDOG_TIMEOUT', 0, notes),
    enableSelfUpdate: num(settings.ENABLE_SELF_UPDATE, 'ENABLE_SELF_UPDATE', 1, notes) !== 0,
    notes,
  };
}

/** The TFTP directory prefix the bootloader tries first, with its trailing slash. */
export function tftpPrefixFor(eeprom: Pick<Eeprom, 'tftpPrefix' | 'tftpPrefixStr'>, serial8: string, mac: string): string {
  switch (eeprom.tftpPrefix) {
    case 1:
      // TFTP_PREFIX_STR is used as written (the documentation's example ends in `/`).
      return eeprom.tftpPrefixStr;
    case 2:
      return `${mac.toLowerCase().replace(/:/g, '-')}/`;
    default:
      return `${serial8.toLowerCase()}/`;
  }
}
