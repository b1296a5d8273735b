/**
 * Local file writes that never leave a half-written file behind.
 *
 * `writeFileAtomic` (the write-file-atomic library, plus an fsync of the
 * directory) writes a temporary file in the same directory, fsyncs it,
 * keeps the old file's mode and owner, and renames it over the target, so a
 * reader sees either the old or the new content. `writeIfChanged` adds the
 * rule every pinet output follows: touch the file only when its content
 * changes, and keep the previous version as `<file>.bak` on request.
 * The library is imported on the first write, so commands that only read
 * (or print) do not load it.
 */
import { constants as fsc } from 'node:fs';
import { chmod, chown, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface AtomicWriteOptions {
  /** Mode for a new file; an existing file keeps its own mode unless this is set. */
  mode?: number;
  /** Force the mode even when the file exists. */
  forceMode?: boolean;
}

export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const existing = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  // write-file-atomic keeps an existing file's mode and owner unless told otherwise, fsyncs the
  // temporary file and renames it over the target; a new file gets our mode, not the umask's.
  const mode = existing && !options.forceMode ? undefined : (options.mode ?? 0o644);
  const { default: writeAtomically } = await import('write-file-atomic');
  await writeAtomically(path, typeof data === 'string' ? data : Buffer.from(data), { fsync: true, ...(mode !== undefined ? { mode } : {}) });
  if (mode !== undefined) await chmod(path, mode); // the umask must not narrow the mode we asked for
  await syncDir(dirname(path));
}

/** fsync a directory so a rename in it survives a crash; best effort. */
async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, fsc.O_RDONLY);
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

export async function readFileIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export interface WriteResult {
  path: string;
  /** The content before, or null when the file did not exist. */
  before: string | null;
  changed: boolean;
  created: boolean;
  /** Where the previous content was kept, when it was. */
  backupPath?: string;
}

export async function writeIfChanged(
  path: string,
  content: string,
  options: AtomicWriteOptions & { backup?: boolean } = {},
): Promise<WriteResult> {
  const before = await readFileIfExists(path);
  if (before === content) return { path, before, changed: false, created: false };
  let backupPath: string | undefined;
  if (before !== null && options.backup) {
    backupPath = `${path}.bak`;
    const st = await stat(path);
    await writeFileAtomic(backupPath, before, { mode: st.mode & 0o7777, forceMode: true });
    if (process.getuid?.() === 0) await chown(backupPath, st.uid, st.gid).catch(() => undefined);
  }
  await writeFileAtomic(path, content, options);
  return { path, before, changed: true, created: before === null, backupPath };
}
