/**
 * Which OpenSSH config files are read, and reading them, like `ssh` does.
 *
 * Without `-F`: ~/.ssh/config (must not be writable by others, like ssh
 * checks), then /etc/ssh/ssh_config; missing files are fine. With
 * `-F <file>`: only that file, which must exist; `-F none` reads nothing.
 * `Include`d files are found with glob(3)-style patterns (`*`, `?`, `[…]`;
 * wildcards skip dot files) and read in sorted order.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir, hostname as osHostname, userInfo } from 'node:os';
import { ConfigError } from '../errors.js';
import { showValue } from './destination.js';
import type { LocalContext } from './expand.js';
import {
  type ConfigSource,
  type HostOverrides,
  type IncludeReader,
  resolveHost,
  type ResolvedHost,
} from './ssh-config.js';
import type { Destination } from './destination.js';

export interface ConfigFileOptions {
  /** `-F <file>`; "none" reads no file at all. */
  configFile?: string;
  local?: LocalContext;
}

/** Facts about this machine and user, for `~`, `%` tokens and defaults. */
export function localContext(env: NodeJS.ProcessEnv = process.env): LocalContext {
  let user = env.USER ?? 'root';
  let home = env.HOME ?? homedir();
  let uid = process.getuid?.() ?? 0;
  try {
    const info = userInfo();
    user = info.username;
    uid = info.uid;
    // Like ssh: the home directory comes from the password database, not $HOME.
    home = info.homedir;
  } catch {
    // No passwd entry for this uid: keep the environment's values.
  }
  return { home, user, uid, hostname: osHostname(), env, homeOf: passwdHome };
}

function passwdHome(user: string): string | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === user && f[5]) return f[5];
    }
  } catch {
    // unreadable passwd: unknown user
  }
  return undefined;
}

function checkPermissions(path: string, mode: number, uid: number): void {
  const me = process.getuid?.() ?? 0;
  if ((uid !== 0 && uid !== me) || (mode & 0o022) !== 0) {
    throw new ConfigError(`bad owner or permissions on ${path}`, `ssh refuses it too: run chmod go-w ${showValue(path)}`);
  }
}

function readConfigFile(path: string, opts: { mustExist: boolean; checkPerm: boolean }): string | undefined {
  let text: string;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new ConfigError(`SSH config ${path} is a directory`);
    if (opts.checkPerm) checkPermissions(path, st.mode, st.uid);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !opts.mustExist) return undefined;
    throw new ConfigError(`cannot read SSH config ${path}: ${(err as Error).message}`);
  }
  return text;
}

/** The config files ssh would read, as texts, in reading order. */
export function loadConfigSources(opts: ConfigFileOptions = {}): ConfigSource[] {
  const local = opts.local ?? localContext();
  if (opts.configFile !== undefined) {
    if (opts.configFile.toLowerCase() === 'none') return [];
    const text = readConfigFile(opts.configFile, { mustExist: true, checkPerm: false });
    return [{ path: opts.configFile, text: text ?? '', kind: 'user' }];
  }
  const sources: ConfigSource[] = [];
  const userPath = `${local.home.replace(/\/$/, '')}/.ssh/config`;
  const userText = readConfigFile(userPath, { mustExist: false, checkPerm: true });
  if (userText !== undefined) sources.push({ path: userPath, text: userText, kind: 'user' });
  const sysText = readConfigFile('/etc/ssh/ssh_config', { mustExist: false, checkPerm: false });
  if (sysText !== undefined) sources.push({ path: '/etc/ssh/ssh_config', text: sysText, kind: 'system' });
  return sources;
}

/** A glob(3) path segment as a RegExp: `*`, `?`, `[…]`/`[!…]`. */
function segmentRegExp(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] ?? '';
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, close);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** Expands an absolute glob pattern into existing paths, sorted. */
export function globPaths(pattern: string): string[] {
  const segments = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  let paths = [''];
  for (const seg of segments.slice(1)) {
    const next: string[] = [];
    const wild = /[*?[]/.test(seg);
    for (const base of paths) {
      const dir = base === '' ? '/' : base;
      if (!wild) {
        if (existsSync(`${base}/${seg}`)) next.push(`${base}/${seg}`);
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      const re = segmentRegExp(seg);
      for (const name of names.sort()) {
        if (name.startsWith('.') && !seg.startsWith('.')) continue;
        if (re.test(name)) next.push(`${base}/${name}`);
      }
    }
    paths = next;
  }
  return paths;
}

/** Include reader on the real file system (included files are permission-checked, like ssh). */
export const fsIncludeReader: IncludeReader = (pattern) => {
  const out: Array<{ path: string; text: string }> = [];
  for (const path of globPaths(pattern)) {
    let st;
    try {
      st = statSync(path);
    } catch {
      continue; // a glob result or a literal name that does not exist: skipped, like ssh
    }
    if (st.isDirectory()) continue;
    const text = readConfigFile(path, { mustExist: false, checkPerm: true });
    if (text !== undefined) out.push({ path, text });
  }
  return out;
};

export interface ResolveFromFilesOptions extends ConfigFileOptions {
  overrides?: HostOverrides;
  jumpOverride?: Destination[];
}

/** `resolveHost` with the real config files of this user. */
export function resolveHostFromFiles(destination: string, opts: ResolveFromFilesOptions = {}): ResolvedHost {
  const local = opts.local ?? localContext();
  const sources = loadConfigSources({ ...opts, local });
  return resolveHost(destination, {
    sources,
    local,
    overrides: opts.overrides,
    readInclude: fsIncludeReader,
    jumpOverride: opts.jumpOverride,
  });
}
