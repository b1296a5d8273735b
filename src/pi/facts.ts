/**
 * Everything pinet knows about one Pi, interpreted from the raw texts the
 * detect step reads over SSH (in as few round trips as it likes).
 *
 * `interpretPi` is the one place that combines the parsers of src/pi, so
 * `pinet info`, enroll and doctor describe a Pi the same way. Every part is
 * either known or "unknown" with the reason; nothing here throws.
 */

import { bootFiles, type BootFilesResult } from './boot-files.js';
import { currentBootOrder, type CurrentBootOrder } from './boot-order-edit.js';
import { describeCmdline, parseCmdline, rootMethod, type CmdlineInfo, type RootMethod } from './cmdline.js';
import { detectSerial, parseCpuinfo, parseOtpDump, type SerialSource } from './cpuinfo.js';
import { parseEepromConfig, tftpDirectory, unconditionalSettings, type TftpDirResult } from './eeprom-config.js';
import { eepromUpdatesEnabled, pendingUpdate, type PendingUpdate, type UpdatesEnabled } from './eeprom-update.js';
import { findBootLine, parseFstab } from './fstab.js';
import { findMountAt, isNfs, parseMounts } from './mounts.js';
import { classifyOs, expectedBootMount, parseOsRelease, type OsClass } from './os-release.js';
import { decodeRevision, type Board } from './revision.js';

/** The raw texts; leave out what was not read. */
export interface RawPi {
  /** /proc/cpuinfo */
  cpuinfo?: string;
  /** /sys/firmware/devicetree/base/serial-number */
  serialNumber?: string;
  /** /sys/firmware/devicetree/base/model */
  model?: string;
  /** `vcgencmd otp_dump` */
  otpDump?: string;
  /** /etc/os-release */
  osRelease?: string;
  /** Does /etc/rpi-issue exist? */
  rpiIssue?: boolean;
  /** /etc/fstab */
  fstab?: string;
  /** /proc/self/mounts or /proc/self/mountinfo */
  mounts?: string;
  /** `rpi-eeprom-config` output */
  eepromConfig?: string;
  /** /etc/default/rpi-eeprom-update; null when the file does not exist */
  eepromUpdateDefaults?: string | null;
  /** Names of the files at the top of the boot partition */
  bootFileNames?: string[];
  /** config.txt of the boot partition */
  configTxt?: string;
  /** cmdline.txt of the boot partition */
  cmdlineTxt?: string;
  /** Other text files of the boot partition by name, for `include` */
  includes?: Record<string, string>;
  /** MAC address of the wired interface */
  mac?: string;
}

export type Known<T> = { known: true; value: T } | { known: false; reason: string };

const known = <T>(value: T): Known<T> => ({ known: true, value });
const unknown = <T>(reason: string): Known<T> => ({ known: false, reason });

export interface BootPartition {
  mountpoint: string;
  /** Where the mount point was learnt. */
  source: 'fstab' | 'mounts' | 'os-default';
  /** 1-based line in /etc/fstab. */
  fstabLine?: number;
  fstabSource?: string;
  /** What is mounted there now, if mounts were read. */
  mounted?: { source: string; fstype: string; nfs: boolean } | null;
}

export interface BootloaderFacts {
  /** Unconditional KEY=value settings. */
  settings: Record<string, string>;
  bootOrder: CurrentBootOrder;
  tftp: TftpDirResult;
  updates: UpdatesEnabled;
  pending: Known<PendingUpdate>;
}

export interface PiFacts {
  serial: Known<{ full: string; tftpDir: string; source: SerialSource; notes: string[] }>;
  board: Known<Board>;
  /** The model text (devicetree `model`, else cpuinfo `Model`). */
  model?: string;
  mac?: string;
  os: Known<OsClass & { id?: string; versionId?: string; codename?: string; prettyName?: string }>;
  bootPartition: Known<BootPartition>;
  bootloader: Known<BootloaderFacts>;
  cmdline: Known<{ words: string[]; info: CmdlineInfo; method: RootMethod; warnings: string[] }>;
  bootFiles: Known<Extract<BootFilesResult, { ok: true }>>;
}

export function interpretPi(raw: RawPi): PiFacts {
  const cpu = raw.cpuinfo === undefined ? undefined : parseCpuinfo(raw.cpuinfo);

  const s = detectSerial({ cpuinfo: raw.cpuinfo, serialNumber: raw.serialNumber, otpDump: raw.otpDump });
  const serial: PiFacts['serial'] = s.ok ? known({ full: s.full, tftpDir: s.tftpDir, source: s.source, notes: s.notes }) : unknown(s.reason);

  let board: PiFacts['board'];
  const revision = cpu?.revision ?? (raw.otpDump === undefined ? undefined : parseOtpDump(raw.otpDump).get(30));
  if (revision === undefined) board = unknown('no revision code (no Revision line in /proc/cpuinfo, no OTP row 30)');
  else {
    const b = decodeRevision(revision);
    board = b.ok ? known(stripOk(b)) : unknown(b.error);
  }

  const model = raw.model?.replace(/\0+$/, '').trim() || cpu?.model;

  let os: PiFacts['os'];
  if (raw.osRelease === undefined) os = unknown('/etc/os-release not read');
  else {
    const rel = parseOsRelease(raw.osRelease);
    const c = classifyOs(rel, raw.rpiIssue === undefined ? {} : { rpiIssue: raw.rpiIssue });
    os = known({ ...c, ...pick(rel, ['id', 'versionId', 'codename', 'prettyName']) });
  }

  const bootPartition = findBootPartition(raw, os);

  let bootloader: PiFacts['bootloader'];
  if (raw.eepromConfig === undefined) bootloader = unknown('bootloader config not read (rpi-eeprom-config)');
  else {
    const config = parseEepromConfig(raw.eepromConfig);
    const b = board.known ? board.value : undefined;
    const isCm = b !== undefined && b.filters.some((f) => f.startsWith('cm'));
    bootloader = known({
      settings: unconditionalSettings(config),
      bootOrder: currentBootOrder(raw.eepromConfig, b?.family, { computeModule: isCm }),
      tftp: tftpDirectory({ config, ...(s.ok ? { serialDir: s.tftpDir } : {}), ...(raw.mac ? { mac: raw.mac } : {}) }),
      updates: eepromUpdatesEnabled(b, raw.eepromUpdateDefaults ?? undefined),
      pending: raw.bootFileNames === undefined ? unknown('boot partition not listed') : known(pendingUpdate(raw.bootFileNames)),
    });
  }

  let cmdline: PiFacts['cmdline'];
  if (raw.cmdlineTxt === undefined) cmdline = unknown('cmdline.txt not read');
  else {
    const c = parseCmdline(raw.cmdlineTxt);
    if (!c.ok) cmdline = unknown(c.error);
    else {
      const info = describeCmdline(c.words);
      cmdline = known({ words: c.words, info, method: rootMethod(info), warnings: c.warnings });
    }
  }

  let files: PiFacts['bootFiles'];
  if (raw.configTxt === undefined) files = unknown('config.txt not read');
  else if (!board.known) files = unknown(`board unknown: ${board.reason}`);
  else {
    const includes = raw.includes ?? {};
    const names = raw.bootFileNames === undefined ? undefined : new Set(raw.bootFileNames);
    const r = bootFiles(raw.configTxt, board.value, {
      ...(s.ok ? { serial: s.full } : {}),
      include: (n) => (Object.prototype.hasOwnProperty.call(includes, n) ? includes[n] : undefined),
      exists: (p) => (names === undefined || p.includes('/') ? undefined : names.has(p)),
    });
    files = r.ok ? known(r) : unknown(r.error);
  }

  const facts: PiFacts = { serial, board, os, bootPartition, bootloader, cmdline, bootFiles: files };
  if (model) facts.model = model;
  if (raw.mac) facts.mac = raw.mac;
  return facts;
}

function findBootPartition(raw: RawPi, os: PiFacts['os']): Known<BootPartition> {
  const mounts = raw.mounts === undefined ? undefined : parseMounts(raw.mounts).entries;
  const mountedAt = (mp: string): BootPartition['mounted'] => {
    if (mounts === undefined) return undefined;
    const m = findMountAt(mounts, mp);
    return m ? { source: m.source, fstype: m.fstype, nfs: isNfs(m) } : null;
  };
  const withMount = (p: BootPartition): BootPartition => {
    const m = mountedAt(p.mountpoint);
    return m === undefined ? p : { ...p, mounted: m };
  };

  let fstabReason = '/etc/fstab not read';
  if (raw.fstab !== undefined) {
    const line = findBootLine(parseFstab(raw.fstab));
    if (line.ok) {
      return known(withMount({ mountpoint: line.mountpoint, source: 'fstab', fstabLine: line.line.number, fstabSource: line.entry.source }));
    }
    fstabReason = line.error;
  }
  if (mounts !== undefined) {
    for (const mp of ['/boot/firmware', '/boot']) {
      const m = findMountAt(mounts, mp);
      if (m) return known(withMount({ mountpoint: mp, source: 'mounts' }));
    }
  }
  const expected = os.known ? expectedBootMount(os.value.kind, os.value.versionId) : undefined;
  if (expected) return known(withMount({ mountpoint: expected, source: 'os-default' }));
  return unknown(`boot partition not found: ${fstabReason}; nothing mounted at /boot/firmware or /boot`);
}

function stripOk<T extends { ok: true }>(v: T): Omit<T, 'ok'> {
  const { ok: _ok, ...rest } = v;
  return rest;
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
