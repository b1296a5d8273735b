/**
 * known_hosts files as OpenSSH reads and checks them (sshd(8) "SSH_KNOWN_HOSTS
 * FILE FORMAT"; OpenSSH hostfile.c).
 *
 * A line is `[@marker] hosts keytype base64-key [comment]`. `hosts` is a
 * comma-separated pattern list (`*`, `?`, `!negation`, `[host]:port` for
 * ports other than 22) or one hashed name `|1|base64(salt)|base64(HMAC-SHA1
 * (salt, name))`. Markers are `@revoked` and `@cert-authority`. Comments,
 * blank lines and lines that do not parse are skipped, never fatal.
 *
 * Checking follows hostfile.c check_hostkeys_by_key_or_type: among the
 * plain (unmarked) entries for the host, a key equal to the server's means
 * OK; otherwise any entry for the host, of any key type, means CHANGED; no
 * entry means UNKNOWN. A matching `@revoked` key overrides everything. Like
 * sshconnect.c, a host on a port other than 22 that is unknown as
 * `[host]:port` is accepted when the plain `host` entry has this very key.
 *
 * Everything here is pure; reading and appending files is in host-keys.ts.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { matchHostname } from './patterns.js';

export interface KnownHostEntry {
  file: string;
  line: number;
  marker: 'revoked' | 'cert-authority' | undefined;
  /** The host field as written (pattern list or hashed name). */
  hosts: string;
  /** Key type as embedded in the key blob, e.g. ssh-ed25519. */
  keyType: string;
  key: Buffer;
}

export interface SkippedLine {
  file: string;
  line: number;
  reason: string;
}

export interface ParsedKnownHosts {
  entries: KnownHostEntry[];
  skipped: SkippedLine[];
}

/** The key type a public key blob names in its first string. */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  const type = blob.subarray(4, 4 + len).toString('latin1');
  return /^[a-z0-9@._-]+$/.test(type) ? type : undefined;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses a known_hosts text; bad lines go to `skipped` with a reason. */
export function parseKnownHosts(text: string, file: string): ParsedKnownHosts {
  const entries: KnownHostEntry[] = [];
  const skipped: SkippedLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let rest = (lines[i] ?? '').replace(/\r$/, '').replace(/^[ \t]+/, '');
    if (rest === '' || rest.startsWith('#')) continue;
    const skip = (reason: string): void => {
      skipped.push({ file, line: lineNo, reason });
    };
    let marker: KnownHostEntry['marker'];
    if (rest.startsWith('@')) {
      const m = /^@(\S+)[ \t]+/.exec(rest);
      if (!m) {
        skip('marker without host and key');
        continue;
      }
      if (m[1] === 'revoked') marker = 'revoked';
      else if (m[1] === 'cert-authority') marker = 'cert-authority';
      else {
        skip(`unknown marker @${m[1]}`);
        continue;
      }
      rest = rest.slice(m[0].length);
    }
    const fields = rest.split(/[ \t]+/);
    const [hosts, type, b64] = fields;
    if (!hosts || !type || !b64) {
      skip('too few fields');
      continue;
    }
    if (!BASE64.test(b64)) {
      skip('key is not base64');
      continue;
    }
    const key = Buffer.from(b64, 'base64');
    const blobType = keyTypeOfBlob(key);
    if (blobType === undefined || blobType !== type) {
      skip(`key does not match its type ${JSON.stringify(type)}`);
      continue;
    }
    entries.push({ file, line: lineNo, marker, hosts, keyType: blobType, key });
  }
  return { entries, skipped };
}

/** HMAC-SHA1 hashed host name, `|1|salt|hash`; a random salt unless given. */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const hash = createHmac('sha1', salt).update(name).digest('base64');
  return `|1|${salt.toString('base64')}|${hash}`;
}

/** Does the host field of an entry name `name` (already `[host]:port` if needed)? */
export function hostFieldMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith('|')) {
    const m = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(hosts);
    if (!m) return false;
    const salt = Buffer.from(m[1] ?? '', 'base64');
    const hash = Buffer.from(m[2] ?? '', 'base64');
    if (salt.length !== 20 || hash.length !== 20) return false;
    return createHmac('sha1', salt).update(name.toLowerCase()).digest().equals(hash);
  }
  return matchHostname(name, hosts) === 1;
}

/** `SHA256:<base64 without padding>`, exactly as `ssh-keygen -l` prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** ED25519, ECDSA, RSA, DSA …: the key type as ssh-keygen -l shows it. */
export function keyTypeLabel(keyType: string): string {
  if (keyType === 'ssh-ed25519') return 'ED25519';
  if (keyType.startsWith('ecdsa-sha2-')) return 'ECDSA';
  if (keyType === 'ssh-rsa') return 'RSA';
  if (keyType === 'ssh-dss') return 'DSA';
  if (keyType.startsWith('sk-ssh-ed25519')) return 'ED25519-SK';
  if (keyType.startsWith('sk-ecdsa')) return 'ECDSA-SK';
  return keyType;
}

export type HostKeyStatus =
  | { status: 'ok'; entry: KnownHostEntry }
  | { status: 'unknown'; caOnly: boolean }
  | { status: 'changed'; entries: KnownHostEntry[] }
  | { status: 'revoked'; entry: KnownHostEntry };

/** Checks the server's key against the entries for `name` (see the module comment). */
export function checkHostKey(entries: readonly KnownHostEntry[], name: string, key: Buffer, plainName?: string): HostKeyStatus {
  const forHost = entries.filter((e) => hostFieldMatches(e.hosts, name));
  const revoked = forHost.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = forHost.filter((e) => e.marker === undefined);
  const same = plain.find((e) => e.key.equals(key));
  if (same) return { status: 'ok', entry: same };
  if (plain.length > 0) return { status: 'changed', entries: plain };
  if (plainName !== undefined && plainName !== name) {
    // sshconnect.c: a non-standard port is also checked without the port;
    // only an exact match counts there.
    const again = checkHostKey(entries, plainName, key);
    if (again.status === 'ok' || again.status === 'revoked') return again;
  }
  return { status: 'unknown', caOnly: forHost.some((e) => e.marker === 'cert-authority') };
}

/** The line `ssh` would append for this host and key (with a newline). */
export function formatKnownHostsLine(name: string, key: Buffer, hashed: boolean): string {
  const type = keyTypeOfBlob(key);
  if (type === undefined) throw new Error('internal error: host key blob without a type');
  const host = name.toLowerCase();
  return `${hashed ? hashHostName(host) : host} ${type} ${key.toString('base64')}\n`;
}

/** The host key algorithms a key type can be negotiated with. */
function algorithmsForKeyType(keyType: string): string[] {
  if (keyType === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return [keyType];
}

/**
 * Orders host key algorithms so that types already known for this host come
 * first, keeping the default order otherwise (sshconnect2.c
 * order_hostkeyalgs): a known host is then asked for the key we can check.
 */
export function orderHostKeyAlgorithms(entries: readonly KnownHostEntry[], name: string, defaults: readonly string[]): string[] {
  const known = new Set<string>();
  for (const e of entries) {
    if (e.marker !== undefined || !hostFieldMatches(e.hosts, name)) continue;
    for (const alg of algorithmsForKeyType(e.keyType)) known.add(alg);
  }
  const first = defaults.filter((a) => known.has(a));
  const last = defaults.filter((a) => !known.has(a));
  return [...first, ...last];
}
