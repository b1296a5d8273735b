import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { hostname as osHostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, UsageError } from '../../src/errors.js';
import { globPaths, loadConfigSources, fsIncludeReader } from '../../src/remote/config-files.js';
import type { LocalContext } from '../../src/remote/expand.js';
import { parseTime } from '../../src/remote/expand.js';
import { type ConfigSource, type ResolveOptions, resolveHost } from '../../src/remote/ssh-config.js';
import { hasCommand } from '../helpers/env.js';

const local: LocalContext = {
  home: '/home/alice',
  user: 'alice',
  uid: 1000,
  hostname: 'server.example.org',
  env: { SSH_AUTH_SOCK: '/run/agent.sock', KEYDIR: '/keys' },
  homeOf: (u) => (u === 'bob' ? '/home/bob' : undefined),
};

function resolve(dest: string, text: string, extra: Partial<ResolveOptions> = {}) {
  const sources: ConfigSource[] = [{ path: '/home/alice/.ssh/config', text, kind: 'user' }];
  return resolveHost(dest, { sources, local, ...extra });
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('no ConfigError');
}

describe('resolveHost: OpenSSH config semantics', () => {
  it('uses defaults without any config', () => {
    const h = resolve('pi-07', '');
    expect(h).toMatchObject({
      alias: 'pi-07',
      hostname: 'pi-07',
      port: 22,
      user: 'alice',
      identitiesOnly: false,
      agentSocket: '/run/agent.sock',
      proxyJump: [],
      connectTimeout: undefined,
      strictHostKeyChecking: 'ask',
      userKnownHostsFiles: ['/home/alice/.ssh/known_hosts', '/home/alice/.ssh/known_hosts2'],
      globalKnownHostsFiles: ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'],
      hashKnownHosts: false,
      serverAliveInterval: 0,
      serverAliveCountMax: 3,
    });
    expect(h.identityFiles.map((f) => f.path)).toEqual([
      '/home/alice/.ssh/id_rsa',
      '/home/alice/.ssh/id_ecdsa',
      '/home/alice/.ssh/id_ecdsa_sk',
      '/home/alice/.ssh/id_ed25519',
      '/home/alice/.ssh/id_ed25519_sk',
      '/home/alice/.ssh/id_xmss',
      '/home/alice/.ssh/id_dsa',
    ]);
    expect(h.identityFiles.every((f) => !f.configured)).toBe(true);
  });

  it('first obtained value wins; IdentityFile accumulates', () => {
    const h = resolve(
      'pi-07',
      `Host pi-07
  HostName 10.0.0.17
  User pi
  IdentityFile ~/.ssh/pi
Host pi-*
  HostName wrong
  User wrong
  Port 2222
  IdentityFile ~/.ssh/fleet
Host *
  Port 22
  User other
`,
    );
    expect(h.hostname).toBe('10.0.0.17');
    expect(h.user).toBe('pi');
    expect(h.port).toBe(2222);
    expect(h.identityFiles).toEqual([
      { path: '/home/alice/.ssh/pi', configured: true },
      { path: '/home/alice/.ssh/fleet', configured: true },
    ]);
    expect(h.origins.hostname).toBe('/home/alice/.ssh/config:2');
  });

  it('destination user and port win over the config; overrides win over the destination', () => {
    const cfg = 'Host *\n  User cfg\n  Port 2000\n';
    expect(resolve('pi@x:3000', cfg)).toMatchObject({ user: 'pi', port: 3000 });
    expect(resolve('pi@x:3000', cfg, { overrides: { user: 'root', port: 4000 } })).toMatchObject({ user: 'root', port: 4000 });
    expect(resolve('x', cfg, { overrides: { options: ['StrictHostKeyChecking=accept-new', 'Port 5000'] } })).toMatchObject({
      strictHostKeyChecking: 'accept-new',
      port: 5000,
    });
  });

  it('-o style options: one setting each; Host/Match/Include and line breaks are refused', () => {
    expect(configError(() => resolve('x', '', { overrides: { options: ['User a\nHost *'] } })).message).toMatch(/line breaks/);
    expect(configError(() => resolve('x', '', { overrides: { options: ['Host *'] } })).message).toMatch(/not allowed/);
    expect(configError(() => resolve('x', '', { overrides: { options: ['Port=abc'] } })).message).toMatch(/bad port/);
  });

  it('Host patterns: several per line, ?, *, negation', () => {
    const cfg = `Host web db pi-0? !pi-09
  User matched
`;
    expect(resolve('pi-01', cfg).user).toBe('matched');
    expect(resolve('db', cfg).user).toBe('matched');
    expect(resolve('pi-09', cfg).user).toBe('alice');
    expect(resolve('pi-10', cfg).user).toBe('alice');
  });

  it('Host matches the name as typed, not HostName, and case-sensitively', () => {
    const cfg = `Host pi
  HostName 10.0.0.5
Host 10.0.0.5
  User byaddress
Host PI
  Port 2222
`;
    expect(resolve('pi', cfg)).toMatchObject({ hostname: '10.0.0.5', user: 'alice', port: 22 });
  });

  it('HostName with %h and %%, lower-cased', () => {
    expect(resolve('Pi-07', 'Host *\n  HostName %h.Lan\n').hostname).toBe('pi-07.lan');
    expect(configError(() => resolve('pi', 'Host *\n  HostName %z.lan\n')).message).toMatch(/config:2.*%z/);
  });

  it('Match host / originalhost / user / localuser / all, with negation', () => {
    const cfg = `Host pi-*
  HostName %h.lan
Match host *.lan !user root
  Port 2200
Match originalhost pi-0*
  IdentityFile ~/.ssh/orig
Match localuser alice
  ConnectTimeout 7
Match all
  ServerAliveInterval 9
`;
    const h = resolve('pi-01', cfg);
    expect(h.port).toBe(2200);
    expect(h.identityFiles.map((f) => f.path)).toEqual(['/home/alice/.ssh/orig']);
    expect(h.connectTimeout).toBe(7);
    expect(h.serverAliveInterval).toBe(9);
    expect(resolve('root@pi-01', cfg).port).toBe(22);
  });

  it('Match exec is never run: the block does not apply and a note says so', () => {
    const h = resolve('pi', 'Match exec "touch /tmp/pinet-must-not-exist"\n  User bad\n');
    expect(h.user).toBe('alice');
    expect(h.notes.join('\n')).toMatch(/config:1.*Match exec.*not evaluated/);
  });

  it('Match final triggers a second pass where Host sees the final host name', () => {
    const cfg = `Host pi
  HostName box.lan
Match final host box.lan
  User finaluser
Host box.lan
  Port 2022
`;
    expect(resolve('pi', cfg)).toMatchObject({ hostname: 'box.lan', user: 'finaluser', port: 2022 });
  });

  it('bad Match criteria are clear config errors, never crashes', () => {
    expect(configError(() => resolve('pi', 'Match host\n')).message).toMatch(/config:1/);
    expect(configError(() => resolve('pi', 'Match frobnicate x\n')).message).toMatch(/unsupported Match criterion/);
    expect(configError(() => resolve('pi', 'Match all host x\n')).message).toMatch(/cannot be combined/);
    expect(configError(() => resolve('pi', 'Match\n')).message).toMatch(/Match needs criteria/);
  });

  it('IdentityFile: ~, ~user, ${VAR} and % tokens, "none", duplicates dropped', () => {
    const h = resolve(
      'pi@pi-07:2222',
      `Host *
  HostName 10.0.0.17
  IdentityFile ~/.ssh/%r@%h-%p
  IdentityFile %d/k/%u-%n-%l-%L-%i
  IdentityFile \${KEYDIR}/fleet
  IdentityFile ~bob/shared
  IdentityFile none
  IdentityFile ~/.ssh/pi@10.0.0.17-2222
`,
    );
    expect(h.identityFiles.map((f) => f.path)).toEqual([
      '/home/alice/.ssh/pi@10.0.0.17-2222',
      '/home/alice/k/alice-pi-07-server.example.org-server-1000',
      '/keys/fleet',
      '/home/bob/shared',
    ]);
    expect(configError(() => resolve('x', 'IdentityFile ${NOPE}/k\n')).message).toMatch(/NOPE/);
    expect(configError(() => resolve('x', 'IdentityFile ~nosuchuser/k\n')).message).toMatch(/no such user/);
  });

  it('%C is the SHA-1 of %l%h%p%r%j, like ssh', () => {
    const h = resolve('pi@box', 'IdentityFile /k/%C\n');
    const { createHash } = require('node:crypto') as typeof import('node:crypto');
    const want = createHash('sha1').update('server.example.orgbox22pi').digest('hex');
    expect(h.identityFiles[0]?.path).toBe(`/k/${want}`);
  });

  it('StrictHostKeyChecking values', () => {
    for (const [v, want] of [
      ['yes', 'yes'],
      ['true', 'yes'],
      ['no', 'no'],
      ['off', 'no'],
      ['FALSE', 'no'],
      ['accept-new', 'accept-new'],
      ['ask', 'ask'],
    ]) {
      expect(resolve('x', `StrictHostKeyChecking ${v}\n`).strictHostKeyChecking).toBe(want);
    }
    expect(configError(() => resolve('x', 'StrictHostKeyChecking maybe\n')).message).toMatch(/config:1/);
  });

  it('UserKnownHostsFile: several, none, tokens; GlobalKnownHostsFile', () => {
    expect(resolve('x', 'UserKnownHostsFile ~/.ssh/a /tmp/b-%h\n').userKnownHostsFiles).toEqual(['/home/alice/.ssh/a', '/tmp/b-x']);
    expect(resolve('x', 'UserKnownHostsFile none\n').userKnownHostsFiles).toEqual([]);
    expect(resolve('x', 'GlobalKnownHostsFile /etc/k\n').globalKnownHostsFiles).toEqual(['/etc/k']);
    expect(configError(() => resolve('x', 'UserKnownHostsFile none /x\n')).message).toMatch(/alone/);
  });

  it('ProxyJump: hops in order, none, first of ProxyJump/ProxyCommand wins', () => {
    const h = resolve('pi', 'Host pi\n  ProxyJump admin@bastion:2200,ssh://inner\n');
    expect(h.proxyJump.map((d) => [d.user, d.host, d.port])).toEqual([
      ['admin', 'bastion', 2200],
      [undefined, 'inner', undefined],
    ]);
    expect(resolve('pi', 'Host pi\n  ProxyJump none\nHost *\n  ProxyJump b\n').proxyJump).toEqual([]);
    expect(resolve('pi', 'ProxyCommand nc %h %p\nProxyJump b\n')).toMatchObject({ proxyJump: [], proxyCommand: 'nc %h %p' });
    expect(configError(() => resolve('pi', 'ProxyJump "a b"\n')).message).toMatch(/ProxyJump hop/);
    expect(configError(() => resolve('pi', 'ProxyJump $(id)\n')).message).toMatch(/config:1/);
  });

  it('times: ConnectTimeout, ServerAliveInterval; bad values name file and line', () => {
    expect(resolve('x', 'ConnectTimeout 1m30s\nServerAliveInterval 5\nServerAliveCountMax 2\n')).toMatchObject({
      connectTimeout: 90,
      serverAliveInterval: 5,
      serverAliveCountMax: 2,
    });
    expect(configError(() => resolve('x', '\n\nConnectTimeout soon\n')).message).toMatch(/config:3.*soon/);
    expect(configError(() => resolve('x', 'Port 0\n')).message).toMatch(/config:1.*bad port/);
    expect(configError(() => resolve('x', 'Port 22 23\n')).message).toMatch(/config:1/);
    expect(parseTime('1h2m3s')).toBe(3723);
    expect(parseTime('10s10')).toBeUndefined();
    expect(parseTime('1.5m')).toBeUndefined();
  });

  it('IdentitiesOnly, IdentityAgent, HashKnownHosts, HostKeyAlias, BatchMode', () => {
    const h = resolve(
      'x',
      'IdentitiesOnly yes\nIdentityAgent none\nHashKnownHosts yes\nHostKeyAlias MyPi\nBatchMode yes\nPasswordAuthentication no\n',
    );
    expect(h).toMatchObject({
      identitiesOnly: true,
      agentSocket: undefined,
      hashKnownHosts: true,
      hostKeyAlias: 'mypi',
      batchMode: true,
      passwordAuthentication: false,
    });
    expect(resolve('x', 'IdentityAgent ~/agent.sock\n').agentSocket).toBe('/home/alice/agent.sock');
    expect(resolve('x', 'IdentityAgent $KEYDIR\n').agentSocket).toBe('/keys');
    expect(resolve('x', 'IdentityAgent SSH_AUTH_SOCK\n').agentSocket).toBe('/run/agent.sock');
  });

  it('Include: relative to ~/.ssh, conditional on the enclosing Host, globbed in order', () => {
    const files: Record<string, string> = {
      '/home/alice/.ssh/conf.d/10-pi.conf': 'Host pi-*\n  User fromInclude\n',
      '/home/alice/.ssh/conf.d/20-all.conf': 'Port 2022\nHost other\n  Port 1\n',
      '/etc/inc.conf': 'IdentityFile /from/inc\n',
    };
    const seen: string[] = [];
    const readInclude = (pattern: string) => {
      seen.push(pattern);
      if (pattern === '/home/alice/.ssh/conf.d/*.conf') {
        return ['10-pi.conf', '20-all.conf'].map((f) => ({ path: `/home/alice/.ssh/conf.d/${f}`, text: files[`/home/alice/.ssh/conf.d/${f}`] ?? '' }));
      }
      const t = files[pattern];
      return t === undefined ? [] : [{ path: pattern, text: t }];
    };
    const cfg = `Include conf.d/*.conf
Host nothing
  Include /etc/inc.conf
Host *
  ConnectTimeout 3
`;
    const h = resolve('pi-1', cfg, { readInclude });
    expect(h).toMatchObject({ user: 'fromInclude', port: 2022, connectTimeout: 3 });
    expect(h.identityFiles[0]?.configured).toBe(false); // the Host nothing include was not read
    expect(seen).toEqual(['/home/alice/.ssh/conf.d/*.conf']);
    // A Host line inside an included file does not change the includer's state.
    expect(resolve('x', 'Include conf.d/*.conf\nUser after\n', { readInclude }).user).toBe('after');
    // Include loops stop with an error.
    const loop = () => [{ path: '/l', text: 'Include /l\n' }];
    expect(configError(() => resolve('x', 'Include /l\n', { readInclude: loop })).message).toMatch(/nested too deeply/);
  });

  it('tolerates comments, blank lines, CRLF, "=" separators, quoted values, unknown keywords', () => {
    const h = resolve(
      'pi',
      '# comment\r\n\r\n  Host=pi   # trailing\r\n\tUser = "pi"\r\n  SendEnv LANG LC_*\r\n  Frobnicate yes\r\n  IdentityFile "~/.ssh/my key"\r\n',
    );
    expect(h.user).toBe('pi');
    expect(h.identityFiles[0]?.path).toBe('/home/alice/.ssh/my key');
  });

  it('garbage becomes a ConfigError naming file:line, never an exception of another kind', () => {
    for (const text of ['Host "unterminated\n', 'HostName a\\\n', 'Host\n', 'User\n', 'Port\n', 'IdentityFile\n', 'Host a\0b\n', 'Match host\n']) {
      const err = configError(() => resolve('pi', text));
      expect(err.message).toMatch(/\/home\/alice\/\.ssh\/config:1/);
    }
  });

  it('hostile values from the config are refused, not used', () => {
    expect(configError(() => resolve('pi', 'HostName $(id)\n')).message).toMatch(/HostName/);
    expect(configError(() => resolve('pi', 'HostName "a b"\n')).message).toMatch(/HostName/);
    expect(configError(() => resolve('pi', 'User "-oProxyCommand=x"\n')).message).toMatch(/user name/);
    expect(configError(() => resolve('pi', 'User `id`\n')).message).toMatch(/user name/);
  });

  it('hostile destinations are refused before the config is read', () => {
    for (const d of ['a b', '-oProxyCommand=x', '$(id)', 'pi\nx', '`id`', 'pi;x']) {
      expect(() => resolve(d, 'Host *\n  User x\n')).toThrow(UsageError);
    }
  });
});

describe('config files on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pinet-sshcfg-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('-F reads only that file and must exist; -F none reads nothing', () => {
    const f = join(dir, 'cfg');
    writeFileSync(f, 'User fromfile\n');
    expect(loadConfigSources({ configFile: f, local: { ...local, home: dir } })).toEqual([{ path: f, text: 'User fromfile\n', kind: 'user' }]);
    expect(loadConfigSources({ configFile: 'none', local })).toEqual([]);
    expect(() => loadConfigSources({ configFile: join(dir, 'missing'), local })).toThrow(ConfigError);
  });

  it('refuses a ~/.ssh/config writable by others, like ssh', () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.ssh'), { recursive: true });
    writeFileSync(join(home, '.ssh', 'config'), 'User x\n');
    chmodSync(join(home, '.ssh', 'config'), 0o666);
    expect(() => loadConfigSources({ local: { ...local, home } })).toThrow(/bad owner or permissions/);
    chmodSync(join(home, '.ssh', 'config'), 0o600);
    expect(loadConfigSources({ local: { ...local, home } })[0]?.text).toBe('User x\n');
  });

  it('globs like glob(3): sorted, dot files only when asked for, classes', () => {
    const g = join(dir, 'g');
    mkdirSync(join(g, 'sub'), { recursive: true });
    for (const f of ['b.conf', 'a.conf', '.hidden.conf', 'c.txt', 'd 1.conf']) writeFileSync(join(g, f), '');
    writeFileSync(join(g, 'sub', 'x.conf'), '');
    expect(globPaths(`${g}/*.conf`)).toEqual([`${g}/a.conf`, `${g}/b.conf`, `${g}/d 1.conf`]);
    expect(globPaths(`${g}/[ab].conf`)).toEqual([`${g}/a.conf`, `${g}/b.conf`]);
    expect(globPaths(`${g}/[!ab]*`)).toEqual([`${g}/c.txt`, `${g}/d 1.conf`, `${g}/sub`]);
    expect(globPaths(`${g}/*/x.conf`)).toEqual([`${g}/sub/x.conf`]);
    expect(globPaths(`${g}/.h*`)).toEqual([`${g}/.hidden.conf`]);
    expect(fsIncludeReader(`${g}/nothing*`, 'x')).toEqual([]);
  });
});

// The same answers as the installed OpenSSH client, `ssh -G` (no network).
describe.skipIf(!hasCommand('ssh'))('resolveHost agrees with ssh -G', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pinet-sshG-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const me = userInfo();
  const real: LocalContext = { home: me.homedir, user: me.username, uid: me.uid, hostname: osHostname(), env: {} };

  const configs: Record<string, string> = {
    fleet: `Host pi-* !pi-99
  HostName %h.lan
  User pi
Host pi-07
  Port 2222
  User ignored
Match host *.lan user pi
  ConnectTimeout 1m30s
  StrictHostKeyChecking no
Host bastion
  HostName 10.9.9.9
  ProxyJump none
Host *
  UserKnownHostsFile /tmp/kh1 ~/kh2
  ServerAliveInterval 10
  ProxyJump jump@bastion:2200,other
`,
    order: `Host *
  IdentitiesOnly yes
Host x*
  Port 1
  User one
Host x1
  Port 2
Match originalhost x? !user two
  HashKnownHosts yes
  StrictHostKeyChecking accept-new
Host *
  User three
`,
    final: `Host short
  HostName long.example.org
Match final host long.example.org
  Port 2022
Host long.example.org
  User longuser
`,
  };
  const cases: Array<[string, string]> = [
    ['fleet', 'pi-07'],
    ['fleet', 'pi-99'],
    ['fleet', 'pi-01'],
    ['fleet', 'bastion'],
    ['fleet', 'root@pi-03'],
    ['fleet', 'ssh://bob@pi-04:2000'],
    ['order', 'x1'],
    ['order', 'x2'],
    ['order', 'two@x3'],
    ['order', 'y'],
    ['final', 'short'],
    ['final', 'other'],
  ];

  it.each(cases)('%s: %s', (cfgName, dest) => {
    const file = join(dir, cfgName);
    writeFileSync(file, configs[cfgName] ?? '');
    const out = execFileSync('ssh', ['-G', '-F', file, dest], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const g = new Map<string, string>();
    for (const line of out.split('\n')) {
      const i = line.indexOf(' ');
      if (i > 0 && !g.has(line.slice(0, i))) g.set(line.slice(0, i), line.slice(i + 1));
    }
    const h = resolveHost(dest, { sources: [{ path: file, text: configs[cfgName] ?? '', kind: 'user' }], local: real });
    const strict = { true: 'yes', false: 'no', ask: 'ask', 'accept-new': 'accept-new' }[g.get('stricthostkeychecking') ?? ''];
    expect({
      hostname: h.hostname,
      user: h.user,
      port: String(h.port),
      connecttimeout: h.connectTimeout === undefined ? 'none' : String(h.connectTimeout),
      stricthostkeychecking: h.strictHostKeyChecking,
      userknownhostsfile: h.userKnownHostsFiles.join(' '),
      serveraliveinterval: String(h.serverAliveInterval),
      identitiesonly: h.identitiesOnly ? 'yes' : 'no',
      hashknownhosts: h.hashKnownHosts ? 'yes' : 'no',
      proxyjump: h.proxyJump.length ? h.proxyJump.map((d) => d.text).join(',') : undefined,
    }).toEqual({
      hostname: g.get('hostname'),
      user: g.get('user'),
      port: g.get('port'),
      connecttimeout: g.get('connecttimeout'),
      stricthostkeychecking: strict,
      userknownhostsfile: g.get('userknownhostsfile'),
      serveraliveinterval: g.get('serveraliveinterval'),
      identitiesonly: g.get('identitiesonly'),
      hashknownhosts: g.get('hashknownhosts'),
      proxyjump: g.get('proxyjump'),
    });
  });
});
