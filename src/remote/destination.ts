/**
 * Destinations as users type them: `host`, `user@host`, `user@host:port`,
 * `[v6addr]:port`, `user@[v6addr]:port` and `ssh://[user@]host[:port]`.
 *
 * A destination becomes a DNS name, a `%h` token in config values and a
 * known_hosts entry, so it is checked before anything else happens. The
 * rules are stricter than OpenSSH's (ssh.c refuses shell metacharacters,
 * whitespace, control characters and a leading `-`; readconf.c
 * ssh_valid_hostname/ssh_valid_ruser): here a host name is letters, digits,
 * `.`, `_` and `-` (not first), or an IPv6 address in brackets, and a user
 * name is letters, digits, `.`, `_`, `-` and `@` (not first). Anything else
 * is refused with a UsageError, never passed on.
 */
import { UsageError } from '../errors.js';
import { isPortText } from '../util/port.js';

export interface Destination {
  /** The text the user gave. */
  text: string;
  /** Host name, alias or address (IPv6 without brackets). */
  host: string;
  user?: string;
  port?: number;
}

const HOST_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const IPV6 = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;
const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9._@-]*$/;

/** Shows a value in an error message without letting it break the line. */
export function showValue(value: string): string {
  return JSON.stringify(value);
}

export function isValidHostName(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  if (HOST_NAME.test(host)) return true;
  return host.includes(':') && IPV6.test(host);
}

export function isValidUserName(user: string): boolean {
  return user.length > 0 && user.length <= 64 && USER_NAME.test(user);
}

export function parsePort(text: string, what = 'port'): number {
  if (!isPortText(text)) {
    throw new UsageError(`invalid ${what} ${showValue(text)}`, 'a port is a number from 1 to 65535');
  }
  return Number(text);
}

function badDestination(text: string, why: string): UsageError {
  return new UsageError(
    `invalid SSH destination ${showValue(text)}: ${why}`,
    'use host, user@host, user@host:port or an alias from your SSH config',
  );
}

/** Parses and validates one destination; throws UsageError for anything odd. */
export function parseDestination(text: string): Destination {
  if (text.length === 0) throw badDestination(text, 'it is empty');
  if (/[\s\x00-\x1f\x7f]/.test(text)) throw badDestination(text, 'it contains whitespace or control characters');
  if (text.startsWith('-')) throw badDestination(text, 'it starts with "-"');

  let rest = text;
  let uriPort: number | undefined;
  const uri = /^ssh:\/\/(.*)$/i.exec(text);
  if (uri) {
    rest = uri[1] ?? '';
    if (rest.endsWith('/')) rest = rest.slice(0, -1);
  }

  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!isValidUserName(user)) throw badDestination(text, `user name ${showValue(user)} is not allowed`);
  }

  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw badDestination(text, 'missing "]"');
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw badDestination(text, `unexpected ${showValue(after)} after "]"`);
      portText = after.slice(1);
    }
    if (!host.includes(':') || !IPV6.test(host)) throw badDestination(text, `${showValue(host)} is not an IPv6 address`);
  } else {
    const colons = rest.split(':').length - 1;
    if (colons === 1) {
      const i = rest.indexOf(':');
      host = rest.slice(0, i);
      portText = rest.slice(i + 1);
    } else {
      // No colon, or a bare IPv6 address (which cannot carry a port).
      host = rest;
    }
  }
  if (portText !== undefined) {
    try {
      uriPort = parsePort(portText);
    } catch {
      throw badDestination(text, `port ${showValue(portText)} is not a number from 1 to 65535`);
    }
  }
  if (!isValidHostName(host)) {
    throw badDestination(
      text,
      host === '' ? 'the host is missing' : `host ${showValue(host)} may only contain letters, digits, ".", "_" and "-"`,
    );
  }
  const dest: Destination = { text, host };
  if (user !== undefined) dest.user = user;
  if (uriPort !== undefined) dest.port = uriPort;
  return dest;
}

/** Formats host and port as known_hosts and OpenSSH messages do: `[host]:port` unless port 22. */
export function hostPort(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** A destination checked without throwing (for the settings layer). */
export function checkDestination(text: string): { ok: true; value: Destination } | { ok: false; error: string } {
  try {
    return { ok: true, value: parseDestination(text) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
