/**
 * What `pinet watch` reports: one event per thing that happened, the same
 * objects whether they become a table row, a text line or a line of
 * `--json` (newline-delimited JSON, one event per line; README documents
 * every field). Times are ISO 8601 strings; sizes are bytes; durations are
 * seconds.
 */

/**
 * Where a Pi is in its network boot, in order. The firmware loads the
 * initramfs before the device tree and the kernel (the seed article's real
 * boot log, reproduced by test/netboot's emulator), so `initramfs` comes
 * before `kernel`; a Pi whose kernel comes first skips `initramfs`.
 */
export const STAGES = ['dhcp', 'firmware', 'initramfs', 'kernel', 'loaded', 'booted'] as const;
export type Stage = (typeof STAGES)[number];

/** What a stage means, for people. */
export const STAGE_TEXT: Record<Stage, string> = {
  dhcp: 'DHCP proxy offer',
  firmware: 'bootloader files',
  kernel: 'kernel',
  initramfs: 'initramfs',
  loaded: 'boot files sent',
  booted: 'booted',
};

/** Who a Pi is, as far as the log and the inventory tell. */
export interface PiRef {
  /** Stable for the run: how the Pi was first seen ("pi-07", "bf9fed6f", "dc:a6:32:01:02:03" or its address). */
  id: string;
  /** The inventory's host when the Pi is enrolled, else its directory, else its MAC, else its address. */
  name: string;
  host?: string;
  serial?: string;
  /** Its directory in the export (the TFTP prefix it asks for). */
  dir?: string;
  mac?: string;
  /** The client address its TFTP requests come from. */
  ip?: string;
}

export type Level = 'info' | 'warn' | 'fail';
export type FileOutcome = 'sent' | 'probe' | 'failed' | 'not-found' | 'denied';

export type WatchEvent =
  /** The log source: opened, rotated (renamed, then the new file opened), truncated, waiting for it, ended. */
  | { type: 'source'; time: string; what: 'opened' | 'rotated' | 'truncated' | 'waiting' | 'ended'; source: string; detail?: string }
  /** Something about the whole log, not one Pi (log-dhcp missing, "Early terminate" explained, a PXE client nobody answered). */
  | { type: 'notice'; time: string; id: string; level: Level; message: string; fix?: string; evidence?: string[] }
  /** A DHCP/PXE line for a Pi (`offer`: proxy, proxy-ignored, or the DHCP message type). */
  | { type: 'dhcp'; time: string; pi: PiRef; attempt: number; offer: string; interface: string; vendorClass?: string }
  /** A TFTP request of a Pi ended. `bytes` only for files really sent (not size probes); `optional` for files that need not exist. */
  | { type: 'file'; time: string; pi: PiRef; attempt: number; file: string; outcome: FileOutcome; bytes?: number; optional?: boolean; client?: string; detail?: string }
  /** A Pi moved to a new stage; `elapsed`: seconds since its first packet in this attempt. */
  | { type: 'stage'; time: string; pi: PiRef; attempt: number; stage: Stage; from?: Stage; elapsed: number; note?: string }
  /** A finding about a Pi, in doctor's words, with the fix. */
  | { type: 'verdict'; time: string; pi: PiRef; attempt: number; id: string; level: Level; finding: string; fix?: string; evidence?: string[] }
  /**
   * The Pi answers SSH after its boot files were sent: the boot took `seconds` from the first packet
   * (absent when the files were sent before watch started, read back with --since).
   */
  | { type: 'booted'; time: string; pi: PiRef; attempt: number; seconds?: number; from?: string; ssh: string }
  /** The end: one row per Pi and doctor's log summary (`checks`, the same groups as `pinet doctor --log`). */
  | { type: 'summary'; time: string; ok: boolean; pis: PiRow[]; checks: unknown[] };

/** One Pi in the live table and in the summary. */
export interface PiRow {
  pi: PiRef;
  attempt: number;
  stage: Stage;
  /** active: still booting; ok: booted (or all files sent); warn/fail: a verdict. */
  state: 'active' | 'ok' | 'warn' | 'fail';
  /** Distinct files really sent in this attempt, and their bytes. */
  files: number;
  bytes: number;
  /** Seconds from the first packet to the last event (or to now, while active). */
  elapsed: number;
  /** ISO time of the first packet of this attempt. */
  since: string;
  last: string;
  /** The worst verdict of this attempt, in one line. */
  verdict?: string;
  /** The file a failed boot stopped at. */
  failedAt?: string;
  /** Seconds the whole boot took, when the Pi answered SSH. */
  bootSeconds?: number;
}

export const iso = (ms: number): string => new Date(ms).toISOString();
