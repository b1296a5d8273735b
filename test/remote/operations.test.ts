/**
 * Remote commands and file operations through a real sshd: quoting, sudo,
 * reads, stat, atomic writes (also with the connection cut mid-write) and
 * tree copies with hostile names.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from '../../src/remote/connect.js';
import { RemoteError } from '../../src/remote/errors.js';
import type { RemoteHost } from '../../src/remote/remote-host.js';
import { describeAsRoot } from '../helpers/env.js';
import { ALICE, createUsers, removeUsers, type Sshd, startSshd, type TestUsers } from './sshd-fixture.js';
import { startProxy, type TcpProxy } from './tcp-proxy.js';

const HOSTILE = [
  'a b',
  "'",
  '"',
  "it's \"quoted\"",
  '$(id)',
  '`id`',
  '${HOME}',
  '$HOME',
  ';',
  'a;reboot',
  '&&',
  '|',
  '>x',
  '<x',
  '\n',
  'two\nlines',
  'a\r\nb',
  '\t',
  '*',
  '?',
  '[a]',
  '{a,b}',
  '~',
  '~root',
  '#comment',
  '!',
  '\\',
  '\\n',
  '-n',
  '-e',
  '--',
  '-oProxyCommand=x',
  '',
  ' ',
  'ünïcödé ✓',
  '\x01\x7f',
  'x'.repeat(10_000),
];

describeAsRoot('RemoteHost operations against a real sshd', () => {
  let users: TestUsers;
  let sshd: Sshd;
  let proxy: TcpProxy;
  let root: RemoteHost;
  let alice: RemoteHost;
  let work: string;
  let cfg: string;

  beforeAll(async () => {
    users = createUsers();
    sshd = await startSshd(users, 'ops');
    proxy = await startProxy(sshd.port);
    work = join(users.dir, 'work');
    mkdirSync(work, { mode: 0o755 });
    const kh = join(users.dir, 'known_hosts');
    writeFileSync(
      kh,
      `[127.0.0.1]:${sshd.port} ${sshd.hostKeys.ed25519.line}\n[127.0.0.1]:${proxy.port} ${sshd.hostKeys.ed25519.line}\n`,
    );
    cfg = join(users.dir, 'ssh_config');
    writeFileSync(
      cfg,
      `Host cut
  Port ${proxy.port}
Host root alice cut
  HostName 127.0.0.1
  Port ${sshd.port}
Host root cut
  User root
Host alice
  User ${ALICE}
Host *
  IdentityFile ${users.keys.plain}
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile ${kh}
`,
    );
    root = await connect('root', { configFile: cfg });
    alice = await connect('alice', { configFile: cfg });
  });

  afterAll(async () => {
    try {
      await root?.close();
      await alice?.close();
      await proxy?.close();
    } finally {
      await sshd?.stop();
      if (users) removeUsers(users);
    }
  });

  const split0 = (b: Buffer): string[] => {
    const parts = b.toString('utf8').split('\0');
    parts.pop();
    return parts;
  };

  it('exec: hostile argv values arrive byte-exact (root, user, user with sudo)', async () => {
    for (const [h, sudo] of [
      [() => root, false],
      [() => alice, false],
      [() => alice, true],
    ] as const) {
      const r = await h().exec(['printf', '%s\\0', ...HOSTILE], { encoding: 'buffer', sudo });
      expect(split0(r.stdout)).toEqual(HOSTILE);
    }
    // Nothing was executed or created by the values.
    expect(() => statSync('/root/x')).toThrow();
  });

  it('execScript: a constant script gets the values as "$@", byte-exact, in one round trip', async () => {
    const script = 'printf "%s\\0" "$#" "$@"; id -un';
    const r = await alice.execScript(script, HOSTILE, { sudo: true, encoding: 'buffer' });
    const text = r.stdout.toString('utf8');
    const [head, user] = [text.slice(0, text.lastIndexOf('\0') + 1), text.slice(text.lastIndexOf('\0') + 1)];
    expect(split0(Buffer.from(head))).toEqual([String(HOSTILE.length), ...HOSTILE]);
    expect(user).toBe('root\n');
  });

  it('exec: a NUL byte in a value is refused before anything is sent', async () => {
    await expect(root.exec(['echo', 'a\0b'])).rejects.toThrow(/NUL/);
  });

  it('exec: non-zero status is an error with the step and stderr; reject: false returns it', async () => {
    const e = await root.exec(['ls', join(work, 'missing dir')], { step: 'listing the boot files' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RemoteError);
    expect((e as RemoteError).kind).toBe('command-failed');
    expect((e as Error).message).toMatch(/^root \(127\.0\.0\.1\): listing the boot files failed: the command exited with status 2: ls: cannot access .*missing dir.*No such file or directory/);
    const r = await root.exec(['sh', '-c', 'echo out; echo err >&2; exit 3'], { reject: false });
    expect(r).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    expect((await root.exec(['cat'], { input: 'from stdin\n' })).stdout).toBe('from stdin\n');
  });

  it('readFiles: many files in one call; missing is "missing", not an error; /proc works; sudo reads root files', async () => {
    const binary = Buffer.concat([Buffer.from([0, 1, 2, 255, 0, 10, 13]), randomBytes(100_000)]);
    const files: Record<string, Buffer> = {
      [join(work, 'plain.txt')]: Buffer.from('hello\n'),
      [join(work, 'binary.bin')]: binary,
      [join(work, 'empty')]: Buffer.alloc(0),
      [join(work, 'name with\nnewline and $(id)')]: Buffer.from('odd\n'),
      [join(work, 'secret')]: Buffer.from('root only\n'),
    };
    for (const [p, c] of Object.entries(files)) writeFileSync(p, c);
    chmodSync(join(work, 'secret'), 0o600);
    const missing = join(work, 'nope');
    const paths = [...Object.keys(files), missing, work, '/proc/cpuinfo'];
    const got = await alice.readFiles(paths);
    for (const [p, c] of Object.entries(files)) expect(got.get(p)).toEqual({ status: 'ok', content: c });
    expect(got.get(missing)).toEqual({ status: 'missing' });
    expect(got.get(work)).toMatchObject({ status: 'error', message: expect.stringMatching(/Is a directory/) });
    const cpu = got.get('/proc/cpuinfo');
    expect(cpu?.status === 'ok' && cpu.content.toString().includes('processor')).toBe(true);
    // Without sudo the root-only file is an error for alice.
    const nosudo = await alice.readFiles([join(work, 'secret')], { sudo: false });
    expect(nosudo.get(join(work, 'secret'))).toMatchObject({ status: 'error', message: expect.stringMatching(/Permission denied/) });
    await expect(root.readFile(missing)).rejects.toThrow(`root (127.0.0.1): cannot read ${missing}: no such file`);
    expect((await root.readFile(join(work, 'binary.bin'))).equals(binary)).toBe(true);
    await expect(root.readFile('relative/path')).rejects.toThrow(/not an absolute path/);
  });

  it('stat: type, mode, owner, size, mtime like lstat(2); null when missing', async () => {
    const f = join(work, 'stat me');
    writeFileSync(f, 'x'.repeat(1234));
    chownSync(f, 61872, 61871);
    chmodSync(f, 0o4751);
    utimesSync(f, 1_600_000_000, 1_600_000_123);
    symlinkSync('stat me', join(work, 'link'));
    const all = await alice.statMany([f, work, join(work, 'link'), join(work, 'gone')]);
    expect(all.get(f)).toEqual({ type: 'file', mode: 0o4751, uid: 61872, gid: 61871, size: 1234, mtime: 1_600_000_123 });
    expect(all.get(work)).toMatchObject({ type: 'directory', mode: statSync(work).mode & 0o7777 });
    expect(all.get(join(work, 'link'))).toMatchObject({ type: 'symlink', size: 7 });
    expect(all.get(join(work, 'gone'))).toBeNull();
    expect(await alice.stat(join(work, 'link'), { follow: true })).toMatchObject({ type: 'file', size: 1234 });
  });

  it('writeFileAtomic keeps owner and mode, creates new files 0644, follows symlinks, leaves no temporary files', async () => {
    const f = join(work, 'fstab');
    writeFileSync(f, 'old\n');
    chownSync(f, 61872, 61872);
    chmodSync(f, 0o640);
    expect(await alice.writeFileAtomic(f, 'new content\n')).toEqual({ created: false });
    expect(readFileSync(f, 'utf8')).toBe('new content\n');
    const st = statSync(f);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([61872, 61872, 0o640]);

    const fresh = join(work, 'new file; $(id)\n');
    expect(await alice.writeFileAtomic(fresh, Buffer.from([0, 1, 2]))).toEqual({ created: true });
    expect(readFileSync(fresh)).toEqual(Buffer.from([0, 1, 2]));
    expect([statSync(fresh).uid, statSync(fresh).mode & 0o777]).toEqual([0, 0o644]);

    await root.writeFileAtomic(f, 'mode set\n', { mode: 0o600 });
    expect(statSync(f).mode & 0o7777).toBe(0o600);
    await root.writeFileAtomic(f, 'reset\n', { keepOwnerAndMode: false });
    expect([statSync(f).uid, statSync(f).mode & 0o7777]).toEqual([0, 0o644]);

    symlinkSync('fstab', join(work, 'fstab-link'));
    await root.writeFileAtomic(join(work, 'fstab-link'), 'through link\n');
    expect(lstatSync(join(work, 'fstab-link')).isSymbolicLink()).toBe(true);
    expect(readFileSync(f, 'utf8')).toBe('through link\n');

    const e = await alice.writeFileAtomic(join(work, 'no such dir', 'x'), 'x').catch((x: unknown) => x);
    expect((e as RemoteError).kind).toBe('remote-file');
    expect((e as Error).message).toContain('cannot create a temporary file next to it');
    const denied = await alice.writeFileAtomic(f, 'nope', { sudo: false }).catch((x: unknown) => x);
    expect((denied as RemoteError).hint).toBe('the old file was left as it was');
    expect(readFileSync(f, 'utf8')).toBe('through link\n');
    expect(readdirSync(work).filter((n) => n.includes('.pinet-'))).toEqual([]);
  });

  it('writeFileAtomic with the connection cut mid-write leaves the old file and no temporary file', async () => {
    const f = join(work, 'big.conf');
    writeFileSync(f, 'OLD\n');
    const cut = await connect('cut', { configFile: cfg });
    const content = randomBytes(16 * 1024 * 1024);
    proxy.cutAfter(2 * 1024 * 1024);
    const e = await cut.writeFileAtomic(f, content, { step: 'writing /etc/fstab' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RemoteError);
    expect((e as RemoteError).kind).toBe('connection-lost');
    expect((e as Error).message).toMatch(/^cut \(127\.0\.0\.1\): connection lost while writing \/etc\/fstab/);
    expect(readFileSync(f, 'utf8')).toBe('OLD\n');
    // The remote script notices the short input and removes its temporary file.
    let leftovers = ['?'];
    for (let i = 0; i < 150 && leftovers.length > 0; i++) {
      leftovers = readdirSync(work).filter((n) => n.startsWith('.big.conf.pinet-'));
      if (leftovers.length > 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(leftovers).toEqual([]);
    expect(readFileSync(f, 'utf8')).toBe('OLD\n');
    await cut.close();
    // A second run completes the job.
    const again = await connect('cut', { configFile: cfg });
    await again.writeFileAtomic(f, content);
    expect(createHash('sha256').update(readFileSync(f)).digest('hex')).toBe(createHash('sha256').update(content).digest('hex'));
    await again.close();
  });

  /** Every entry under `dir`: type, size, mode, mtime (s), content hash or link target. */
  function snapshot(dir: string, opts: { modes?: boolean } = {}): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (rel: string): void => {
      const abs = rel === '' ? dir : join(dir, rel);
      const st = lstatSync(abs);
      const mode = opts.modes === false ? '' : (st.mode & 0o7777).toString(8);
      const mtime = Math.floor(st.mtimeMs / 1000);
      if (st.isSymbolicLink()) out[rel] = `link ${readlinkSync(abs)} ${mtime}`;
      else if (st.isDirectory()) {
        out[rel] = `dir ${mode} ${rel === '' ? '' : mtime}`;
        for (const n of readdirSync(abs)) walk(rel === '' ? n : `${rel}/${n}`);
      } else {
        out[rel] = `file ${st.size} ${mode} ${mtime} ${createHash('sha256').update(readFileSync(abs)).digest('hex')}`;
      }
    };
    walk('');
    return out;
  }

  function oddTree(base: string): void {
    const names = [
      'a b',
      "quo'te",
      'dq"x',
      'new\nline',
      'cr\rx',
      'tab\tx',
      'ünïcödé',
      '$(id)',
      '`id`',
      '-leading',
      '*',
      'back\\slash',
      'l'.repeat(150),
      '.hidden',
    ];
    mkdirSync(join(base, 'deep', 'er', 'est', 'x'.repeat(120)), { recursive: true });
    mkdirSync(join(base, 'empty dir'));
    mkdirSync(join(base, 'overlays'));
    for (const [i, n] of names.entries()) writeFileSync(join(base, n), `content ${i} ${n}\n`);
    writeFileSync(join(base, 'deep', 'er', 'est', 'x'.repeat(120), 'y'.repeat(120)), 'deep\n');
    writeFileSync(join(base, 'empty'), '');
    writeFileSync(join(base, 'big.img'), randomBytes(3 * 1024 * 1024 + 17));
    writeFileSync(join(base, 'vmlinuz'), randomBytes(50_000));
    chmodSync(join(base, 'vmlinuz'), 0o600);
    writeFileSync(join(base, 'overlays', 'x.dtbo'), 'dtbo');
    writeFileSync(join(base, 'pieeprom.upd'), 'staged');
    symlinkSync('a b', join(base, 'link to a b'));
    symlinkSync('/etc/passwd', join(base, 'abs-link'));
    linkSync(join(base, 'a b'), join(base, 'hard link'));
    let t = 1_500_000_000;
    const stamp = (rel: string): void => {
      const abs = join(base, rel);
      if (!lstatSync(abs).isSymbolicLink()) utimesSync(abs, t, t);
      t += 1000;
      if (lstatSync(abs).isDirectory()) for (const n of readdirSync(abs)) stamp(`${rel}/${n}`);
    };
    for (const n of readdirSync(base)) stamp(n);
    chmodSync(join(base, 'empty dir'), 0o700);
  }

  it('streamTree copies a tree with hostile names exactly (names, sizes, modes, mtimes, links) and verifies it', async () => {
    const src = join(work, 'boot firmware');
    oddTree(src);
    const dst = join(users.dir, 'copy1');
    const progress: Array<[number, number]> = [];
    const r = await alice.streamTree(src, dst, { onProgress: (b, f) => progress.push([b, f]) });
    const want = snapshot(src);
    const got = snapshot(dst);
    delete want[''];
    delete got[''];
    expect(got).toEqual(want);
    const fileCount = Object.values(want).filter((v) => v.startsWith('file')).length;
    expect(r.files).toBe(fileCount);
    // Bytes of content sent: a hard link's content travels once.
    const totalBytes = Object.keys(want)
      .filter((k) => want[k]?.startsWith('file') && k !== 'hard link')
      .reduce((s, k) => s + lstatSync(join(src, k)).size, 0);
    expect(r.bytes).toBe(totalBytes);
    expect(progress[progress.length - 1]).toEqual([totalBytes, fileCount]);
    const entry = r.entries.find((e) => e.path === 'new\nline');
    expect(entry?.sha256).toBe(createHash('sha256').update(readFileSync(join(src, 'new\nline'))).digest('hex'));
  });

  it('streamTree: exclude patterns, normalized modes, only some paths', async () => {
    const src = join(work, 'boot firmware');
    const dst = join(users.dir, 'copy2');
    await root.streamTree(src, dst, { exclude: ['pieeprom.*', 'deep/er', '$(id)'], modes: 'normalize' });
    const got = snapshot(dst);
    expect(Object.keys(got).some((k) => k.startsWith('pieeprom') || k.startsWith('deep/er') || k === '$(id)')).toBe(false);
    expect(got.deep).toMatch(/^dir 755 /);
    expect(got.vmlinuz).toMatch(/^file 50000 644 /);
    expect(got['empty dir']).toMatch(/^dir 755 /);

    const dst3 = join(users.dir, 'copy3');
    const r = await root.streamTree(src, dst3, { only: ['vmlinuz', 'overlays/x.dtbo', 'new\nline'] });
    expect(r.files).toBe(3);
    expect(readFileSync(join(dst3, 'overlays', 'x.dtbo'), 'utf8')).toBe('dtbo');
    expect(readdirSync(dst3).sort()).toEqual(['new\nline', 'overlays', 'vmlinuz']);

    const e = await root.streamTree(join(work, 'no such dir'), join(users.dir, 'copy4')).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/no such directory/);
  });

  it('listTree lists sizes, modes and checksums of every file', async () => {
    const src = join(work, 'boot firmware');
    const list = await root.listTree(src, { exclude: ['deep'] });
    const vm = list.find((e) => e.path === 'vmlinuz');
    expect(vm).toMatchObject({ type: 'file', size: 50_000, mode: 0o600 });
    expect(vm?.sha256).toBe(createHash('sha256').update(readFileSync(join(src, 'vmlinuz'))).digest('hex'));
    expect(list.find((e) => e.path === 'link to a b')).toMatchObject({ type: 'symlink', linkTarget: 'a b' });
    expect(list.some((e) => e.path.startsWith('deep'))).toBe(false);
  });
});
