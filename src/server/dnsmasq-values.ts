/**
 * The values of pinet's dnsmasq config, checked: the Pis' subnet, the TFTP
 * root, an interface name, the menu text, a DHCP range; and the constants
 * of Pi netboot with dnsmasq. Light on purpose: the settings catalog loads
 * it on every start, to check flags as commander parses them.
 */
import { isAbsolute } from 'node:path';
import { bad, ok, type Checked } from '../util/checked.js';
import { DEFAULT_TFTP_ROOT, RPI_MENU_TEXT } from './names.js';
import { inNetwork, parseCidr, parseIPv4, type IPv4Net } from '../util/ipv4.js';

/** MAC prefixes (OUIs) of Raspberry Pi boards. */
export const RPI_OUIS = ['b8:27:eb', 'dc:a6:32', 'e4:5f:01', 'd8:3a:dd', '28:cd:c1', '2c:cf:67', '88:a2:9e'] as const;
export { DEFAULT_TFTP_ROOT, RPI_MENU_TEXT };

const show = (value: string): string => JSON.stringify(value);

export interface DhcpRange {
  start: string;
  end: string;
  lease?: string;
}

const CONTROL = /[\u0000-\u001f\u007f]/;



export function checkSubnet(value: string): Checked<{ subnet: string; net?: IPv4Net }> {
  if (value.includes('/')) {
    const net = parseCidr(value);
    if (!net) return bad('not an IPv4 network', 'write it as a CIDR like 10.86.5.0/24 or as an address like 10.86.5.255');
    if (net.prefix < 8 || net.prefix > 30) return bad('prefix length must be between /8 and /30');
    return ok({ subnet: value, net });
  }
  if (parseIPv4(value) === null) return bad('not an IPv4 address or CIDR', 'write it like 10.86.5.0/24 or 10.86.5.255');
  return ok({ subnet: value });
}

/** A directory for dnsmasq's config (tftp-root): absolute, no control characters, fits a config line. */
export function checkConfigPath(value: string): Checked<string> {
  if (value === '') return bad('must not be empty');
  if (CONTROL.test(value)) return bad('must not contain newlines or control characters');
  if (!isAbsolute(value)) return bad('must be an absolute path', `e.g. ${DEFAULT_TFTP_ROOT}`);
  if (value.length > 900) return bad('is too long for a dnsmasq config line');
  return ok(value);
}

export function checkInterfaceName(value: string): Checked<string> {
  // Linux allows up to 15 bytes and forbids '/', whitespace and ':' (alias syntax) in names;
  // dnsmasq also accepts a trailing '*' as a wildcard.
  if (!/^[A-Za-z0-9_.-]{1,15}\*?$/.test(value) || value === '.' || value === '..') return bad('not a network interface name', 'use a name from `ip link`, e.g. eth0');
  return ok(value);
}

export function checkMenuText(value: string): Checked<string> {
  if (!/^[\x20-\x7e]{1,200}$/.test(value) || /["\\]/.test(value)) return bad('menu text must be 1-200 printable ASCII characters without quotes or backslashes');
  return ok(value);
}

const LEASE = /^([0-9]{1,9}[smhdw]?|infinite)$/;

/** `<start>,<end>[,<lease>]`, inside `net` when one is given. */
export function checkRange(value: string, net?: IPv4Net): Checked<DhcpRange> {
  const parts = value.split(',');
  if (parts.length < 2 || parts.length > 3) return bad('expected <start>,<end>[,<lease>]', 'e.g. --range 10.86.5.100,10.86.5.200,12h');
  const [start, end, lease] = parts as [string, string, string | undefined];
  const s = parseIPv4(start);
  const e = parseIPv4(end);
  if (s === null) return bad(`start ${show(start)} is not an IPv4 address`);
  if (e === null) return bad(`end ${show(end)} is not an IPv4 address`);
  if (s > e) return bad('start is after end');
  if (lease !== undefined && !LEASE.test(lease)) return bad(`lease ${show(lease)} must be a number with an optional unit (s, m, h, d, w) or "infinite"`);
  if (lease !== undefined && /^[0-9]+[sm]?$/.test(lease)) {
    const secs = Number(lease.replace(/[sm]$/, '')) * (lease.endsWith('m') ? 60 : 1);
    if (secs < 120) return bad('dnsmasq requires a lease of at least 2 minutes');
  }
  if (net && (!inNetwork(start, net) || !inNetwork(end, net))) return bad(`range is not inside the subnet ${net.network}/${net.prefix}`);
  return ok(lease === undefined ? { start, end } : { start, end, lease });
}

