/**
 * Identity files (private keys) as `ssh` uses them.
 *
 * A key file is read once; its public half is taken from the key itself
 * when it is not encrypted, else from `<file>.pub`, else from the
 * unencrypted header of an OpenSSH-format key. That is what lets the
 * server be asked first whether it would accept the key, so a passphrase is
 * only asked for keys that would actually log in (as ssh does).
 *
 * Decrypted keys are cached for the life of the process: enrolling fifty
 * Pis asks for a passphrase once.
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ParsedKey } from 'ssh2';
import { memoizeText } from '../util/memo.js';
import { NO_PROMPTS, type SecretPrompter } from './prompter.js';
import type { IdentityFileSetting } from './ssh-config.js';
import type { Ssh2Module } from './ssh2-lib.js';

export interface Identity {
  path: string;
  /** The path as shown to users (~/.ssh/id_ed25519). */
  display: string;
  /** Public key blob, when known. */
  publicKey: Buffer | undefined;
  encrypted: boolean;
  /** The key file's contents. */
  data: Buffer;
  /** The parsed private key when it is not encrypted. */
  key: ParsedKey | undefined;
}

export interface LoadedIdentities {
  identities: Identity[];
  /** Why some files could not be used (one line each). */
  notes: string[];
}

/** Replaces the home directory prefix with `~` for messages. */
export function tildePath(path: string, home: string): string {
  const h = home.replace(/\/$/, '');
  return h !== '' && path.startsWith(`${h}/`) ? `~${path.slice(h.length)}` : path;
}

/** The first public key blob in the header of an `openssh-key-v1` private key. */
export function opensshPublicKey(text: string): Buffer | undefined {
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (!m) return undefined;
  const buf = Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64');
  const magic = Buffer.from('openssh-key-v1\0', 'latin1');
  if (buf.length < magic.length || !buf.subarray(0, magic.length).equals(magic)) return undefined;
  let off = magic.length;
  const str = (): Buffer | undefined => {
    if (off + 4 > buf.length) return undefined;
    const len = buf.readUInt32BE(off);
    off += 4;
    if (off + len > buf.length) return undefined;
    const s = buf.subarray(off, off + len);
    off += len;
    return s;
  };
  if (!str() || !str() || !str()) return undefined; // cipher, kdf, kdf options
  if (off + 4 > buf.length) return undefined;
  const n = buf.readUInt32BE(off);
  off += 4;
  if (n < 1) return undefined;
  return str();
}

function isEncryptedError(err: Error): boolean {
  return /no passphrase given/i.test(err.message);
}

/** Reads the identity files that exist; configured ones that are missing get a note. */
export async function loadIdentities(settings: readonly IdentityFileSetting[], ssh2: Ssh2Module, home: string): Promise<LoadedIdentities> {
  const notes: string[] = [];
  const results = await Promise.all(
    settings.map(async (s): Promise<Identity | undefined> => {
      const display = tildePath(s.path, home);
      let data: Buffer;
      try {
        data = await readFile(s.path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') {
          if (s.configured) notes.push(`identity file ${display} does not exist`);
        } else {
          notes.push(`identity file ${display} cannot be read: ${code ?? (err as Error).message}`);
        }
        return undefined;
      }
      const parsed = parsedKeyOf(data, ssh2);
      if (!(parsed instanceof Error)) {
        if (!parsed.isPrivateKey()) {
          notes.push(`${display} is not a private key`);
          return undefined;
        }
        return { path: s.path, display, publicKey: parsed.getPublicSSH(), encrypted: false, data, key: parsed };
      }
      if (!isEncryptedError(parsed)) {
        notes.push(`${display}: ${/sk-|security/i.test(data.toString('latin1')) ? 'security-key (sk) keys are not supported' : 'unsupported key format'}`);
        return undefined;
      }
      const publicKey = (await publicKeyFromPubFile(`${s.path}.pub`, ssh2)) ?? opensshPublicKey(data.toString('latin1'));
      return { path: s.path, display, publicKey, encrypted: true, data, key: undefined };
    }),
  );
  return { identities: results.filter((r): r is Identity => r !== undefined), notes };
}

/** Key files parsed by content, once per process (fifty connections use the same file). */
let parseKeyText: ((latin1: string) => ParsedKey | Error) | undefined;

function parsedKeyOf(data: Buffer, ssh2: Ssh2Module): ParsedKey | Error {
  parseKeyText ??= memoizeText((latin1: string) => first(ssh2.utils.parseKey(Buffer.from(latin1, 'latin1'))));
  return parseKeyText(data.toString('latin1'));
}

function first(k: ParsedKey | ParsedKey[] | Error): ParsedKey | Error {
  return Array.isArray(k) ? (k[0] ?? new Error('no key in file')) : k;
}

async function publicKeyFromPubFile(path: string, ssh2: Ssh2Module): Promise<Buffer | undefined> {
  try {
    const parsed = first(ssh2.utils.parseKey(await readFile(path)));
    return parsed instanceof Error ? undefined : parsed.getPublicSSH();
  } catch {
    return undefined;
  }
}

const decrypted = new Map<string, ParsedKey>();

/** Why an encrypted key could not be used. */
export class KeyUnavailable extends Error {}

/**
 * The private key of an identity, asking for the passphrase on a terminal
 * (three tries, like ssh). Without a terminal, or with BatchMode, it throws
 * KeyUnavailable with the advice to use ssh-agent.
 */
export async function privateKeyOf(identity: Identity, ssh2: Ssh2Module, opts: { batchMode: boolean; prompter?: SecretPrompter }): Promise<ParsedKey> {
  const prompter = opts.prompter ?? NO_PROMPTS;
  if (identity.key) return identity.key;
  const cached = decrypted.get(identity.path);
  if (cached) return cached;
  if (opts.batchMode || !prompter.available()) {
    throw new KeyUnavailable(
      `key ${identity.display} is encrypted; add it to ssh-agent (ssh-add ${identity.display}) or run on a terminal`,
    );
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const passphrase = await prompter.ask(`Enter passphrase for key '${identity.display}':`);
    if (passphrase === undefined) throw new KeyUnavailable(`passphrase for ${identity.display} not given`);
    const parsed = first(ssh2.utils.parseKey(identity.data, passphrase));
    if (!(parsed instanceof Error)) {
      decrypted.set(identity.path, parsed);
      return parsed;
    }
  }
  throw new KeyUnavailable(`wrong passphrase for ${identity.display} (3 tries)`);
}

const keyObjects = new WeakMap<ParsedKey, KeyObject>();

/**
 * A signature with a private key, as ParsedKey.sign makes it, but for
 * Ed25519 keys with the key parsed once: ssh2 hands crypto.sign the PEM
 * text, which is parsed again for every signature (one per connection:
 * fifty for a fleet). Other key types go through ssh2 unchanged.
 */
export function signWith(key: ParsedKey, data: Buffer, hash?: string): Buffer {
  const viaSsh2 = (): Buffer => {
    const sig = key.sign(data, hash) as Buffer | Error;
    if (sig instanceof Error) throw sig;
    return sig;
  };
  if (key.type !== 'ssh-ed25519' || hash) return viaSsh2();
  let ko = keyObjects.get(key);
  if (!ko) {
    try {
      ko = createPrivateKey(key.getPrivatePEM());
    } catch {
      return viaSsh2();
    }
    keyObjects.set(key, ko);
  }
  return sign(null, data, ko);
}
