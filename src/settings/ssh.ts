/**
 * From flags and pinet.yaml to SSH connections: the options every command
 * that reaches hosts shares (-F, --user, --port, --identity, --ssh-option,
 * --accept-new, --ask-pass, --connect-timeout), how many hosts at once, and
 * the list of hosts (arguments, --hosts-file, or the fleet in the config).
 * Secrets are asked on the terminal, warnings go to the given callback.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import type { ConnectOptions } from '../remote/index.js';
import { parseDestination } from '../remote/destination.js';
import { terminalPrompter } from '../ui/prompt.js';
import { CONFIG, FLAGS } from './catalog.js';
import type { Settings } from './resolve.js';

export function connectOptions(st: Settings, warn: (m: string) => void): ConnectOptions {
  const s = CONFIG.ssh;
  const overrides: NonNullable<ConnectOptions['overrides']> = {};
  const user = st.value(s.user);
  if (user !== undefined) overrides.user = user;
  const port = st.value(s.port);
  if (port !== undefined) overrides.port = port;
  const ids = st.value(s['identity-file']);
  if (ids && ids.length > 0) overrides.identityFiles = ids;
  // -o options from the file come first, the command line's after: like ssh, the first value wins… per keyword.
  const options = [...((st.config.data.ssh?.options as string[] | undefined) ?? []), ...((st.flags.sshOption as string[] | undefined) ?? [])];
  if (options.length > 0) overrides.options = options;
  const out: ConnectOptions = {
    overrides,
    acceptNew: st.value(s['accept-new']) ?? false,
    askPass: st.value(FLAGS.askPass) ?? false,
    warn,
    prompter: terminalPrompter,
  };
  const configFile = st.value(s.config);
  if (configFile !== undefined) out.configFile = configFile;
  const timeout = st.value(s['connect-timeout']);
  if (timeout !== undefined) out.defaultConnectTimeoutMs = timeout * 1000;
  return out;
}

export function concurrencyOf(st: Settings): number {
  return st.value(CONFIG.concurrency)!;
}

/** Hosts from the arguments, a hosts file, or the config's fleet; validated, duplicates dropped. */
export async function resolveHosts(args: string[], st: Settings, opts: { useFleet?: boolean } = {}): Promise<string[]> {
  const hosts = [...args];
  const file = st.flags.hostsFile as string | undefined;
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file === '-' ? '/dev/stdin' : file, 'utf8');
    } catch (err) {
      throw new UsageError(`--hosts-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
    for (const line of text.split('\n')) {
      const h = line.replace(/#.*$/, '').trim();
      if (h) hosts.push(h);
    }
  }
  const fleet = st.value(CONFIG.fleet);
  if (hosts.length === 0 && (opts.useFleet ?? true) && fleet) hosts.push(...fleet);
  for (const h of hosts) parseDestination(h); // UsageError for hostile names, before anything connects
  return [...new Set(hosts)];
}
