import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideHostKey, recordHostKey } from '../../src/remote/host-keys.js';
import {
  checkHostKey,
  fingerprint,
  formatKnownHostsLine,
  hashHostName,
  hostFieldMatches,
  parseKnownHosts,
  orderHostKeyAlgorithms,
} from '../../src/remote/known-hosts.js';
import { RemoteError } from '../../src/remote/errors.js';
import type { ResolvedHost } from '../../src/remote/ssh-config.js';
import { resolveHost } from '../../src/remote/ssh-config.js';
import { hasCommand } from '../helpers/env.js';

const dir = mkdtempSync(join(tmpdir(), 'pinet-kh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Key {
  type: string;
  b64: string;
  blob: Buffer;
  pubFile: string;
}
const keys: Record<string, Key> = {};

function makeKey(name: string, type: string): Key {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', file]);
  const [t, b64] = readFileSync(`${file}.pub`, 'utf8').trim().split(' ');
  return { type: t as string, b64: b64 as string, blob: Buffer.from(b64 as string, 'base64'), pubFile: `${file}.pub` };
}

beforeAll(() => {
  keys.ed = makeKey('ed', 'ed25519');
  keys.ed2 = makeKey('ed2', 'ed25519');
  keys.ec = makeKey('ec', 'ecdsa');
});

function line(hosts: string, k: Key, marker = ''): string {
  return `${marker}${marker ? ' ' : ''}${hosts} ${k.type} ${k.b64}`;
}

function host(extra: Partial<ResolvedHost> = {}): ResolvedHost {
  const h = resolveHost('pi-07', {
    sources: [{ path: '/cfg', text: 'Host pi-07\n  HostName 10.0.0.17\n', kind: 'user' }],
    local: { home: '/home/u', user: 'u', uid: 1, hostname: 'h', env: {} },
  });
  return { ...h, userKnownHostsFiles: ['/home/u/.ssh/known_hosts'], ...extra };
}

describe.skipIf(!hasCommand('ssh-keygen'))('known_hosts', () => {
  it('fingerprints equal ssh-keygen -lf', () => {
    for (const k of Object.values(keys)) {
      const out = execFileSync('ssh-keygen', ['-lf', k.pubFile], { encoding: 'utf8' });
      expect(out.split(' ')[1]).toBe(fingerprint(k.blob));
    }
  });

  it('parses entries and skips comments, blanks and garbage without failing', () => {
    const k = keys.ed as Key;
    const text = [
      '# comment',
      '',
      '   ',
      line('pi-07,10.0.0.17', k),
      line('*', k, '@revoked'),
      line('*.lan', keys.ec as Key, '@cert-authority'),
      'garbage',
      'host ssh-ed25519',
      'host ssh-ed25519 !!!notbase64',
      `host ssh-rsa ${k.b64}`, // type does not match the key
      line('x', k, '@unknown'),
      '@revoked',
      `host ssh-ed25519 ${Buffer.from('junk').toString('base64')}`,
      `\t${line('[pi-08]:2222', k)} trailing comment\r`,
      '\0\0\0',
    ].join('\n');
    const parsed = parseKnownHosts(text, 'kh');
    expect(parsed.entries.map((e) => [e.line, e.marker, e.hosts, e.keyType])).toEqual([
      [4, undefined, 'pi-07,10.0.0.17', 'ssh-ed25519'],
      [5, 'revoked', '*', 'ssh-ed25519'],
      [6, 'cert-authority', '*.lan', keys.ec?.type],
      [14, undefined, '[pi-08]:2222', 'ssh-ed25519'],
    ]);
    expect(parsed.skipped.map((s) => s.line)).toEqual([7, 8, 9, 10, 11, 12, 13, 15]);
  });

  it('matches host fields the way ssh-keygen -F does (hashed, lists, [host]:port, wildcards, negation)', () => {
    const k = keys.ed as Key;
    const fields = [
      'pi-07',
      'PI-07,10.0.0.17',
      '[pi-07]:2222',
      '*.lan,!bad.lan',
      'pi-0?',
      hashHostName('pi-09'),
      hashHostName('[pi-09]:2200'),
      '!pi-07,*',
    ];
    const names = ['pi-07', '10.0.0.17', '[pi-07]:2222', 'good.lan', 'bad.lan', 'pi-01', 'pi-09', '[pi-09]:2200', 'other', 'pi-10'];
    const file = join(dir, 'match_kh');
    fields.forEach((f, i) => {
      writeFileSync(file, `${line(f, k)}\n`);
      for (const name of names) {
        let theirs = false;
        try {
          theirs = execFileSync('ssh-keygen', ['-F', name, '-f', file], { encoding: 'utf8' }).includes(k.b64) || false;
        } catch {
          theirs = false;
        }
        expect({ field: i, name, match: hostFieldMatches(f, name) }).toEqual({ field: i, name, match: theirs });
      }
    });
  });

  it('checks: ok, unknown, changed (same or other type), revoked, port fallback, CA only', () => {
    const ed = keys.ed as Key;
    const ed2 = keys.ed2 as Key;
    const ec = keys.ec as Key;
    const e = (text: string) => parseKnownHosts(text, 'kh').entries;
    expect(checkHostKey(e(line('pi', ed)), 'pi', ed.blob).status).toBe('ok');
    expect(checkHostKey(e(line('other', ed)), 'pi', ed.blob).status).toBe('unknown');
    const changed = checkHostKey(e(`${line('x', ed)}\n${line('pi', ed2)}`), 'pi', ed.blob);
    expect(changed).toMatchObject({ status: 'changed' });
    expect(changed.status === 'changed' && changed.entries[0]?.line).toBe(2);
    // A host known only with another key type counts as changed too (hostfile.c).
    expect(checkHostKey(e(line('pi', ec)), 'pi', ed.blob).status).toBe('changed');
    // One matching entry is enough even if other keys are recorded.
    expect(checkHostKey(e(`${line('pi', ec)}\n${line('pi', ed)}`), 'pi', ed.blob).status).toBe('ok');
    expect(checkHostKey(e(`${line('pi', ed)}\n${line('*', ed, '@revoked')}`), 'pi', ed.blob).status).toBe('revoked');
    expect(checkHostKey(e(line('[pi]:2222', ed)), '[pi]:2222', ed.blob).status).toBe('ok');
    expect(checkHostKey(e(line('pi', ed)), '[pi]:2222', ed.blob, 'pi').status).toBe('ok');
    expect(checkHostKey(e(line('pi', ed2)), '[pi]:2222', ed.blob, 'pi').status).toBe('unknown');
    expect(checkHostKey(e(line('pi', ed)), '[pi]:2222', ed.blob).status).toBe('unknown');
    expect(checkHostKey(e(line('*.lan', ec, '@cert-authority')), 'pi.lan', ed.blob)).toEqual({ status: 'unknown', caOnly: true });
  });

  it('writes lines ssh-keygen -F finds, hashed or not', () => {
    const ed = keys.ed as Key;
    const file = join(dir, 'written_kh');
    writeFileSync(file, formatKnownHostsLine('[Pi-07]:2222', ed.blob, true) + formatKnownHostsLine('pi-08', ed.blob, false));
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /);
    expect(text.split('\n')[1]).toBe(`pi-08 ssh-ed25519 ${ed.b64}`);
    expect(execFileSync('ssh-keygen', ['-F', '[pi-07]:2222', '-f', file], { encoding: 'utf8' })).toContain(ed.b64);
    expect(execFileSync('ssh-keygen', ['-F', 'pi-08', '-f', file], { encoding: 'utf8' })).toContain(ed.b64);
  });

  it('prefers the host key types already known for the host', () => {
    const ec = keys.ec as Key;
    const entries = parseKnownHosts(line('pi', ec), 'kh').entries;
    const defaults = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa-sha2-512'];
    expect(orderHostKeyAlgorithms(entries, 'pi', defaults)).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519', 'rsa-sha2-512']);
    expect(orderHostKeyAlgorithms(entries, 'other', defaults)).toEqual(defaults);
  });
});

describe.skipIf(!hasCommand('ssh-keygen'))('host key policy', () => {
  const err = (fn: () => unknown): RemoteError => {
    try {
      fn();
    } catch (e) {
      if (e instanceof RemoteError) return e;
      throw e;
    }
    throw new Error('no RemoteError');
  };

  it('unknown: refused with key type, fingerprint and the --accept-new hint', () => {
    const ed = keys.ed as Key;
    const e = err(() => decideHostKey(host(), [], ed.blob, { home: '/home/u' }));
    expect(e.kind).toBe('host-key-unknown');
    expect(e.message).toBe(`pi-07 (10.0.0.17): unknown host key for 10.0.0.17: ED25519 key ${fingerprint(ed.blob)}; refusing to connect without --accept-new`);
    expect(e.hint).toMatch(/--accept-new.*~\/\.ssh\/known_hosts/);
  });

  it('accept-new (flag or config) records; StrictHostKeyChecking no records with a warning', () => {
    const ed = keys.ed as Key;
    expect(decideHostKey(host(), [], ed.blob, { acceptNew: true, home: '/home/u' }).recordIn).toBe('/home/u/.ssh/known_hosts');
    expect(decideHostKey(host({ strictHostKeyChecking: 'accept-new' }), [], ed.blob, { home: '/home/u' }).recordIn).toBe('/home/u/.ssh/known_hosts');
    const no = decideHostKey(host({ strictHostKeyChecking: 'no', origins: { stricthostkeychecking: '/cfg:3' } }), [], ed.blob, { home: '/home/u' });
    expect(no.recordIn).toBe('/home/u/.ssh/known_hosts');
    expect(no.warning).toMatch(/StrictHostKeyChecking no \(\/cfg:3\)/);
    // "ask" is "yes" for pinet.
    expect(err(() => decideHostKey(host({ strictHostKeyChecking: 'ask' }), [], ed.blob, {})).kind).toBe('host-key-unknown');
    // Nowhere to record: refused even with --accept-new.
    expect(err(() => decideHostKey(host({ userKnownHostsFiles: [] }), [], ed.blob, { acceptNew: true })).hint).toMatch(/UserKnownHostsFile/);
  });

  it('changed: always refused, loudly, with file:line and ssh-keygen -R', () => {
    const ed = keys.ed as Key;
    const ed2 = keys.ed2 as Key;
    const entries = parseKnownHosts(`# x\n${line('10.0.0.17', ed2)}\n`, '/home/u/.ssh/known_hosts').entries;
    for (const strict of ['yes', 'no', 'accept-new', 'ask'] as const) {
      const e = err(() => decideHostKey(host({ strictHostKeyChecking: strict }), entries, ed.blob, { acceptNew: true, home: '/home/u' }));
      expect(e.kind).toBe('host-key-changed');
      expect(e.message).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');
      expect(e.message).toContain('~/.ssh/known_hosts:2');
      expect(e.message).toContain(fingerprint(ed.blob));
      expect(e.message).toContain(fingerprint(ed2.blob));
      expect(e.hint).toContain('ssh-keygen -R 10.0.0.17 -f /home/u/.ssh/known_hosts');
    }
  });

  it('revoked: refused', () => {
    const ed = keys.ed as Key;
    const entries = parseKnownHosts(`${line('10.0.0.17', ed)}\n${line('*', ed, '@revoked')}\n`, 'kh').entries;
    expect(err(() => decideHostKey(host({ strictHostKeyChecking: 'no' }), entries, ed.blob, {})).kind).toBe('host-key-revoked');
  });

  it('recording creates ~/.ssh (0700) and the file (0600), and fixes a missing final newline', async () => {
    const home = join(dir, 'home');
    mkdirSync(home);
    const ed = keys.ed as Key;
    const file = join(home, '.ssh', 'known_hosts');
    await recordHostKey(file, '[pi]:2222', ed.blob, { hashed: false, home });
    expect(statSync(join(home, '.ssh')).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeFileSync(file, readFileSync(file, 'utf8').trimEnd());
    await Promise.all([
      recordHostKey(file, 'a', ed.blob, { hashed: false, home }),
      recordHostKey(file, 'b', ed.blob, { hashed: true, home }),
    ]);
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines[0]).toBe(`[pi]:2222 ssh-ed25519 ${ed.b64}`);
    expect(lines[1]).toBe(`a ssh-ed25519 ${ed.b64}`);
    expect(lines[2]).toMatch(/^\|1\|/);
    expect(lines[3]).toBe('');
  });
});
