/**
 * Which LAN the boot server is on: the IPv4 network of the interface that
 * carries the default route, for `render-dnsmasq` without `--subnet`.
 *
 * `chooseSubnet` is pure (route table text + interface list in, a subnet or
 * the list of candidates out) so every case is unit-tested; `detectSubnet`
 * feeds it the live `/proc/net/route` and `os.networkInterfaces()`.
 */
import { readFile } from 'node:fs/promises';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { maskToPrefix, networkOf, parseIPv4 } from '../util/ipv4.js';

export interface SubnetCandidate {
  interface: string;
  cidr: string;
  address: string;
}

export type SubnetChoice =
  | { ok: true; subnet: SubnetCandidate }
  | { ok: false; reason: string; candidates: SubnetCandidate[] };

/** Interfaces named in default routes (destination 0.0.0.0/0) of /proc/net/route. */
export function defaultRouteInterfaces(procNetRoute: string): string[] {
  const out: string[] = [];
  for (const line of procNetRoute.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, , flags, , , , mask] = f;
    // RTF_UP = 0x1
    if (dest === '00000000' && mask === '00000000' && (parseInt(flags!, 16) & 1) === 1) {
      if (!out.includes(iface!)) out.push(iface!);
    }
  }
  return out;
}

export function candidatesOf(
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>,
  only?: readonly string[],
): SubnetCandidate[] {
  const out: SubnetCandidate[] = [];
  for (const [name, addrs] of Object.entries(interfaces)) {
    if (only && !only.includes(name)) continue;
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal) continue;
      const addr = parseIPv4(a.address);
      const mask = parseIPv4(a.netmask);
      if (addr === null || mask === null) continue;
      const prefix = maskToPrefix(mask);
      if (prefix === null || prefix === 32) continue;
      const net = networkOf(addr, prefix);
      const cidr = `${net.network}/${prefix}`;
      if (!out.some((c) => c.cidr === cidr && c.interface === name)) out.push({ interface: name, cidr, address: a.address });
    }
  }
  return out;
}

export function chooseSubnet(procNetRoute: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): SubnetChoice {
  const defaults = defaultRouteInterfaces(procNetRoute);
  if (defaults.length === 0) {
    return { ok: false, reason: 'there is no IPv4 default route', candidates: candidatesOf(interfaces) };
  }
  const onDefault = candidatesOf(interfaces, defaults);
  const distinct = [...new Set(onDefault.map((c) => c.cidr))];
  if (distinct.length === 1) return { ok: true, subnet: onDefault[0]! };
  if (distinct.length === 0) {
    return {
      ok: false,
      reason: `the default route's interface (${defaults.join(', ')}) has no IPv4 network`,
      candidates: candidatesOf(interfaces),
    };
  }
  return {
    ok: false,
    reason: `the default route is on ${defaults.length > 1 ? 'several interfaces' : 'an interface with several networks'}`,
    candidates: onDefault,
  };
}

export async function detectSubnet(): Promise<SubnetChoice> {
  let routes = '';
  try {
    routes = await readFile('/proc/net/route', 'utf8');
  } catch {
    // Not Linux, or /proc hidden: no default route can be seen.
  }
  return chooseSubnet(routes, networkInterfaces());
}
