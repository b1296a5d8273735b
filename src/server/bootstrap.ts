/**
 * The seed article's bootstrap traps, as pure checks on plain facts: the
 * NFS server must not itself netboot from this boot server; an NFS server
 * named by host name makes every netboot depend on DNS, so the resolver must
 * not be a netbooted host (nor unreachable); the export must let in the Pis'
 * subnet and the boot server and nobody else; the boot server's own mount
 * needs `_netdev`. `pinet server setup` refuses or warns with these before
 * it changes anything, and `pinet doctor` runs them on a server set up by
 * hand.
 */
import { isIPv4, type IPv4Net } from '../util/ipv4.js';
import type { Inventory, InventoryEntry } from './state.js';
import { clientsCover, clientsCoverNet } from './nfs-export.js';

export interface TrapFinding {
  id: string;
  level: 'ok' | 'warn' | 'fail' | 'skip';
  finding: string;
  fix?: string;
}

/** The address a Pi was reached at, from the inventory ("pi-07 (10.0.0.17)", "10.0.0.17:22"). */
export function inventoryAddress(e: InventoryEntry): string | undefined {
  const m = /(?:^|\()(\d+\.\d+\.\d+\.\d+)(?::\d+)?\)?$/.exec(e.address ?? '') ?? /^(?:[^@]*@)?(\d+\.\d+\.\d+\.\d+)(?::\d+)?$/.exec(e.host);
  return m?.[1];
}

/** Which enrolled Pi, if any, is `who` (a host name, an address, or one of `addresses`/`macs`). */
export function enrolledPiNamed(inv: Inventory, who: { names?: string[]; addresses?: string[]; macs?: string[] }): InventoryEntry | undefined {
  const names = new Set((who.names ?? []).map((n) => n.toLowerCase()));
  const addrs = new Set(who.addresses ?? []);
  const macs = new Set((who.macs ?? []).map((m) => m.toLowerCase()));
  return Object.values(inv.pis).find((e) => {
    const host = e.host.replace(/^[^@]*@/, '').replace(/:\d+$/, '').toLowerCase();
    const addr = inventoryAddress(e);
    return names.has(host) || (addr !== undefined && addrs.has(addr)) || (e.mac !== undefined && macs.has(e.mac.toLowerCase()));
  });
}

/** The NFS server is not a Pi that netboots from this boot server. */
export function nfsServerNotNetbooted(inv: Inventory, server: { names?: string[]; addresses?: string[]; macs?: string[] }): TrapFinding {
  const pi = enrolledPiNamed(inv, server);
  if (!pi) return { id: 'bootstrap.nfs-server', level: 'ok', finding: 'the NFS server is not one of the Pis that netboot from this server' };
  return {
    id: 'bootstrap.nfs-server',
    level: 'fail',
    finding: `the NFS server is ${pi.host} (serial ${pi.serial}), a Pi that netboots from this boot server: after a power loss neither can come up, each waiting for the other`,
    fix: 'serve the export from a machine that boots from its own disk (the article: "it should not be located on a host which is netbooting itself")',
  };
}

/** `nameserver` lines of resolv.conf. */
export function nameservers(resolvConf: string): string[] {
  return [...resolvConf.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!);
}

/**
 * An NFS server named by host name: every Pi's fstab mount and the boot
 * server's own mount need DNS at boot, so no resolver may be a netbooted
 * Pi, and one must answer. `answers` says, per nameserver, whether a query
 * to it was answered (undefined: not tried).
 */
export function nameResolution(nfsHost: string, resolvConf: string, inv: Inventory, answers: Record<string, boolean | undefined> = {}): TrapFinding {
  if (isIPv4(nfsHost) || nfsHost.startsWith('[')) return { id: 'bootstrap.dns', level: 'ok', finding: `the NFS server is given by address (${nfsHost}): netboot does not depend on DNS` };
  const servers = nameservers(resolvConf);
  const netbooted = servers.map((s) => ({ s, pi: enrolledPiNamed(inv, { addresses: [s] }) })).filter((x) => x.pi);
  if (netbooted.length) {
    return {
      id: 'bootstrap.dns',
      level: 'fail',
      finding: `the NFS server is named ${nfsHost}, and the resolver ${netbooted.map((x) => `${x.s} (${x.pi!.host}, netbooted from here)`).join(', ')} is a Pi that netboots: after a power loss the name cannot be resolved, so no Pi finds its boot files`,
      fix: `give --nfs the NFS server's IP address, or resolve names on a machine that boots from its own disk (the article: "don't make your local DNS dependent on a netbooted machine")`,
    };
  }
  if (servers.length === 0) {
    return { id: 'bootstrap.dns', level: 'warn', finding: `the NFS server is named ${nfsHost}, and /etc/resolv.conf lists no nameserver`, fix: "give --nfs the NFS server's IP address" };
  }
  const silent = servers.filter((s) => answers[s] === false);
  if (silent.length === servers.length) {
    return { id: 'bootstrap.dns', level: 'warn', finding: `the NFS server is named ${nfsHost}, and no nameserver answers (${silent.join(', ')}): mounts by name fail`, fix: "give --nfs the NFS server's IP address, or fix the resolver" };
  }
  return {
    id: 'bootstrap.dns',
    level: 'warn',
    finding: `the NFS server is named ${nfsHost}: every netboot depends on DNS (${servers.join(', ')}); none of these is a netbooted Pi`,
    fix: "an IP address in --nfs takes DNS out of the boot path",
  };
}

/** The export lets in the Pis' subnet and the boot server. */
export function exportClients(clients: readonly string[], pis: IPv4Net | undefined, bootServer: string | undefined): TrapFinding {
  const world = clients.filter((c) => c === '*' || c === '0.0.0.0/0' || c === '<world>');
  if (world.length) return { id: 'bootstrap.clients', level: 'fail', finding: `the export is open to everyone (${world.join(', ')})`, fix: "limit it to the Pis' subnet and the boot server" };
  const missing: string[] = [];
  if (pis && !clientsCoverNet(clients, pis)) missing.push(`the Pis' subnet ${pis.network}/${pis.prefix}`);
  if (bootServer && !clientsCover(clients, bootServer)) missing.push(`the boot server ${bootServer}`);
  if (missing.length) return { id: 'bootstrap.clients', level: 'fail', finding: `the export's clients (${clients.join(', ') || 'none'}) leave out ${missing.join(' and ')}`, fix: `add ${missing.join(' and ')} to the export's clients` };
  return { id: 'bootstrap.clients', level: 'ok', finding: `exported to ${clients.join(', ')}: the Pis and the boot server, nobody else` };
}

/** The boot server's own NFS mount waits for the network (`_netdev`). */
export function mountWaitsForNetwork(options: readonly string[]): TrapFinding {
  if (options.includes('_netdev')) return { id: 'bootstrap.netdev', level: 'ok', finding: 'the boot server mounts the export with _netdev' };
  return { id: 'bootstrap.netdev', level: 'warn', finding: `the boot server mounts the export without _netdev (${options.join(',')}): at boot the mount may run before the network is up`, fix: 'add _netdev to its options' };
}
