/**
 * Opening an SSH connection the way `ssh <destination>` would.
 *
 * `connect(destination, options)` resolves the destination against the
 * user's OpenSSH config, looks the name up, opens TCP (or a tunnel through
 * the ProxyJump host, itself connected with its own config), checks the
 * host key against known_hosts, authenticates, and returns a `RemoteHost`.
 *
 * Limits: ConnectTimeout (default 15 s) covers DNS, TCP and the SSH
 * handshake; authentication may take as long as the server allows, but a
 * silent server is given up after the same time (paused while a passphrase
 * or password is being typed). Once connected, keepalives
 * (ServerAliveInterval, default 15 s here, times ServerAliveCountMax)
 * detect a dead peer. Every failure is a RemoteError naming the host and
 * the step: DNS, refused, timeout, host key, authentication, lost.
 */
import { lookup } from 'node:dns/promises';
import { isIP, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Client, ConnectConfig } from 'ssh2';
import { planAuth } from './auth.js';
import { localContext, resolveHostFromFiles } from './config-files.js';
import type { Destination } from './destination.js';
import { RemoteError } from './errors.js';
import type { LocalContext } from './expand.js';
import { decideHostKey, readKnownHostsFiles, recordHostKey } from './host-keys.js';
import { orderHostKeyAlgorithms } from './known-hosts.js';
import { NO_PROMPTS, type SecretPrompter } from './prompter.js';
import { RemoteHost } from './remote-host.js';
import { hostLabel, knownHostsName, type HostOverrides, type ResolvedHost } from './ssh-config.js';
import { loadSsh2 } from './ssh2-lib.js';

export interface ConnectOptions {
  /** `-F <file>` (or "none"). */
  configFile?: string;
  /** Command-line values: user, port, identity files, `-o` options. */
  overrides?: HostOverrides;
  /** `--accept-new`: record unknown host keys (changed keys are still refused). */
  acceptNew?: boolean;
  /** `--ask-pass`: allow a password prompt on a terminal. */
  askPass?: boolean;
  /** When the config sets no ConnectTimeout. Default 15000. */
  defaultConnectTimeoutMs?: number;
  /** When the config sets no ServerAliveInterval. Default 15000 (OpenSSH: off). */
  defaultKeepaliveMs?: number;
  /** Where warnings go (each is given once; default: nowhere). */
  warn?: (message: string) => void;
  /** Asks for passphrases and passwords (default: nothing is asked). */
  prompter?: SecretPrompter;
  /** Local facts (home, user …); tests pass their own. */
  local?: LocalContext;
  /** A host already resolved with resolveHost (skips reading the config). */
  resolved?: ResolvedHost;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
const DEFAULT_KEEPALIVE_MS = 15_000;
const MAX_HOPS = 8;

const warnedOnce = new Set<string>();

/** Connects to `destination` (see the module comment). */
export async function connect(destination: string, options: ConnectOptions = {}): Promise<RemoteHost> {
  const local = options.local ?? localContext();
  const host =
    options.resolved ??
    resolveHostFromFiles(destination, { configFile: options.configFile, overrides: options.overrides, local });
  return connectResolved(host, { ...options, local }, 0);
}

function errnoKind(code: string | undefined): 'refused' | 'unreachable' | 'timeout' {
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ETIMEDOUT') return 'timeout';
  return 'unreachable';
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** DNS and TCP, trying each address in turn, all within the deadline. */
async function openTcp(host: ResolvedHost, label: string, deadline: number, timeoutMs: number): Promise<Socket> {
  const step = 'connecting';
  let addresses: string[];
  if (isIP(host.hostname)) addresses = [host.hostname];
  else {
    let timer: NodeJS.Timeout | undefined;
    try {
      const found = await Promise.race([
        lookup(host.hostname, { all: true }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(Object.assign(new Error('DNS lookup timed out'), { code: 'ETIMEDOUT' })), Math.max(1, deadline - Date.now()));
        }),
      ]);
      addresses = found.map((a) => a.address);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ETIMEDOUT') {
        throw new RemoteError('timeout', label, 'resolving the host name', `looking up ${host.hostname} took longer than ${seconds(timeoutMs)}`);
      }
      throw new RemoteError('dns', label, 'resolving the host name', `cannot resolve host name ${host.hostname} (${code ?? (err as Error).message})`, {
        hint: host.alias === host.hostname ? 'check the name, or give it a HostName in ~/.ssh/config' : 'check the HostName in your SSH config',
      });
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
  let lastError: RemoteError | undefined;
  for (const address of addresses) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const sock = new Socket();
        const timer = setTimeout(() => {
          sock.destroy();
          reject(
            new RemoteError('timeout', label, step, `no answer from ${address} port ${host.port} within ${seconds(timeoutMs)}`, {
              hint: 'is the host on and on this network? (ConnectTimeout in the SSH config sets the limit)',
            }),
          );
        }, left);
        sock.once('connect', () => {
          clearTimeout(timer);
          // Small request/response packets: without this, Nagle and delayed
          // ACKs add tens of milliseconds to every round trip.
          sock.setNoDelay(true);
          sock.removeAllListeners('error');
          resolve(sock);
        });
        sock.once('error', (err: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          sock.destroy();
          const kind = errnoKind(err.code);
          const what = kind === 'refused' ? 'connection refused' : (err.code ?? err.message);
          reject(
            new RemoteError(kind, label, step, `cannot connect to ${address} port ${host.port}: ${what}`, {
              hint: kind === 'refused' ? 'is sshd running there, and on this port?' : 'check the network path to the host',
            }),
          );
        });
        sock.connect({ host: address, port: host.port });
      });
    } catch (err) {
      lastError = err as RemoteError;
    }
  }
  throw (
    lastError ??
    new RemoteError('timeout', label, step, `no answer from ${host.hostname} port ${host.port} within ${seconds(timeoutMs)}`)
  );
}

async function connectResolved(host: ResolvedHost, options: ConnectOptions & { local: LocalContext }, depth: number): Promise<RemoteHost> {
  const label = hostLabel(host);
  const warn = (m: string): void => {
    if (warnedOnce.has(m)) return;
    warnedOnce.add(m);
    options.warn?.(m);
  };
  for (const note of host.notes) warn(note);
  if (host.proxyCommand !== undefined && host.proxyJump.length === 0) {
    throw new RemoteError('unsupported', label, 'connecting', `ProxyCommand (${host.origins.proxycommand ?? 'config'}) is not supported by pinet`, {
      hint: 'use ProxyJump for jump hosts, or give pinet a config without ProxyCommand with -F',
    });
  }
  const ssh2 = await loadSsh2();
  const timeoutMs = host.connectTimeout !== undefined ? host.connectTimeout * 1000 : (options.defaultConnectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  const deadline = Date.now() + timeoutMs;

  const [known, auth] = await Promise.all([
    readKnownHostsFiles([...host.userKnownHostsFiles, ...host.globalKnownHostsFiles]),
    planAuth(host, ssh2, { askPass: options.askPass, home: options.local.home, ...(options.prompter ? { prompter: options.prompter } : {}) }),
  ]);
  for (const note of auth.notes) warn(note);

  let jump: RemoteHost | undefined;
  let sock: Duplex;
  if (host.proxyJump.length > 0) {
    if (depth >= MAX_HOPS) {
      throw new RemoteError('unsupported', label, 'connecting', `more than ${MAX_HOPS} ProxyJump hops (a loop in the SSH config?)`);
    }
    const hops = host.proxyJump;
    const last = hops[hops.length - 1] as Destination;
    const jumpHost = resolveHostFromFiles(last.text, {
      configFile: options.configFile,
      local: options.local,
      jumpOverride: hops.slice(0, -1),
    });
    jump = await connectResolved(jumpHost, { ...options, resolved: undefined, overrides: undefined }, depth + 1);
    try {
      sock = await jump.forwardOut(host.hostname, host.port, `connecting to ${host.hostname} port ${host.port} through ${jump.label}`);
    } catch (err) {
      await jump.close();
      const e = err as RemoteError;
      throw new RemoteError(e.kind ?? 'unreachable', label, 'connecting', `${e.message} (via ProxyJump ${jump.label})`, { cause: err });
    }
  } else {
    sock = await openTcp(host, label, deadline, timeoutMs);
  }

  const client: Client = new ssh2.Client();
  const name = knownHostsName(host);
  const algorithms = orderHostKeyAlgorithms(known.entries, name, HOST_KEY_ALGORITHMS);

  return new Promise<RemoteHost>((resolve, reject) => {
    let phase: 'handshake' | 'authentication' = 'handshake';
    let settled = false;
    let hostKeyError: RemoteError | undefined;
    let lastActivity = Date.now();
    let handshakeTimer: NodeJS.Timeout | undefined;
    let authTimer: NodeJS.Timeout | undefined;

    const cleanup = (): void => {
      if (handshakeTimer) clearTimeout(handshakeTimer);
      if (authTimer) clearInterval(authTimer);
      client.removeListener('handshake', onHandshake);
      client.removeListener('ready', onReady);
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      sock.removeListener('data', onData);
    };
    const fail = (err: RemoteError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      client.on('error', () => undefined); // late errors of a connection we gave up
      client.destroy();
      sock.destroy();
      void jump?.close();
      reject(err);
    };
    const onData = (): void => {
      lastActivity = Date.now();
    };
    const onHandshake = (): void => {
      phase = 'authentication';
      if (handshakeTimer) clearTimeout(handshakeTimer);
      lastActivity = Date.now();
      const limit = Math.max(timeoutMs, 30_000);
      authTimer = setInterval(() => {
        if ((options.prompter ?? NO_PROMPTS).pending() > 0) lastActivity = Date.now();
        else if (Date.now() - lastActivity > limit) {
          fail(new RemoteError('timeout', label, 'authenticating', `the server did not answer during authentication for ${seconds(limit)}`));
        }
      }, 1000);
    };
    const onReady = (): void => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(new RemoteHost(client, host, jump, [...host.notes, ...auth.notes]));
    };
    const onError = (err: Error & { level?: string; code?: unknown }): void => {
      if (err.level === 'agent') return; // one key could not sign; the next one is tried
      if (hostKeyError) return fail(hostKeyError);
      if (err.level === 'client-authentication') {
        return fail(new RemoteError('auth', label, 'authenticating', auth.failureMessage(), { hint: auth.failureHint() }));
      }
      if (/too many authentication failures/i.test(err.message)) {
        return fail(
          new RemoteError('auth', label, 'authenticating', `${auth.failureMessage()}; the server stopped after too many attempts`, {
            hint: 'set IdentitiesOnly yes and the right IdentityFile for this host in ~/.ssh/config, so fewer keys are offered',
          }),
        );
      }
      if (/^Connection lost before handshake/i.test(err.message)) {
        // ssh2's words when the TCP connection closes before any SSH banner came back
        return fail(
          new RemoteError('connection-lost', label, 'handshake', `${host.hostname} port ${host.port} accepted the connection but closed it before any SSH banner`, {
            hint: 'is this an SSH server? (a firewall or proxy in between, or sshd refusing too many connections at once: MaxStartups)',
          }),
        );
      }
      if (err.level === 'client-socket') {
        return fail(new RemoteError('connection-lost', label, phase, `connection lost during the SSH ${phase} (${err.message})`));
      }
      fail(new RemoteError('protocol', label, phase, `SSH ${phase} failed: ${err.message}`, { cause: err }));
    };
    const onClose = (): void => {
      if (hostKeyError) return fail(hostKeyError);
      fail(
        new RemoteError('connection-lost', label, phase, `the server closed the connection during the SSH ${phase}`, {
          hint: phase === 'handshake' ? 'is this an SSH server? (sshd may also refuse too many connections at once: MaxStartups)' : undefined,
        }),
      );
    };

    handshakeTimer = setTimeout(() => {
      fail(
        new RemoteError('timeout', label, 'connecting', `no SSH handshake with ${host.hostname} port ${host.port} within ${seconds(timeoutMs)}`, {
          hint: 'something answers on that port but does not speak SSH, or the network drops packets',
        }),
      );
    }, Math.max(1, deadline - Date.now()));

    client.on('handshake', onHandshake);
    client.on('ready', onReady);
    client.on('error', onError);
    client.on('close', onClose);

    const config: ConnectConfig = {
      sock: sock as ConnectConfig['sock'],
      username: host.user,
      readyTimeout: 0,
      keepaliveInterval: host.serverAliveInterval > 0 ? host.serverAliveInterval * 1000 : (options.defaultKeepaliveMs ?? DEFAULT_KEEPALIVE_MS),
      keepaliveCountMax: host.serverAliveCountMax,
      authHandler: auth.handler as unknown as ConnectConfig['authHandler'],
      algorithms: { serverHostKey: algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
      hostVerifier: ((key: Buffer, verify: (ok: boolean) => void): void => {
        let decision;
        try {
          decision = decideHostKey(host, known.entries, key, { acceptNew: options.acceptNew, home: options.local.home });
        } catch (err) {
          hostKeyError = err as RemoteError;
          verify(false);
          return;
        }
        if (!decision.recordIn) {
          verify(true);
          return;
        }
        const file = decision.recordIn;
        recordHostKey(file, name, key, { hashed: host.hashKnownHosts, home: options.local.home }).then(
          () => {
            if (decision.warning) warn(decision.warning);
            verify(true);
          },
          (err: Error) => {
            warn(`${label}: could not record the host key in ${file}: ${err.message}`);
            verify(true);
          },
        );
      }) as unknown as ConnectConfig['hostVerifier'],
    };
    try {
      client.connect(config);
      ignoreHostKeyAnnouncements(client);
      // After connect(): ssh2 has paused the socket and reads it itself.
      sock.on('data', onData);
    } catch (err) {
      fail(new RemoteError('protocol', label, 'connecting', `cannot start SSH: ${(err as Error).message}`));
    }
  });
}

/**
 * After login, OpenSSH's sshd announces all its host keys
 * (hostkeys-00@openssh.com, no reply wanted), and ssh2 answers by asking the
 * server to prove each one (hostkeys-prove-00@openssh.com: a round trip, a
 * signature per key on the server, RSA's among them, and a verification
 * per key here) for a 'hostkeys' event pinet does not use. OpenSSH's own
 * client asks only to update known_hosts (UpdateHostKeys), which pinet
 * never does. So the announcement is ignored, as the protocol allows; a
 * request that wants a reply still gets ssh2's. (ssh2 has no option for
 * this; when its internals are not as expected, nothing is changed.)
 */
function ignoreHostKeyAnnouncements(client: object): void {
  type Handler = (p: unknown, name: string, wantReply: boolean, data: unknown) => void;
  const handlers = (client as { _protocol?: { _handlers?: Record<string, Handler | undefined> } })._protocol?._handlers;
  const original = handlers?.GLOBAL_REQUEST;
  if (!handlers || typeof original !== 'function') return;
  handlers.GLOBAL_REQUEST = (p, name, wantReply, data) => {
    if (name === 'hostkeys-00@openssh.com' && !wantReply) return;
    original(p, name, wantReply, data);
  };
}

/** ssh2's host key algorithms, most preferred first (as OpenSSH orders them). */
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/** Connects, runs `fn`, and always closes the connection. */
export async function withHost<T>(destination: string, options: ConnectOptions, fn: (remote: RemoteHost) => Promise<T>): Promise<T> {
  const remote = await connect(destination, options);
  try {
    return await fn(remote);
  } finally {
    await remote.close().catch(() => undefined);
  }
}
