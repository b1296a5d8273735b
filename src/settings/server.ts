/**
 * `pinet server setup`'s settings from flags, pinet.yaml (`server:`, `nfs`,
 * `export-dir`, `dnsmasq:`) and defaults: the backend, the NFS server, the
 * exported path (default: the path of --nfs), the clients (default: the
 * Pis' subnet and this boot server), the squash, the boot server's mount,
 * pinet's dnsmasq config rendered as render-dnsmasq does, and who dnsmasq's
 * TFTP server reads files as.
 */
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { UsageError } from '../errors.js';
import type { ServerSettings } from '../jobs/server/plan.js';
import { parseNfsSource } from '../pi/fstab.js';
import { find } from '../server/dnsmasq-read.js';
import { tftpIdentity } from '../server/perms.js';
import { parseCidr, inNetwork, type IPv4Net } from '../util/ipv4.js';
import { shellJoin } from '../util/shell.js';
import { CONFIG } from './catalog.js';
import { renderDnsmasqFrom } from './dnsmasq.js';
import { exportDirOf } from './dirs.js';
import type { Settings } from './resolve.js';

const S = CONFIG.server;

/** The Pis' network: the dnsmasq subnet as a CIDR, or the local network that holds the address given. */
export function pisNetwork(subnet: string | undefined): IPv4Net | undefined {
  if (!subnet) return undefined;
  const cidr = parseCidr(subnet);
  if (cidr) return cidr;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family !== 'IPv4' || a.internal || !a.cidr) continue;
      const own = parseCidr(a.cidr);
      const n = own ? parseCidr(`${own.network}/${own.prefix}`) : null;
      if (n && inNetwork(subnet, n)) return n;
    }
  }
  return undefined;
}

/** The address of this machine on `net`. */
export function localAddressIn(net: IPv4Net | undefined): string | undefined {
  if (!net) return undefined;
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal && inNetwork(a.address, net)) return a.address;
  return undefined;
}

export interface ResolvedServer {
  settings: ServerSettings;
  tftpUser: { name: string; uid: number; gid: number; group: string };
  /** Where the Pis reach this machine's TFTP server. */
  tftpAddress?: string;
}

export async function serverSettingsOf(st: Settings, io: { info(m: string): void; warn(m: string): void }): Promise<ResolvedServer> {
  const backend = st.need(S.export, 'server setup needs to know how the export is served: pass --export kernel-nfs, ganesha, ceph or existing', '--export existing changes nothing on the NFS server and only verifies').value;
  const nfs = st.need(CONFIG.nfs, 'server setup needs the NFS export as the Pis and this machine mount it: pass --nfs <server:/path>', 'e.g. --nfs 10.86.5.3:/picluster-boot (an address keeps DNS out of the boot path)');
  const source = parseNfsSource(nfs.value);
  if (!source.ok) throw new UsageError(`${nfs.source}: ${source.error}`);
  const exportDir = exportDirOf(st);
  const dnsmasqConfPath = st.value(S['dnsmasq-conf'])!;
  const rendered = await renderDnsmasqFrom(st, { output: dnsmasqConfPath, tftpRoot: { value: exportDir, source: '--export-dir' }, info: io.info, warn: io.warn });
  const pisNet = rendered.settings.net ?? pisNetwork(rendered.settings.subnet);
  const bootAddr = localAddressIn(pisNet);
  let clients = st.value(S.clients);
  if (!clients || clients.length === 0) {
    if (!pisNet) throw new UsageError("cannot tell the Pis' subnet to export to", 'pass --client <cidr> (repeat it for the boot server), or --subnet as a CIDR');
    clients = [`${pisNet.network}/${pisNet.prefix}`];
    if (bootAddr && !inNetwork(bootAddr, pisNet)) clients.push(bootAddr);
  }
  const on = st.value(S.on);
  const path = st.value(S.path) ?? source.value.path;
  const squash = st.value(S.squash)!;
  const mountOptions = st.value(S['mount-options'])!;

  const tftpUser = await tftpUserHere();

  let ceph: ServerSettings['ceph'];
  if (backend === 'ceph') {
    const C = S.ceph;
    const fs = st.need(C.fs, '--export ceph needs the CephFS file system: pass --ceph-fs <name>', 'ceph fs ls lists them (the article: homenet-fs)').value;
    const cluster = st.need(C.cluster, '--export ceph needs the NFS cluster: pass --ceph-cluster <id>', 'ceph nfs cluster ls lists them (the article: hn-nfs)').value;
    const group = st.value(C.group);
    const subvolume = st.value(C.subvolume) ?? source.value.path.split('/').filter(Boolean).pop();
    if (!subvolume) throw new UsageError('--export ceph needs a subvolume name', 'pass --ceph-subvolume <name>, or a path in --nfs like host:/picluster-boot');
    ceph = { fs, cluster, subvolume, ...(group ? { group } : {}), pseudo: source.value.path, clients, squash, nfsRoot: st.value(CONFIG.enroll.root) === 'nfs', placement: source.value.host };
  }
  const regenerate = shellJoin([
    'pinet', 'server', 'setup', '--export', backend, '--nfs', nfs.value, ...(on ? ['--on', on] : []), '--path', path, ...clients.flatMap((c) => ['--client', c]), '--squash', squash,
  ]);
  const settings: ServerSettings = {
    backend,
    ...(on ? { on } : {}),
    nfs: nfs.value,
    nfsSource: source.value,
    path,
    clients,
    squash,
    nfsRoot: st.value(CONFIG.enroll.root) === 'nfs',
    mountOptions,
    exportDir,
    dnsmasqConfPath,
    dnsmasqText: rendered.text,
    ...(pisNet ? { pisNet } : {}),
    regenerate,
    ...(ceph ? { ceph } : {}),
  };
  return { settings, tftpUser, ...(bootAddr ? { tftpAddress: bootAddr } : {}) };
}

/**
 * Who dnsmasq's TFTP server on this machine reads files as: user=/group= in its config, else the user the running
 * dnsmasq with that config has, else Debian's service user dnsmasq, else nobody (src/server/dnsmasq-proc.ts).
 */
export async function tftpUserHere(confPaths: readonly string[] = ['/etc/dnsmasq.conf', '/etc/dnsmasq.d']): Promise<ResolvedServer['tftpUser']> {
  const [passwd, group] = await Promise.all(['/etc/passwd', '/etc/group'].map((p) => readFile(p, 'utf8').catch(() => '')));
  const { readDnsmasqConfig } = await import('../server/dnsmasq-read.js');
  const current = await readDnsmasqConfig([...confPaths]).catch(() => undefined);
  const { defaultTftpIdentity, runningDnsmasq } = await import('../server/dnsmasq-proc.js');
  const who = defaultTftpIdentity({ passwd: passwd!, group: group! }, await runningDnsmasq(confPaths));
  const configured = current ? find(current, 'user').at(-1)?.value : undefined;
  const userName = configured || who.user;
  const groupName = (current ? find(current, 'group').at(-1)?.value : undefined) ?? (configured ? undefined : who.group);
  const id = tftpIdentity(userName, groupName, { passwd: passwd!, group: group! });
  if (!id.user) throw new UsageError(`dnsmasq's TFTP user ${userName} does not exist on this machine`, 'install dnsmasq (it creates its user), or set user= in its config');
  return { name: id.user.name, uid: id.user.uid, gid: id.user.gid, group: id.groupName ?? String(id.user.gid) };
}
