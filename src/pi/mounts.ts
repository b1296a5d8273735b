/**
 * The live mounts of a Pi, from /proc/mounts (`/proc/self/mounts`) or
 * /proc/self/mountinfo, and what is mounted at a path.
 *
 * Both files escape space, tab, newline and backslash in paths as octal
 * (`\040`, `\011`, `\012`, `\134`). In mountinfo the optional fields end at
 * a lone `-`, after which come the file system type, the source and the
 * super-block options (see proc(5)).
 */

import { splitFields, unescapeOctal } from './text.js';

export interface MountEntry {
  source: string;
  target: string;
  fstype: string;
  options: string[];
  /** mountinfo only: the root of the mount inside its file system, and the super-block options. */
  root?: string;
  superOptions?: string[];
}

export interface ParsedMounts {
  entries: MountEntry[];
  /** 1-based numbers of lines that could not be parsed. */
  badLines: number[];
}

/** Parse /proc/mounts: `source target fstype options dump pass`. */
export function parseProcMounts(text: string): ParsedMounts {
  const entries: MountEntry[] = [];
  const badLines: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    const f = splitFields(line);
    if (f.length < 4) {
      badLines.push(i + 1);
      return;
    }
    entries.push({
      source: unescapeOctal(f[0]!),
      target: unescapeOctal(f[1]!),
      fstype: unescapeOctal(f[2]!),
      options: unescapeOctal(f[3]!).split(','),
    });
  });
  return { entries, badLines };
}

/** Parse /proc/self/mountinfo (see proc(5)). */
export function parseMountinfo(text: string): ParsedMounts {
  const entries: MountEntry[] = [];
  const badLines: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    const f = splitFields(line);
    const dash = f.indexOf('-', 6);
    if (f.length < 10 || dash === -1 || dash + 3 > f.length) {
      badLines.push(i + 1);
      return;
    }
    entries.push({
      root: unescapeOctal(f[3]!),
      target: unescapeOctal(f[4]!),
      options: unescapeOctal(f[5]!).split(','),
      fstype: unescapeOctal(f[dash + 1]!),
      source: unescapeOctal(f[dash + 2]!),
      superOptions: unescapeOctal(f[dash + 3] ?? '').split(',').filter(Boolean),
    });
  });
  return { entries, badLines };
}

/** Parse either format, deciding by the shape of the first non-empty line. */
export function parseMounts(text: string): ParsedMounts {
  const first = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return /^\d+ \d+ \d+:\d+ /.test(first) ? parseMountinfo(text) : parseProcMounts(text);
}

/** `/boot/firmware/` → `/boot/firmware`; `//boot` → `/boot`. */
export function normaliseMountPath(path: string): string {
  const p = path.replace(/\/{2,}/g, '/');
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

/** What is mounted exactly at `path` right now (the last, topmost mount), if anything. */
export function findMountAt(entries: readonly MountEntry[], path: string): MountEntry | undefined {
  const want = normaliseMountPath(path);
  for (let i = entries.length - 1; i >= 0; i--) {
    if (normaliseMountPath(entries[i]!.target) === want) return entries[i];
  }
  return undefined;
}


export function isNfs(entry: Pick<MountEntry, 'fstype'>): boolean {
  return entry.fstype === 'nfs' || entry.fstype === 'nfs4';
}
