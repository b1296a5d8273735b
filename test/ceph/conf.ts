/**
 * The configuration files of the test Ceph cluster: the daemons' ceph.conf
 * (everything under the cluster's directory), the admin host's
 * /etc/ceph/ceph.conf (what a real client has), NFS-Ganesha's config (FSAL
 * CEPH, exports read from RADOS like Ceph's own deployments) and the admin
 * host's sshd_config. Values come from the layout and fresh temp paths only;
 * paths are checked to hold no character that could end a config line.
 */
import { GANESHA_NODE, NFS_CLUSTER_ID } from './layout.js';

function safePath(p: string): string {
  if (!/^\/[\w./-]+$/.test(p)) throw new Error(`path ${JSON.stringify(p)} is not usable in a config file`);
  return p;
}

export interface CephConfInput {
  fsid: string;
  monIp: string;
  subnet: string;
  /** The cluster's directory (daemon data, keyrings, logs, sockets). */
  dir: string;
}

export function monAddrs(ip: string): string {
  return `[v2:${ip}:3300,v1:${ip}:6789]`;
}

/** ceph.conf of the daemons (and of the test's own `ceph` calls). */
export function clusterConf(c: CephConfInput): string {
  const d = safePath(c.dir);
  return `# Test Ceph cluster (test/ceph): one mon, mgr, osd (memstore), mds.
[global]
fsid = ${c.fsid}
mon host = ${monAddrs(c.monIp)}
public network = ${c.subnet}
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = ${d}/run
log file = ${d}/log/$name.log
admin socket = ${d}/run/$name.asok
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon allow pool delete = true
mon data avail warn = 2
mon data avail crit = 1
osd objectstore = memstore
memstore device bytes = 1073741824

[client]
keyring = ${d}/ceph.client.admin.keyring

[client.nfs.${NFS_CLUSTER_ID}.${GANESHA_NODE}]
keyring = ${d}/ganesha/keyring
log file = ${d}/log/ganesha-ceph.log

[mon]
mon data = ${d}/mon.$id
keyring = ${d}/mon.$id/keyring

[mgr]
mgr data = ${d}/mgr.$id
keyring = ${d}/mgr.$id/keyring

[osd]
osd data = ${d}/osd.$id
keyring = ${d}/osd.$id/keyring

[mds]
mds data = ${d}/mds.$id
keyring = ${d}/mds.$id/keyring
`;
}

/** /etc/ceph/ceph.conf of the admin host: what `ceph` on a real admin box reads. */
export function adminConf(c: Pick<CephConfInput, 'fsid' | 'monIp'>): string {
  return `[global]
fsid = ${c.fsid}
mon host = ${monAddrs(c.monIp)}
`;
}

export interface GaneshaConfInput {
  /** ceph.conf Ganesha's RADOS and CephFS clients read. */
  cephConf: string;
}

/**
 * NFS-Ganesha as Ceph's own deployments run it (cephadm's ganesha.conf,
 * vstart.sh --ganesha): exports come from the NFS cluster's config object in
 * the `.nfs` pool (`%url`), RADOS_URLS watches it (mgr/nfs notifies it after
 * each change, Ganesha then reloads its exports), recovery state in RADOS.
 * Differences from cephadm's file, on purpose: NFSv3 is enabled in the core
 * (`Protocols = 3, 4`) and NFSv4.0 is allowed (`Minor_Versions = 0, 1, 2`),
 * because libnfs's client speaks v3 and v4.0 only and the Pi's initramfs
 * mounts its root with v3; `Graceless` skips the 90 s grace period at start.
 * Export-level rules (protocols, clients, squash) stay exactly as mgr/nfs
 * writes them.
 */
export function ganeshaConf(g: GaneshaConfInput): string {
  const conf = safePath(g.cephConf);
  const user = `nfs.${NFS_CLUSTER_ID}.${GANESHA_NODE}`;
  const url = `rados://.nfs/${NFS_CLUSTER_ID}/conf-nfs.${NFS_CLUSTER_ID}`;
  return `# NFS-Ganesha of the test Ceph cluster (test/ceph/conf.ts)
NFS_CORE_PARAM {
  Enable_NLM = false;
  Enable_RQUOTA = false;
  Protocols = 3, 4;
  NFS_Port = 2049;
}
NFSv4 {
  RecoveryBackend = rados_kv;
  Minor_Versions = 0, 1, 2;
  Graceless = true;
}
MDCACHE {
  Dir_Chunk = 0;
}
CEPH {
  Ceph_Conf = "${conf}";
}
RADOS_KV {
  Ceph_Conf = "${conf}";
  UserId = "${user}";
  pool = ".nfs";
  namespace = "${NFS_CLUSTER_ID}";
  nodeid = "${GANESHA_NODE}";
}
RADOS_URLS {
  Ceph_Conf = "${conf}";
  UserId = "${user}";
  watch_url = "${url}";
}
%url "${url}"
`;
}

export interface SshdConfInput {
  hostKey: string;
  authorizedKeys: string;
  pidFile: string;
}

/** sshd of the admin host: key-only root login, its own host key. */
export function sshdConf(s: SshdConfInput): string {
  return `# sshd of the test Ceph admin host (test/ceph)
Port 22
ListenAddress 0.0.0.0
HostKey ${safePath(s.hostKey)}
PidFile ${safePath(s.pidFile)}
AuthorizedKeysFile ${safePath(s.authorizedKeys)}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
Subsystem sftp internal-sftp
`;
}
