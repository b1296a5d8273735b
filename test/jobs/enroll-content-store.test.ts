/**
 * The parts of enroll's send-once copy that touch files, without root, on
 * real files of this machine: the Pi-side hashing script (python3's
 * hashlib, and sha256sum without python3) and the tar stream of chosen
 * files, run with the local `sh` as they run on a Pi, with hostile names;
 * and the content store in an export directory (kept only when verified,
 * copies checked against what was verified, the last copy moved, removed
 * with stale ones of dead runs) and the filler that copies each content into
 * the Pis' staging directories as it arrives.
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { readdir, readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { Filler } from '../../src/jobs/enroll/fill.js';
import type { EnrollPi } from '../../src/jobs/enroll/tasks.js';
import { LocalHost } from '../../src/remote/local-host.js';
import { fetchFiles, hashFiles } from '../../src/remote/tree.js';
import { ContentStore, contentName } from '../../src/server/content-store.js';

const dir = mkdtempSync(join(tmpdir(), 'pinet-send-once-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const local = new LocalHost();
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** A boot partition with hostile names. */
function bootDir(name: string): { root: string; files: Record<string, Buffer> } {
  const root = join(dir, name);
  mkdirSync(join(root, 'overlays'), { recursive: true });
  const files: Record<string, Buffer> = {
    'vmlinuz': Buffer.alloc(3 * 1024 * 1024 + 17, 7),
    'a b': Buffer.from('space'),
    "it's": Buffer.from('quote'),
    'new\nline': Buffer.from('newline'),
    '$(touch pwned)': Buffer.from('subst'),
    '-n': Buffer.from('dash'),
    'overlays/x.dtbo': Buffer.from('overlay'),
    'empty': Buffer.alloc(0),
  };
  for (const [p, b] of Object.entries(files)) writeFileSync(join(root, p), b);
  utimesSync(join(root, 'vmlinuz'), 1_700_000_000, 1_700_000_000);
  return { root, files };
}

describe('hash-files.sh: one pass over the files to copy, names only NUL-separated', () => {
  const { root, files } = bootDir('hash');

  it('python3: SHA-256, the bytes read and the mtime of every file, hostile names intact', async () => {
    const got = await hashFiles(local, root, Object.keys(files), { sudo: false });
    for (const [p, b] of Object.entries(files)) expect(got.get(p), p).toEqual({ sha256: sha(b), size: b.length, mtime: Math.floor(statSync(join(root, p)).mtimeMs / 1000) });
    expect(got.get('vmlinuz')!.mtime).toBe(1_700_000_000);
    expect(await readdir(root)).not.toContain('pwned');
  });

  it('only the files named are read', async () => {
    const got = await hashFiles(local, root, ['a b'], { sudo: false });
    expect([...got.keys()]).toEqual(['a b']);
  });

  it('a file that is missing, a directory or a symbolic link is an error naming it', async () => {
    symlinkSync('a b', join(root, 'link'));
    for (const [p, why] of [['gone', /"?gone"?: No such file/], ['overlays', /overlays"?: not a regular file/], ['link', /link"?: Too many levels of symbolic links/]] as const) {
      const e = (await hashFiles(local, root, ['a b', p], { sudo: false }).catch((x: unknown) => x)) as Error;
      expect(e.message, p).toMatch(why);
      expect(e.message).toMatch(/cannot hash /);
    }
  });

  it('without python3: sha256sum, sizes left to the listing', async () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    for (const t of ['sh', 'xargs', 'sha256sum', 'cat']) symlinkSync(`/usr/bin/${t}`, join(bin, t));
    const path = process.env.PATH;
    process.env.PATH = bin;
    try {
      const got = await hashFiles(local, root, Object.keys(files), { sudo: false });
      for (const [p, b] of Object.entries(files)) expect(got.get(p), p).toEqual({ sha256: sha(b), size: -1 });
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('fetchFiles: chosen files as one tar stream, each handed over as it arrives', () => {
  const { root, files } = bootDir('fetch');

  it('streams exactly the files asked for, hostile names intact', async () => {
    const got = new Map<string, Buffer>();
    const want = ['a b', "it's", 'new\nline', '$(touch pwned)', '-n', 'overlays/x.dtbo', 'vmlinuz', 'empty'];
    await fetchFiles(local, root, want, async (path, size, data) => {
      const chunks: Buffer[] = [];
      for await (const c of data) chunks.push(c);
      got.set(path, Buffer.concat(chunks));
      expect(size).toBe(files[path]!.length);
    }, { sudo: false });
    expect([...got.keys()].sort()).toEqual([...want].sort());
    for (const p of want) expect(got.get(p)!.equals(files[p]!), p).toBe(true);
    expect(await readdir(root)).not.toContain('pwned');
  });

  it('a file that vanished is an error; an error of the receiver stops the stream and is thrown as it is', async () => {
    const missing = await fetchFiles(local, root, ['a b', 'gone'], async (_p, _s, data) => {
      for await (const _ of data) {
        // drain
      }
    }, { sudo: false }).catch((x: unknown) => x as Error);
    expect(String(missing)).toMatch(/\.\/gone: Cannot stat: No such file/);
    const mine = new Error('the content changed');
    const e = await fetchFiles(local, root, ['vmlinuz', 'a b'], async () => {
      throw mine;
    }, { sudo: false }).catch((x: unknown) => x);
    expect(e).toBe(mine);
  });
});

describe('the content store', () => {
  const exportDir = join(dir, 'export');
  mkdirSync(exportDir);
  const content = Buffer.alloc(200_000, 3);
  const key = { sha256: sha(content), size: content.length };
  const from = (b: Buffer): AsyncIterable<Buffer> => Readable.from([b.subarray(0, 1000), b.subarray(1000)]);

  it('lives in a hidden 0700 directory of the export, keeps a content only when it is the one expected, and is removed', async () => {
    const store = await ContentStore.open(exportDir);
    expect(store.dir.startsWith(join(exportDir, '.pinet-store-'))).toBe(true);
    expect((await stat(store.dir)).mode & 0o777).toBe(0o700);
    expect(['reflink', 'copy']).toContain(store.copyMethod);
    let counted = 0;
    expect(await store.receive(key, from(content), (n) => (counted += n))).toEqual({ ok: true });
    expect(counted).toBe(content.length);
    expect(store.has(key)).toBe(true);
    expect((await stat(join(store.dir, contentName(key)))).mode & 0o777).toBe(0o644);
    const other = Buffer.from('not what the Pi hashed');
    const wrong = { sha256: sha('what the Pi hashed'), size: other.length };
    expect(await store.receive(wrong, from(other))).toEqual({ ok: false, sha256: sha(other), size: other.length });
    expect(store.has(wrong)).toBe(false);
    expect((await readdir(store.dir)).sort()).toEqual([contentName(key)]);
    await store.remove();
    expect((await readdir(exportDir)).filter((n) => n.startsWith('.pinet-store-'))).toEqual([]);
  });

  it('copies are independent files; the last copy takes the store\'s file', async () => {
    const store = await ContentStore.open(exportDir);
    try {
      await store.receive(key, from(content));
      store.setUses(new Map([[contentName(key), 3]]));
      const dests = ['a', 'b', 'c'].map((n) => join(exportDir, `copy-${n}`));
      expect(await Promise.all(dests.map((d) => store.copyTo(key, d)))).toEqual([content.length, content.length, content.length]);
      const inodes = new Set<number>();
      for (const d of dests) {
        expect((await readFile(d)).equals(content)).toBe(true);
        expect((await stat(d)).mode & 0o777).toBe(0o644);
        inodes.add((await stat(d)).ino);
      }
      expect(inodes.size).toBe(3);
      expect((await stat(dests[0]!)).nlink).toBe(1);
      expect(await readdir(store.dir)).toEqual([]); // moved into the last copy
      // a Pi's kernel update writes into its own file only
      await writeFile(dests[0]!, 'updated');
      expect((await readFile(dests[1]!)).equals(content)).toBe(true);
    } finally {
      await store.remove();
    }
  });

  it('refuses to copy a content whose file changed after it was verified', async () => {
    const store = await ContentStore.open(exportDir);
    try {
      await store.receive(key, from(content));
      const path = join(store.dir, contentName(key));
      await chmod(path, 0o600);
      await writeFile(path, Buffer.alloc(content.length, 9));
      await expect(store.copyTo(key, join(exportDir, 'copy-x'))).rejects.toThrow(/copy of content .* changed after it was verified/);
    } finally {
      await store.remove();
    }
  });

  it('removes the stores that killed runs of this machine left, and only those', async () => {
    const me = hostname().replace(/[^A-Za-z0-9.]/g, '_') || 'host';
    const dead = join(exportDir, `.pinet-store-${me}-2147483646-0123456789abcdef`);
    const otherHost = join(exportDir, '.pinet-store-elsewhere-2147483646-0123456789abcdef');
    const live = join(exportDir, `.pinet-store-${me}-${process.pid}-fedcba9876543210`);
    for (const d of [dead, otherHost, live]) mkdirSync(d);
    chmodSync(live, 0o700);
    const store = await ContentStore.open(exportDir);
    await store.remove();
    const left = await readdir(exportDir);
    expect(left).not.toContain('.pinet-store-' + `${me}-2147483646-0123456789abcdef`);
    expect(left).toContain('.pinet-store-elsewhere-2147483646-0123456789abcdef');
    expect(left).toContain(`.pinet-store-${me}-${process.pid}-fedcba9876543210`);
    rmSync(otherHost, { recursive: true });
    rmSync(live, { recursive: true });
  });
});

describe('the filler: each content copied into every Pi that has it, as it arrives', () => {
  const exportDir = join(dir, 'export-fill');
  mkdirSync(exportDir);
  const bytes = (s: string): Buffer => Buffer.from(s.repeat(1000));
  const contents = { X: bytes('x'), Y: bytes('y'), Z: bytes('z'), W: bytes('w') };
  const keyOf = (b: Buffer) => ({ sha256: sha(b), size: b.length });

  /** A Pi as the enroll job holds it after `hash`: its plan's files to copy, their hashes and mtimes. */
  function pi(host: string, files: Record<string, keyof typeof contents>): EnrollPi {
    const paths = Object.keys(files);
    return {
      host,
      plan: {
        label: `${host} (10.0.0.1)`,
        dir: `${host}-dir`,
        localDir: join(exportDir, `${host}-dir`),
        copy: { files: paths, bytes: paths.reduce((n, p) => n + contents[files[p]!].length, 0) },
        detected: { bootList: paths.map((path, i) => ({ type: 'file', path, size: contents[files[path]!].length, mtimeMs: (1_700_000_000 + i) * 1000, mode: 0o755, uid: 0, gid: 0 })) },
      },
      hashes: new Map(paths.map((p) => [p, keyOf(contents[files[p]!])])),
    } as unknown as EnrollPi;
  }

  it('fills each Pi\'s staging directory with its own files and mtimes, the last copy of a content moved from the store', async () => {
    const store = await ContentStore.open(exportDir);
    const moved: string[] = [];
    try {
      const a = pi('a', { 'x': 'X', 'overlays/y': 'Y' });
      const b = pi('b', { 'x': 'X', 'z': 'Z', 'z.bak': 'Z' });
      const filler = new Filler(store, [a, b], { moved: (h, k, n, t, since) => moved.push(`${h} ${k} ${n}/${t} ${since === undefined ? 'no start' : 'since'}`) });
      for (const b of [contents.X, contents.Y, contents.Z]) {
        expect(await store.receive(keyOf(b), Readable.from([b]))).toEqual({ ok: true });
        filler.arrived(contentName(keyOf(b)));
      }
      filler.finish(new Map());
      const sa = await filler.take('a');
      const sb = await filler.take('b');
      expect((await readFile(join(sa, 'x'))).equals(contents.X)).toBe(true);
      expect((await readFile(join(sa, 'overlays/y'))).equals(contents.Y)).toBe(true);
      expect((await readFile(join(sb, 'z.bak'))).equals(contents.Z)).toBe(true);
      expect(Math.floor((await stat(join(sa, 'overlays/y'))).mtimeMs / 1000)).toBe(1_700_000_001);
      expect((await stat(join(sa, 'overlays'))).mode & 0o777).toBe(0o755);
      expect((await stat(join(sb, 'z'))).ino).not.toBe((await stat(join(sb, 'z.bak'))).ino);
      expect(await readdir(store.dir)).toEqual([]); // every content's last copy took the store's file
      expect(moved.at(-1)).toBe('b local 3000/3000 since');
      await filler.cleanup();
      expect((await readdir(exportDir)).filter((n) => n.startsWith('.a-dir') || n.startsWith('.b-dir')).length).toBe(2); // taken: the copy task moves them in place
    } finally {
      await store.remove();
      rmSync(exportDir, { recursive: true, force: true });
      mkdirSync(exportDir);
    }
  });

  it('a content that never arrives fails the Pis that need it, saying why; a dropped Pi gets nothing; nothing is left behind', async () => {
    const store = await ContentStore.open(exportDir);
    try {
      const a = pi('a', { 'x': 'X', 'w': 'W' });
      const c = pi('c', { 'x': 'X' });
      const filler = new Filler(store, [a, c]);
      filler.drop('c');
      await store.receive(keyOf(contents.X), Readable.from([contents.X]));
      filler.arrived(contentName(keyOf(contents.X)));
      filler.finish(new Map([[contentName(keyOf(contents.W)), 'the Pis that had them failed (d)']]));
      await expect(filler.take('a')).rejects.toThrow(/^a \(10\.0\.0\.1\): 1 boot file \(w\) never reached the boot server: the Pis that had them failed \(d\)$/);
      await filler.cleanup();
      expect((await readdir(exportDir)).filter((n) => !n.startsWith('.pinet-store-'))).toEqual([]);
      // c was dropped: its copy of X was released, so a's was the last (moved)
      expect(await readdir(store.dir)).toEqual([]);
    } finally {
      await store.remove();
    }
  });
});
