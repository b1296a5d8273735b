/**
 * IPv4 addresses and networks, strictly parsed (no leading zeros, no
 * shorthand forms like `10.1`), as numbers for arithmetic.
 */

const OCTET = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

export function parseIPv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p)) return null;
    n = n * 256 + Number(p);
  }
  return n >>> 0;
}

export function isIPv4(text: string): boolean {
  return parseIPv4(text) !== null;
}

export function formatIPv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

export function prefixToMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Prefix length of a contiguous netmask, or null if the mask has holes. */
export function maskToPrefix(mask: number): number | null {
  const inv = ~mask >>> 0;
  if ((inv & (inv + 1)) !== 0) return null;
  return 32 - Math.log2(inv + 1);
}

export interface IPv4Net {
  /** The address as given (the network for a CIDR written with host bits). */
  address: string;
  prefix: number;
  network: string;
  netmask: string;
  broadcast: string;
}

export function networkOf(address: number, prefix: number): IPv4Net {
  const mask = prefixToMask(prefix);
  const net = (address & mask) >>> 0;
  return {
    address: formatIPv4(address),
    prefix,
    network: formatIPv4(net),
    netmask: formatIPv4(mask),
    broadcast: formatIPv4((net | ~mask) >>> 0),
  };
}

/** `a.b.c.d/nn` → network; null when malformed. */
export function parseCidr(text: string): IPv4Net | null {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text);
  if (!m) return null;
  const addr = parseIPv4(m[1]!);
  const prefix = Number(m[2]);
  if (addr === null || prefix > 32 || String(prefix) !== m[2]) return null;
  return networkOf(addr, prefix);
}

export function inNetwork(address: string, net: IPv4Net): boolean {
  const a = parseIPv4(address);
  const n = parseIPv4(net.network);
  if (a === null || n === null) return false;
  return ((a & prefixToMask(net.prefix)) >>> 0) === n;
}
