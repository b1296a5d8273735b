/**
 * The host key policy: decide whether to trust the key a server presents,
 * and record new keys, the way OpenSSH's StrictHostKeyChecking does.
 *
 * * Known and matching: connect.
 * * Unknown: refuse, showing the key type and SHA256 fingerprint and the
 *   `--accept-new` hint. With `--accept-new` or `StrictHostKeyChecking
 *   accept-new`, record it in the first UserKnownHostsFile (hashed when
 *   HashKnownHosts is set) and connect. `StrictHostKeyChecking no` also
 *   records it, with a warning, as ssh does. `ask` is treated as `yes`:
 *   pinet never asks; `--accept-new` is the explicit answer.
 * * Changed (the host has entries, none of them this key): ALWAYS refuse,
 *   whatever StrictHostKeyChecking says, naming the file:line of the old key
 *   and the `ssh-keygen -R` command that removes it.
 * * Revoked (`@revoked` line with this key): always refuse.
 */
import { constants as fsc } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { memoizeText } from '../util/memo.js';
import { shellQuote } from '../util/shell.js';
import { RemoteError } from './errors.js';
import {
  checkHostKey,
  fingerprint,
  formatKnownHostsLine,
  type KnownHostEntry,
  keyTypeLabel,
  keyTypeOfBlob,
  parseKnownHosts,
  type SkippedLine,
} from './known-hosts.js';
import { hostLabel, knownHostsName, type ResolvedHost } from './ssh-config.js';

export interface KnownHostsData {
  entries: KnownHostEntry[];
  skipped: SkippedLine[];
}

/** Each known_hosts text parsed once per process (every connection reads the files again). */
const parseKnownHostsOnce = memoizeText(parseKnownHosts);

/** Reads the user's and the global known_hosts files; missing ones are empty. */
export async function readKnownHostsFiles(files: readonly string[]): Promise<KnownHostsData> {
  const texts = await Promise.all(
    files.map((f) =>
      readFile(f, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'EACCES') return '';
        throw err;
      }),
    ),
  );
  const out: KnownHostsData = { entries: [], skipped: [] };
  texts.forEach((text, i) => {
    const parsed = parseKnownHostsOnce(text, files[i] ?? '');
    out.entries.push(...parsed.entries);
    out.skipped.push(...parsed.skipped);
  });
  return out;
}

export interface HostKeyDecision {
  /** Write this key to `recordIn` before going on. */
  recordIn?: string;
  /** Say this on stderr. */
  warning?: string;
}

function describeKey(key: Buffer): string {
  return `${keyTypeLabel(keyTypeOfBlob(key) ?? 'unknown')} key ${fingerprint(key)}`;
}

/**
 * Decides about the key the server presented; throws a RemoteError when it
 * must not be trusted. Pure: `entries` are the parsed known_hosts lines.
 */
export function decideHostKey(
  host: ResolvedHost,
  entries: readonly KnownHostEntry[],
  key: Buffer,
  opts: { acceptNew?: boolean; home?: string },
): HostKeyDecision {
  const label = hostLabel(host);
  const name = knownHostsName(host);
  const plainName = host.hostKeyAlias === undefined && host.port !== 22 ? host.hostname : undefined;
  const result = checkHostKey(entries, name, key, plainName);
  const tilde = (p: string): string => (opts.home && p.startsWith(`${opts.home}/`) ? `~${p.slice(opts.home.length)}` : p);

  if (result.status === 'ok') return {};
  if (result.status === 'revoked') {
    throw new RemoteError(
      'host-key-revoked',
      label,
      'checking the host key',
      `the server's ${describeKey(key)} is marked @revoked in ${tilde(result.entry.file)}:${result.entry.line}; refusing to connect`,
      { hint: 'a revoked key may be stolen: find out why before you connect to this host' },
    );
  }
  if (result.status === 'changed') {
    const old = result.entries[0] as KnownHostEntry;
    const others = result.entries.length > 1 ? ` (and ${result.entries.length - 1} more entr${result.entries.length > 2 ? 'ies' : 'y'})` : '';
    throw new RemoteError(
      'host-key-changed',
      label,
      'checking the host key',
      `REMOTE HOST IDENTIFICATION HAS CHANGED: the server now presents ${describeKey(key)}, but ${tilde(old.file)}:${old.line}${others} records ${describeKey(old.key)} for ${name}; refusing to connect (someone may be intercepting the connection, or the host was reinstalled)`,
      {
        hint: `if you know why the key changed, remove the old key with: ssh-keygen -R ${shellQuote(name)} -f ${shellQuote(old.file)} and connect again with --accept-new`,
      },
    );
  }

  // Unknown key.
  const recordFile = host.userKnownHostsFiles[0];
  const caNote = result.caOnly ? ' (known_hosts has only a @cert-authority line for it; pinet does not use host certificates)' : '';
  const strict = host.strictHostKeyChecking;
  const acceptNew = opts.acceptNew === true || strict === 'accept-new';
  if (recordFile !== undefined && (acceptNew || strict === 'no')) {
    const warning =
      strict === 'no' && !acceptNew
        ? `${label}: StrictHostKeyChecking no${host.origins.stricthostkeychecking ? ` (${host.origins.stricthostkeychecking})` : ''}: trusting the unknown ${describeKey(key)} without checking it; added ${name} to ${tilde(recordFile)}`
        : `${label}: permanently added ${name} (${describeKey(key)}) to ${tilde(recordFile)}`;
    return { recordIn: recordFile, warning };
  }
  const hint =
    recordFile === undefined
      ? 'UserKnownHostsFile is "none" in your SSH config, so no key can be recorded: add the key to a GlobalKnownHostsFile or set a UserKnownHostsFile'
      : `if this is the fingerprint of the host (on it: ssh-keygen -lf /etc/ssh/ssh_host_${keyFileStem(key)}_key.pub), connect again with --accept-new to record it in ${tilde(recordFile)}`;
  throw new RemoteError(
    'host-key-unknown',
    label,
    'checking the host key',
    `unknown host key for ${name}: ${describeKey(key)}${caNote}; refusing to connect without --accept-new`,
    { hint },
  );
}

function keyFileStem(key: Buffer): string {
  const type = keyTypeOfBlob(key) ?? '';
  if (type === 'ssh-ed25519') return 'ed25519';
  if (type.startsWith('ecdsa-')) return 'ecdsa';
  if (type === 'ssh-rsa') return 'rsa';
  return 'ed25519';
}

const appendQueues = new Map<string, Promise<void>>();

/**
 * Appends the host's key to a known_hosts file, as ssh does: ~/.ssh is
 * created with mode 0700 if needed, a new file gets mode 0600, a missing
 * final newline is added first. Appends to one file are serialised.
 */
export function recordHostKey(file: string, name: string, key: Buffer, opts: { hashed: boolean; home: string }): Promise<void> {
  const previous = appendQueues.get(file) ?? Promise.resolve();
  const next = previous.then(() => appendLine(file, formatKnownHostsLine(name, key, opts.hashed), opts.home));
  appendQueues.set(file, next.catch(() => undefined));
  return next;
}

async function appendLine(file: string, line: string, home: string): Promise<void> {
  const dir = dirname(file);
  if (dir === `${home.replace(/\/$/, '')}/.ssh`) {
    await mkdir(dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
  const handle = await open(file, fsc.O_RDWR | fsc.O_APPEND | fsc.O_CREAT, 0o600);
  try {
    const { size } = await handle.stat();
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    await handle.write(prefix + line);
  } finally {
    await handle.close();
  }
}

