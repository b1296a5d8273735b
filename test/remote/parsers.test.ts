/**
 * What the remote scripts print, read back by pinet's parsers: the scripts
 * in scripts/remote/ run here with the local sh (no SSH, no root), on real
 * files; and the tar reader on real tool output (GNU tar in each format)
 * and on damaged input.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { readResults, parseStatLine } from '../../src/remote/files.js';
import { parseFramed, scriptSource, type ScriptName } from '../../src/remote/script.js';
import { opensshPublicKey } from '../../src/remote/identities.js';
import { readTar, TarFormatError, type TarEntry } from '../../src/remote/tar.js';
import { parseListing, parseSha256Line } from '../../src/remote/tree.js';

const dir = mkdtempSync(join(tmpdir(), 'pinet-parsers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function entries(archive: Buffer, chunk = 7000): Promise<Array<TarEntry & { data: string }>> {
  const out: Array<TarEntry & { data: string }> = [];
  const chunks: Buffer[] = [];
  for (let i = 0; i < archive.length; i += chunk) chunks.push(archive.subarray(i, i + chunk));
  await readTar(Readable.from(chunks), async (e, data) => {
    const parts: Buffer[] = [];
    for await (const c of data) parts.push(c);
    out.push({ ...e, data: Buffer.concat(parts).toString('utf8') });
  });
  return out;
}

describe('tar reader', () => {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sub dir'), { recursive: true });
  const long = `${'d'.repeat(90)}/${'f'.repeat(120)}`;
  mkdirSync(join(src, 'd'.repeat(90)));
  const files: Record<string, string> = {
    'plain.txt': 'plain\n',
    'new\nline': 'nl\n',
    "quo'te \"dq\" $(id)": 'q\n',
    'ünïcödé': 'u\n',
    'sub dir/inner': 'i'.repeat(1500),
    [long]: 'long\n',
    empty: '',
  };
  for (const [n, c] of Object.entries(files)) writeFileSync(join(src, n), c);
  symlinkSync('plain.txt', join(src, 'link'));
  utimesSync(join(src, 'plain.txt'), 1_234_567_890, 1_234_567_890);

  for (const format of ['gnu', 'pax', 'ustar', 'oldgnu']) {
    it(`reads GNU tar --format=${format} with odd names, links and long names`, async () => {
      let archive: Buffer;
      try {
        archive = execFileSync('tar', [`--format=${format}`, '-C', src, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 });
      } catch (err) {
        // ustar cannot store the 211-character name: tar says so and exits 2.
        expect(format).toBe('ustar');
        archive = (err as { stdout: Buffer }).stdout;
        const got = await entries(archive);
        expect(got.find((e) => e.name === './plain.txt')?.data).toBe('plain\n');
        return;
      }
      const got = await entries(archive);
      const byName = new Map(got.map((e) => [e.name.replace(/^\.\//, '').replace(/\/$/, ''), e]));
      for (const [n, c] of Object.entries(files)) {
        expect(byName.get(n)).toMatchObject({ type: 'file', size: Buffer.byteLength(c), data: c });
      }
      expect(byName.get('link')).toMatchObject({ type: 'symlink', linkName: 'plain.txt' });
      expect(byName.get('sub dir')).toMatchObject({ type: 'directory' });
      expect(Math.floor(byName.get('plain.txt')?.mtime ?? 0)).toBe(1_234_567_890);
    });
  }

  it('refuses damaged archives with a clear error, never hangs', async () => {
    const archive = execFileSync('tar', ['-C', src, '-cf', '-', 'plain.txt']);
    const bad = Buffer.from(archive);
    bad[10] = (bad[10] ?? 0) ^ 0xff;
    await expect(entries(bad)).rejects.toThrow(/checksum/);
    await expect(entries(archive.subarray(0, 700))).rejects.toBeInstanceOf(TarFormatError);
    await expect(entries(archive.subarray(0, 1024))).rejects.toThrow(/end marker|ended/);
    await expect(entries(Buffer.alloc(0))).rejects.toThrow(/end marker/);
    await expect(entries(Buffer.from('garbage'.repeat(100)))).rejects.toBeInstanceOf(TarFormatError);
  });

  it('refuses a name that is not valid UTF-8 instead of changing it', async () => {
    const latin1 = join(dir, 'latin1');
    mkdirSync(latin1);
    // "f\xe9e" in Latin-1: not valid UTF-8
    writeFileSync(Buffer.concat([Buffer.from(`${latin1}/`), Buffer.from([0x66, 0xe9, 0x65])]), 'x');
    const archive = execFileSync('tar', ['-C', latin1, '-cf', '-', '.']);
    await expect(entries(archive)).rejects.toThrow(/not valid UTF-8/);
  });
});

describe('remote script output parsers', () => {
  /** Runs a framed script from scripts/remote/ with the local sh, as runScript would remotely. */
  const runLocal = (name: ScriptName, args: string[], input?: Buffer) => {
    const marker = '@@pinet-test-0123456789@@';
    const r = spawnSync('sh', ['-c', scriptSource(name).text, 'sh', marker, ...args], { input: input ?? Buffer.alloc(0), maxBuffer: 1 << 24 });
    return parseFramed(r.stdout, marker);
  };

  it('read-files.sh: exact bytes, missing and unreadable files, /proc files', () => {
    const f = join(dir, 'nul\nname');
    writeFileSync(f, 'A\0B\n\n');
    writeFileSync(join(dir, 'empty'), '');
    const fake = Buffer.from('line\n@@pinet-other@@ section ok\n');
    writeFileSync(join(dir, 'fake'), fake);
    const paths = [f, join(dir, 'absent'), dir, join(dir, 'empty'), '/proc/self/status', join(dir, 'fake')];
    const out = runLocal('read-files', paths);
    expect(out.ended).toBe(true);
    const m = readResults(out, paths);
    expect(m.get(f)).toEqual({ status: 'ok', content: Buffer.from('A\0B\n\n') });
    expect(m.get(join(dir, 'absent'))).toEqual({ status: 'missing' });
    expect(m.get(dir)).toMatchObject({ status: 'error', message: expect.stringMatching(/Is a directory/) });
    expect(m.get(join(dir, 'empty'))).toEqual({ status: 'ok', content: Buffer.alloc(0) });
    expect((m.get('/proc/self/status') as { content: Buffer }).content.toString()).toMatch(/^Name:/);
    expect(m.get(join(dir, 'fake'))).toEqual({ status: 'ok', content: fake });
    expect(() => readResults(parseFramed(Buffer.from('\n@@m@@ section ok\nx'), '@@m@@'), ['/a', '/b'])).toThrow(/expected 2 files/);
  });

  it('framing: a record needs the exact marker at a line start; bodies keep every byte', () => {
    const out = parseFramed(Buffer.from('junk\n@@m@@ section a b\nbody\n\n@@m@@ done fstab\n@@m@@ fail hooks cannot write /x y\n@@m@@x end\n@@m@@ end\n'), '@@m@@');
    expect(out.sections.get('a b')?.toString()).toBe('body\n');
    expect(out.done).toEqual(['fstab']);
    expect(out.failure).toEqual({ step: 'hooks', message: 'cannot write /x y' });
    expect(out.ended).toBe(true);
    expect(parseFramed(Buffer.from('@@m@@ end\n'), '@@m@@').ended).toBe(false); // not at a line start
  });

  it('stat.sh: one line per path, in order', () => {
    writeFileSync(join(dir, 'st'), 'hello');
    const out = runLocal('stat', ['', join(dir, 'st'), join(dir, 'nope')]);
    const lines = out.sections.get('stat')!.toString().split('\n');
    expect(parseStatLine(lines[0]!.replace(/^ok /, ''))).toMatchObject({ type: 'file', size: 5 });
    expect(lines[1]).toBe('missing');
  });

  it('write-file.sh: replaces atomically with the bytes sent; refuses incomplete content, leaving the old file', () => {
    const target = join(dir, 'w');
    writeFileSync(target, 'old');
    const data = Buffer.from('new content\n');
    const sum = execFileSync('sha256sum', { input: data }).toString().split(' ')[0]!;
    const ok = runLocal('write-file', [target, String(data.length), sum, '', '1'], data);
    expect(ok.sections.get('existed')?.toString().trim()).toBe('1');
    expect(execFileSync('cat', [target]).toString()).toBe('new content\n');
    const short = runLocal('write-file', [target, String(data.length + 1), sum, '', '1'], data);
    expect(short.failure?.message).toMatch(/did not arrive complete/);
    expect(execFileSync('cat', [target]).toString()).toBe('new content\n');
    expect(execFileSync('ls', ['-a', dir]).toString()).not.toMatch(/\.w\.pinet-/);
  });

  it('stat lines', () => {
    expect(parseStatLine('81a4 0 0 12 1700000000')).toEqual({ type: 'file', mode: 0o644, uid: 0, gid: 0, size: 12, mtime: 1_700_000_000 });
    expect(parseStatLine('41ed 1000 1000 4096 1')?.type).toBe('directory');
    expect(parseStatLine('a1ff 0 0 7 1')?.type).toBe('symlink');
    expect(parseStatLine('garbage')).toBeUndefined();
  });

  it('sha256sum lines, escaped names included', () => {
    const h = 'a'.repeat(64);
    expect(parseSha256Line(`${h}  ./a b`)).toEqual({ hash: h, name: './a b' });
    expect(parseSha256Line(`\\${h}  ./new\\nline\\\\x\\r`)).toEqual({ hash: h, name: './new\nline\\x\r' });
    expect(parseSha256Line(`${h} *./bin`)).toEqual({ hash: h, name: './bin' });
    expect(parseSha256Line('nonsense')).toBeUndefined();
  });

  it('list-tree.sh: find records and checksums, names with newlines, exclusions', () => {
    const t = join(dir, 'tree');
    mkdirSync(join(t, 'd'), { recursive: true });
    writeFileSync(join(t, 'new\nline'), 'x');
    writeFileSync(join(t, 'd', 'f'), 'hello');
    writeFileSync(join(t, 'pieeprom.upd'), 'staged');
    symlinkSync('d/f', join(t, 'l'));
    const out = runLocal('list-tree', [t, 'pieeprom.upd']);
    const list = parseListing(out.sections.get('listing')!, out.sections.get('sums')!.toString());
    expect(list.map((e) => [e.path, e.type])).toEqual([
      ['', 'directory'],
      ['d', 'directory'],
      ['d/f', 'file'],
      ['l', 'symlink'],
      ['new\nline', 'file'],
    ]);
    expect(list.find((e) => e.path === 'd/f')).toMatchObject({ size: 5, sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824' });
    expect(list.find((e) => e.path === 'new\nline')?.sha256).toBe('2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881');
    expect(list.find((e) => e.path === 'l')?.linkTarget).toBe('d/f');
    expect(() => parseListing(Buffer.from('x'), '')).toThrow();
    expect(runLocal('list-tree', [join(dir, 'no-such-dir')]).failure).toEqual({ step: 'list', message: 'no such directory' });
  });

  it('reads the public key from an encrypted OpenSSH key file, like ssh-keygen -y would need the passphrase for', () => {
    const f = join(dir, 'enc');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'pw', '-C', 'c', '-f', f]);
    const pub = execFileSync('cat', [`${f}.pub`], { encoding: 'utf8' }).split(' ')[1] as string;
    expect(opensshPublicKey(execFileSync('cat', [f], { encoding: 'utf8' }))?.toString('base64')).toBe(pub);
    expect(opensshPublicKey('-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----')).toBeUndefined();
    expect(opensshPublicKey('nothing')).toBeUndefined();
  });
});
