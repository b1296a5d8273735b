/**
 * Recorded Pis for the planning and verdict tests (no root needed).
 *
 * test/fixtures/gather/<name>.out + .marker are what scripts/remote/gather.sh
 * printed on a fake Pi (recorded by record-gather.ts); `detected(name,
 * ...edits)` parses them with pinet's own parseFramed and interpretSections,
 * after small pure edits of the sections (replace /etc/fstab, drop a boot
 * file, change the bootloader config, …), so every row of a table is a real
 * Pi with one thing changed. `<name>.boot-state.out` is doctor's boot-state
 * script on the same Pi; `<name>.json` is what the boot server held for an
 * enrolled Pi (inventory entry, backups, export listing and view).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { interpretSections, type Detected } from '../../src/host/detect.js';
import { hookScript } from '../../src/host/kernel-hook.js';
import { parseBootState, type BootState } from '../../src/jobs/doctor/boot-state.js';
import type { ExportView } from '../../src/jobs/doctor/pi-checks.js';
import type { EnrollSettings, ExportListing } from '../../src/jobs/enroll/plan.js';
import { parseNfsSource } from '../../src/pi/fstab.js';
import { parseFramed } from '../../src/remote/script.js';
import type { TreeEntry } from '../../src/server/export.js';
import type { Inventory, InventoryEntry } from '../../src/server/state.js';

/** How the recorded Pis mount the export, and where the boot server keeps it (paths in `<name>.json`). */
export const NFS = 'nfs-host:/picluster-boot';
export const EXPORT_DIR = '/mnt/netboot';
export const STATE_DIR = '/var/lib/pinet';
/** `--nfs-root` of the Pi recorded as rpios-bookworm-pi4.nfsroot. */
export const NFS_ROOT = '10.251.184.2:/srv/nfsroot/{serial}';

/** One Pi per fleet variant, read as root. */
export const VARIANTS = ['ubuntu-2404-pi4', 'rpios-bookworm-pi4', 'rpios-bullseye-pi4', 'cm4', 'no-boot-order', 'pi5', 'pi3'] as const;
export type FixtureName =
  | (typeof VARIANTS)[number]
  /** The Bookworm Pi read as `pi` (passwordless sudo) and as `locked` (sudo asks a password). */
  | 'rpios-bookworm-pi4.as-pi'
  | 'rpios-bookworm-pi4.as-locked'
  /** The Ubuntu Pi after `pinet enroll` (fstab, hooks, pending bootloader update), then after its reboot. */
  | 'ubuntu-2404-pi4.enrolled'
  | 'ubuntu-2404-pi4.rebooted'
  /** A Bookworm Pi after `pinet enroll --root nfs --nfs-root NFS_ROOT`. */
  | 'rpios-bookworm-pi4.nfsroot';
export type EnrolledName = 'ubuntu-2404-pi4.enrolled' | 'ubuntu-2404-pi4.rebooted' | 'rpios-bookworm-pi4.nfsroot';

const DIR = new URL('../fixtures/gather/', import.meta.url);
const file = (name: string): Buffer => readFileSync(fileURLToPath(new URL(name, DIR)));

/** The sections a recorded script printed, as pinet reads them (parseFramed with the recorded marker). */
export function recordedSections(name: string): Map<string, string> {
  const marker = file(`${name}.marker`).toString('utf8').trim();
  const parsed = parseFramed(file(`${name}.out`), marker);
  if (!parsed.ended) throw new Error(`fixture ${name}: the recorded script did not reach its end`);
  return new Map([...parsed.sections].map(([k, v]) => [k, v.toString('utf8')]));
}

/** A change to the gathered sections before they are interpreted. */
export type Edit = (s: Map<string, string>) => void;

/** The recorded Pi as detect sees it, after `edits`; `dest`/`label` name it in messages (default "pi-07"). */
export function detected(name: FixtureName, edits: Edit[] = [], as: { dest?: string; label?: string } = {}): Detected {
  const s = recordedSections(name);
  for (const e of edits) e(s);
  const dest = as.dest ?? 'pi-07';
  return interpretSections(dest, as.label ?? dest, s);
}

/** What boot-state.sh printed on that Pi (doctor's boot time, fstab time, mounted directories, media). */
export function bootState(name: FixtureName): BootState {
  return parseBootState(recordedSections(`${name}.boot-state`).get('state') ?? '');
}

/** What the boot server held for an enrolled Pi. */
export interface ServerSide {
  entry: InventoryEntry;
  backups: { fstab?: string; bootloader?: string; cmdline?: string };
  /** The Pi's directory in the export, as listTree reads it. */
  exportListing: [string, TreeEntry][];
  /** What doctor's readExportView read (maps as entry lists). */
  view: { listing: [string, TreeEntry][]; dirId?: string; withStart4: string[] };
  /** The export's cmdline.txt for this Pi. */
  exportCmdline?: string;
}

export interface Server {
  entry: InventoryEntry;
  backups: ServerSide['backups'];
  exportListing: ExportListing;
  view: ExportView;
  exportCmdline: string | null;
}

export function server(name: EnrolledName): Server {
  const raw = JSON.parse(file(`${name}.json`).toString('utf8')) as ServerSide;
  return {
    entry: raw.entry,
    backups: raw.backups,
    exportListing: new Map(raw.exportListing),
    view: { listing: new Map(raw.view.listing), withStart4: raw.view.withStart4, ...(raw.view.dirId ? { dirId: raw.view.dirId } : {}) },
    exportCmdline: raw.exportCmdline ?? null,
  };
}

export function inventoryOf(...entries: InventoryEntry[]): Inventory {
  const inv: Inventory = { version: 1, pis: {} };
  for (const e of entries) inv.pis[e.serial] = e;
  return inv;
}

/** Enroll's settings as `pinet enroll --nfs NFS --export-dir EXPORT_DIR` makes them, with overrides. */
export async function enrollSettings(over: Partial<EnrollSettings> = {}): Promise<EnrollSettings> {
  const src = parseNfsSource(NFS);
  if (!src.ok) throw new Error(src.error);
  return {
    exportDir: EXPORT_DIR,
    nfs: NFS,
    nfsSource: src.value,
    force: false,
    root: { kind: 'keep', explicit: false },
    hookScripts: { '/boot/firmware': await hookScript('/boot/firmware'), '/boot': await hookScript('/boot') },
    ...over,
  };
}

// ---- edits ----

const textOf = (s: Map<string, string>, key: string, v: string | ((old: string) => string)): string => (typeof v === 'function' ? v(s.get(key) ?? '') : v);

/** Sets (or, with undefined, removes) one section. */
export const section =
  (key: string, value: string | undefined | ((old: string) => string)): Edit =>
  (s) => {
    if (value === undefined) s.delete(key);
    else s.set(key, textOf(s, key, value));
  };

/** Replaces /etc/fstab (a text, or a function of the recorded one). */
export const fstab = (v: string | ((old: string) => string)): Edit => section('fstab', v);

/** Replaces a text file at the top of the boot partition (config.txt, cmdline.txt); undefined removes it. */
export const bootText = (name: string, v: string | undefined | ((old: string) => string)): Edit => section(`txt:${name}`, v);

/** The active bootloader config, as `rpi-eeprom-config` would print it (a text, or a function of the recorded one). */
export const bootloaderConfig =
  (v: string | ((old: string) => string)): Edit =>
  (s) => {
    const old = (s.get('eeprom') ?? '').replace(/rc=\d+\n?$/, '');
    const text = typeof v === 'function' ? v(old) : v;
    s.set('eeprom', `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}rc=0\n`);
  };

/** /etc/default/rpi-eeprom-update. */
export const eepromDefaults = (v: string): Edit => section('eeprom-defaults', v);

/** Who logged in and what sudo allows: 'root', 'ok' (passwordless), 'password', 'absent'. */
export const login =
  (user: string, uid: number, sudo: 'root' | 'ok' | 'password' | 'absent'): Edit =>
  (s) => {
    const lines = (s.get('id') ?? '').split('\n');
    s.set('id', [String(uid), user, sudo, ...lines.slice(3)].join('\n'));
  };

/** No serial anywhere: not in cpuinfo, not in the device tree, no OTP dump. */
export const noSerial: Edit = (s) => {
  s.set('cpuinfo', (s.get('cpuinfo') ?? '').replace(/^Serial\s*:.*\n?/m, ''));
  s.delete('dt-serial');
  s.delete('otp');
};

function editBootList(s: Map<string, string>, fn: (recs: string[]) => string[]): void {
  const recs = (s.get('boot-list') ?? '').split('\0').filter((r) => r.trim() !== '');
  s.set('boot-list', fn(recs).map((r) => `${r}\0`).join(''));
}
const pathOfRecord = (r: string): string => r.replace(/^\n/, '').split(' ').slice(6).join(' ');

/** Drops a file from the boot partition's listing (as if it were not on the Pi). */
export const dropBootFile =
  (path: string): Edit =>
  (s) =>
    editBootList(s, (recs) => {
      const kept = recs.filter((r) => pathOfRecord(r) !== path);
      if (kept.length === recs.length) throw new Error(`dropBootFile: ${path} is not in the recorded boot listing`);
      return kept;
    });

/** Changes a boot file's listed mode, size or mtime (seconds). */
export const bootFile =
  (path: string, change: { mode?: number; size?: number; mtime?: number }): Edit =>
  (s) =>
    editBootList(s, (recs) => {
      let found = false;
      const out = recs.map((r) => {
        if (pathOfRecord(r) !== path) return r;
        found = true;
        const f = r.replace(/^\n/, '').split(' ');
        if (change.mode !== undefined) f[1] = change.mode.toString(8);
        if (change.size !== undefined) f[4] = String(change.size);
        if (change.mtime !== undefined) f[5] = String(change.mtime);
        return f.join(' ');
      });
      if (!found) throw new Error(`bootFile: ${path} is not in the recorded boot listing`);
      return out;
    });

/** A staged bootloader update (pieeprom.upd in the boot partition) with this config; undefined: none. */
export const pendingUpdate =
  (config: string | undefined): Edit =>
  (s) => {
    editBootList(s, (recs) => recs.filter((r) => !/^pieeprom\.(upd|sig)$/.test(pathOfRecord(r))));
    if (config === undefined) {
      s.delete('eeprom-pending');
      return;
    }
    s.set('eeprom-pending', `${config}${config.endsWith('\n') ? '' : '\n'}rc=0\n`);
    editBootList(s, (recs) => [...recs, 'f 644 0 0 524288 1767225600.0000000000 pieeprom.upd', 'f 644 0 0 65 1767225600.0000000000 pieeprom.sig']);
  };

/** The files listed in pinet's hook directories (full paths), and pinet's hook contents. */
export const hookFiles =
  (paths: string[], contents: Record<string, string> = {}): Edit =>
  (s) => {
    s.set('hooks', paths.map((p) => `${p}\n`).join(''));
    for (const k of [...s.keys()]) if (k.startsWith('hook:')) s.delete(k);
    for (const [p, c] of Object.entries(contents)) s.set(`hook:${p}`, c);
  };

// ---- the export, as plain data ----

/** An export listing entry (a file 0644 or a directory 0755 owned by root, unless said otherwise). */
export function entry(type: TreeEntry['type'], over: Partial<TreeEntry> = {}): TreeEntry {
  return { type, size: 0, mtimeMs: 0, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, ...over };
}

/** The export listing enroll leaves for this Pi: every boot file it copies, 0644, directories 0755, mtimes to the second. */
export function copiedListing(d: Detected, exclude: (path: string) => boolean = (p) => /^pieeprom\.|^recovery\.bin$/.test(p)): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  for (const e of d.bootList) {
    if (exclude(e.path)) continue;
    if (e.type === 'dir') out.set(e.path, entry('dir'));
    else if (e.type === 'file') out.set(e.path, entry('file', { size: e.size, mtimeMs: Math.floor(e.mtimeMs / 1000) * 1000 }));
  }
  return out;
}
