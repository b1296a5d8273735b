/**
 * Enroll's copy of the boot files, sending each unique content once
 * (issue 14; who sends what is decided in send-once.ts):
 *
 *  * `hash` (prepare, after the plan): the Pi reads each file it has to
 *    copy once, for its SHA-256 and size (one round trip; unchanged files
 *    are never read: sizes and times decided which to copy). On a Pi's
 *    first enroll (not in the inventory), every boot file is copied, so
 *    the detection's round trip hashes them all already and this task
 *    has nothing to do;
 *  * `send` (the fetch phase, between confirm and apply): a Pi streams the
 *    contents it was chosen to send into the boot server's content store,
 *    which hashes them as they arrive; a file that changed since it was
 *    hashed is an error naming the Pi and the file, and that Pi is left
 *    as it was (another Pi that has the content sends it instead);
 *  * then each content is copied into the staging directory of every Pi
 *    that has it, as soon as it is in the store (fill.ts), each file with the
 *    Pi's own mtime and mode 0644; the apply phase's `copy` task moves it in
 *    place.
 *
 * Verification: every file of a Pi's directory comes from the store's copy
 * of the content that Pi's own SHA-256 and size name, verified when it
 * arrived (hashed while written, as copies always were) and checked
 * unchanged before it is copied; each copy's size is checked (see
 * ContentStore.copyTo for why the copies' bytes are not read back).
 */
import { PinetError } from '../../errors.js';
import { mb } from '../../server/export.js';
import { fetchFiles, hashFiles, type FileHash } from '../../remote/tree.js';
import type { Task } from '../runner.js';
import type { PiPlan } from './plan.js';
import type { EnrollEnv, EnrollPi } from './tasks.js';

const plan = (c: EnrollPi): PiPlan => c.plan!;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The files a Pi has to copy, with their hashes (after `hash`). */
export function hashedFiles(c: EnrollPi): { path: string; sha256: string; size: number }[] {
  const p = plan(c);
  return p.copy.files.map((path) => {
    const h = c.hashes?.get(path);
    if (!h) throw new Error(`internal error: ${path} of ${p.label} was not hashed`);
    return { path, sha256: h.sha256, size: h.size };
  });
}

/** A relative path of the Pi's listing that is safe to create below a directory. */
function safePath(rel: string): boolean {
  return rel !== '' && !rel.startsWith('/') && !rel.includes('\0') && rel.split('/').every((c) => c !== '' && c !== '.' && c !== '..');
}

/** A file hashed with the size and (when known) the time, to the second, it was listed with: unchanged in between. */
function asListed(h: FileHash, e: { size: number; mtimeMs: number }): boolean {
  return h.size === e.size && (h.mtime === undefined || h.mtime === Math.floor(e.mtimeMs / 1000));
}

/**
 * The hashes of the files to copy, when the detection already made them
 * (a Pi's first enroll) and each still has the size and time it was listed
 * with; otherwise undefined, and the `hash` task reads them.
 */
export function hashesFromDetection(p: PiPlan): Map<string, FileHash> | undefined {
  const pre = p.detected.bootHashes;
  if (!pre || p.copy.files.length === 0) return undefined;
  const listed = new Map(p.detected.bootList.map((e) => [e.path, e]));
  const out = new Map<string, FileHash>();
  for (const f of p.copy.files) {
    const h = pre.get(f);
    const e = listed.get(f);
    if (!h || !e || !safePath(f) || h.mtime === undefined || !asListed(h, e)) return undefined;
    out.set(f, h);
  }
  return out;
}

export function hashTask(): Task<EnrollPi> {
  return {
    name: 'hash',
    title: (c) => `hashing the ${plural(plan(c).copy.files.length, 'file')} to copy (${mb(plan(c).copy.bytes)})`,
    when: (c) => plan(c).copy.files.length > 0 && !c.hashes,
    async run(c) {
      const p = plan(c);
      for (const f of p.copy.files) if (!safePath(f)) throw new PinetError(`${p.label}: the boot partition lists an unsafe path ${JSON.stringify(f)}`);
      const hashes = await hashFiles(c.remote!, p.bootDir, p.copy.files, { step: `hashing the boot files to copy in ${p.bootDir}` });
      const listed = new Map(p.detected.bootList.map((e) => [e.path, e]));
      for (const f of p.copy.files) {
        const h = hashes.get(f)!;
        const e = listed.get(f)!;
        if (h.size < 0) h.size = e.size; // sha256sum: the size is the listing's
        else if (!asListed(h, e)) {
          throw new PinetError(`${p.label}: ${p.bootDir}/${f} changed while enroll read it (${e.size} bytes when listed, ${h.size} when hashed)`, { hint: 'nothing was changed; run pinet enroll again' });
        }
      }
      c.hashes = hashes;
    },
  };
}

export function sendTask(env: EnrollEnv): Task<EnrollPi> {
  const load = (c: EnrollPi) => {
    const l = env.sending?.bySender.get(c.host);
    if (!l) throw new Error(`internal error: ${c.host} has nothing to send`);
    return l;
  };
  return {
    name: 'send',
    title: (c) => `copying ${plan(c).bootDir}: sending ${plural(load(c).files.length, 'file')} (${mb(load(c).bytes)}) over the network`,
    async run(c) {
      const p = plan(c);
      const l = load(c);
      const store = env.store!;
      const byPath = new Map(l.files.map((f) => [f.path, f.content]));
      let sent = 0;
      env.moved?.(c.host, 'network', 0, l.bytes);
      await fetchFiles(
        c.remote!,
        p.bootDir,
        [...byPath.keys()],
        async (path, _size, data) => {
          const want = byPath.get(path)!;
          const got = await store.receive(want, data, (n) => {
            sent += n;
            env.moved?.(c.host, 'network', sent, l.bytes);
          });
          if (got.ok) env.filler?.arrived(want.name);
          if (!got.ok) {
            throw new PinetError(
              `${p.label}: ${p.bootDir}/${path} changed since it was hashed (${want.size} bytes, SHA-256 ${want.sha256.slice(0, 12)}… then; ${got.size} bytes, ${got.sha256.slice(0, 12)}… now)`,
              { hint: 'nothing was changed on this Pi; run pinet enroll again' },
            );
          }
        },
        { step: `sending the boot files of ${p.bootDir}` },
      );
    },
  };
}
