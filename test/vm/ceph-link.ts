/**
 * Joins a running test Ceph cluster (test/ceph) to a running VM lab
 * (test/vm): the lab's VMs reach the cluster's NFS-Ganesha and its admin
 * host's sshd by addresses in the lab's own subnet, as the article's Pis and
 * boot server reach `nfs-host`. One veth pair per Ceph namespace: one end is
 * a port of the lab's bridge (`br0` in `pvm<slot>-lan`), the other an extra
 * interface in the Ceph namespace (`pceph<N>-ceph`: Ganesha, which binds no
 * address and so answers there too; `pceph<N>-admin`: sshd on 0.0.0.0).
 * The Ceph daemons keep talking to each other on the cluster's own LAN;
 * nothing is forwarded between the two networks (a new namespace does not
 * route), and the host's own namespace gets nothing.
 *
 * Cleanup: the pair is deleted by `remove()`, by the lab's stop() (its
 * ledger), at process exit, and, after a crash, with either side's
 * namespaces (deleting a namespace deletes its end of a veth, and the peer
 * with it): the lab's stale-slot cleanup or the Ceph daemon's stop.
 */
import { execFileSync } from 'node:child_process';
import type { CephCluster } from '../ceph/shared.js';
import { sh } from './lab.js';
import type { VmLab } from './lab.js';

/** Host parts in the lab's /24: .1 boot server (LAN), .2 router, .3 the lab's Ganesha, 5-19 server VMs, 20+ VM Pis, 100-199 DHCP. */
export const CEPH_GANESHA_HOST = 4;
export const CEPH_ADMIN_HOST = 8;

export interface CephLink {
  /** NFS-Ganesha of the cluster, on the lab's LAN. */
  ganeshaIp: string;
  /** The Ceph admin host (sshd, the ceph CLI, /etc/ceph), on the lab's LAN. */
  adminIp: string;
  /** The admin host's names in the lab VMs' /etc/hosts. */
  adminName: string;
  ganeshaName: string;
  /** For a VM that logs in to the admin host: the private key, a known_hosts line (alias `adminName`), an ssh_config stanza. */
  adminIdentity(): Promise<{ privateKey: string; knownHosts: string; sshConfig: string }>;
  remove(): Promise<void>;
}

interface Leg {
  /** The Ceph namespace. */
  netns: string;
  /** The bridge port's name in the lab's LAN namespace. */
  port: string;
  /** The interface's name in the Ceph namespace. */
  iface: string;
  ip: string;
}

/**
 * The names of a link (pure; for the unit test): the bridge ports carry the
 * Ceph slot (`cg<N>`, `ca<N>`), the interfaces in the Ceph namespaces the
 * lab's slot (`lab<M>`), so two links never collide on either side.
 */
export function linkLegs(o: { cephSlot: number; cephNetns: string; adminNetns: string; labSlot: number; addr: (host: number) => string }): Leg[] {
  return [
    { netns: o.cephNetns, port: `cg${o.cephSlot}`, iface: `lab${o.labSlot}`, ip: o.addr(CEPH_GANESHA_HOST) },
    { netns: o.adminNetns, port: `ca${o.cephSlot}`, iface: `lab${o.labSlot}`, ip: o.addr(CEPH_ADMIN_HOST) },
  ];
}

function deleteLegSync(lanNs: string, leg: Leg): void {
  try {
    execFileSync('ip', ['-n', lanNs, 'link', 'del', leg.port], { stdio: 'ignore' });
  } catch {
    // gone already (either namespace deleted)
  }
}

/**
 * Plug `cluster` into `lab`'s LAN. Call `lab.addName()` for the names before
 * the VMs boot if they should resolve them (`nameLab()`); addresses work
 * without.
 */
export async function linkCephToLab(cluster: CephCluster, lab: VmLab): Promise<CephLink> {
  const l = cluster.info.layout;
  const legs = linkLegs({ cephSlot: l.slot, cephNetns: l.ceph.netns, adminNetns: l.admin.netns, labSlot: lab.slot, addr: (h) => lab.addr(h) });
  const removeAll = async (): Promise<void> => {
    for (const leg of legs) deleteLegSync(lab.lanNs, leg);
  };
  lab.ledger.add(`Ceph slot ${l.slot} linked to the lab's LAN`, removeAll, () => {
    for (const leg of legs) deleteLegSync(lab.lanNs, leg);
  });
  for (const leg of legs) {
    await sh('ip', ['link', 'add', leg.port, 'netns', lab.lanNs, 'type', 'veth', 'peer', 'name', leg.iface, 'netns', leg.netns]);
    await sh('ip', ['-n', lab.lanNs, 'link', 'set', leg.port, 'master', 'br0', 'up']);
    await sh('ip', ['-n', leg.netns, 'addr', 'add', `${leg.ip}/24`, 'dev', leg.iface]);
    await sh('ip', ['-n', leg.netns, 'link', 'set', leg.iface, 'up']);
  }
  const [ganesha, admin] = legs as [Leg, Leg];
  const adminName = 'ceph-admin';
  return {
    ganeshaIp: ganesha.ip,
    adminIp: admin.ip,
    adminName,
    ganeshaName: 'ceph-nfs',
    async adminIdentity() {
      const { readFile } = await import('node:fs/promises');
      const privateKey = await readFile(cluster.info.admin.identityFile, 'utf8');
      const hostKey = cluster.info.admin.hostKey.split(/\s+/).slice(0, 2).join(' ');
      return {
        privateKey,
        knownHosts: `${adminName} ${hostKey}\n`,
        sshConfig: `Host ${adminName}\n    HostName ${admin.ip}\n    HostKeyAlias ${adminName}\n    User root\n    IdentityFile ~/.ssh/ceph-admin\n    IdentitiesOnly yes\n`,
      };
    },
    remove: removeAll,
  };
}

/** The link's names in every lab VM's /etc/hosts (before the VMs boot). */
export function nameLab(lab: VmLab): void {
  lab.addName(lab.addr(CEPH_GANESHA_HOST), 'ceph-nfs');
  lab.addName(lab.addr(CEPH_ADMIN_HOST), 'ceph-admin');
}
