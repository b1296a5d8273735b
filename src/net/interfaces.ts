/**
 * A network interface's IPv4 address and directed broadcast, from
 * `os.networkInterfaces()`: what `pinet doctor --dhcp-probe <iface>` needs to
 * send its DISCOVER out of that interface (see src/net/dhcp.ts for why a
 * directed broadcast and not 255.255.255.255).
 */
import { existsSync } from 'node:fs';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { UsageError } from '../errors.js';
import { maskToPrefix, networkOf, parseIPv4 } from '../util/ipv4.js';

export interface InterfaceIPv4 {
  name: string;
  address: string;
  netmask: string;
  prefix: number;
  network: string;
  /** The subnet's directed broadcast, e.g. 10.86.5.255 for 10.86.5.12/24. */
  broadcast: string;
  mac: string;
}

/** Linux: whether a link of that name exists, up or down. */
function sysfsLinkExists(name: string): boolean {
  return /^[^/\0]{1,15}$/.test(name) && name !== '.' && name !== '..' && existsSync(`/sys/class/net/${name}`);
}

function isIPv4(info: NetworkInterfaceInfo): boolean {
  // Node 18.0-18.3 reported the family as the number 4.
  return info.family === 'IPv4' || (info.family as unknown) === 4;
}

/**
 * The first IPv4 address of interface `name`. Throws UsageError naming the
 * interfaces that exist when `name` is unknown, and when it has no IPv4
 * address or one without a broadcast (a /31 or /32).
 */
export function interfaceIPv4(
  name: string,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
  linkExists: (name: string) => boolean = sysfsLinkExists,
): InterfaceIPv4 {
  const infos = interfaces[name];
  if (!infos) {
    const known = Object.keys(interfaces).sort();
    const listed = known.length > 0 ? `interfaces that are up: ${known.join(', ')}` : 'no interface is up';
    // Node lists only interfaces that are up and running, so tell "down" from "missing".
    if (linkExists(name)) {
      throw new UsageError(`network interface ${JSON.stringify(name)} is down (not up, or no carrier)`, `bring it up (ip link set ${name} up) and check its cable; ${listed}`);
    }
    throw new UsageError(`network interface ${JSON.stringify(name)} does not exist`, listed);
  }
  const info = infos.find(isIPv4);
  if (!info) {
    throw new UsageError(`network interface ${JSON.stringify(name)} has no IPv4 address`, `give it an address first, e.g. with: ip addr add 10.86.5.2/24 dev ${name}`);
  }
  const address = parseIPv4(info.address);
  const mask = parseIPv4(info.netmask);
  const prefix = mask === null ? null : maskToPrefix(mask);
  if (address === null || prefix === null) {
    throw new UsageError(`network interface ${JSON.stringify(name)} reports an address ${info.address} with netmask ${info.netmask} that pinet cannot read`);
  }
  if (prefix >= 31) {
    throw new UsageError(
      `network interface ${JSON.stringify(name)} has the address ${info.address}/${prefix}, which has no broadcast address`,
      'probe an interface on the Pis\' LAN (a /30 or larger subnet)',
    );
  }
  const net = networkOf(address, prefix);
  return { name, address: info.address, netmask: net.netmask, prefix, network: net.network, broadcast: net.broadcast, mac: info.mac };
}

/** Every IPv4 address of this machine (network namespace), loopback included. */
export function localIPv4Addresses(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string[] {
  return Object.values(interfaces).flatMap((infos) => (infos ?? []).filter(isIPv4).map((i) => i.address));
}
