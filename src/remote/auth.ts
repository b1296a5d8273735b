/**
 * Authentication in OpenSSH's order, driven through ssh2's `authHandler`.
 *
 * 1. Public keys (unless PubkeyAuthentication no): keys in ssh-agent that
 *    belong to an identity file first, then the agent's other keys (skipped
 *    with IdentitiesOnly), then identity files that are not in the agent
 *    (sshconnect2.c pubkey_prepare). All of them go through one in-process
 *    agent, so ssh2 asks the server about each public key before anything
 *    is signed, and an encrypted key's passphrase is only asked for when the
 *    server would accept that key.
 * 2. Password, then keyboard-interactive: only with `askPass`, on a
 *    terminal, without BatchMode, three tries.
 *
 * When everything fails, `failureMessage` lists what was tried:
 * "permission denied for pi (tried: agent (2 keys), ~/.ssh/id_ed25519)".
 */
import type { AnyAuthMethod, AuthenticationType, BaseAgent, ParsedKey } from 'ssh2';
import { NO_PROMPTS, type SecretPrompter } from './prompter.js';
import { type Identity, KeyUnavailable, loadIdentities, privateKeyOf, signWith } from './identities.js';
import type { ResolvedHost } from './ssh-config.js';
import type { Ssh2Module } from './ssh2-lib.js';

interface AuthKey {
  blob: Buffer;
  /** "agent" for agent keys; the identity's display path otherwise. */
  label: string;
  viaAgent: boolean;
  identity?: Identity;
}

export interface AuthPlan {
  /** ssh2 authHandler. */
  handler: (methodsLeft: AuthenticationType[] | null, partial: boolean | null, next: (m: AnyAuthMethod | false) => void) => void;
  /** The one-line account of what was tried, for the error. */
  failureMessage(): string;
  /** Advice for the hint, when there is something specific to say. */
  failureHint(): string | undefined;
  /** Notes about unusable identities. */
  notes: string[];
}

export interface AuthOptions {
  askPass?: boolean;
  /** Asks for passwords and passphrases (none: nothing is asked). */
  prompter?: SecretPrompter;
  home: string;
}

async function agentKeys(ssh2: Ssh2Module, socket: string): Promise<{ agent: BaseAgent; keys: Buffer[] } | undefined> {
  const agent = new ssh2.OpenSSHAgent(socket);
  return new Promise((resolve) => {
    agent.getIdentities((err, keys) => {
      if (err || !keys) return resolve(undefined);
      const blobs: Buffer[] = [];
      for (const k of keys) {
        const parsed = ssh2.utils.parseKey(k as Buffer | ParsedKey);
        if (!(parsed instanceof Error)) blobs.push((Array.isArray(parsed) ? parsed[0] : parsed).getPublicSSH());
      }
      resolve({ agent, keys: blobs });
    });
  });
}

/** Prepares the keys and returns the handler for one connection attempt. */
export async function planAuth(host: ResolvedHost, ssh2: Ssh2Module, opts: AuthOptions): Promise<AuthPlan> {
  const notes: string[] = [];
  const keys: AuthKey[] = [];
  let agent: BaseAgent | undefined;
  let agentKeyCount = 0;
  if (host.pubkeyAuthentication) {
    const [loaded, fromAgent] = await Promise.all([
      loadIdentities(host.identityFiles, ssh2, opts.home),
      host.agentSocket ? agentKeys(ssh2, host.agentSocket) : Promise.resolve(undefined),
    ]);
    notes.push(...loaded.notes);
    const files = [...loaded.identities];
    const matched: AuthKey[] = [];
    const others: AuthKey[] = [];
    if (fromAgent) {
      agent = fromAgent.agent;
      for (const blob of fromAgent.keys) {
        const i = files.findIndex((f) => f.publicKey?.equals(blob));
        if (i >= 0) {
          const [identity] = files.splice(i, 1);
          matched.push({ blob, label: 'agent', viaAgent: true, identity });
        } else if (!host.identitiesOnly) {
          others.push({ blob, label: 'agent', viaAgent: true });
        }
      }
    }
    keys.push(...matched, ...others);
    agentKeyCount = matched.length + others.length;
    for (const f of files) {
      if (f.publicKey) keys.push({ blob: f.publicKey, label: f.display, viaAgent: false, identity: f });
    }
    // Encrypted keys whose public half is unknown can only be tried by
    // decrypting them first; they go last.
    for (const f of files) {
      if (!f.publicKey) keys.push({ blob: Buffer.alloc(0), label: f.display, viaAgent: false, identity: f });
    }
  }

  const keyProblems: string[] = [];
  const tried: string[] = [];
  let passwordTries = 0;
  let kbdTries = 0;
  let serverMethods: AuthenticationType[] | null = null;
  let pubkeyDone = false;
  const prompter: SecretPrompter = opts.prompter ?? NO_PROMPTS;
  const interactive = (): boolean => opts.askPass === true && !host.batchMode && prompter.available();

  const signWithFile = async (k: AuthKey, data: Buffer, hash: string | undefined): Promise<Buffer> => {
    const key = await privateKeyOf(k.identity as Identity, ssh2, { batchMode: host.batchMode, prompter });
    return signWith(key, data, hash);
  };

  const pending = keys.filter((k) => k.blob.length > 0);
  const keyAgent = pending.length > 0 ? makeAgent(ssh2, pending, agent, signWithFile, keyProblems) : undefined;
  const lateKeys = keys.filter((k) => k.blob.length === 0);

  const handler: AuthPlan['handler'] = (methodsLeft, _partial, next) => {
    if (methodsLeft) serverMethods = methodsLeft;
    const allows = (m: AuthenticationType): boolean => serverMethods === null || serverMethods.includes(m);
    void (async (): Promise<AnyAuthMethod | false> => {
      if (!pubkeyDone) {
        pubkeyDone = true;
        if (keyAgent && allows('publickey')) {
          if (agentKeyCount > 0) tried.push(`agent (${agentKeyCount} key${agentKeyCount === 1 ? '' : 's'})`);
          for (const k of pending) if (!k.viaAgent) tried.push(k.label);
          return { type: 'agent', username: host.user, agent: keyAgent };
        }
      }
      while (lateKeys.length > 0 && allows('publickey')) {
        const k = lateKeys.shift() as AuthKey;
        try {
          const key = await privateKeyOf(k.identity as Identity, ssh2, { batchMode: host.batchMode, prompter });
          tried.push(k.label);
          return { type: 'publickey', username: host.user, key };
        } catch (err) {
          if (!(err instanceof KeyUnavailable)) throw err;
          keyProblems.push(err.message);
        }
      }
      if (host.passwordAuthentication && allows('password') && passwordTries < 3 && interactive()) {
        const password = await prompter.ask(`${host.user}@${host.hostname}'s password:`);
        if (password !== undefined) {
          passwordTries++;
          return { type: 'password', username: host.user, password };
        }
        passwordTries = 3;
      }
      if (host.kbdInteractiveAuthentication && allows('keyboard-interactive') && kbdTries < 3 && interactive() && !allows('password')) {
        kbdTries++;
        return {
          type: 'keyboard-interactive',
          username: host.user,
          prompt: (_name, _instructions, _lang, prompts, finish) => {
            void (async () => {
              const answers: string[] = [];
              for (const p of prompts) {
                answers.push((await prompter.ask(p.prompt.trim()).catch(() => undefined)) ?? '');
              }
              finish(answers);
            })();
          },
        };
      }
      return false;
    })().then(next, () => next(false));
  };

  const failureMessage = (): string => {
    const parts = [...tried];
    if (passwordTries > 0) parts.push(`password (${passwordTries} tr${passwordTries === 1 ? 'y' : 'ies'})`);
    if (kbdTries > 0) parts.push('keyboard-interactive');
    const what = parts.length > 0 ? `tried: ${parts.join(', ')}` : 'no key or password to offer';
    const methods = serverMethods ? `; the server accepts: ${serverMethods.join(', ')}` : '';
    return `permission denied for user ${host.user} (${what}${methods})`;
  };
  const failureHint = (): string | undefined => {
    const problems = [...keyProblems];
    if (problems.length > 0) return problems.join('; ');
    const advice = [`make sure one of your public keys is in ~${host.user}/.ssh/authorized_keys on the host (ssh-copy-id ${host.user}@${host.hostname})`];
    if (!opts.askPass && (serverMethods === null || serverMethods.includes('password'))) advice.push('or use --ask-pass on a terminal to log in with a password');
    return advice.join(' ');
  };

  return { handler, failureMessage, failureHint, notes };
}

/** One agent over all candidate public keys; signs with ssh-agent or with the key file. */
function makeAgent(
  ssh2: Ssh2Module,
  keys: AuthKey[],
  realAgent: BaseAgent | undefined,
  signWithFile: (k: AuthKey, data: Buffer, hash: string | undefined) => Promise<Buffer>,
  problems: string[],
): BaseAgent {
  class PinetAgent extends ssh2.BaseAgent {
    override getIdentities(cb: (err: Error | undefined, keys?: ParsedKey[]) => void): void {
      const parsed: ParsedKey[] = [];
      for (const k of keys) {
        const p = ssh2.utils.parseKey(k.blob);
        if (!(p instanceof Error)) parsed.push(Array.isArray(p) ? (p[0] as ParsedKey) : p);
      }
      cb(undefined, parsed);
    }

    override sign(pubKey: ParsedKey | Buffer | string, data: Buffer, options: unknown, cb?: (err: Error | undefined, sig?: Buffer) => void): void {
      const callback = (typeof options === 'function' ? options : cb) as (err: Error | undefined, sig?: Buffer) => void;
      const hash = typeof options === 'object' && options !== null ? (options as { hash?: string }).hash : undefined;
      const blob = Buffer.isBuffer(pubKey) ? pubKey : (pubKey as ParsedKey).getPublicSSH();
      const k = keys.find((x) => x.blob.equals(blob));
      if (!k) return callback(new Error('unknown key'));
      if (k.viaAgent && realAgent) {
        realAgent.sign(pubKey as ParsedKey, data, (options ?? {}) as object, (err, sig) => callback(err ?? undefined, sig));
        return;
      }
      signWithFile(k, data, hash).then(
        (sig) => callback(undefined, sig),
        (err: Error) => {
          problems.push(err instanceof KeyUnavailable ? err.message : `${k.label}: ${err.message}`);
          callback(err);
        },
      );
    }
  }
  return new PinetAgent();
}
