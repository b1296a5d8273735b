/**
 * The Pi's identity from /proc/cpuinfo, and its serial number.
 *
 * The serial decides the TFTP directory a Pi asks for (with the default
 * `TFTP_PREFIX=0`): the last 8 hex digits, lowercase (`Serial : 10000000bf9fed6f`
 * → `bf9fed6f/`). /proc/cpuinfo is the first source; when it has no usable
 * `Serial` line (some kernels and containers), the devicetree file
 * `/sys/firmware/devicetree/base/serial-number` (a NUL-terminated string) and
 * `vcgencmd otp_dump` (row 28 holds the 32-bit serial) are the fallbacks.
 */

import { emptyRecord, showValue } from './text.js';

export interface Cpuinfo {
  serial?: string;
  revision?: string;
  model?: string;
  hardware?: string;
  /** Every `Key : value` line, the last one winning (per-CPU keys repeat). */
  fields: Record<string, string>;
}

/** Parse /proc/cpuinfo text. Never throws; missing keys are simply absent. */
export function parseCpuinfo(text: string): Cpuinfo {
  const fields = emptyRecord<string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim();
    if (key === '' || /[\0]/.test(key)) continue;
    fields[key] = line.slice(colon + 1).trim();
  }
  const pick = (k: string): string | undefined => (fields[k] === undefined || fields[k] === '' ? undefined : fields[k]);
  const out: Cpuinfo = { fields };
  const serial = pick('Serial');
  const revision = pick('Revision');
  const model = pick('Model');
  const hardware = pick('Hardware');
  if (serial !== undefined) out.serial = serial;
  if (revision !== undefined) out.revision = revision;
  if (model !== undefined) out.model = model;
  if (hardware !== undefined) out.hardware = hardware;
  return out;
}

export interface Serial {
  /** 16 lowercase hex digits, left-padded with zeros. */
  full: string;
  /** The last 8 hex digits: the directory a Pi with `TFTP_PREFIX=0` asks for. */
  tftpDir: string;
}

export type SerialResult = ({ ok: true } & Serial) | { ok: false; error: string };

/**
 * Normalise a serial: optional `0x`, 1 to 16 hex digits, any case, surrounding
 * whitespace and trailing NULs ignored. All-zero serials (or an all-zero TFTP
 * directory) are refused: they mean the real serial was not readable, and two
 * Pis would share one directory.
 */
export function normaliseSerial(raw: string): SerialResult {
  const trimmed = raw.replace(/\0+$/, '').trim();
  const hex = trimmed.replace(/^0x/i, '');
  if (hex === '') return { ok: false, error: 'serial number is empty' };
  if (!/^[0-9a-fA-F]+$/.test(hex)) return { ok: false, error: `serial number ${showValue(trimmed)} is not hexadecimal` };
  if (hex.length > 16) return { ok: false, error: `serial number ${showValue(trimmed)} has more than 16 hex digits` };
  const full = hex.toLowerCase().padStart(16, '0');
  if (/^0+$/.test(full)) return { ok: false, error: 'serial number is all zeros (not readable on this system)' };
  const tftpDir = full.slice(8);
  if (tftpDir === '00000000') {
    return { ok: false, error: `serial number ${full} ends in 00000000: its TFTP directory would not identify the Pi` };
  }
  return { ok: true, full, tftpDir };
}

/** Rows of `vcgencmd otp_dump` (`28:bf9fed6f`), keyed by row number, values lowercase. */
export function parseOtpDump(text: string): Map<number, string> {
  const rows = new Map<number, string>();
  for (const raw of text.split('\n')) {
    const m = /^\s*(\d{1,3}):([0-9a-fA-F]{8})\s*$/.exec(raw.replace(/\r$/, ''));
    if (m) rows.set(Number(m[1]), m[2]!.toLowerCase());
  }
  return rows;
}

export type SerialSource = 'cpuinfo' | 'devicetree' | 'otp';

export interface SerialSources {
  /** /proc/cpuinfo */
  cpuinfo?: string | undefined;
  /** /sys/firmware/devicetree/base/serial-number */
  serialNumber?: string | undefined;
  /** output of `vcgencmd otp_dump` */
  otpDump?: string | undefined;
}

export type DetectedSerial =
  | {
      ok: true;
      full: string;
      tftpDir: string;
      source: SerialSource;
      /** Disagreements between sources, or limits of the source used. */
      notes: string[];
    }
  | { ok: false; known: false; reason: string };

/**
 * Find the serial from the raw texts, first usable source wins: cpuinfo,
 * then the devicetree file, then OTP row 28. Returns "unknown" with every
 * source's reason when none is usable.
 */
export function detectSerial(sources: SerialSources): DetectedSerial {
  const reasons: string[] = [];
  const found: { source: SerialSource; serial: Serial; note?: string }[] = [];

  if (sources.cpuinfo === undefined) reasons.push('/proc/cpuinfo: not read');
  else {
    const s = parseCpuinfo(sources.cpuinfo).serial;
    if (s === undefined) reasons.push('/proc/cpuinfo: no Serial line');
    else {
      const n = normaliseSerial(s);
      if (n.ok) found.push({ source: 'cpuinfo', serial: n });
      else reasons.push(`/proc/cpuinfo: ${n.error}`);
    }
  }

  if (sources.serialNumber === undefined) reasons.push('devicetree serial-number: not read');
  else {
    const n = normaliseSerial(sources.serialNumber);
    if (n.ok) found.push({ source: 'devicetree', serial: n });
    else reasons.push(`devicetree serial-number: ${n.error}`);
  }

  if (sources.otpDump === undefined) reasons.push('vcgencmd otp_dump: not read');
  else {
    const row = parseOtpDump(sources.otpDump).get(28);
    if (row === undefined) reasons.push('vcgencmd otp_dump: no row 28');
    else {
      const n = normaliseSerial(row);
      if (n.ok) found.push({ source: 'otp', serial: n, note: 'OTP row 28 holds only the low 32 bits of the serial' });
      else reasons.push(`vcgencmd otp_dump row 28: ${n.error}`);
    }
  }

  const first = found[0];
  if (first === undefined) return { ok: false, known: false, reason: `serial number unknown: ${reasons.join('; ')}` };
  const notes: string[] = [];
  if (first.note) notes.push(first.note);
  for (const other of found.slice(1)) {
    if (other.serial.tftpDir !== first.serial.tftpDir) {
      notes.push(`${other.source} says ${other.serial.full}, ${first.source} says ${first.serial.full}; using ${first.source}`);
    }
  }
  return { ok: true, full: first.serial.full, tftpDir: first.serial.tftpDir, source: first.source, notes };
}
