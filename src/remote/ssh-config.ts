/**
 * The OpenSSH client configuration, resolved for one destination the way
 * `ssh` resolves it (ssh_config(5); OpenSSH readconf.c and ssh.c).
 *
 * `resolveHost(destination, options)` is pure: it takes the texts of the
 * config files (and a reader for `Include`d files) and returns a
 * `ResolvedHost`: where to connect, as whom, with which keys, through which
 * jump host, how to check the host key. What it follows:
 *
 * * Files are read in order (command-line options, then `-F` file or
 *   ~/.ssh/config, then /etc/ssh/ssh_config), and for each keyword the
 *   FIRST value obtained wins; `IdentityFile` accumulates.
 * * `Host` lines (several patterns, `*`, `?`, `!` negation) are matched
 *   against the host as typed; `Match` supports `all`, `host`,
 *   `originalhost`, `user`, `localuser`, `canonical`, `final` (with the final
 *   re-parse) and `sessiontype`, each maybe negated. `Match exec` is never
 *   run: such a block is treated as not matching and a note says so; so are
 *   `localnetwork`, `tagged`, `command` and `version`.
 * * `Include` (globs, relative to ~/.ssh for user files and /etc/ssh for
 *   the system file) is conditional on the enclosing block, like OpenSSH.
 * * `HostName` takes `%h`; `IdentityFile`, `UserKnownHostsFile` and
 *   `IdentityAgent` take `~`, `${VAR}` and the `%` tokens.
 *
 * Lines are tokenised with the `ssh-config` package, one line at a time, so
 * each error names its file and line.
 */
import { createHash } from 'node:crypto';
import { parse as parseConfigText } from 'ssh-config';
import { ConfigError } from '../errors.js';
import { memoizeText } from '../util/memo.js';
import { isPortText } from '../util/port.js';
import {
  type Destination,
  hostPort,
  isValidHostName,
  isValidUserName,
  parseDestination,
  showValue,
} from './destination.js';
import { expandTilde, expandTokens, type LocalContext, parseFlag, parseTime } from './expand.js';
import { matchHostLine, matchHostname, matchPatternList } from './patterns.js';

/** One config file's text. `user` files resolve relative `Include`s in ~/.ssh, `system` ones in /etc/ssh. */
export interface ConfigSource {
  path: string;
  text: string;
  kind: 'user' | 'system';
}

/** Reads the files an `Include` pattern (absolute, globs allowed) names, sorted. */
export type IncludeReader = (pattern: string, origin: string) => Array<{ path: string; text: string }>;

/** Values given on pinet's command line; they win over every config file. */
export interface HostOverrides {
  user?: string;
  port?: number;
  /** Like `ssh -i`: tried before the configured identity files. */
  identityFiles?: string[];
  /** Like `ssh -o Keyword=value`, e.g. `StrictHostKeyChecking=accept-new`. */
  options?: string[];
}

export type StrictHostKeyChecking = 'yes' | 'no' | 'accept-new' | 'ask';

export interface IdentityFileSetting {
  /** Absolute path after `~`, `${VAR}` and `%` expansion. */
  path: string;
  /** false for OpenSSH's default list (missing ones are skipped silently). */
  configured: boolean;
}

export interface ResolvedHost {
  /** The destination as given. */
  destination: string;
  /** Host as typed (the alias). */
  alias: string;
  /** Where to connect (after `HostName`). */
  hostname: string;
  port: number;
  user: string;
  /** Identity files in the order to try them. */
  identityFiles: IdentityFileSetting[];
  identitiesOnly: boolean;
  /** ssh-agent socket, or undefined when none is to be used. */
  agentSocket: string | undefined;
  /** Hops to go through, first hop first; empty for a direct connection. */
  proxyJump: Destination[];
  /** `ProxyCommand` if set (pinet does not run it; connect refuses). */
  proxyCommand: string | undefined;
  /** Connect + handshake timeout in seconds, undefined when unset. */
  connectTimeout: number | undefined;
  strictHostKeyChecking: StrictHostKeyChecking;
  userKnownHostsFiles: string[];
  globalKnownHostsFiles: string[];
  hashKnownHosts: boolean;
  /** Name to look host keys up under (`HostKeyAlias`), else undefined. */
  hostKeyAlias: string | undefined;
  /** Seconds between keepalives; 0 when unset. */
  serverAliveInterval: number;
  serverAliveCountMax: number;
  batchMode: boolean;
  passwordAuthentication: boolean;
  pubkeyAuthentication: boolean;
  kbdInteractiveAuthentication: boolean;
  /** file:line each setting came from (keyword in lower case). */
  origins: Record<string, string>;
  /** Things a user may want to know (ignored Match criteria …). */
  notes: string[];
}

export interface ResolveOptions {
  /** Config files in reading order. */
  sources: readonly ConfigSource[];
  overrides?: HostOverrides;
  local: LocalContext;
  readInclude?: IncludeReader;
  /** Override hops from an outer ProxyJump (`ssh -J`); `[]` means none. */
  jumpOverride?: Destination[];
}

/** OpenSSH's default identity files, in its order (OpenSSH 9.x fill_default_options). */
export const DEFAULT_IDENTITY_FILES = [
  '~/.ssh/id_rsa',
  '~/.ssh/id_ecdsa',
  '~/.ssh/id_ecdsa_sk',
  '~/.ssh/id_ed25519',
  '~/.ssh/id_ed25519_sk',
  '~/.ssh/id_xmss',
  '~/.ssh/id_dsa',
];
export const DEFAULT_USER_KNOWN_HOSTS = ['~/.ssh/known_hosts', '~/.ssh/known_hosts2'];
export const DEFAULT_GLOBAL_KNOWN_HOSTS = ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'];
const MAX_INCLUDE_DEPTH = 16;

interface Statement {
  keyword: string; // lower case
  args: string[];
  origin: string;
}

/**
 * Splits a config text into statements, one per directive line (kept by
 * text: fifty hosts resolved against one file parse it once).
 */
export const parseConfigLines: (text: string, path: string) => readonly Statement[] = memoizeText(splitStatements);

function splitStatements(text: string, path: string): Statement[] {
  const out: Statement[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const origin = `${path}:${i + 1}`;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (line.includes('\0')) throw new ConfigError(`${origin}: NUL byte in the line`);
    // A keyword alone on its line (the library cannot tokenise that).
    if (/^[A-Za-z0-9]+$/.test(trimmed)) {
      out.push({ keyword: trimmed.toLowerCase(), args: [], origin });
      continue;
    }
    let parsed;
    try {
      parsed = parseConfigText(trimmed);
    } catch (err) {
      throw new ConfigError(`${origin}: cannot parse ${showValue(trimmed)}: ${(err as Error).message}`);
    }
    for (const node of parsed) {
      if (node.type !== 1) continue; // comments and blanks
      const value = node.value;
      const args = Array.isArray(value) ? value.map((v) => v.val) : value === '' ? [] : [value];
      out.push({ keyword: node.param.toLowerCase(), args, origin });
    }
  }
  return out;
}

interface Setting {
  args: string[];
  origin: string;
}

interface EvalState {
  hostArg: string;
  /** What `Host` lines match against (the typed host; the final host in the final pass). */
  hostForHostLines: string;
  finalPass: boolean;
  wantFinal: boolean;
  settings: Map<string, Setting>;
  identityFiles: Array<{ value: string; origin: string }>;
  notes: string[];
  local: LocalContext;
  readInclude: IncludeReader | undefined;
}

const FIRST_WINS = new Set([
  'hostname',
  'user',
  'port',
  'identitiesonly',
  'identityagent',
  'connecttimeout',
  'stricthostkeychecking',
  'userknownhostsfile',
  'globalknownhostsfile',
  'hashknownhosts',
  'hostkeyalias',
  'serveraliveinterval',
  'serveralivecountmax',
  'batchmode',
  'passwordauthentication',
  'pubkeyauthentication',
  'kbdinteractiveauthentication',
]);

function one(st: Statement): string {
  const v = st.args[0];
  if (v === undefined || v === '') throw new ConfigError(`${st.origin}: ${st.keyword} needs a value`);
  if (st.args.length > 1) {
    throw new ConfigError(`${st.origin}: ${st.keyword} takes one value, got ${showValue(st.args.join(' '))}`);
  }
  return v;
}

/** Checks a value the way OpenSSH would reject it, so mistakes surface with file:line. */
function validate(st: Statement): void {
  const k = st.keyword;
  if (k === 'port') {
    const v = one(st);
    if (!isPortText(v)) {
      throw new ConfigError(`${st.origin}: bad port ${showValue(v)}`);
    }
  } else if (k === 'connecttimeout' || k === 'serveraliveinterval') {
    const v = one(st);
    if (v.toLowerCase() !== 'none' && parseTime(v) === undefined) {
      throw new ConfigError(`${st.origin}: bad time value ${showValue(v)} for ${k}`);
    }
  } else if (k === 'serveralivecountmax') {
    const v = one(st);
    if (!/^[0-9]+$/.test(v)) throw new ConfigError(`${st.origin}: bad number ${showValue(v)} for ${k}`);
  } else if (k === 'stricthostkeychecking') {
    const v = one(st).toLowerCase();
    if (!['yes', 'no', 'true', 'false', 'off', 'ask', 'accept-new'].includes(v)) {
      throw new ConfigError(`${st.origin}: bad StrictHostKeyChecking value ${showValue(v)}`, 'use yes, accept-new, no or ask');
    }
  } else if (k === 'identitiesonly' || k === 'hashknownhosts' || k === 'batchmode' || k === 'passwordauthentication' || k === 'kbdinteractiveauthentication') {
    if (parseFlag(one(st)) === undefined) throw new ConfigError(`${st.origin}: ${k} must be yes or no, not ${showValue(st.args.join(' '))}`);
  } else if (k === 'pubkeyauthentication') {
    const v = one(st).toLowerCase();
    if (parseFlag(v) === undefined && v !== 'unbound' && v !== 'host-bound') {
      throw new ConfigError(`${st.origin}: bad PubkeyAuthentication value ${showValue(v)}`);
    }
  } else if (k === 'userknownhostsfile' || k === 'globalknownhostsfile') {
    if (st.args.length === 0) throw new ConfigError(`${st.origin}: ${k} needs a value`);
    if (st.args.some((a) => a.toLowerCase() === 'none') && st.args.length > 1) {
      throw new ConfigError(`${st.origin}: ${k} "none" must appear alone`);
    }
  } else if (FIRST_WINS.has(k)) {
    one(st);
  }
}

/** The host `Match host` compares: HostName (with %h) if set so far, else the typed host. */
function currentHost(state: EvalState): string {
  const hn = state.settings.get('hostname');
  if (state.finalPass) return state.hostForHostLines;
  if (hn) return expandTokens(hn.args[0] ?? '', { h: state.hostArg }, hn.origin, 'HostName');
  return state.hostArg;
}

function currentUser(state: EvalState): string {
  return state.settings.get('user')?.args[0] ?? state.local.user;
}

/** Evaluates a `Match` line: true when every criterion holds. */
function evalMatch(st: Statement, state: EvalState): boolean {
  const tokens = st.args;
  if (tokens.length === 0) throw new ConfigError(`${st.origin}: Match needs criteria`);
  let result = true;
  let attributes = 0;
  let i = 0;
  while (i < tokens.length) {
    const raw = tokens[i++] ?? '';
    if (raw.startsWith('#')) break;
    const negate = raw.startsWith('!');
    const attr = (negate ? raw.slice(1) : raw).toLowerCase();
    if (attr === 'all') {
      if (attributes > 0 || (i < tokens.length && !(tokens[i] ?? '').startsWith('#'))) {
        throw new ConfigError(`${st.origin}: Match "all" cannot be combined with other criteria`);
      }
      return result && !negate;
    }
    attributes++;
    if (attr === 'canonical' || attr === 'final') {
      if (attr === 'final' && !negate) state.wantFinal = true;
      if (state.finalPass === negate) result = false;
      continue;
    }
    const arg = tokens[i++];
    if (arg === undefined || arg === '' || arg.startsWith('#')) {
      throw new ConfigError(`${st.origin}: Match ${attr} needs an argument`);
    }
    let r: boolean;
    switch (attr) {
      case 'host':
        r = matchHostname(currentHost(state), arg) === 1;
        break;
      case 'originalhost':
        r = matchHostname(state.hostArg, arg) === 1;
        break;
      case 'user':
        r = matchPatternList(currentUser(state), arg) === 1;
        break;
      case 'localuser':
        r = matchPatternList(state.local.user, arg) === 1;
        break;
      case 'sessiontype':
        r = matchPatternList('exec', arg) === 1;
        break;
      case 'exec':
      case 'localnetwork':
      case 'tagged':
      case 'command':
      case 'version':
        state.notes.push(
          `${st.origin}: "Match ${attr}" is not evaluated by pinet; this Match block is treated as not matching`,
        );
        return false;
      default:
        throw new ConfigError(`${st.origin}: unsupported Match criterion ${showValue(attr)}`);
    }
    if (r === negate) result = false;
  }
  return result;
}

function includeTokens(state: EvalState): Record<string, string> {
  const host = currentHost(state);
  const port = state.settings.get('port')?.args[0] ?? '22';
  const user = currentUser(state);
  const jump = state.settings.get('proxyjump')?.args[0];
  const jmphost = jump && jump.toLowerCase() !== 'none' ? lastHopHost(jump) : '';
  return tokenTable(state.local, {
    host,
    hostArg: state.hostArg,
    port,
    user,
    jumpHost: jmphost,
    keyAlias: state.settings.get('hostkeyalias')?.args[0] ?? host,
  });
}

function evalStatements(statements: readonly Statement[], state: EvalState, kind: ConfigSource['kind'], depth: number, startActive: boolean): void {
  let active = startActive;
  for (const st of statements) {
    switch (st.keyword) {
      case 'host':
        if (st.args.length === 0) throw new ConfigError(`${st.origin}: Host needs at least one pattern`);
        active = matchHostLine(state.hostForHostLines, st.args);
        continue;
      case 'match':
        active = evalMatch(st, state);
        continue;
      case 'include':
        if (st.args.length === 0) throw new ConfigError(`${st.origin}: Include needs a file name`);
        if (active) evalInclude(st, state, kind, depth, active);
        continue;
      default:
        break;
    }
    if (!active) continue;
    apply(st, state);
  }
}

function evalInclude(st: Statement, state: EvalState, kind: ConfigSource['kind'], depth: number, active: boolean): void {
  if (depth >= MAX_INCLUDE_DEPTH) throw new ConfigError(`${st.origin}: Include nested too deeply (more than ${MAX_INCLUDE_DEPTH} levels)`);
  for (const arg of st.args) {
    let p = expandTokens(arg, includeTokens(state), st.origin, 'Include', state.local.env);
    if (p.startsWith('~')) {
      if (kind !== 'user') throw new ConfigError(`${st.origin}: bad Include path ${showValue(p)} in a system file`);
      p = expandTilde(p, state.local, st.origin);
    } else if (!p.startsWith('/')) {
      p = kind === 'user' ? expandTilde(`~/.ssh/${p}`, state.local, st.origin) : `/etc/ssh/${p}`;
    }
    if (!state.readInclude) throw new ConfigError(`${st.origin}: Include ${showValue(arg)} cannot be read here`);
    for (const file of state.readInclude(p, st.origin)) {
      // Each included file starts in the including block's state; a Host or
      // Match inside it does not change the includer's state afterwards.
      evalStatements(parseConfigLines(file.text, file.path), state, kind, depth + 1, active);
    }
  }
}

function apply(st: Statement, state: EvalState): void {
  const k = st.keyword;
  if (k === 'identityfile') {
    state.identityFiles.push({ value: one(st), origin: st.origin });
    return;
  }
  if (k === 'proxyjump' || k === 'proxycommand') {
    // ProxyJump and ProxyCommand share one slot: whichever comes first wins.
    if (state.settings.has('proxyjump') || state.settings.has('proxycommand')) return;
    if (st.args.length === 0) throw new ConfigError(`${st.origin}: ${k} needs a value`);
    const value = k === 'proxyjump' ? one(st) : st.args.join(' ');
    if (k === 'proxyjump' && value.toLowerCase() !== 'none') parseJump(value, st.origin);
    state.settings.set(k, { args: [value], origin: st.origin });
    return;
  }
  if (!FIRST_WINS.has(k)) return; // keywords pinet has no use for
  validate(st);
  if (!state.settings.has(k)) state.settings.set(k, { args: st.args, origin: st.origin });
}

/** Parses a ProxyJump value into hops, first hop first. */
export function parseJump(value: string, origin: string): Destination[] {
  const hops = value.split(',');
  return hops.map((hop) => {
    try {
      return parseDestination(hop.trim());
    } catch (err) {
      throw new ConfigError(`${origin}: bad ProxyJump hop ${showValue(hop)}: ${(err as Error).message}`);
    }
  });
}

function lastHopHost(value: string): string {
  const hops = value.split(',');
  const last = (hops[hops.length - 1] ?? '').trim();
  try {
    return parseDestination(last).host;
  } catch {
    return '';
  }
}

function tokenTable(
  local: LocalContext,
  v: { host: string; hostArg: string; port: string; user: string; jumpHost: string; keyAlias: string },
): Record<string, string> {
  const short = local.hostname.split('.')[0] ?? local.hostname;
  const hash = createHash('sha1')
    .update(local.hostname)
    .update(v.host)
    .update(v.port)
    .update(v.user)
    .update(v.jumpHost)
    .digest('hex');
  return {
    C: hash,
    L: short,
    d: local.home,
    h: v.host,
    i: String(local.uid),
    j: v.jumpHost,
    k: v.keyAlias,
    l: local.hostname,
    n: v.hostArg,
    p: v.port,
    r: v.user,
    u: local.user,
  };
}

function isAddress(host: string): boolean {
  return host.includes(':') || /^[0-9.]+$/.test(host);
}

/**
 * Resolves a destination against the config, like `ssh -G <destination>`
 * would. Throws UsageError for a bad destination and ConfigError (naming
 * file:line) for a broken config.
 */
export function resolveHost(destination: string, options: ResolveOptions): ResolvedHost {
  const dest = parseDestination(destination);
  const overrides = options.overrides ?? {};
  const state: EvalState = {
    hostArg: dest.host,
    hostForHostLines: dest.host,
    finalPass: false,
    wantFinal: false,
    settings: new Map(),
    identityFiles: [],
    notes: [],
    local: options.local,
    readInclude: options.readInclude,
  };

  // Command-line values first: they win (ssh sets them before reading files).
  const cmdline: Statement[] = [];
  const user = overrides.user ?? dest.user;
  if (user !== undefined) cmdline.push({ keyword: 'user', args: [user], origin: 'command line' });
  const port = overrides.port ?? dest.port;
  if (port !== undefined) cmdline.push({ keyword: 'port', args: [String(port)], origin: 'command line' });
  for (const f of overrides.identityFiles ?? []) cmdline.push({ keyword: 'identityfile', args: [f], origin: 'command line' });
  for (const opt of overrides.options ?? []) {
    if (/[\r\n\0]/.test(opt)) throw new ConfigError(`option ${showValue(opt)}: one setting per option, without line breaks`);
    const parsed = parseConfigLines(opt.replace(/^([A-Za-z]+)=/, '$1 '), 'command line option').map((s) => ({
      ...s,
      origin: `option ${showValue(opt)}`,
    }));
    for (const s of parsed) {
      if (s.keyword === 'host' || s.keyword === 'match' || s.keyword === 'include') {
        throw new ConfigError(`${s.origin}: ${s.keyword} is not allowed as an option`);
      }
    }
    cmdline.push(...parsed);
  }
  if (options.jumpOverride) {
    const value = options.jumpOverride.length === 0 ? 'none' : options.jumpOverride.map((d) => d.text).join(',');
    cmdline.push({ keyword: 'proxyjump', args: [value], origin: 'command line' });
  }

  const pass = (): void => {
    evalStatements(cmdline, state, 'user', 0, true);
    for (const src of options.sources) {
      evalStatements(parseConfigLines(src.text, src.path), state, src.kind, 0, true);
    }
  };
  pass();
  if (state.wantFinal) {
    state.finalPass = true;
    state.hostForHostLines = finalHostname(state);
    pass();
  }

  return finish(dest, state);
}

function finalHostname(state: EvalState): string {
  const hn = state.settings.get('hostname');
  let host = hn ? expandTokens(hn.args[0] ?? '', { h: state.hostArg }, hn.origin, 'HostName') : state.hostArg;
  if (!isAddress(host)) host = host.toLowerCase();
  return host;
}

function finish(dest: Destination, state: EvalState): ResolvedHost {
  const s = state.settings;
  const get = (k: string): string | undefined => s.get(k)?.args[0];
  const origins: Record<string, string> = {};
  for (const [k, v] of s) origins[k] = v.origin;

  const hostname = finalHostname(state);
  if (!isValidHostName(hostname)) {
    throw new ConfigError(
      `${s.get('hostname')?.origin ?? 'destination'}: HostName ${showValue(hostname)} is not a valid host name or address`,
    );
  }
  const port = Number(get('port') ?? '22');
  const user = get('user') ?? state.local.user;
  if (!isValidUserName(user)) {
    throw new ConfigError(`${s.get('user')?.origin ?? 'local user'}: user name ${showValue(user)} is not allowed`);
  }

  let proxyJump: Destination[] = [];
  let proxyCommand: string | undefined;
  const jump = s.get('proxyjump');
  if (jump && (jump.args[0] ?? '').toLowerCase() !== 'none') proxyJump = parseJump(jump.args[0] ?? '', jump.origin);
  const pc = s.get('proxycommand');
  if (pc && pc.args.join(' ').toLowerCase() !== 'none') proxyCommand = pc.args.join(' ');

  const hostKeyAlias = get('hostkeyalias');
  const tokens = tokenTable(state.local, {
    host: hostname,
    hostArg: state.hostArg,
    port: String(port),
    user,
    jumpHost: proxyJump.length > 0 ? (proxyJump[proxyJump.length - 1]?.host ?? '') : '',
    keyAlias: hostKeyAlias ?? state.hostArg,
  });
  const expandPath = (value: string, origin: string, keyword: string): string =>
    expandTokens(expandTilde(value, state.local, origin), tokens, origin, keyword, state.local.env);

  const identityFiles: IdentityFileSetting[] = [];
  const seen = new Set<string>();
  for (const f of state.identityFiles) {
    if (f.value.toLowerCase() === 'none') continue;
    const path = expandPath(f.value, f.origin, 'IdentityFile');
    if (seen.has(path)) continue;
    seen.add(path);
    identityFiles.push({ path, configured: true });
  }
  if (state.identityFiles.length === 0) {
    for (const f of DEFAULT_IDENTITY_FILES) identityFiles.push({ path: expandTilde(f, state.local, 'default'), configured: false });
  }

  const fileList = (k: string, defaults: string[]): string[] => {
    const setting = s.get(k);
    if (!setting) return defaults.map((f) => expandTilde(f, state.local, 'default'));
    if ((setting.args[0] ?? '').toLowerCase() === 'none') return [];
    return setting.args.map((a) => expandPath(a, setting.origin, k === 'userknownhostsfile' ? 'UserKnownHostsFile' : 'GlobalKnownHostsFile'));
  };

  let agentSocket: string | undefined = state.local.env.SSH_AUTH_SOCK || undefined;
  const agent = s.get('identityagent');
  if (agent) {
    const v = agent.args[0] ?? '';
    if (v.toLowerCase() === 'none') agentSocket = undefined;
    else if (v === 'SSH_AUTH_SOCK') agentSocket = state.local.env.SSH_AUTH_SOCK || undefined;
    else if (v.startsWith('$')) agentSocket = state.local.env[v.slice(1)] || undefined;
    else agentSocket = expandPath(v, agent.origin, 'IdentityAgent');
  }

  const strictRaw = (get('stricthostkeychecking') ?? 'ask').toLowerCase();
  const strict: StrictHostKeyChecking =
    strictRaw === 'yes' || strictRaw === 'true'
      ? 'yes'
      : strictRaw === 'no' || strictRaw === 'false' || strictRaw === 'off'
        ? 'no'
        : strictRaw === 'accept-new'
          ? 'accept-new'
          : 'ask';
  const time = (k: string): number | undefined => {
    const v = get(k);
    if (v === undefined || v.toLowerCase() === 'none') return undefined;
    return parseTime(v);
  };
  const flag = (k: string, dflt: boolean): boolean => {
    const v = get(k);
    if (v === undefined) return dflt;
    const lower = v.toLowerCase();
    if (lower === 'unbound' || lower === 'host-bound') return true;
    return parseFlag(v) ?? dflt;
  };

  return {
    destination: dest.text,
    alias: dest.host,
    hostname,
    port,
    user,
    identityFiles,
    identitiesOnly: flag('identitiesonly', false),
    agentSocket,
    proxyJump,
    proxyCommand,
    connectTimeout: time('connecttimeout') || undefined,
    strictHostKeyChecking: strict,
    userKnownHostsFiles: fileList('userknownhostsfile', DEFAULT_USER_KNOWN_HOSTS),
    globalKnownHostsFiles: fileList('globalknownhostsfile', DEFAULT_GLOBAL_KNOWN_HOSTS),
    hashKnownHosts: flag('hashknownhosts', false),
    hostKeyAlias: hostKeyAlias === undefined ? undefined : hostKeyAlias.toLowerCase(),
    serverAliveInterval: time('serveraliveinterval') ?? 0,
    serverAliveCountMax: Number(get('serveralivecountmax') ?? '3'),
    batchMode: flag('batchmode', false),
    passwordAuthentication: flag('passwordauthentication', true),
    pubkeyAuthentication: flag('pubkeyauthentication', true),
    kbdInteractiveAuthentication: flag('kbdinteractiveauthentication', true),
    origins,
    notes: state.notes,
  };
}

/** The name host keys are recorded and looked up under: alias, or `[host]:port`. */
export function knownHostsName(host: Pick<ResolvedHost, 'hostname' | 'port' | 'hostKeyAlias'>): string {
  return host.hostKeyAlias ?? hostPort(host.hostname, host.port);
}

/** "pi-07 (10.0.0.17)" or just "10.0.0.17": how errors name a host. */
export function hostLabel(host: Pick<ResolvedHost, 'alias' | 'hostname'>): string {
  return host.alias === host.hostname ? host.alias : `${host.alias} (${host.hostname})`;
}
