/**
 * Names and addresses of one test Ceph cluster. A cluster lives in a slot
 * (0-3): the slot picks its /24 inside 10.251.200.0/22 and prefixes its
 * network namespaces, so two test runs on one machine never collide.
 *
 *   pceph<N>-lan     br0 10.251.(200+N).1/24   the LAN (also where tests run the ceph CLI)
 *   pceph<N>-ceph    eth0 .10                  mon, mgr, osd, mds, rpcbind, NFS-Ganesha
 *   pceph<N>-admin   eth0 .20                  the Ceph admin host (sshd, ceph CLI, /etc/ceph)
 *   pceph<N>-boot    eth0 .2                   NFS client: "the boot server"
 *   pceph<N>-pi      eth0 .101                 NFS client: "a Pi" (inside 10.251.(200+N).96/27)
 *   pceph<N>-far     eth0 .201                 NFS client: "a stranger" (in no export's list unless a test puts it there)
 */
export const SLOTS = 4;
export const NS_PREFIX = 'pceph';
/** Where slot locks and the per-test-run registry live. */
export const RUN_DIR = '/run/pinet-ceph';

/** The article's names. */
export const FS_NAME = 'homenet-fs';
export const NFS_CLUSTER_ID = 'hn-nfs';
/** Ganesha's node id in the NFS cluster (RADOS_KV nodeid, cephx user nfs.<cluster>.<node>). */
export const GANESHA_NODE = 'a';

export type ClientName = 'boot' | 'pi' | 'far';

export interface HostNet {
  netns: string;
  ip: string;
  /** veth name on the LAN bridge side. */
  port: string;
}

export interface Layout {
  slot: number;
  prefix: string;
  subnet: string;
  prefixLength: number;
  lan: { netns: string; bridge: string; ip: string };
  ceph: HostNet;
  admin: HostNet;
  clients: Record<ClientName, HostNet>;
  /** A /27 holding the "pi" client and not the others: the Pis' subnet of the tests. */
  piSubnet: string;
}

export function layout(slot: number): Layout {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOTS) throw new Error(`Ceph slot ${slot} is not in 0..${SLOTS - 1}`);
  const base = `10.251.${200 + slot}`;
  const prefix = `${NS_PREFIX}${slot}`;
  const host = (name: string, last: number): HostNet => ({ netns: `${prefix}-${name}`, ip: `${base}.${last}`, port: `v${name}` });
  return {
    slot,
    prefix,
    subnet: `${base}.0/24`,
    prefixLength: 24,
    lan: { netns: `${prefix}-lan`, bridge: 'br0', ip: `${base}.1` },
    ceph: host('ceph', 10),
    admin: host('admin', 20),
    clients: { boot: host('boot', 2), pi: host('pi', 101), far: host('far', 201) },
    piSubnet: `${base}.96/27`,
  };
}

/** Every namespace of a slot, LAN last (deleting it last keeps the bridge until the ports are gone). */
export function namespaces(l: Layout): string[] {
  return [l.ceph.netns, l.admin.netns, ...Object.values(l.clients).map((c) => c.netns), l.lan.netns];
}
