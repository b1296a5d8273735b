/**
 * File operations on a remote host, each in one round trip.
 *
 * Each operation is a script in scripts/remote/ (read-files.sh, stat.sh,
 * write-file.sh) run by `runScript`; paths and values arrive as positional
 * parameters. By default they run as root
 * (directly, or through `sudo -n`), since the files pinet touches on a Pi
 * (fstab, the boot partition, the bootloader config) belong to root.
 *
 * * `readFiles(paths)`: many files in one round trip; a missing file is
 *   reported as missing, not as an error. Works for /proc and /sys files too.
 * * `stat`/`statMany`: mode, owner, size, mtime, type (GNU stat).
 * * `writeFileAtomic`: the content goes over stdin into a temporary file in
 *   the target's directory; only when its size and SHA-256 match what was
 *   sent is it given the old file's mode and owner, fsynced and renamed over
 *   the target. A connection that drops mid-way leaves the old file and no
 *   temporary file; a completed rename leaves the new one. Never a partial
 *   file.
 */
import { createHash } from 'node:crypto';
import { RemoteError } from './errors.js';
import { showValue } from './destination.js';
import type { RemoteHost } from './remote-host.js';
import { runScript, ScriptError, type ScriptOutput } from './script.js';

export interface ReadOptions {
  /** Read as root (default true). */
  sudo?: boolean;
  step?: string;
  timeoutMs?: number;
}

export type FileRead = { status: 'ok'; content: Buffer } | { status: 'missing' } | { status: 'error'; message: string };

function checkPath(host: RemoteHost, path: string, step: string): void {
  if (!path.startsWith('/') || path.includes('\0')) {
    throw new RemoteError('remote-file', host.label, step, `${step}: ${showValue(path)} is not an absolute path`);
  }
}

/** The sections read-files.sh prints, one per path in order, as results. */
export function readResults(out: Pick<ScriptOutput, 'records'>, paths: readonly string[]): Map<string, FileRead> {
  const sections = out.records.filter((r) => r.kind === 'section');
  if (sections.length !== paths.length) throw new Error(`expected ${paths.length} files, got ${sections.length}`);
  const result = new Map<string, FileRead>();
  paths.forEach((path, i) => {
    const r = sections[i]!;
    if (r.words === 'ok') result.set(path, { status: 'ok', content: Buffer.from(r.body) });
    else if (r.words === 'missing') result.set(path, { status: 'missing' });
    else result.set(path, { status: 'error', message: r.body.toString('utf8').trim() });
  });
  return result;
}

/** Reads several files in one round trip. */
export async function readFiles(host: RemoteHost, paths: readonly string[], opts: ReadOptions = {}): Promise<Map<string, FileRead>> {
  const step = opts.step ?? (paths.length === 1 ? `reading ${paths[0]}` : `reading ${paths.length} files`);
  for (const p of paths) checkPath(host, p, step);
  if (paths.length === 0) return new Map();
  const out = await runScript(host, 'read-files', paths, { step, sudo: opts.sudo ?? true, ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }) });
  try {
    return readResults(out, paths);
  } catch (err) {
    throw new RemoteError('protocol', host.label, step, `${step}: ${(err as Error).message}`);
  }
}

/** Reads one file; a missing or unreadable file is an error naming it. */
export async function readFile(host: RemoteHost, path: string, opts: ReadOptions = {}): Promise<Buffer> {
  const step = opts.step ?? `reading ${path}`;
  const r = (await readFiles(host, [path], { ...opts, step })).get(path);
  if (r?.status === 'ok') return r.content;
  const why = r?.status === 'missing' ? 'no such file' : r?.status === 'error' ? r.message : 'no answer';
  throw new RemoteError('remote-file', host.label, step, `cannot read ${path}: ${why}`);
}

export interface RemoteStat {
  type: 'file' | 'directory' | 'symlink' | 'other';
  /** Permission bits (e.g. 0o644), including setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
}

export interface StatOptions {
  sudo?: boolean;
  /** Follow a final symlink (stat -L). */
  follow?: boolean;
  step?: string;
}

/** Parses one `stat -c '%f %u %g %s %Y'` line. */
export function parseStatLine(line: string): RemoteStat | undefined {
  const m = /^([0-9a-f]+) ([0-9]+) ([0-9]+) ([0-9]+) (-?[0-9]+)$/.exec(line.trim());
  if (!m) return undefined;
  const raw = parseInt(m[1] ?? '0', 16);
  const fmt = raw & 0o170000;
  const type = fmt === 0o100000 ? 'file' : fmt === 0o040000 ? 'directory' : fmt === 0o120000 ? 'symlink' : 'other';
  return { type, mode: raw & 0o7777, uid: Number(m[2]), gid: Number(m[3]), size: Number(m[4]), mtime: Number(m[5]) };
}

export async function statMany(host: RemoteHost, paths: readonly string[], opts: StatOptions = {}): Promise<Map<string, RemoteStat | null>> {
  const step = opts.step ?? (paths.length === 1 ? `checking ${paths[0]}` : `checking ${paths.length} paths`);
  for (const p of paths) checkPath(host, p, step);
  const out = new Map<string, RemoteStat | null>();
  if (paths.length === 0) return out;
  const r = await runScript(host, 'stat', [opts.follow ? '-L' : '', ...paths], { step, sudo: opts.sudo ?? true });
  const lines = (r.sections.get('stat')?.toString('utf8') ?? '').split('\n');
  paths.forEach((p, i) => {
    const line = lines[i] ?? '';
    if (line === 'missing') out.set(p, null);
    else if (line.startsWith('ok ')) {
      const st = parseStatLine(line.slice(3));
      if (!st) throw new RemoteError('protocol', host.label, step, `${step}: unexpected stat output ${showValue(line)}`);
      out.set(p, st);
    } else throw new RemoteError('remote-file', host.label, step, `cannot stat ${p}`);
  });
  return out;
}

/** stat(2) (lstat unless `follow`); null when the path does not exist. */
export async function stat(host: RemoteHost, path: string, opts: StatOptions = {}): Promise<RemoteStat | null> {
  return (await statMany(host, [path], opts)).get(path) ?? null;
}

export interface WriteOptions {
  /** Mode to set (e.g. 0o644); default: the old file's mode, 0644 for a new file. */
  mode?: number;
  /** Keep the old file's owner, group and mode (default true). */
  keepOwnerAndMode?: boolean;
  sudo?: boolean;
  step?: string;
  timeoutMs?: number;
}

export interface WriteResult {
  /** The file did not exist before. */
  created: boolean;
}

/** Replaces a remote file atomically (see the module comment). */
export async function writeFileAtomic(
  host: RemoteHost,
  path: string,
  content: string | Buffer,
  opts: WriteOptions = {},
): Promise<WriteResult> {
  const step = opts.step ?? `writing ${path}`;
  checkPath(host, path, step);
  if (path.endsWith('/')) throw new RemoteError('remote-file', host.label, step, `${step}: ${showValue(path)} names a directory`);
  const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  if (opts.mode !== undefined && !(Number.isInteger(opts.mode) && opts.mode >= 0 && opts.mode <= 0o7777)) {
    throw new Error(`internal error: bad mode ${opts.mode}`);
  }
  const sum = createHash('sha256').update(data).digest('hex');
  const args = [
    path,
    String(data.length),
    sum,
    opts.mode === undefined ? '' : opts.mode.toString(8),
    opts.keepOwnerAndMode === false ? '0' : '1',
  ];
  let r: ScriptOutput;
  try {
    r = await runScript(host, 'write-file', args, { step, sudo: opts.sudo ?? true, input: data, ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }) });
  } catch (err) {
    if (!(err instanceof ScriptError)) throw err;
    const why = err.failedStep ? err.message.replace(/^.*? failed: /, '') : `the script exited with status ${err.code}`;
    const detail = err.failedStep ? '' : err.stderrLine;
    throw new RemoteError('remote-file', host.label, step, `cannot write ${path}: ${why}${detail ? ` (${detail})` : ''}`, {
      hint: 'the old file was left as it was',
      cause: err,
    });
  }
  return { created: r.sections.get('existed')?.toString('utf8').trim() === '0' };
}
