/**
 * Connecting through a real OpenSSH sshd on loopback: host keys,
 * authentication, failures, ProxyJump, dropped connections.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type ConnectOptions } from '../../src/remote/connect.js';
import { RemoteError } from '../../src/remote/errors.js';
import { fingerprint } from '../../src/remote/known-hosts.js';
import type { RemoteHost } from '../../src/remote/remote-host.js';
import { describeAsRoot } from '../helpers/env.js';
import { ALICE, BOB, createUsers, freePort, removeUsers, type Sshd, startSshd, type TestUsers } from './sshd-fixture.js';
import { startProxy, type TcpProxy } from './tcp-proxy.js';

describeAsRoot('connect() against a real sshd', () => {
  let users: TestUsers;
  let sshd: Sshd;
  let jumpSshd: Sshd;
  let proxy: TcpProxy;
  let silent: Server;
  let silentPort: number;
  const silentSockets: import('node:net').Socket[] = [];
  const open: RemoteHost[] = [];
  let n = 0;

  beforeAll(async () => {
    users = createUsers();
    sshd = await startSshd(users, 'target');
    jumpSshd = await startSshd(users, 'jump', { logLevel: 'DEBUG1' });
    proxy = await startProxy(sshd.port);
    silent = createServer((s) => {
      // accepts, never says a word
      silentSockets.push(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentPort = (silent.address() as { port: number }).port;
  });

  afterAll(async () => {
    try {
      await Promise.all(open.map((h) => h.close().catch(() => undefined)));
      for (const s of silentSockets) s.destroy();
      await proxy?.close();
      await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
    } finally {
      await sshd?.stop();
      await jumpSshd?.stop();
      if (users) removeUsers(users);
    }
  });

  const knownLine = (s: Sshd, type: 'ed25519' | 'ecdsa' = 'ed25519'): string => `[127.0.0.1]:${s.port} ${s.hostKeys[type].line}\n`;

  /** A fresh client config + known_hosts; returns the paths. */
  function setup(opts: { known?: string; extra?: string; port?: number } = {}): { cfg: string; kh: string } {
    n++;
    const kh = join(users.dir, `known_hosts_${n}`);
    writeFileSync(kh, opts.known ?? `[127.0.0.1]:${opts.port ?? sshd.port} ${sshd.hostKeys.ed25519.line}\n`);
    const cfg = join(users.dir, `ssh_config_${n}`);
    writeFileSync(
      cfg,
      `${opts.extra ?? ''}
Host t-root t-alice t-bob
  HostName 127.0.0.1
  Port ${opts.port ?? sshd.port}
Host t-root
  User root
Host t-alice
  User ${ALICE}
Host t-bob
  User ${BOB}
Host *
  IdentityFile ${users.keys.plain}
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile ${kh}
  GlobalKnownHostsFile none
  StrictHostKeyChecking yes
`,
    );
    return { cfg, kh };
  }

  async function tryConnect(dest: string, configFile: string, opts: ConnectOptions = {}): Promise<RemoteHost> {
    const h = await connect(dest, { configFile, warn: () => undefined, ...opts });
    open.push(h);
    return h;
  }

  async function failure(p: Promise<unknown>): Promise<RemoteError> {
    try {
      const h = await p;
      if (h && typeof (h as RemoteHost).close === 'function') await (h as RemoteHost).close();
    } catch (err) {
      if (err instanceof RemoteError) return err;
      throw err;
    }
    throw new Error('expected a RemoteError');
  }

  it('logs in with a key as root', async () => {
    const { cfg } = setup();
    const h = await tryConnect('t-root', cfg);
    expect(h.isRoot).toBe(true);
    expect((await h.exec(['id', '-un'])).stdout).toBe('root\n');
    expect(h.label).toBe('t-root (127.0.0.1)');
    await h.close();
    expect(h.connected).toBe(false);
  });

  it('logs in as a sudo user; privileged steps go through sudo -n', async () => {
    const { cfg } = setup();
    const h = await tryConnect('t-alice', cfg);
    expect(h.isRoot).toBe(false);
    expect((await h.exec(['id', '-un'])).stdout).toBe(`${ALICE}\n`);
    expect((await h.exec(['id', '-un'], { sudo: true })).stdout).toBe('root\n');
    expect((await h.execScript('id -un; printf "%s\\n" "$1"', ['x y'], { sudo: true })).stdout).toBe('root\nx y\n');
    await h.close();
  });

  it('a user whose sudo wants a password gets a clear error saying what to change', async () => {
    const { cfg } = setup();
    const h = await tryConnect('t-bob', cfg);
    const e = await failure(h.exec(['cat', '/etc/shadow'], { sudo: true, step: 'reading the shadow file' }));
    expect(e.kind).toBe('sudo-password');
    expect(e.message).toBe('t-bob (127.0.0.1): sudo needs a password on t-bob (reading the shadow file)');
    expect(e.hint).toContain(`passwordless sudo for user ${BOB}`);
    await h.close();
  });

  it('refuses an unknown host key, showing its fingerprint and --accept-new', async () => {
    const { cfg, kh } = setup({ known: '' });
    const e = await failure(tryConnect('t-root', cfg));
    expect(e.kind).toBe('host-key-unknown');
    const fp = execFileSync('ssh-keygen', ['-lf', sshd.hostKeys.ed25519.pub], { encoding: 'utf8' }).split(' ')[1];
    expect(e.message).toContain(`ED25519 key ${fp}`);
    expect(e.message).toContain('--accept-new');
    expect(readFileSync(kh, 'utf8')).toBe('');
  });

  it('--accept-new records the key (hashed with HashKnownHosts) and the next connection passes', async () => {
    const { cfg, kh } = setup({ known: '', extra: 'HashKnownHosts yes' });
    const warnings: string[] = [];
    const h = await tryConnect('t-root', cfg, { acceptNew: true, warn: (m) => warnings.push(m) });
    await h.close();
    const text = readFileSync(kh, 'utf8');
    expect(text).toMatch(/^\|1\|\S+ ssh-ed25519 \S+\n$/);
    expect(execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${sshd.port}`, '-f', kh], { encoding: 'utf8' })).toContain(sshd.hostKeys.ed25519.line.split(' ')[1]);
    expect(warnings.join('\n')).toContain('permanently added');
    const again = await tryConnect('t-root', cfg);
    expect((await again.exec(['true'])).code).toBe(0);
    await again.close();
  });

  it('asks a known host for the key type on record (ECDSA here) and accepts it', async () => {
    const { cfg } = setup({ known: knownLine(sshd, 'ecdsa') });
    const h = await tryConnect('t-root', cfg);
    await h.close();
  });

  it('refuses a changed host key loudly, even with --accept-new and StrictHostKeyChecking no', async () => {
    const { cfg, kh } = setup({ known: `# old\n[127.0.0.1]:${sshd.port} ${jumpSshd.hostKeys.ed25519.line}\n` });
    const before = readFileSync(kh, 'utf8');
    for (const opts of [{}, { acceptNew: true }, { overrides: { options: ['StrictHostKeyChecking=no'] } }]) {
      const e = await failure(tryConnect('t-root', cfg, opts));
      expect(e.kind).toBe('host-key-changed');
      expect(e.message).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');
      expect(e.message).toContain(`${kh}:2`);
      expect(e.message).toContain(fingerprint(sshd.hostKeys.ed25519.blob));
      expect(e.hint).toContain(`ssh-keygen -R '[127.0.0.1]:${sshd.port}' -f ${kh}`);
    }
    expect(readFileSync(kh, 'utf8')).toBe(before);
  });

  it('honours StrictHostKeyChecking no from the config, with a warning', async () => {
    const { cfg, kh } = setup({ known: '', extra: 'Host t-root\n  StrictHostKeyChecking no\n' });
    const warnings: string[] = [];
    const h = await tryConnect('t-root', cfg, { warn: (m) => warnings.push(m) });
    await h.close();
    expect(warnings.join('\n')).toMatch(/StrictHostKeyChecking no \(.*ssh_config_\d+:2\)/);
    expect(readFileSync(kh, 'utf8')).toContain(sshd.hostKeys.ed25519.line);
  });

  /** A config with exactly one identity file. */
  function soloConfig(key: string, user = 'root'): string {
    n++;
    const kh = join(users.dir, `kh_solo_${n}`);
    writeFileSync(kh, knownLine(sshd));
    const cfg = join(users.dir, `cfg_solo_${n}`);
    writeFileSync(
      cfg,
      `Host t\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User ${user}\n  IdentityFile ${key}\n  IdentitiesOnly yes\n  IdentityAgent none\n  UserKnownHostsFile ${kh}\n`,
    );
    return cfg;
  }

  it('wrong key: permission denied, listing what was tried', async () => {
    const e = await failure(tryConnect('t', soloConfig(users.keys.other)));
    expect(e.kind).toBe('auth');
    expect(e.message).toMatch(/^t \(127\.0\.0\.1\): permission denied for user root \(tried: \S+\/client\/id_other[;)]/);
    expect(e.hint).toMatch(/authorized_keys/);
  });

  it('an encrypted key alone, without a terminal: "add it to ssh-agent or run on a terminal"', async () => {
    const cfg = soloConfig(users.keys.enc);
    const e = await failure(tryConnect('t', cfg));
    expect(e.kind).toBe('auth');
    expect(e.hint).toMatch(/key .*id_enc is encrypted; add it to ssh-agent \(ssh-add .*id_enc\) or run on a terminal/);
  });

  it('authenticates with ssh-agent, and IdentitiesOnly leaves unrelated agent keys out', async () => {
    const sock = join(users.dir, `agent.${process.pid}.sock`);
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100; i++) {
        try {
          execFileSync('ssh-add', ['-l'], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
        } catch (err) {
          if ((err as { status?: number }).status === 1) break; // agent up, no keys yet
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      execFileSync('ssh-add', [users.keys.agent], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      const mk = (only: string) => {
        n++;
        const kh = join(users.dir, `kh_agent_${n}`);
        writeFileSync(kh, knownLine(sshd));
        const cfg = join(users.dir, `cfg_agent_${n}`);
        writeFileSync(
          cfg,
          `Host t\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User ${ALICE}\n  IdentityFile ${users.keys.other}\n  IdentitiesOnly ${only}\n  IdentityAgent ${sock}\n  UserKnownHostsFile ${kh}\n`,
        );
        return cfg;
      };
      const h = await tryConnect('t', mk('no'));
      expect((await h.exec(['id', '-un'])).stdout).toBe(`${ALICE}\n`);
      await h.close();
      const e = await failure(tryConnect('t', mk('yes')));
      expect(e.kind).toBe('auth');
      expect(e.message).toContain('tried: ');
      expect(e.message).not.toContain('agent (');
    } finally {
      agent.kill('SIGTERM');
    }
  });

  it('a closed port is "connection refused"', async () => {
    const port = await freePort();
    const { cfg } = setup({ port });
    const e = await failure(tryConnect('t-root', cfg));
    expect(e.kind).toBe('refused');
    expect(e.message).toBe(`t-root (127.0.0.1): cannot connect to 127.0.0.1 port ${port}: connection refused`);
  });

  it('a listener that never speaks SSH hits ConnectTimeout', async () => {
    const { cfg } = setup({ port: silentPort, extra: 'ConnectTimeout 1' });
    const e = await failure(tryConnect('t-root', cfg));
    expect(e.kind).toBe('timeout');
    expect(e.message).toContain(`no SSH handshake with 127.0.0.1 port ${silentPort} within 1 s`);
  });

  it('a listener that accepts and hangs up before any banner: says so, with the hint', async () => {
    const rude = createServer((sock) => sock.destroy());
    await new Promise<void>((r) => rude.listen(0, '127.0.0.1', r));
    const port = (rude.address() as { port: number }).port;
    try {
      const { cfg } = setup({ port });
      const e = await failure(tryConnect('t-root', cfg));
      expect(e.kind).toBe('connection-lost');
      expect(e.message).toMatch(new RegExp(`^t-root \\(127\\.0\\.0\\.1\\): .*(127\\.0\\.0\\.1 port ${port} accepted the connection but closed it before any SSH banner|the server closed the connection during the SSH handshake)`));
      expect(e.hint).toMatch(/is this an SSH server\?/);
    } finally {
      await new Promise<void>((r) => rude.close(() => r()));
    }
  });

  it('a name that does not resolve is a DNS error', async () => {
    // A generous ConnectTimeout: without a reachable DNS server the lookup itself takes a while.
    const { cfg } = setup({ extra: 'Host nowhere\n  HostName pinet-no-such-host.invalid\n  ConnectTimeout 50\n' });
    const e = await failure(tryConnect('nowhere', cfg));
    expect(e.kind).toBe('dns');
    expect(e.message).toContain('cannot resolve host name pinet-no-such-host.invalid');
  });

  it('ProxyJump: connects to the jump host with its own config, then to the target through it', async () => {
    n++;
    const kh = join(users.dir, `kh_jump_${n}`);
    writeFileSync(kh, knownLine(sshd) + knownLine(jumpSshd));
    const cfg = join(users.dir, `cfg_jump_${n}`);
    writeFileSync(
      cfg,
      `Host target
  HostName 127.0.0.1
  Port ${sshd.port}
  User ${ALICE}
  ProxyJump bastion
Host bastion
  HostName 127.0.0.1
  Port ${jumpSshd.port}
  User root
Host *
  IdentityFile ${users.keys.plain}
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile ${kh}
`,
    );
    const h = await tryConnect('target', cfg);
    expect((await h.exec(['id', '-un'])).stdout).toBe(`${ALICE}\n`);
    await h.close();
    // The jump sshd opened the tunnel to the target's port.
    expect(jumpSshd.log()).toMatch(new RegExp(`server_request_direct_tcpip: .*target 127\\.0\\.0\\.1 port ${sshd.port}\\b`));
    // A jump host that cannot reach the target: the error names both.
    const dead = await freePort();
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(`Port ${sshd.port}`, `Port ${dead}`));
    const e = await failure(tryConnect('target', cfg));
    expect(e.message).toMatch(/^target \(127\.0\.0\.1\): .*port \d+.*via ProxyJump bastion \(127\.0\.0\.1\)/);
  });

  it('a connection cut during a command rejects that command at once, naming host and step', async () => {
    const { cfg } = setup({ port: proxy.port });
    const h = await tryConnect('t-root', cfg);
    const arg = `30.${process.pid}`; // a command line of its own, to see it run on the host
    const running = h.exec(['sleep', arg], { step: 'copying /boot/firmware' });
    while (!execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => l.trim() === `sleep ${arg}`)) await new Promise((r) => setTimeout(r, 20));
    proxy.cut();
    const e = await failure(running);
    expect(e.kind).toBe('connection-lost');
    expect(e.message).toMatch(/^t-root \(127\.0\.0\.1\): connection lost while copying \/boot\/firmware/);
    const next = await failure(h.exec(['true'], { step: 'reading /etc/fstab' }));
    expect(next.message).toMatch(/connection lost while reading \/etc\/fstab/);
  });

  it('a peer that goes silent is detected by keepalives', async () => {
    const quiet = await startProxy(sshd.port);
    try {
      const { cfg } = setup({ port: quiet.port, extra: 'ServerAliveInterval 1\nServerAliveCountMax 1' });
      const h = await tryConnect('t-root', cfg);
      const running = h.exec(['sleep', '60'], { step: 'waiting' });
      quiet.blackhole();
      const e = await failure(running);
      expect(e.kind).toBe('connection-lost');
      expect(e.message).toContain('no answer to keepalives');
    } finally {
      await quiet.close();
    }
  });

  it('a command timeout stops the command on the host', async () => {
    const { cfg } = setup();
    const h = await tryConnect('t-root', cfg);
    const marker = `${Date.now() % 100000}.4242`;
    const e = await failure(h.exec(['sleep', marker], { timeoutMs: 500, step: 'waiting for the Pi' }));
    expect(e.kind).toBe('command-timeout');
    expect(e.message).toBe('t-root (127.0.0.1): waiting for the Pi timed out after 0.5 s');
    // The connection is still usable, and the remote sleep is gone soon.
    expect((await h.exec(['echo', 'ok'])).stdout).toBe('ok\n');
    let alive = true;
    for (let i = 0; i < 100 && alive; i++) {
      alive = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => l.trim() === `sleep ${marker}`);
      if (alive) await new Promise((r) => setTimeout(r, 100));
    }
    expect(alive).toBe(false);
    await h.close();
  });

  it('does not ask sshd to prove the host keys it announces after login (plain ssh2 does)', async () => {
    // sshd (LogLevel DEBUG1) logs each global request a client makes.
    const proveRequests = (log: string): number => (log.match(/rtype hostkeys-prove-00@openssh\.com/g) ?? []).length;
    // The control: ssh2 as it comes asks for the proof, and this log shows it.
    const { Client } = await import('ssh2');
    const from = jumpSshd.log().length;
    await new Promise<void>((resolve, reject) => {
      const c = new Client();
      c.on('ready', () => setTimeout(() => (c.end(), resolve()), 300)).on('error', reject);
      c.connect({ host: '127.0.0.1', port: jumpSshd.port, username: 'root', privateKey: readFileSync(users.keys.plain) });
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(proveRequests(jumpSshd.log().slice(from))).toBe(1);
    // pinet's connection: logged in, a command run, no proof asked for.
    const { cfg } = setup({ port: jumpSshd.port, known: knownLine(jumpSshd) });
    const mark = jumpSshd.log().length;
    const h = await tryConnect('t-root', cfg);
    expect((await h.exec(['echo', 'ok'])).stdout).toBe('ok\n');
    await new Promise((r) => setTimeout(r, 300));
    await h.close();
    const log = jumpSshd.log().slice(mark);
    expect(log).toMatch(/Accepted publickey for root/);
    expect(proveRequests(log)).toBe(0);
  });

  it('runs many commands at once over one connection (more than sshd MaxSessions)', async () => {
    const { cfg } = setup();
    const h = await tryConnect('t-root', cfg);
    const outs = await Promise.all(Array.from({ length: 25 }, (_, i) => h.exec(['echo', String(i)])));
    expect(outs.map((o) => o.stdout)).toEqual(Array.from({ length: 25 }, (_, i) => `${i}\n`));
    await h.close();
  });
});
