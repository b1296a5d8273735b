/**
 * Filling the Pis' directories from the content store while the contents
 * still arrive: as soon as a content is in the store (verified), it is
 * copied into the staging directory of every Pi that has it, so the local
 * copies overlap the transfer over the network; and the copies are made Pi
 * after Pi (the Pis in the order they were named), so the first Pis are
 * complete early and their apply (the changes on the Pi) overlaps the
 * copies for the others. The apply phase's `copy` task of a Pi waits for
 * its directory (`wait`), then makes the modes and owners right and moves
 * the files in place.
 *
 * The copies are job-level work, not tasks: they wait for nothing but the
 * store, so any --concurrency works. A Pi that fails is dropped (its
 * queued copies are skipped); a content that never arrives (every Pi that
 * has it failed) fails the Pis that need it when they wait. Staging
 * directories not moved in place are removed when the job ends.
 */
import { mkdir, rm, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PinetError } from '../../errors.js';
import { contentName, type ContentStore } from '../../server/content-store.js';
import type { MovedKind } from '../../ui/progress.js';
import type { PiPlan } from './plan.js';
import type { EnrollPi } from './tasks.js';
import { hashedFiles } from './transfer.js';

/** Copies in flight at once (libuv runs them on its thread pool). */
const COPIES_AT_ONCE = 8;

interface Copy {
  path: string;
  sha256: string;
  size: number;
  /** The Pi's mtime of the file, whole seconds. */
  mtime: number;
}

/** One Pi's directory being filled. */
interface PiFill {
  host: string;
  plan: PiPlan;
  staging: string;
  /** Its files by content name. */
  byContent: Map<string, Copy[]>;
  /** Copies ready to be made (their content is in the store). */
  queue: Copy[];
  remaining: number;
  bytes: number;
  total: number;
  start?: number;
  /** The staging directory and its subdirectories, made once each (copies wait for their parent). */
  dirs: Map<string, Promise<void>>;
  dropped: boolean;
  /** The staging directory was moved in place (or removed) by the Pi's copy task. */
  taken: boolean;
  error?: unknown;
  done: Promise<void>;
  settle: () => void;
}

export interface FillerOptions {
  /** Reports a Pi's bytes copied so far, and when its copies began. */
  moved?: (host: string, kind: MovedKind, bytes: number, total: number, since?: number) => void;
  now?: () => number;
}

export class Filler {
  private readonly pis: PiFill[];
  private readonly byHost = new Map<string, PiFill>();
  private running = 0;
  private finished = false;
  private why = new Map<string, string>();

  constructor(
    private readonly store: ContentStore,
    copying: EnrollPi[],
    private readonly opts: FillerOptions = {},
  ) {
    this.pis = copying.map((c) => {
      const p = c.plan!;
      const listed = new Map(p.detected.bootList.map((e) => [e.path, e]));
      const byContent = new Map<string, Copy[]>();
      for (const f of hashedFiles(c)) {
        const name = contentName(f);
        byContent.set(name, [...(byContent.get(name) ?? []), { ...f, mtime: Math.floor(listed.get(f.path)!.mtimeMs / 1000) }]);
      }
      let settle = (): void => undefined;
      const done = new Promise<void>((resolve) => (settle = resolve));
      const fill: PiFill = {
        host: c.host,
        plan: p,
        staging: join(dirname(p.localDir), `.${p.dir.replace(/\//g, '_')}.pinet-${process.pid}-${randomBytes(3).toString('hex')}`),
        byContent,
        queue: [],
        remaining: p.copy.files.length,
        bytes: 0,
        total: p.copy.bytes,
        dirs: new Map(),
        dropped: false,
        taken: false,
        done,
        settle,
      };
      this.byHost.set(c.host, fill);
      return fill;
    });
    const uses = new Map<string, number>();
    for (const f of this.pis) for (const [name, copies] of f.byContent) uses.set(name, (uses.get(name) ?? 0) + copies.length);
    store.setUses(uses);
  }

  /** A content is in the store: copy it to every Pi that has it. */
  arrived(name: string): void {
    for (const f of this.pis) {
      const copies = f.byContent.get(name);
      if (!copies || f.dropped) continue;
      f.byContent.delete(name);
      f.queue.push(...copies);
    }
    this.pump();
  }

  /** A Pi failed: its copies not made yet are skipped. */
  drop(host: string): void {
    const f = this.byHost.get(host);
    if (!f || f.dropped) return;
    f.dropped = true;
    for (const c of [...f.queue, ...[...f.byContent.values()].flat()]) this.store.release(c);
    f.queue = [];
    f.byContent.clear();
    f.settle();
  }

  /** No more contents will arrive; `why` says, by content name, why one did not. */
  finish(why: Map<string, string>): void {
    this.finished = true;
    this.why = why;
    for (const f of this.pis) this.settleIfDone(f);
  }

  /** The Pi's reported progress so far (for a new progress view). */
  report(host: string): void {
    const f = this.byHost.get(host);
    if (f?.start !== undefined) this.opts.moved?.(f.host, 'local', f.bytes, f.total, f.start);
  }

  /**
   * Waits until the Pi's staging directory holds all its files, and hands it
   * over (the caller moves it in place, or removes it). Throws when a copy
   * failed or a content never arrived.
   */
  async take(host: string): Promise<string> {
    const f = this.byHost.get(host);
    if (!f) throw new Error(`internal error: ${host} has no directory to fill`);
    await f.done;
    f.taken = true;
    const missing = [...f.byContent.values()].flat();
    if (f.error !== undefined || missing.length > 0) await rm(f.staging, { recursive: true, force: true });
    if (f.error !== undefined) throw f.error;
    if (missing.length > 0) {
      const why = [...new Set([...f.byContent.keys()].map((n) => this.why.get(n) ?? 'no Pi sent it'))].join('; ');
      throw new PinetError(`${f.plan.label}: ${missing.length} boot file${missing.length === 1 ? '' : 's'} (${missing.slice(0, 3).map((c) => c.path).join(', ')}${missing.length > 3 ? ', …' : ''}) never reached the boot server: ${why}`, {
        hint: 'the Pis that have them failed; fix them and run pinet enroll again',
      });
    }
    return f.staging;
  }

  /** Removes the staging directories nobody took (Pis that failed before their copy task). */
  async cleanup(): Promise<void> {
    for (const f of this.pis) if (!f.taken && f.dirs.size > 0) await rm(f.staging, { recursive: true, force: true }).catch(() => undefined);
  }

  private settleIfDone(f: PiFill): void {
    if (f.dropped || f.error !== undefined || f.remaining === 0 || (this.finished && f.queue.length === 0 && this.inflightOf(f) === 0)) f.settle();
  }

  private readonly inflight = new Map<PiFill, number>();
  private inflightOf(f: PiFill): number {
    return this.inflight.get(f) ?? 0;
  }

  /** Starts copies up to the limit, the first Pi's first. */
  private pump(): void {
    while (this.running < COPIES_AT_ONCE) {
      const f = this.pis.find((x) => x.queue.length > 0 && !x.dropped && x.error === undefined);
      if (!f) return;
      const copy = f.queue.shift()!;
      this.running++;
      this.inflight.set(f, this.inflightOf(f) + 1);
      void this.copy(f, copy).finally(() => {
        this.running--;
        this.inflight.set(f, this.inflightOf(f) - 1);
        this.settleIfDone(f);
        this.pump();
      });
    }
  }

  /** Makes a directory of the Pi's staging directory once (its parents first), 0755. */
  private dir(f: PiFill, rel: string): Promise<void> {
    let made = f.dirs.get(rel);
    if (!made) {
      const parent = rel === '.' ? undefined : dirname(rel);
      made = (parent === undefined ? Promise.resolve() : this.dir(f, parent)).then(() =>
        mkdir(rel === '.' ? f.staging : join(f.staging, rel), { mode: 0o755, recursive: rel === '.' }).then(() => undefined),
      );
      f.dirs.set(rel, made);
    }
    return made;
  }

  private async copy(f: PiFill, c: Copy): Promise<void> {
    if (f.dropped || f.error !== undefined) {
      this.store.release(c);
      return;
    }
    try {
      f.start ??= this.opts.now?.() ?? performance.now();
      await this.dir(f, '.');
      await this.dir(f, dirname(c.path));
      const dest = join(f.staging, c.path);
      await this.store.copyTo(c, dest); // 0644, as the store's files
      await utimes(dest, c.mtime, c.mtime);
      f.bytes += c.size;
      f.remaining--;
      this.opts.moved?.(f.host, 'local', f.bytes, f.total, f.start);
    } catch (err) {
      f.error ??= err;
    }
  }
}
