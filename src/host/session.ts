/**
 * From command-line flags and pinet.yaml to SSH connections: the options
 * every command that reaches Pis shares (-F, --user, --port, --identity,
 * --ssh-option, --accept-new, --ask-pass, --connect-timeout), the list of
 * hosts (arguments, --hosts-file, or the fleet in the config), and
 * `withHost`, which connects, runs a job and always closes.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { LoadedConfig } from '../config.js';
import { expandHome } from '../config.js';
import { UsageError } from '../errors.js';
import type { ConnectOptions, RemoteHost } from '../remote/index.js';
import { parseDestination } from '../remote/destination.js';

export interface SshFlags {
  sshConfig?: string;
  user?: string;
  port?: string;
  identity?: string[];
  sshOption?: string[];
  acceptNew?: boolean;
  askPass?: boolean;
  connectTimeout?: string;
  hostsFile?: string;
  concurrency?: string;
}

function intFlag(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`${name} ${JSON.stringify(value)}: expected a whole number from ${min} to ${max}`);
  }
  return Number(value);
}

export function connectOptions(flags: SshFlags, cfg: LoadedConfig, warn: (m: string) => void): ConnectOptions {
  const s = cfg.data.ssh ?? {};
  const configFile = flags.sshConfig !== undefined ? (flags.sshConfig === 'none' ? 'none' : resolve(expandHome(flags.sshConfig))) : s.config;
  const overrides: NonNullable<ConnectOptions['overrides']> = {};
  const user = flags.user ?? s.user;
  if (user !== undefined) overrides.user = user;
  const port = intFlag(flags.port, '--port', 1, 65535) ?? s.port;
  if (port !== undefined) overrides.port = port;
  const ids = flags.identity?.map((p) => resolve(expandHome(p))) ?? s['identity-file'];
  if (ids && ids.length > 0) overrides.identityFiles = ids;
  const options = [...(s.options ?? []), ...(flags.sshOption ?? [])];
  for (const o of options) {
    if (!/^[A-Za-z]+\s*[= ]\s*\S/.test(o) || /[\0\n\r]/.test(o)) {
      throw new UsageError(`--ssh-option ${JSON.stringify(o)}: expected Keyword=value, like ssh -o`);
    }
  }
  if (options.length > 0) overrides.options = options;
  const timeout = intFlag(flags.connectTimeout, '--connect-timeout', 1, 3600) ?? s['connect-timeout'];
  const out: ConnectOptions = { overrides, acceptNew: flags.acceptNew ?? s['accept-new'] ?? false, askPass: flags.askPass ?? false, warn };
  if (configFile !== undefined) out.configFile = configFile;
  if (timeout !== undefined) out.defaultConnectTimeoutMs = timeout * 1000;
  return out;
}

export function concurrencyOf(flags: SshFlags, cfg: LoadedConfig, fallback = 8): number {
  return intFlag(flags.concurrency, '--concurrency', 1, 256) ?? cfg.data.concurrency ?? fallback;
}

/** Hosts from the arguments, a hosts file, or the config's fleet; validated, duplicates dropped. */
export async function resolveHosts(args: string[], flags: SshFlags, cfg: LoadedConfig, opts: { useFleet?: boolean } = {}): Promise<string[]> {
  const hosts = [...args];
  if (flags.hostsFile !== undefined) {
    let text: string;
    try {
      text = await readFile(flags.hostsFile === '-' ? '/dev/stdin' : flags.hostsFile, 'utf8');
    } catch (err) {
      throw new UsageError(`--hosts-file ${flags.hostsFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
    for (const line of text.split('\n')) {
      const h = line.replace(/#.*$/, '').trim();
      if (h) hosts.push(h);
    }
  }
  if (hosts.length === 0 && (opts.useFleet ?? true) && cfg.data.fleet) hosts.push(...cfg.data.fleet);
  for (const h of hosts) parseDestination(h); // UsageError for hostile names, before anything connects
  return [...new Set(hosts)];
}

export async function openHost(dest: string, options: ConnectOptions): Promise<RemoteHost> {
  const { connect } = await import('../remote/index.js');
  return connect(dest, options);
}

/** Connects, runs `fn`, and always closes the connection. */
export async function withHost<T>(dest: string, options: ConnectOptions, fn: (remote: RemoteHost) => Promise<T>): Promise<T> {
  const remote = await openHost(dest, options);
  try {
    return await fn(remote);
  } finally {
    await remote.close().catch(() => undefined);
  }
}
