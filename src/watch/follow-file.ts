/**
 * Follow a log file like `tail -F`: read what is appended, and keep
 * following the *name* when the file is rotated.
 *
 * How each case is detected (checked after every read that reached the end):
 *  * rotation by rename (logrotate's default; dnsmasq reopens its
 *    log-facility file on SIGUSR2): the name now points to another inode
 *    (or to nothing yet). The old file is read to its end first (dnsmasq may
 *    still write to it until it reopens), then the new one from its start;
 *  * truncation in place (`copytruncate`, `: > dnsmasq.log`): the file is
 *    now shorter than the position read so far, or, when it has grown back
 *    past that position between two checks, the bytes just before the
 *    position are no longer the ones read there. Reading starts again at 0;
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
  signal?: AbortSignal;
  onNote?: (note: FollowNote) => void;
}

const CHUNK = 1 << 20;
/** How many bytes before the read position are remembered to notice a truncate-and-regrow. */
const CHECK = 64;

export async function* followFile(path: string, o: FollowOptions): AsyncGenerator<string[]> {
  const pollMs = o.pollMs ?? 250;
  let fh: FileHandle | undefined;
  let ino = -1;
  let dev = -1;
  let pos = 0;
  let tail = '';
  let before = Buffer.alloc(0);
  let lastSize = -1;
  let lastMtime = 0;
  let waiting = false;

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

  const openName = async (fromStart: boolean): Promise<boolean> => {
    let h: FileHandle;
    try {
      h = await open(path, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return false;
      throw err;
    }
    const st = await h.stat();
    fh = h;
    ino = st.ino;
    dev = st.dev;
    pos = fromStart ? 0 : st.size;
    tail = '';
    before = Buffer.alloc(0);
    if (pos > 0) {
      const n = Math.min(CHECK, pos);
      const b = Buffer.alloc(n);
      await h.read(b, 0, n, pos - n);
      before = b;
    }
    lastSize = st.size;
    lastMtime = st.mtimeMs;
    return true;
  };

  /** Everything from pos to the end, as complete lines. */
  const drain = async (flush: boolean): Promise<string[]> => {
    const lines: string[] = [];
    if (!fh) return lines;
    const buf = Buffer.alloc(CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      pos += bytesRead;
      before = Buffer.from(chunk.length >= CHECK ? chunk.subarray(chunk.length - CHECK) : Buffer.concat([before, chunk]).subarray(-CHECK));
      const text = tail + chunk.toString('utf8');
      const parts = text.split('\n');
      tail = parts.pop() ?? '';
      for (const p of parts) lines.push(p.endsWith('\r') ? p.slice(0, -1) : p);
      if (bytesRead < CHUNK) break;
    }
    if (flush && tail !== '') {
      lines.push(tail);
      tail = '';
    }
    return lines;
  };

  try {
    if (!(await openName(o.fromStart))) {
      if (o.once) throw Object.assign(new Error(`${path} does not exist`), { code: 'ENOENT' });
      waiting = true;
      o.onNote?.({ what: 'waiting', detail: `${path} does not exist yet` });
    } else {
      o.onNote?.({ what: 'opened', detail: `${path} from ${pos === 0 ? 'its start' : `byte ${pos} (its end)`}` });
    }
    while (!o.signal?.aborted) {
      if (waiting) {
        if (await openName(true)) {
          waiting = false;
          o.onNote?.({ what: 'opened', detail: `${path} appeared` });
        } else {
          await sleep();
          continue;
        }
      }
      const lines = await drain(false);
      if (lines.length) yield lines;
      if (o.once) {
        const rest = await drain(true);
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
      if (st && (st.ino !== ino || st.dev !== dev)) {
        // Renamed away and replaced: finish the old file, then the new one from its start.
        const rest = await drain(true);
        if (rest.length) yield rest;
        await fh?.close();
        fh = undefined;
        if (await openName(true)) o.onNote?.({ what: 'rotated', detail: `${path} is a new file (inode ${ino}); the old one was read to its end` });
        else waiting = true;
        continue;
      }
      if (st && fh) {
        const changed = st.size !== lastSize || st.mtimeMs !== lastMtime;
        lastSize = st.size;
        lastMtime = st.mtimeMs;
        let truncated = st.size < pos;
        if (!truncated && changed && before.length > 0 && st.size >= pos) {
          const b = Buffer.alloc(before.length);
          await fh.read(b, 0, before.length, pos - before.length);
          truncated = !b.equals(before);
        }
        if (truncated) {
          o.onNote?.({ what: 'truncated', detail: `${path} was truncated (size ${st.size}, read up to byte ${pos}); reading it again from its start` });
          pos = 0;
          tail = '';
          before = Buffer.alloc(0);
          continue;
        }
        if (changed && st.size > pos) continue;
      }
      await sleep();
    }
  } finally {
    watcher?.close();
    await fh?.close().catch(() => undefined);
  }
}
