/**
 * The bootloader EEPROM config, as `rpi-eeprom-config` prints it and as
 * `rpi-eeprom-config --apply FILE` takes it back.
 *
 * Same syntax as config.txt: `KEY=value` lines, `#` comment lines, blank lines
 * and conditional sections (`[all]`, `[pi4]`, `[gpio7=0]`, `[none]`, ...; every
 * filter except EDID, per eeprom-bootloader.adoc). A setting applies to every
 * boot when it sits before any section or after `[all]`; after any other
 * section it applies only when that condition holds. Later lines win.
 *
 * The parse keeps every line with its ending, so an unchanged config
 * serialises back byte for byte, and `setKey` changes only the line(s) it
 * must. A new key goes into the last `[all]` section (not simply at the end of
 * the file, which may be inside `[pi4]` or `[gpio…]`). Lines before any
 * section are meant to apply to every boot too, but Raspberry Pi's own configs
 * always start with `[all]`, and a 2025 bootloader fix ("without an [all]
 * section the new expression filter might default to false", firmware-2712
 * release notes 2025-03-10) shows that relying on them has bitten before; so a
 * new `[all]` section is appended when the config has neither.
 *
 * Also here: the directory a Pi asks for over TFTP, from TFTP_PREFIX
 * (0 serial, 1 TFTP_PREFIX_STR, 2 MAC as `dc-a6-32-01-36-c2`).
 */

import { classifyTftpDirName, macToTftpDir } from './ids.js';
import { dominantEol, emptyRecord, joinLines, showValue, splitLines, type Line } from './text.js';

/** rpi-eeprom-config refuses configs larger than this (4 KiB sector minus the file header). */
export const EEPROM_CONFIG_MAX_BYTES = 4076;

export interface EepromLine extends Line {
  number: number;
  kind: 'section' | 'setting' | 'comment' | 'blank' | 'invalid';
  /** For sections: the text between the brackets (`all`, `pi4`, `gpio7=0`). */
  filter?: string;
  key?: string;
  value?: string;
  /** True for settings that apply to every boot (before any section, or after [all]). */
  unconditional?: boolean;
  /** For settings: the section filter in force (`all`, `pi4`, or `''` before any section). */
  section?: string;
}

export interface EepromConfig {
  lines: EepromLine[];
}

/** Parse rpi-eeprom-config output. Never throws; odd lines are kept as `invalid`. */
export function parseEepromConfig(text: string): EepromConfig {
  let section = '';
  let unconditional = true;
  const lines = splitLines(text).map((line, i): EepromLine => {
    const number = i + 1;
    const t = line.text.trim();
    if (t === '') return { ...line, number, kind: 'blank' };
    if (t.startsWith('#')) return { ...line, number, kind: 'comment' };
    const sec = /^\[([^\]]*)\]/.exec(t);
    if (sec) {
      section = sec[1]!.trim();
      unconditional = section.toLowerCase() === 'all';
      return { ...line, number, kind: 'section', filter: section };
    }
    const eq = t.indexOf('=');
    if (eq > 0) {
      const key = t.slice(0, eq).trim();
      if (/^[A-Za-z0-9_]+$/.test(key)) {
        return { ...line, number, kind: 'setting', key, value: t.slice(eq + 1).trim(), unconditional, section };
      }
    }
    return { ...line, number, kind: 'invalid' };
  });
  return { lines };
}

export function serializeEepromConfig(config: EepromConfig): string {
  return joinLines(config.lines);
}

export interface KeyLookup {
  /** The value that applies to every boot (last unconditional line), if any. */
  value?: string;
  /** 1-based line of that value. */
  line?: number;
  /** Lines in conditional sections that may override it on some boots. */
  conditional: { section: string; value: string; line: number }[];
}

/** Read a key, e.g. BOOT_ORDER, TFTP_PREFIX, TFTP_IP, TFTP_FILE_TIMEOUT, NET_INSTALL_ENABLED. */
export function getKey(config: EepromConfig, key: string): KeyLookup {
  const out: KeyLookup = { conditional: [] };
  for (const l of config.lines) {
    if (l.kind !== 'setting' || l.key !== key) continue;
    if (l.unconditional) {
      out.value = l.value!;
      out.line = l.number;
    } else out.conditional.push({ section: l.section!, value: l.value!, line: l.number });
  }
  return out;
}

/** Every unconditional KEY=value, last one winning: the plain view of the config. */
export function unconditionalSettings(config: EepromConfig): Record<string, string> {
  const out = emptyRecord<string>();
  for (const l of config.lines) if (l.kind === 'setting' && l.unconditional) out[l.key!] = l.value!;
  return out;
}

export type SetKeyResult =
  | { ok: true; config: EepromConfig; text: string; changed: boolean; line: number; added: boolean; warnings: string[] }
  | { ok: false; error: string; hint?: string };

/**
 * Set `key=value` for every boot. Existing unconditional lines for the key get
 * the new value in place (their spacing kept); when there is none the line is
 * added after the last setting of the last `[all]` section, else of the
 * settings before any section, else a new `[all]` section is appended.
 * Conditional lines for the key are kept and reported in `warnings`.
 */
export function setKey(config: EepromConfig, key: string, value: string): SetKeyResult {
  if (!/^[A-Z0-9_]+$/.test(key)) return { ok: false, error: `bootloader config key ${showValue(key)} is not UPPER_CASE letters, digits and _` };
  if (!/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$|^$/.test(value)) {
    return { ok: false, error: `value ${showValue(value)} for ${key} must be printable ASCII without leading/trailing spaces or line breaks` };
  }
  const lines: EepromLine[] = config.lines.map((l) => ({ ...l }));
  const warnings = getKey(config, key).conditional.map(
    (c) => `${key}=${c.value} in [${c.section}] (line ${c.line}) still overrides it when that condition holds`,
  );

  let line = -1;
  let added = false;
  for (const l of lines) {
    if (l.kind === 'setting' && l.key === key && l.unconditional) {
      const eq = l.text.indexOf('=');
      const lead = /^\s*/.exec(l.text.slice(eq + 1))![0];
      l.text = l.text.slice(0, eq + 1) + lead + value;
      l.value = value;
      line = l.number;
    }
  }

  if (line === -1) {
    added = true;
    const eol = dominantEol(lines);
    const at = insertionPoint(lines);
    const newLine: EepromLine = { text: `${key}=${value}`, eol, number: 0, kind: 'setting', key, value, unconditional: true, section: 'all' };
    // A file without a final newline keeps that shape: the new last line gets none.
    const endPrevious = (prev: EepromLine | undefined): void => {
      if (prev !== undefined && prev.eol === '') {
        prev.eol = eol;
        newLine.eol = '';
      }
    };
    if (at === undefined) {
      endPrevious(lines[lines.length - 1]);
      lines.push({ text: '[all]', eol, number: 0, kind: 'section', filter: 'all' }, newLine);
      line = lines.length;
    } else {
      endPrevious(lines[at - 1]);
      lines.splice(at, 0, newLine);
      line = at + 1;
    }
  }
  const renumbered = lines.map((l, i) => ({ ...l, number: i + 1 }));
  const next: EepromConfig = { lines: renumbered };
  const text = serializeEepromConfig(next);
  if (utf8Length(text) > EEPROM_CONFIG_MAX_BYTES) {
    return { ok: false, error: `the bootloader config would be ${utf8Length(text)} bytes; rpi-eeprom-config accepts at most ${EEPROM_CONFIG_MAX_BYTES}`, hint: 'remove comments or unused settings' };
  }
  return { ok: true, config: next, text, changed: text !== serializeEepromConfig(config), line, added, warnings };
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Index to insert an unconditional line at, or undefined when a new [all] section is needed. */
function insertionPoint(lines: readonly EepromLine[]): number | undefined {
  // The regions where settings apply to every boot: before any section, and after each [all].
  let best: { start: number; lastSetting: number } | undefined;
  let current: { start: number; lastSetting: number } | undefined = { start: 0, lastSetting: -1 };
  let topHasSettings = false;
  lines.forEach((l, i) => {
    if (l.kind === 'section') {
      if (current && (current.start > 0 || topHasSettings)) best = current;
      current = l.filter!.toLowerCase() === 'all' ? { start: i + 1, lastSetting: -1 } : undefined;
      return;
    }
    if (current && (l.kind === 'setting' || l.kind === 'invalid')) {
      current.lastSetting = i;
      if (current.start === 0) topHasSettings = true;
    }
  });
  if (current && (current.start > 0 || topHasSettings)) best = current;
  if (best === undefined) return undefined;
  return best.lastSetting === -1 ? best.start : best.lastSetting + 1;
}

/** `dc:a6:32:01:36:c2`, `DC-A6-32-01-36-C2`, `dca632013 6c2` → `dc-a6-32-01-36-c2`; undefined when not a MAC. */

export interface TftpDirInput {
  config: EepromConfig;
  /** The 8-digit serial directory (`bf9fed6f`), from cpuinfo. */
  serialDir?: string;
  /** The wired interface's MAC address. */
  mac?: string;
}

export type TftpDirResult =
  | {
      ok: true;
      /** 0, 1 or 2. */
      mode: number;
      /** What the bootloader puts in front of every file name (`bf9fed6f/`, or '' for none). */
      prefix: string;
      /** The directory, when the prefix is one (ends with '/'); undefined for a bare file-name prefix or none. */
      dir?: string;
      why: string;
      notes: string[];
    }
  | { ok: false; known: false; reason: string };

/**
 * The directory (prefix) the bootloader asks the TFTP server for, from
 * TFTP_PREFIX (default 0): the serial's last 8 hex digits, TFTP_PREFIX_STR,
 * or the MAC as `dc-a6-32-01-36-c2`. The bootloader drops the prefix when
 * `<prefix>start4.elf` is not found (eeprom-bootloader.adoc, TFTP_PREFIX).
 */
export function tftpDirectory(input: TftpDirInput): TftpDirResult {
  const p = getKey(input.config, 'TFTP_PREFIX');
  const notes: string[] = [];
  if (p.conditional.length > 0) {
    notes.push(`TFTP_PREFIX is also set in ${p.conditional.map((c) => `[${c.section}] (line ${c.line})`).join(', ')}; pinet uses the unconditional value`);
  }
  notes.push('the bootloader drops the prefix when <prefix>start4.elf is not on the TFTP server');
  const raw = p.value ?? '0';
  if (!/^\d+$/.test(raw)) return { ok: false, known: false, reason: `TFTP_PREFIX=${showValue(raw)} is not 0, 1 or 2` };
  const mode = Number(raw);
  if (mode === 0) {
    if (input.serialDir === undefined) return { ok: false, known: false, reason: 'TFTP_PREFIX=0 uses the serial number, which is unknown' };
    if (!/^[0-9a-f]{8}$/.test(input.serialDir)) return { ok: false, known: false, reason: `serial directory ${showValue(input.serialDir)} is not 8 lowercase hex digits` };
    return { ok: true, mode, prefix: `${input.serialDir}/`, dir: input.serialDir, why: `TFTP_PREFIX=${p.value ?? '0 (default)'}: the serial number`, notes };
  }
  if (mode === 1) {
    const str = getKey(input.config, 'TFTP_PREFIX_STR').value ?? '';
    if (str.length > 32) notes.push(`TFTP_PREFIX_STR is ${str.length} characters; the bootloader takes at most 32`);
    if (str === '') return { ok: true, mode, prefix: '', why: 'TFTP_PREFIX=1 with an empty TFTP_PREFIX_STR: no prefix', notes };
    if (/[\0-\x20\\]/.test(str) || str.split('/').some((s) => s === '..') || str.startsWith('/')) {
      return { ok: false, known: false, reason: `TFTP_PREFIX_STR=${showValue(str)} is not a plain relative prefix` };
    }
    if (str.endsWith('/')) return { ok: true, mode, prefix: str, dir: str.replace(/\/+$/, ''), why: `TFTP_PREFIX=1: TFTP_PREFIX_STR=${str}`, notes };
    notes.push(`TFTP_PREFIX_STR=${str} has no trailing '/': it prefixes file names (${str}start4.elf), not a directory`);
    return { ok: true, mode, prefix: str, why: `TFTP_PREFIX=1: TFTP_PREFIX_STR=${str}`, notes };
  }
  if (mode === 2) {
    if (input.mac === undefined) return { ok: false, known: false, reason: 'TFTP_PREFIX=2 uses the MAC address, which is unknown' };
    const dir = macToTftpDir(input.mac);
    if (dir === undefined) return { ok: false, known: false, reason: `MAC address ${showValue(input.mac)} is not six hex bytes` };
    return { ok: true, mode, prefix: `${dir}/`, dir, why: 'TFTP_PREFIX=2: the MAC address', notes };
  }
  return { ok: false, known: false, reason: `TFTP_PREFIX=${raw} is not 0, 1 or 2` };
}

/**
 * What a directory name in the export looks like to the bootloader: an 8-digit
 * serial (`bf9fed6f`, TFTP_PREFIX=0), a MAC (`dc-a6-32-01-36-c2`,
 * TFTP_PREFIX=2), or something else (only TFTP_PREFIX=1 can ask for it).
 */

export { classifyTftpDirName, macToTftpDir };
