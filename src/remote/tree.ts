/**
 * Copying a directory tree from a remote host to a local directory, and
 * listing one with checksums; hashing and fetching chosen files of one.
 *
 * `streamTree` runs, on two channels of the same connection at once, the
 * remote `find … | tar -cf -` (read by our own tar reader, written to disk
 * as it arrives) and a listing of every entry with size, mtime and, for
 * files, SHA-256. After the copy every file's size and checksum (computed
 * while writing) is compared with the listing; any difference is an error
 * naming the file. Names may contain anything but NUL and "/"  (spaces,
 * quotes, newlines): they only ever travel NUL-separated or inside tar
 * headers, never through a shell line.
 *
 * Extraction is careful: no absolute names, no "..", no writing through a
 * symbolic link (existing files and links are replaced, not followed); file
 * and symlink mtimes are set as the archive says, directory mtimes and modes
 * at the end. Modes are kept as they are, or with `modes: 'normalize'` set
 * to 0644 for files and 0755 for directories. Owners are not copied.
 *
 * For enroll's send-once copy (src/jobs/enroll/send-once.ts): `hashFiles`
 * reads chosen files once on the host for their SHA-256 and size (one round
 * trip, scripts/remote/hash-files.sh), and `fetchFiles` streams chosen
 * files as one tar archive, handing each file's bytes to the caller as they
 * arrive (the content store writes and verifies them).
 */
import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { chmod, link, lstat, lutimes, mkdir, open, symlink, unlink, utimes, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { lastLine, RemoteError } from './errors.js';
import { showValue } from './destination.js';
import type { RemoteHost } from './remote-host.js';
import { runScript, ScriptError, startScript, type ScriptHost, type ScriptOutput } from './script.js';
import { readTar, TarFormatError } from './tar.js';

export interface TreeEntry {
  /** Relative path with "/" separators; "" is the directory itself. */
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  mode: number;
  /** Seconds since the epoch (fractional). */
  mtime: number;
  /** Hex SHA-256 of a file's content. */
  sha256?: string;
  /** Target of a symlink. */
  linkTarget?: string;
}

export interface ListTreeOptions {
  /**
   * Patterns to leave out, as find(1) matches them: a pattern without "/"
   * matches a name anywhere (`pieeprom.*`), one with "/" a path relative to
   * the top (`overlays/README`). A matched directory is left out whole.
   */
  exclude?: readonly string[];
  sudo?: boolean;
  step?: string;
}

export interface StreamTreeOptions extends ListTreeOptions {
  /** Called as data arrives: bytes of file content and files completed so far. */
  onProgress?: (bytes: number, files: number) => void;
  /** Copy only these relative paths (files, links, directories); the rest is left alone. */
  only?: readonly string[];
  /** 'keep' (default) the remote modes, or 'normalize' to 0644 files / 0755 directories. */
  modes?: 'keep' | 'normalize';
}

export interface StreamTreeResult {
  /** Files written. */
  files: number;
  /** Bytes of file content written. */
  bytes: number;
  /** The verified remote listing (of the whole tree, exclusions applied). */
  entries: TreeEntry[];
}

function relPath(name: string): string {
  let p = name.replace(/^\.\//, '').replace(/\/+$/, '');
  if (p === '.') p = '';
  return p;
}

/** Undoes sha256sum's escaping of names with "\\", newline or CR. */
export function parseSha256Line(line: string): { hash: string; name: string } | undefined {
  const escaped = line.startsWith('\\');
  const body = escaped ? line.slice(1) : line;
  const m = /^([0-9a-f]{64}) [ *](.*)$/s.exec(body);
  if (!m) return undefined;
  let name = m[2] ?? '';
  if (escaped) name = name.replace(/\\(\\|n|r)/g, (_x, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : '\\'));
  return { hash: m[1] ?? '', name };
}

/** Parses list-tree.sh's two sections: the find records and sha256sum's lines. */
export function parseListing(out: Buffer, sums: string): TreeEntry[] {
  const entries = new Map<string, TreeEntry>();
  let off = 0;
  while (off < out.length) {
    const end = out.indexOf(0, off);
    if (end < 0) throw new Error('truncated listing');
    const head = out.subarray(off, end).toString('latin1');
    const pEnd = out.indexOf(0, end + 1);
    const lEnd = pEnd < 0 ? -1 : out.indexOf(0, pEnd + 1);
    if (pEnd < 0 || lEnd < 0) throw new Error('truncated listing');
    const m = /^([a-zA-Z]) ([0-9]+) ([0-7]+) ([0-9.]+)$/.exec(head);
    if (!m) throw new Error(`unexpected listing record ${JSON.stringify(head)}`);
    const path = relPath(out.subarray(end + 1, pEnd).toString('utf8'));
    const y = m[1];
    const type: TreeEntry['type'] = y === 'f' ? 'file' : y === 'd' ? 'directory' : y === 'l' ? 'symlink' : 'other';
    const entry: TreeEntry = { path, type, size: Number(m[2]), mode: parseInt(m[3] ?? '0', 8), mtime: Number(m[4]) };
    if (type === 'symlink') entry.linkTarget = out.subarray(pEnd + 1, lEnd).toString('utf8');
    if (type !== 'file') entry.size = type === 'symlink' ? entry.size : 0;
    entries.set(path, entry);
    off = lEnd + 1;
  }
  for (const line of sums.split('\n')) {
    if (line === '') continue;
    const h = parseSha256Line(line);
    if (!h) throw new Error(`unexpected checksum line ${JSON.stringify(line.slice(0, 100))}`);
    const e = entries.get(relPath(h.name));
    if (e) e.sha256 = h.hash;
  }
  return [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function checkDir(host: { label: string }, dir: string, step: string): void {
  if (!dir.startsWith('/') || dir.includes('\0')) {
    throw new RemoteError('remote-file', host.label, step, `${step}: ${showValue(dir)} is not an absolute path`);
  }
}

function checkPatterns(patterns: readonly string[]): void {
  for (const p of patterns) {
    if (p === '' || p.includes('\0') || p.startsWith('/')) throw new Error(`bad exclude pattern ${showValue(p)}: give a name or a relative path`);
  }
}

/** Lists a remote tree with sizes, modes, mtimes and the SHA-256 of every file. */
export async function listTree(host: RemoteHost, remoteDir: string, opts: ListTreeOptions = {}): Promise<TreeEntry[]> {
  const step = opts.step ?? `listing ${remoteDir}`;
  checkDir(host, remoteDir, step);
  checkPatterns(opts.exclude ?? []);
  let r: ScriptOutput;
  try {
    r = await runScript(host, 'list-tree', [remoteDir, ...(opts.exclude ?? [])], { step, sudo: opts.sudo ?? true });
  } catch (err) {
    if (!(err instanceof ScriptError)) throw err;
    const why = err.failedStep ? err.message.replace(/^.*? failed: /, '') : err.stderrLine || `status ${err.code}`;
    throw new RemoteError('remote-file', host.label, step, `cannot list ${remoteDir}: ${why}`, { cause: err });
  }
  try {
    return parseListing(r.sections.get('listing') ?? Buffer.alloc(0), r.sections.get('sums')?.toString('utf8') ?? '');
  } catch (err) {
    throw new RemoteError('protocol', host.label, step, `${step}: ${(err as Error).message}`);
  }
}

function unsafeName(path: string): boolean {
  return path.startsWith('/') || path.split('/').some((c) => c === '..' || c === '.');
}

/** Removes whatever is at `path` unless it is a directory and `keepDir`. */
async function clearPath(path: string, keepDir: boolean): Promise<'dir' | 'none'> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return 'none';
  if (st.isDirectory()) {
    if (keepDir) return 'dir';
    await rm(path, { recursive: true, force: true });
    return 'none';
  }
  await unlink(path);
  return 'none';
}

/**
 * Copies `remoteDir` on the host into `localDir` (created if missing) and
 * verifies every file against a listing made at the same time.
 */
export async function streamTree(
  host: RemoteHost,
  remoteDir: string,
  localDir: string,
  opts: StreamTreeOptions = {},
): Promise<StreamTreeResult> {
  const step = opts.step ?? `copying ${remoteDir}`;
  checkDir(host, remoteDir, step);
  checkPatterns(opts.exclude ?? []);
  const sudo = opts.sudo ?? true;
  const only = opts.only?.map(relPath);
  if (only) {
    for (const p of only) {
      if (p === '' || unsafeName(p) || p.includes('\0')) throw new Error(`bad path ${showValue(p)} in "only"`);
    }
  }
  const normalize = opts.modes === 'normalize';

  await mkdir(localDir, { recursive: true });
  if (only && only.length === 0) return { files: 0, bytes: 0, entries: await listTree(host, remoteDir, { exclude: opts.exclude, sudo, step }) };
  const listing = listTree(host, remoteDir, { exclude: opts.exclude, sudo, step });
  listing.catch(() => undefined); // awaited below

  const started = only
    ? await startScript(host, 'tar-tree', [remoteDir, 'list'], { step, sudo, input: Buffer.from(only.map((p) => `./${p}\0`).join('')) })
    : await startScript(host, 'tar-tree', [remoteDir, 'all', ...(opts.exclude ?? [])], { step, sudo });

  const hashes = new Map<string, { size: number; sha256: string }>();
  const dirs: Array<{ path: string; mode: number; mtime: number }> = [];
  const symlinks = new Set<string>();
  const verifiedDirs = new Set<string>(['']);
  let bytes = 0;
  let fileCount = 0;

  // Makes sure every parent of `rel` is a real directory we may write into.
  const ensureParents = async (rel: string): Promise<void> => {
    const parts = rel.split('/');
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur === '' ? (parts[i] as string) : `${cur}/${parts[i]}`;
      if (verifiedDirs.has(cur)) continue;
      if (symlinks.has(cur)) throw new Error(`${showValue(rel)} would be written through the symbolic link ${showValue(cur)}`);
      const abs = join(localDir, cur);
      const st = await lstat(abs).catch(() => undefined);
      if (!st) await mkdir(abs, { mode: 0o755 });
      else if (!st.isDirectory()) {
        await unlink(abs);
        await mkdir(abs, { mode: 0o755 });
      }
      verifiedDirs.add(cur);
    }
  };

  const extract = readTar(started.stdout as AsyncIterable<Buffer>, async (entry, data) => {
    const rel = relPath(entry.name);
    if (rel !== '' && unsafeName(rel)) throw new TarFormatError(`unsafe name ${showValue(entry.name)} in the archive`);
    const abs = rel === '' ? localDir : join(localDir, rel);
    if (rel !== '') await ensureParents(rel);
    switch (entry.type) {
      case 'directory': {
        if (rel !== '' && (await clearPath(abs, true)) === 'none') await mkdir(abs, { mode: 0o755 });
        // Writable while we fill it; the real mode is applied at the end.
        await chmod(abs, 0o755);
        verifiedDirs.add(rel);
        dirs.push({ path: abs, mode: normalize ? 0o755 : entry.mode, mtime: entry.mtime });
        return;
      }
      case 'file': {
        await clearPath(abs, false);
        const handle = await open(abs, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
        const hash = createHash('sha256');
        let size = 0;
        try {
          for await (const chunk of data) {
            hash.update(chunk);
            await handle.write(chunk);
            size += chunk.length;
            bytes += chunk.length;
            opts.onProgress?.(bytes, fileCount);
          }
          await handle.chmod(normalize ? 0o644 : entry.mode);
        } finally {
          await handle.close();
        }
        await utimes(abs, entry.mtime, entry.mtime);
        hashes.set(rel, { size, sha256: hash.digest('hex') });
        fileCount++;
        opts.onProgress?.(bytes, fileCount);
        return;
      }
      case 'symlink': {
        await clearPath(abs, false);
        await symlink(entry.linkName, abs);
        await lutimes(abs, entry.mtime, entry.mtime).catch(() => undefined);
        symlinks.add(rel);
        return;
      }
      case 'hardlink': {
        const target = relPath(entry.linkName);
        const known = hashes.get(target);
        if (unsafeName(target) || !known) throw new TarFormatError(`hard link ${showValue(entry.name)} to an unknown file ${showValue(entry.linkName)}`);
        await clearPath(abs, false);
        await link(join(localDir, target), abs);
        hashes.set(rel, known);
        fileCount++;
        opts.onProgress?.(bytes, fileCount);
        return;
      }
      default:
        // Devices, fifos, sockets: not part of a boot partition; skipped.
        return;
    }
  });

  let extractError: unknown;
  await extract.catch((err: unknown) => {
    extractError = err;
    started.kill();
  });
  let ended: { code: number | null; stderr: string } | undefined;
  try {
    ended = await started.done;
  } catch (err) {
    // A lost connection or sudo problem says more than a truncated stream.
    await listing.catch(() => undefined);
    throw err;
  }
  if (ended.code !== 0 && ended.code !== 1) {
    await listing.catch(() => undefined);
    const why = ended.code === 3 ? 'no such directory' : lastLine(ended.stderr) || `tar exited with status ${ended.code}`;
    throw new RemoteError('remote-file', host.label, step, `${step} failed: ${why}`);
  }
  if (extractError !== undefined) {
    await listing.catch(() => undefined);
    const msg = extractError instanceof Error ? extractError.message : String(extractError);
    throw new RemoteError('remote-file', host.label, step, `${step} to ${localDir} failed: ${msg}`, { cause: extractError });
  }

  // Directory modes and mtimes last, deepest first, so filling them did not change them.
  for (const d of dirs.reverse()) {
    await chmod(d.path, d.mode);
    await utimes(d.path, d.mtime, d.mtime);
  }

  const entries = await listing;
  const wanted = only ? new Set(only) : undefined;
  const problems: string[] = [];
  for (const e of entries) {
    if (wanted && !wanted.has(e.path)) continue;
    if (e.type === 'file') {
      const got = hashes.get(e.path);
      if (!got) problems.push(`${showValue(e.path)} is missing`);
      else if (got.size !== e.size) problems.push(`${showValue(e.path)} has ${got.size} bytes, the host has ${e.size}`);
      else if (e.sha256 !== undefined && got.sha256 !== e.sha256) problems.push(`${showValue(e.path)} differs from the host's copy (SHA-256)`);
    } else if (e.type === 'directory' || e.type === 'symlink') {
      const st = await lstat(e.path === '' ? localDir : join(localDir, e.path)).catch(() => undefined);
      if (!st || (e.type === 'directory' ? !st.isDirectory() : !st.isSymbolicLink())) problems.push(`${showValue(e.path)} is missing`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 3).join('; ');
    throw new RemoteError(
      'remote-file',
      host.label,
      step,
      `${step}: the copy does not match the host: ${shown}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`,
      { hint: 'files changed on the host while they were copied, or the copy was damaged; run again' },
    );
  }
  return { files: fileCount, bytes, entries };
}

/** A file's SHA-256 and size, as the host read them in one pass. */
export interface FileHash {
  sha256: string;
  size: number;
  /** Its mtime in whole seconds after it was read (absent when the host hashed with sha256sum). */
  mtime?: number;
}

/** Parses hash-files.sh's "hashes" section: per file its hash, or why it could not be read. */
export function parseHashes(out: Buffer): Map<string, FileHash | { error: string }> {
  const result = new Map<string, FileHash | { error: string }>();
  let off = 0;
  while (off < out.length) {
    const end = out.indexOf(0, off);
    const nameEnd = end < 0 ? -1 : out.indexOf(0, end + 1);
    if (end < 0 || nameEnd < 0) throw new Error('truncated hash list');
    const head = out.subarray(off, end).toString('utf8');
    const path = relPath(out.subarray(end + 1, nameEnd).toString('utf8'));
    off = nameEnd + 1;
    if (head.startsWith('! ')) {
      result.set(path, { error: head.slice(2) });
      continue;
    }
    const m = /^([0-9a-f]{64}) ([0-9]+) (-?[0-9]+)$/.exec(head);
    if (!m) throw new Error(`unexpected hash record ${JSON.stringify(head.slice(0, 100))}`);
    result.set(path, { sha256: m[1]!, size: Number(m[2]), mtime: Number(m[3]) });
  }
  return result;
}

export interface HashFilesOptions {
  sudo?: boolean;
  step?: string;
  timeoutMs?: number;
}

/**
 * The SHA-256 and size of each of `paths` (relative to `remoteDir`), read
 * on the host in one pass (scripts/remote/hash-files.sh), in one round trip.
 * A file that cannot be read is an error naming it.
 */
export async function hashFiles(host: ScriptHost, remoteDir: string, paths: readonly string[], opts: HashFilesOptions = {}): Promise<Map<string, FileHash>> {
  const step = opts.step ?? `hashing files in ${remoteDir}`;
  checkDir(host, remoteDir, step);
  const wanted = paths.map(relPath);
  for (const p of wanted) if (p === '' || unsafeName(p) || p.includes('\0')) throw new Error(`bad path ${showValue(p)} to hash`);
  if (wanted.length === 0) return new Map();
  let r: ScriptOutput;
  try {
    r = await runScript(host, 'hash-files', [remoteDir], {
      step,
      sudo: opts.sudo ?? true,
      input: Buffer.from(wanted.map((p) => `./${p}\0`).join('')),
      ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }),
    });
  } catch (err) {
    if (!(err instanceof ScriptError)) throw err;
    const why = err.failedStep ? err.message.replace(/^.*? failed: /, '') : err.stderrLine || `status ${err.code}`;
    throw new RemoteError('remote-file', host.label, step, `cannot hash the files in ${remoteDir}: ${why}${err.failedStep && err.stderrLine ? ` (${err.stderrLine})` : ''}`, { cause: err });
  }
  const out = new Map<string, FileHash>();
  const problems: string[] = [];
  try {
    const hashes = r.sections.get('hashes');
    if (hashes !== undefined) {
      for (const [path, h] of parseHashes(hashes)) {
        if ('error' in h) problems.push(`${showValue(path)}: ${h.error}`);
        else out.set(path, h);
      }
    } else {
      for (const line of (r.sections.get('sums')?.toString('utf8') ?? '').split('\n')) {
        if (line === '') continue;
        const h = parseSha256Line(line);
        if (!h) throw new Error(`unexpected checksum line ${JSON.stringify(line.slice(0, 100))}`);
        out.set(relPath(h.name), { sha256: h.hash, size: -1 });
      }
    }
  } catch (err) {
    throw new RemoteError('protocol', host.label, step, `${step}: ${(err as Error).message}`);
  }
  for (const p of wanted) if (!out.has(p) && !problems.some((x) => x.startsWith(`${showValue(p)}:`))) problems.push(`${showValue(p)}: not hashed`);
  if (problems.length > 0) {
    throw new RemoteError('remote-file', host.label, step, `cannot hash ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''} in ${remoteDir}`, {
      hint: 'the files changed or vanished while enroll read them; run again',
    });
  }
  return out;
}

export interface FetchFilesOptions {
  sudo?: boolean;
  step?: string;
}

/**
 * Streams `paths` (files relative to `remoteDir`) from the host as one tar
 * archive (scripts/remote/tar-tree.sh, the names NUL-separated on its
 * stdin) and hands each file's content to `onFile` as it arrives, in the
 * archive's order; nothing is written here. Every path must arrive, once,
 * as a regular file. An error thrown by `onFile` stops the transfer and is
 * thrown as it is.
 */
export async function fetchFiles(
  host: ScriptHost,
  remoteDir: string,
  paths: readonly string[],
  onFile: (path: string, size: number, data: AsyncIterable<Buffer>) => Promise<void>,
  opts: FetchFilesOptions = {},
): Promise<void> {
  const step = opts.step ?? `reading files from ${remoteDir}`;
  checkDir(host, remoteDir, step);
  const wanted = new Set(paths.map(relPath));
  for (const p of wanted) if (p === '' || unsafeName(p) || p.includes('\0')) throw new Error(`bad path ${showValue(p)} to fetch`);
  if (wanted.size === 0) return;
  const started = await startScript(host, 'tar-tree', [remoteDir, 'list'], {
    step,
    sudo: opts.sudo ?? true,
    input: Buffer.from([...wanted].map((p) => `./${p}\0`).join('')),
  });
  const seen = new Set<string>();
  let callbackError: { error: unknown } | undefined;
  const extract = readTar(started.stdout as AsyncIterable<Buffer>, async (entry, data) => {
    const rel = relPath(entry.name);
    if (!wanted.has(rel) || seen.has(rel)) throw new TarFormatError(`unexpected entry ${showValue(entry.name)} in the archive`);
    if (entry.type !== 'file') throw new TarFormatError(`${showValue(rel)} is not a regular file on the host`);
    seen.add(rel);
    try {
      await onFile(rel, entry.size, data);
    } catch (err) {
      callbackError = { error: err };
      throw err;
    }
  });
  let extractError: unknown;
  await extract.catch((err: unknown) => {
    extractError = err;
    started.kill();
  });
  if (callbackError) {
    await started.done.catch(() => undefined);
    throw callbackError.error;
  }
  const ended = await started.done;
  if (ended.code !== 0 && ended.code !== 1) {
    // tar's last line only says it failed; the line before says why ("./x: Cannot stat: No such file or directory").
    const why = ended.code === 3 ? 'no such directory' : lastLine(ended.stderr.replace(/^.*Exiting with failure status.*$/gm, '')) || `tar exited with status ${ended.code}`;
    throw new RemoteError('remote-file', host.label, step, `${step} failed: ${why}`, { hint: 'the files changed or vanished on the host; run again' });
  }
  if (extractError !== undefined) {
    throw new RemoteError('remote-file', host.label, step, `${step} failed: ${extractError instanceof Error ? extractError.message : String(extractError)}`, { cause: extractError });
  }
  const missing = [...wanted].filter((p) => !seen.has(p));
  if (missing.length > 0) {
    throw new RemoteError('remote-file', host.label, step, `${step}: ${missing.slice(0, 3).map(showValue).join(', ')}${missing.length > 3 ? ` (and ${missing.length - 3} more)` : ''} did not arrive`, {
      hint: 'the files changed or vanished on the host; run again',
    });
  }
}
