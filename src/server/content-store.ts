/**
 * The content store of one enroll run: every distinct boot file content
 * (its SHA-256 and size) that has to cross the network, received once from
 * one Pi and kept on the export's own file system, so that every Pi's
 * directory is filled from it with local copies: `fs.copyFile` with
 * `COPYFILE_FICLONE`, which libuv turns into a reflink (the FICLONE ioctl)
 * where the file system has them (btrfs, XFS, NFS 4.2 with a server that
 * clones), else `copy_file_range` (in the kernel; on NFS 4.2 a server-side
 * copy), else `sendfile`. Never hard links: a kernel update on one Pi writes
 * into its own directory over NFS and must not change another Pi's files.
 * The last copy of a content takes the store's file itself (a rename).
 *
 * It lives in `<export-dir>/.pinet-store-<hostname>-<pid>-<random>/`, mode
 * 0700: the TFTP server (an unprivileged user) cannot enter it, its name
 * cannot be guessed, and doctor and watch skip dot directories. It is
 * removed when the run ends, failed or not; a store left by a run on this
 * machine that was killed is removed by the next run.
 *
 * A content is hashed while it is written, and kept only when its SHA-256
 * and size are the ones expected; its inode, size, mtime and ctime are
 * recorded then and checked again before every copy from it, so what each
 * Pi's directory gets is the verified content (see `copyTo`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, open, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { PinetError } from '../errors.js';

/** A content, as the Pis' hashes name it. */
export interface ContentKey {
  sha256: string;
  size: number;
}

/** The store's name for a content. */
export function contentName(k: ContentKey): string {
  return `${k.sha256}-${k.size}`;
}

/** How copies are made here: reflinks (shared extents), or copies of the bytes. */
export type CopyMethod = 'reflink' | 'copy';

interface Stored {
  path: string;
  size: number;
  /** What the file was when its content was verified. */
  identity: string;
  /** Copies still to be made from it; the last one takes the file itself. Undefined: never moved. */
  uses?: number;
  inflight: Set<Promise<void>>;
  moved: boolean;
}

const PREFIX = '.pinet-store-';
const STALE = /^\.pinet-store-(.+)-(\d+)-[0-9a-f]{16}$/;

function thisHost(): string {
  return hostname().replace(/[^A-Za-z0-9.]/g, '_') || 'host';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function identityOf(path: string): Promise<string> {
  const st = await lstat(path, { bigint: true });
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.isFile()}`;
}

export class ContentStore {
  private readonly stored = new Map<string, Stored>();
  /** Copies to be made of each content (by name), also of those not here yet. */
  private readonly uses = new Map<string, number>();
  private bytesStored = 0;

  private constructor(
    /** The store's directory. */
    readonly dir: string,
    /** Whether copies from it share extents (reflinks) or copy the bytes. */
    readonly copyMethod: CopyMethod,
  ) {}

  /** Creates the store in the export directory (and removes stores of dead runs on this machine). */
  static async open(exportDir: string): Promise<ContentStore> {
    await removeStale(exportDir);
    const dir = join(exportDir, `${PREFIX}${thisHost()}-${process.pid}-${randomBytes(8).toString('hex')}`);
    await mkdir(dir, { mode: 0o700 });
    await chmod(dir, 0o700);
    let method: CopyMethod = 'copy';
    try {
      await writeFile(join(dir, 'probe'), 'pinet');
      await copyFile(join(dir, 'probe'), join(dir, 'probe.clone'), fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE_FORCE);
      method = 'reflink';
    } catch {
      // no reflinks here: copy_file_range or a plain copy
    } finally {
      await rm(join(dir, 'probe'), { force: true });
      await rm(join(dir, 'probe.clone'), { force: true });
    }
    return new ContentStore(dir, method);
  }

  has(k: ContentKey): boolean {
    return this.stored.has(contentName(k));
  }

  /** Bytes of the contents received so far. */
  get bytes(): number {
    return this.bytesStored;
  }

  /**
   * Writes `data` as the content `k`, hashing it as it is written, and keeps
   * it when its SHA-256 and size are `k`'s. Otherwise nothing is kept and
   * the answer says what arrived.
   */
  async receive(k: ContentKey, data: AsyncIterable<Buffer>, onBytes?: (n: number) => void): Promise<{ ok: true } | { ok: false; sha256: string; size: number }> {
    const name = contentName(k);
    if (this.stored.has(name)) {
      for await (const _ of data) {
        // already here (sent by another Pi): skip these bytes
      }
      return { ok: true };
    }
    const part = join(this.dir, `${name}.part`);
    const path = join(this.dir, name);
    const handle = await open(part, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    const hash = createHash('sha256');
    let size = 0;
    try {
      try {
        for await (const chunk of data) {
          hash.update(chunk);
          await handle.write(chunk);
          size += chunk.length;
          onBytes?.(chunk.length);
        }
      } finally {
        await handle.close();
      }
      const sha256 = hash.digest('hex');
      if (sha256 !== k.sha256 || size !== k.size) {
        await unlink(part);
        return { ok: false, sha256, size };
      }
      // 0644 as every file of a Pi's directory: copies take the mode of their source (libuv), so
      // they need no chmod. Nobody but root enters the store (0700), and no mode stops root.
      await chmod(part, 0o644);
      await rename(part, path);
    } catch (err) {
      await rm(part, { force: true }).catch(() => undefined);
      throw err;
    }
    const uses = this.uses.get(name);
    this.stored.set(name, { path, size, identity: await identityOf(path), inflight: new Set(), moved: false, ...(uses !== undefined && { uses }) });
    this.bytesStored += size;
    return { ok: true };
  }

  /**
   * How many copies will be made of each content (by name), here or still
   * to come: the last one takes the store's file instead of copying it.
   */
  setUses(uses: Map<string, number>): void {
    for (const [name, n] of uses) {
      this.uses.set(name, n);
      const s = this.stored.get(name);
      if (s) s.uses = n;
    }
  }

  /** One planned copy of `k` will not be made (its Pi failed): a later copy may be the last. */
  release(k: ContentKey): void {
    const name = contentName(k);
    const s = this.stored.get(name);
    if (s?.uses !== undefined) s.uses--;
    else if (this.uses.has(name)) this.uses.set(name, this.uses.get(name)! - 1);
  }

  /**
   * Makes `dest` (which must not exist) a copy of the content `k`, mode 0644,
   * and returns its size. Before copying, the store's file must be exactly the
   * file that was verified (same inode, size, mtime and ctime: any write to
   * it, or a replacement, changes them), and after, the copy must be a
   * regular file of the content's size. The bytes of a copy are not read
   * back: the kernel copied (or shares) the verified file's bytes, and
   * reading them back would double the local I/O (over NFS, pull them back
   * over the link) without checking more than pinet's copies ever did,
   * which hash what they write.
   */
  async copyTo(k: ContentKey, dest: string): Promise<number> {
    const name = contentName(k);
    const s = this.stored.get(name);
    if (!s || s.moved) throw new Error(`internal error: ${name} is not in the content store`);
    // Decided before anything is awaited, so the last use waits for every copy started before it.
    const last = s.uses !== undefined && --s.uses <= 0;
    if (last) {
      s.moved = true;
      await Promise.all(s.inflight);
      await this.check(s, name);
      try {
        await rename(s.path, dest);
      } catch (err) {
        // Another file system below the export (a mount): a copy, then.
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        await copyFile(s.path, dest, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE);
      }
    } else {
      let finished = (): void => undefined;
      const copying = new Promise<void>((resolve) => (finished = resolve));
      s.inflight.add(copying);
      try {
        await this.check(s, name);
        await copyFile(s.path, dest, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE);
      } finally {
        finished();
        s.inflight.delete(copying);
      }
    }
    const st = await lstat(dest);
    if (!st.isFile() || st.size !== s.size) {
      throw new PinetError(`the copy ${dest} has ${st.isFile() ? `${st.size} bytes` : 'become something else'}, the content has ${s.size}`, { hint: 'the export is full or failing; check it and run again' });
    }
    return s.size;
  }

  private async check(s: Stored, name: string): Promise<void> {
    const now = await identityOf(s.path).catch(() => 'gone');
    if (now !== s.identity) {
      throw new PinetError(`the boot server's copy of content ${name} (${s.path}) changed after it was verified`, { hint: 'something else writes into the export; run enroll again' });
    }
  }

  /** Removes the store and everything in it. */
  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Removes the stores that runs on this machine left when they were killed (their process is gone). */
async function removeStale(exportDir: string): Promise<void> {
  const me = thisHost();
  for (const n of await readdir(exportDir).catch(() => [] as string[])) {
    const m = STALE.exec(n);
    if (!m || m[1] !== me || alive(Number(m[2]))) continue;
    await rm(join(exportDir, n), { recursive: true, force: true }).catch(() => undefined);
  }
}
