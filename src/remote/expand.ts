/**
 * The small value languages of ssh_config(5): `~` in file names, `%`
 * tokens, `${VAR}` environment references, time intervals and yes/no flags.
 *
 * All pure; the local facts they need (home directory, user, host name,
 * environment) come in a `LocalContext`, so tests pass their own.
 */
import { ConfigError } from '../errors.js';
import { showValue } from './destination.js';

/** What expansions need to know about this machine. */
export interface LocalContext {
  /** Home directory of the local user (`~`, `%d`). */
  home: string;
  /** Local user name (`%u`, default remote user). */
  user: string;
  /** Local uid (`%i`). */
  uid: number;
  /** Local host name (`%l`; `%L` is its first label). */
  hostname: string;
  /** Environment for `${VAR}` and SSH_AUTH_SOCK. */
  env: Readonly<Record<string, string | undefined>>;
  /** Home directory of another local user, for `~user/…`. */
  homeOf?: (user: string) => string | undefined;
}

/** Where a value came from, for error messages: `file:line`. */
export type Origin = string;

/** `~`, `~/path`, `~user/path` (OpenSSH misc.c tilde_expand). */
export function expandTilde(path: string, local: LocalContext, origin: Origin): string {
  if (!path.startsWith('~')) return path;
  const slash = path.indexOf('/');
  const name = slash < 0 ? path.slice(1) : path.slice(1, slash);
  const rest = slash < 0 ? '' : path.slice(slash).replace(/^\/+/, '');
  let home: string | undefined = local.home;
  if (name !== '') {
    home = name === local.user ? local.home : local.homeOf?.(name);
    if (home === undefined) throw new ConfigError(`${origin}: no such user ${showValue(name)} in ${showValue(path)}`);
  }
  const base = home.endsWith('/') ? home : `${home}/`;
  return `${base}${rest}`;
}

/**
 * `%x` tokens (and `%%`). An unknown token is an error, as in OpenSSH's
 * percent_expand. With `dollar`, `${NAME}` is replaced from the environment
 * first; an unset variable is an error (misc.c percent_dollar_expand).
 */
export function expandTokens(
  value: string,
  tokens: Readonly<Record<string, string>>,
  origin: Origin,
  keyword: string,
  env?: LocalContext['env'],
): string {
  let text = value;
  if (env) {
    text = text.replace(/\$\{([^}]*)\}/g, (_m, name: string) => {
      const v = env[name];
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || v === undefined) {
        throw new ConfigError(`${origin}: ${keyword}: environment variable ${showValue(name)} is not set`);
      }
      return v;
    });
  }
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '%') {
      out += c;
      continue;
    }
    const t = text[++i];
    if (t === '%') out += '%';
    else if (t !== undefined && Object.hasOwn(tokens, t)) out += tokens[t];
    else {
      throw new ConfigError(
        `${origin}: ${keyword} ${showValue(value)}: unknown token ${t === undefined ? '"%" at the end' : `%${t}`}`,
      );
    }
  }
  return out;
}

/** An OpenSSH time value: `30`, `30s`, `1m30s`, `1h`… in seconds (misc.c convtime). */
export function parseTime(text: string): number | undefined {
  if (!/^(?:[0-9]+(?:\.[0-9]+)?[sSmMhHdDwW]?)+$/.test(text)) return undefined;
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  let seenSeconds = false;
  for (const m of text.matchAll(/([0-9]+(?:\.[0-9]+)?)([sSmMhHdDwW]?)/g)) {
    const unit = (m[2] || 's').toLowerCase();
    const num = m[1] ?? '';
    if (unit === 's') {
      if (seenSeconds) return undefined;
      seenSeconds = true;
    } else if (num.includes('.')) {
      return undefined;
    }
    total += Number(num) * (units[unit] ?? 1);
  }
  return total;
}

/** yes/true/no/false (case-insensitive); undefined for anything else. */
export function parseFlag(text: string): boolean | undefined {
  const v = text.toLowerCase();
  if (v === 'yes' || v === 'true') return true;
  if (v === 'no' || v === 'false') return false;
  return undefined;
}
