/**
 * Follow a log file like `tail -F`: read what is appended, and keep
 * following the *name* when the file is rotated.
 *
 * How each case is detected (checked after every read that reached the end):
 *  * rotation by rename (logrotate's default): the name now points to
 *    another inode, or to nothing yet. The old file stays open and is still
 *    read for `retireMs` after its last new line: dnsmasq goes on writing
 *    to it until it reopens its log on SIGUSR2, and it can only reopen into
 *    a file logrotate has created for it (`create`), since by then it runs
 *    as its unprivileged user (dnsmasq's man page, and what the real one
 *    does in test/watch). The new file is read from its start;
 *  * truncation in place (`copytruncate`, `: > dnsmasq.log`): the file is
 *    now shorter than the position read so far, or, when it has grown back
 *    past that position between two checks, the bytes just before the
 *    position are no longer the ones read there. Reading starts again at 0
 *    (dnsmasq opens its log with O_APPEND, so it writes there too);
 *  * a file that does not exist (yet): wait for it, then read it from its start.
 *
 * Wakes on inotify events for the file's directory (fs.watch) and polls
 * every `pollMs` as well, since inotify misses changes on NFS and some
 * overlay file systems.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export type FollowNote = { what: 'opened' | 'rotated' | 'truncated' | 'waiting'; detail?: string };

export interface FollowOptions {
  /** Start at the beginning (true) or at the current end (false). */
  fromStart: boolean;
  /** Stop at the end of what is there now (no following). */
  once?: boolean;
  pollMs?: number;
  /** Keep reading a rotated-away file until it has been quiet this long; default 30 s. */
  retireMs?: number;
  signal?: AbortSignal;
  onNote?: (note: FollowNote) => void;
}

const CHUNK = 1 << 20;
/** How many bytes before the read position are remembered to notice a truncate-and-regrow. */
const CHECK = 64;

/** An open file read line by line from a position. */
class Reader {
  tail = '';
  before = Buffer.alloc(0);
  lastDataMs = Date.now();
  private readonly buf = Buffer.alloc(CHUNK);

  constructor(
    readonly fh: FileHandle,
    readonly ino: number,
    readonly dev: number,
    public pos: number,
  ) {}

  static async open(path: string, fromStart: boolean): Promise<Reader | undefined> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const st = await fh.stat();
    const r = new Reader(fh, st.ino, st.dev, fromStart ? 0 : st.size);
    if (r.pos > 0) {
      const n = Math.min(CHECK, r.pos);
      const b = Buffer.alloc(n);
      await fh.read(b, 0, n, r.pos - n);
      r.before = b;
    }
    return r;
  }

  /** Complete lines from pos to the end (and the unfinished last one, when `flush`). */
  async drain(flush: boolean): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const { bytesRead } = await this.fh.read(this.buf, 0, CHUNK, this.pos);
      if (bytesRead === 0) break;
      const chunk = this.buf.subarray(0, bytesRead);
      this.pos += bytesRead;
      this.lastDataMs = Date.now();
      this.before = Buffer.from(chunk.length >= CHECK ? chunk.subarray(chunk.length - CHECK) : Buffer.concat([this.before, chunk]).subarray(-CHECK));
      const parts = (this.tail + chunk.toString('utf8')).split('\n');
      this.tail = parts.pop() ?? '';
      for (const p of parts) lines.push(p.endsWith('\r') ? p.slice(0, -1) : p);
      if (bytesRead < CHUNK) break;
    }
    if (flush && this.tail !== '') {
      lines.push(this.tail);
      this.tail = '';
    }
    return lines;
  }

  /** Were the bytes just before pos rewritten (a truncate that grew back past pos)? */
  async rewritten(): Promise<boolean> {
    if (this.before.length === 0) return false;
    const b = Buffer.alloc(this.before.length);
    await this.fh.read(b, 0, b.length, this.pos - b.length);
    return !b.equals(this.before);
  }

  restart(): void {
    this.pos = 0;
    this.tail = '';
    this.before = Buffer.alloc(0);
  }

  close(): Promise<void> {
    return this.fh.close().catch(() => undefined);
  }
}

export async function* followFile(path: string, o: FollowOptions): AsyncGenerator<string[]> {
  const pollMs = o.pollMs ?? 250;
  const retireMs = o.retireMs ?? 30_000;
  let cur: Reader | undefined;
  const retired: Reader[] = [];
  let lastSize = -1;
  let lastMtime = 0;

  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  if (!o.once) {
    try {
      watcher = watch(dirname(path), { persistent: false }, (_ev, name) => {
        if (name === null || name === basename(path)) wake?.();
      });
      watcher.on('error', () => undefined);
    } catch {
      // no inotify: polling only
    }
  }
  const sleep = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, pollMs);
      function done(): void {
        clearTimeout(t);
        wake = undefined;
        o.signal?.removeEventListener('abort', done);
        resolve();
      }
      wake = done;
      o.signal?.addEventListener('abort', done, { once: true });
    });

  try {
    cur = await Reader.open(path, o.fromStart);
    if (!cur) {
      if (o.once) throw Object.assign(new Error(`${path} does not exist`), { code: 'ENOENT' });
      o.onNote?.({ what: 'waiting', detail: `${path} does not exist yet` });
    } else {
      o.onNote?.({ what: 'opened', detail: `${path} from ${cur.pos === 0 ? 'its start' : `byte ${cur.pos} (its end)`}` });
    }
    while (!o.signal?.aborted) {
      // Rotated-away files first: what dnsmasq wrote there before it reopened.
      for (const r of [...retired]) {
        const lines = await r.drain(false);
        if (lines.length) yield lines;
        else if (Date.now() - r.lastDataMs > retireMs) {
          const rest = await r.drain(true);
          if (rest.length) yield rest;
          await r.close();
          retired.splice(retired.indexOf(r), 1);
        }
      }
      if (!cur) {
        cur = await Reader.open(path, true);
        if (cur) o.onNote?.({ what: 'opened', detail: `${path} appeared` });
        else {
          await sleep();
          continue;
        }
      }
      const lines = await cur.drain(false);
      if (lines.length) yield lines;
      if (o.once) {
        const rest = await cur.drain(true);
        if (rest.length) yield rest;
        return;
      }
      let st;
      try {
        st = await stat(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        st = undefined;
      }
      if (st && (st.ino !== cur.ino || st.dev !== cur.dev)) {
        // Renamed away and replaced: keep reading the old file for a while, the new one from its start.
        retired.push(cur);
        const old = cur.ino;
        cur = await Reader.open(path, true);
        if (cur) o.onNote?.({ what: 'rotated', detail: `${path} is a new file (the old one, inode ${old}, is still read until it has been quiet for ${Math.round(retireMs / 1000)} s)` });
        lastSize = -1;
        continue;
      }
      if (st) {
        const changed = st.size !== lastSize || st.mtimeMs !== lastMtime;
        lastSize = st.size;
        lastMtime = st.mtimeMs;
        if (st.size < cur.pos || (changed && st.size >= cur.pos && (await cur.rewritten()))) {
          o.onNote?.({ what: 'truncated', detail: `${path} was truncated (size ${st.size}, read up to byte ${cur.pos}); reading it again from its start` });
          cur.restart();
          continue;
        }
        if (changed && st.size > cur.pos) continue;
      }
      await sleep();
    }
  } finally {
    watcher?.close();
    await cur?.close();
    for (const r of retired) await r.close();
  }
}
