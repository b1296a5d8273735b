/**
 * Doctor's checks of the seed article's bootstrap traps on a boot server
 * set up by hand (or by pinet server setup): how the export directory is
 * mounted (from /proc/mounts and /etc/fstab), who the NFS server is and
 * whether it netboots from here, whether its name depends on a netbooted
 * resolver, whether its export lets the Pis and this machine in (from
 * `showmount -e`, when the NFS server answers it), and `_netdev`. The
 * verdicts are src/server/bootstrap.ts's; this module gathers the facts.
 * An export directory that is not an NFS mount has none of these checks.
 */
import { lookup, Resolver } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { parseFstab } from '../../pi/fstab.js';
import { exportClients, mountWaitsForNetwork, nameResolution, nameservers, nfsServerNotNetbooted, type TrapFinding } from '../../server/bootstrap.js';
import type { Inventory } from '../../server/state.js';
import { isIPv4, type IPv4Net } from '../../util/ipv4.js';
import { fail, ok, skip, warn, type Check } from './model.js';

const TITLES: Record<string, string> = {
  'bootstrap.nfs-server': 'NFS server',
  'bootstrap.dns': 'NFS server name',
  'bootstrap.clients': 'export clients',
  'bootstrap.netdev': 'mount at boot',
};

export function toCheck(f: TrapFinding): Check {
  const title = TITLES[f.id] ?? f.id;
  if (f.level === 'ok') return ok(f.id, title, f.finding);
  if (f.level === 'skip') return skip(f.id, title, f.finding);
  return (f.level === 'fail' ? fail : warn)(f.id, title, f.finding, f.fix ?? '');
}

/** The NFS mount at `dir` in /proc/mounts text. */
export function nfsMountAt(mounts: string, dir: string): { host: string; path: string; options: string[] } | undefined {
  let found: { host: string; path: string; options: string[] } | undefined;
  for (const line of mounts.split('\n')) {
    const [src, mp, type, opts] = line.split(' ');
    if (mp !== dir.replace(/\/+$/, '') || !src || !/^nfs4?$/.test(type ?? '')) continue;
    const m = /^(\[[^\]]+\]|[^:]+):(.*)$/.exec(src);
    if (m) found = { host: m[1]!, path: m[2]!, options: (opts ?? '').split(',') };
  }
  return found;
}

/** The options of /etc/fstab's line for `dir`, when it has one. */
export function fstabOptions(fstab: string, dir: string): string[] | undefined {
  const line = parseFstab(fstab).find((l) => l.kind === 'entry' && l.entry!.target.replace(/\/+$/, '') === dir.replace(/\/+$/, ''));
  return line?.entry?.options;
}

async function answers(servers: string[]): Promise<Record<string, boolean>> {
  const out: Record<string, boolean> = {};
  await Promise.all(
    servers.map(async (s) => {
      const r = new Resolver({ timeout: 1500, tries: 1 });
      r.setServers([s]);
      out[s] = await r.resolve4('localhost').then(
        () => true,
        (err: NodeJS.ErrnoException) => err.code !== 'ETIMEOUT' && err.code !== 'ECONNREFUSED',
      );
    }),
  );
  return out;
}

export interface BootstrapInput {
  exportDir: string;
  inventory: Inventory;
  pisNet?: IPv4Net;
  bootServer?: string;
  /** The export's clients as the NFS server announces them (showmount -e), when that answered. */
  exportedTo?: string[];
}

export async function checkBootstrap(o: BootstrapInput): Promise<Check[]> {
  const [mounts, fstab, resolvConf] = await Promise.all(['/proc/self/mounts', '/etc/fstab', '/etc/resolv.conf'].map((p) => readFile(p, 'utf8').catch(() => '')));
  const m = nfsMountAt(mounts!, o.exportDir);
  // Not an NFS mount (a local disk, a bind mount): there is no NFS server to check.
  if (!m) return [];
  const addresses = isIPv4(m.host) ? [m.host] : await lookup(m.host, { all: true, family: 4 }).then((a) => a.map((x) => x.address), () => []);
  const checks: Check[] = [toCheck(nfsServerNotNetbooted(o.inventory, { names: [m.host], addresses }))];
  const servers = nameservers(resolvConf!);
  checks.push(toCheck(nameResolution(m.host, resolvConf!, o.inventory, isIPv4(m.host) ? {} : await answers(servers))));
  checks.push(o.exportedTo ? toCheck(exportClients(o.exportedTo, o.pisNet, o.bootServer)) : skip('bootstrap.clients', 'export clients', `${m.host} does not list its exports (showmount -e): an NFSv4-only server, or no MOUNT service`));
  const opts = fstabOptions(fstab!, o.exportDir);
  checks.push(opts ? toCheck(mountWaitsForNetwork(opts)) : warn('bootstrap.netdev', 'mount at boot', `/etc/fstab has no line for ${o.exportDir}: the export is not mounted after a reboot`, `add one: ${m.host}:${m.path} ${o.exportDir} nfs defaults,timeo=900,_netdev 0 0 (or pinet server setup --export existing)`));
  return checks;
}
