/**
 * The export directory on the boot server: the NFS export as mounted here,
 * which is also the TFTP root, holding one directory per Pi.
 *
 * Checks that it can take a Pi (exists, writable, room), lists a Pi's copy
 * (for "what changed since the last enroll"), makes every file readable by
 * the TFTP server (0644 files, 0755 directories: the 0600 kernel pitfall)
 * and verifies a copy against the Pi's own checksums.
 */
import { access, chmod, constants, readdir, stat, statfs } from 'node:fs/promises';
import { lstat as lstatCb, lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { PinetError } from '../errors.js';

export const FILE_MODE = 0o644;
export const DIR_MODE = 0o755;

/**
 * Files of a boot partition that must not be copied to the export: a staged
 * bootloader update. Served over TFTP, the bootloader would try to apply it
 * at every network boot.
 */
export const COPY_EXCLUDES = [/^pieeprom\.(upd|sig|bin)$/, /^recovery\.bin$/, /^RECOVERY\.\d+$/i, /^pieeprom\.upd\.bak$/];

/** The same rule as find(1) name patterns, for the remote copy. */
export const COPY_EXCLUDE_PATTERNS = ['pieeprom.upd', 'pieeprom.sig', 'pieeprom.bin', 'pieeprom.upd.bak', 'recovery.bin', 'RECOVERY.[0-9][0-9][0-9]', 'recovery.[0-9][0-9][0-9]'];

export function isExcluded(relPath: string): boolean {
  const base = relPath.slice(relPath.lastIndexOf('/') + 1);
  return COPY_EXCLUDES.some((re) => re.test(base));
}

export async function checkExportDir(exportDir: string, needBytes = 0): Promise<void> {
  let st;
  try {
    st = await stat(exportDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PinetError(`the export directory ${exportDir} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}`, {
      exitCode: 2,
      hint: 'mount the NFS export there (see the README), or pass --export-dir',
    });
  }
  if (!st.isDirectory()) throw new PinetError(`the export directory ${exportDir} is not a directory`, { exitCode: 2, hint: 'pass --export-dir' });
  try {
    await access(exportDir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PinetError(`the export directory ${exportDir} is not writable (${code === 'EROFS' ? 'read-only file system' : 'permission denied'})`, {
      hint: code === 'EROFS' ? 'mount the export read-write' : 'run pinet as a user who may write there (root on the boot server)',
    });
  }
  if (needBytes > 0) {
    const fs = await statfs(exportDir).catch(() => undefined);
    if (fs) {
      const free = fs.bavail * fs.bsize;
      if (free < needBytes) {
        throw new PinetError(`the export directory ${exportDir} has ${mb(free)} free, the boot files need ${mb(needBytes)}`, {
          hint: 'free some space on the export',
        });
      }
    }
  }
}

export function mb(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} kB`;
}

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mtimeMs: number;
  mode: number;
  uid: number;
  gid: number;
}

/**
 * Every entry below `root`, by relative path (no leading ./), each directory
 * before what it holds, names sorted. Missing root → empty map.
 *
 * An enroll re-run lists fifty trees of ~430 files, and the listing was most
 * of pinet's own work in it. On a local file system the stats are made
 * synchronously (microseconds each, no promise per file); on a network file
 * system (NFS, CephFS, SMB, FUSE), where one can take a round trip, a
 * directory's entries are stat'ed at once, asynchronously, so the other
 * Pis' connections are not held up.
 */
export async function listTree(root: string, how: 'auto' | 'sync' | 'async' = 'auto'): Promise<Map<string, TreeEntry>> {
  if (how === 'sync') return listTreeSync(root);
  const fs = how === 'auto' ? await statfs(root).catch(() => undefined) : undefined;
  if (fs && !REMOTE_FS.has(fs.type)) return listTreeSync(root);
  const out = new Map<string, TreeEntry>();
  async function walk(rel: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(rel ? join(root, rel) : root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && rel === '') return;
      throw err;
    }
    const paths = names.sort().map((name) => (rel ? `${rel}/${name}` : name));
    const stats = await lstatAll(paths.map((r) => join(root, r)));
    for (let i = 0; i < paths.length; i++) {
      const type = entryOf(out, paths[i]!, stats[i]!);
      if (type === 'dir') await walk(paths[i]!);
    }
  }
  await walk('');
  return out;
}

/** statfs(2) types of network and FUSE file systems (linux/magic.h): NFS, CephFS, SMB/CIFS (three), FUSE, 9p. */
const REMOTE_FS = new Set([0x6969, 0x00c36400, 0x517b, 0xff534d42, 0xfe534d42, 0x65735546, 0x01021997]);

function listTreeSync(root: string): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  const walk = (rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(rel ? join(root, rel) : root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && rel === '') return;
      throw err;
    }
    for (const name of names.sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (entryOf(out, r, lstatSync(join(root, r))) === 'dir') walk(r);
    }
  };
  walk('');
  return out;
}

/** Records one entry; returns its type. */
function entryOf(out: Map<string, TreeEntry>, rel: string, st: Stats): TreeEntry['type'] {
  const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  out.set(rel, { type, size: st.size, mtimeMs: Math.floor(st.mtimeMs / 1000) * 1000, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
  return type;
}

/** lstat of every path, issued at once, in one promise (the first error rejects it). */
function lstatAll(paths: string[]): Promise<Stats[]> {
  return new Promise((resolve, reject) => {
    const stats: Stats[] = new Array<Stats>(paths.length);
    let left = paths.length;
    let failed = false;
    if (left === 0) resolve(stats);
    paths.forEach((p, i) => {
      lstatCb(p, (err, st) => {
        if (failed) return;
        if (err) {
          failed = true;
          reject(err);
          return;
        }
        stats[i] = st;
        if (--left === 0) resolve(stats);
      });
    });
  });
}

/** chmod every file to 0644 and every directory to 0755 (returns what was changed). */
export async function normalizeModes(root: string, only?: Iterable<string>): Promise<{ path: string; from: number; to: number }[]> {
  const changed: { path: string; from: number; to: number }[] = [];
  const rootSt = await stat(root);
  if ((rootSt.mode & 0o7777) !== DIR_MODE) {
    await chmod(root, DIR_MODE);
    changed.push({ path: '.', from: rootSt.mode & 0o7777, to: DIR_MODE });
  }
  const entries = await listTree(root);
  const wanted = only ? new Set(only) : undefined;
  for (const [rel, e] of entries) {
    if (e.type === 'symlink' || e.type === 'other') continue;
    if (wanted && e.type === 'file' && !wanted.has(rel)) continue;
    const to = e.type === 'dir' ? DIR_MODE : FILE_MODE;
    if (e.mode !== to) {
      await chmod(join(root, rel), to);
      changed.push({ path: rel, from: e.mode, to });
    }
  }
  return changed;
}



