/**
 * The seed article's storage: a CephFS subvolume exported by the NFS-Ganesha
 * that Ceph itself manages (mgr/nfs), for `pinet server setup --export
 * ceph`. Pure: what `ceph` printed on the admin host (scripts/remote/
 * ceph-detect.sh) in, the `ceph` commands to run out.
 *
 * Facts of the real tool (test/fixtures/ceph, recorded on Ceph 16.2.15):
 * named flags only (the positional form changed inside Pacific); `export
 * create` on a taken pseudo path answers 0 and "Export already exists" and
 * changes nothing, so an existing export is read (`export info`: empty output
 * when missing) and changed with `export apply -i -`; `--client_addr` puts
 * access and squash into a client block and sets the export itself to no
 * access; re-running `subvolume create` without `--mode` resets the mode to
 * 755; mgr/nfs cannot set Ganesha's Anonymous_Uid, so squashed clients write
 * as 4294967294, which `subvolume create --uid` cannot give a directory to
 * (it fails and leaves a broken subvolume): a squashing export's subvolume
 * is made writable by its mode instead; `nfs cluster create` needs an
 * orchestrator; cephadm's Ganesha serves NFSv4 only, while the Pis'
 * initramfs mounts an NFS root with NFSv3.
 */
import { PinetError } from '../../errors.js';
import type { ScriptOutput } from '../../remote/script.js';
import { sectionText } from '../../remote/script.js';
import type { Squash } from '../../server/nfs-export.js';

/** Ganesha's anonymous uid and gid under mgr/nfs (its default, -2 as unsigned). */
export const CEPH_ANON = 4294967294;

export interface CephSettings {
  fs: string;
  subvolume: string;
  group?: string;
  cluster: string;
  pseudo: string;
  clients: string[];
  squash: Squash;
  /** The Pis mount their root over NFS (needs NFSv3). */
  nfsRoot: boolean;
  /** Where an orchestrator would place a new NFS cluster: the NFS server's host (--nfs), by the name or address the orchestrator knows it by. */
  placement: string;
}

export interface CephExport {
  export_id: number;
  path: string;
  cluster_id: string;
  pseudo: string;
  access_type: string;
  squash: string;
  protocols?: number[];
  fsal: { name: string; fs_name?: string; user_id?: string };
  clients?: { addresses: string[]; access_type: string; squash: string }[];
  [key: string]: unknown;
}

export interface CephFacts {
  user: string;
  privilege: 'root' | 'sudo' | 'sudo-needs-password' | 'no-sudo';
  cli: boolean;
  version?: { major: number; minor: number; patch: number; text: string };
  versionError?: string;
  fsNames: string[];
  subvolume: { exists: true; path: string; mode: number; uid: number; gid: number } | { exists: false; why: string };
  /** The NFS cluster exists (`nfs export ls` answered). */
  cluster: boolean;
  clusterError?: string;
  exports: CephExport[];
  /** pinet's export, by its pseudo path. */
  export?: CephExport;
  orchestrator: boolean;
  /** The orchestrator's hosts (`ceph orch host ls`): a placement names one of them. */
  orchestratorHosts: { hostname: string; addr: string }[];
}

function out(o: ScriptOutput, name: string): { text: string; rc: number } {
  const t = sectionText(o, name) ?? '';
  const m = /(?:^|\n)rc=(\d+)\n?$/.exec(t);
  return m ? { text: t.slice(0, m.index), rc: Number(m[1]) } : { text: t, rc: -1 };
}

function lastLine(t: string): string {
  return t.trim().split('\n').filter(Boolean).pop() ?? '';
}

export function parseCephFacts(o: ScriptOutput): CephFacts {
  const id = (sectionText(o, 'id') ?? '').split('\n');
  const priv = id[2]?.trim();
  const facts: CephFacts = {
    user: id[1]?.trim() ?? '?',
    privilege: priv === 'root' ? 'root' : priv === 'ok' ? 'sudo' : priv === 'password' ? 'sudo-needs-password' : 'no-sudo',
    cli: (sectionText(o, 'ceph') ?? '').trim() !== '',
    fsNames: [],
    subvolume: { exists: false, why: 'not read' },
    cluster: false,
    exports: [],
    orchestrator: false,
    orchestratorHosts: [],
  };
  if (!facts.cli) return facts;
  const v = out(o, 'version');
  const vm = /ceph version (\d+)\.(\d+)\.(\d+)\S*/.exec(v.text);
  if (v.rc === 0 && vm) facts.version = { major: Number(vm[1]), minor: Number(vm[2]), patch: Number(vm[3]), text: vm[0] };
  else facts.versionError = lastLine(v.text) || `ceph version exited with ${v.rc}`;
  const fs = out(o, 'fs-ls');
  if (fs.rc === 0) {
    try {
      facts.fsNames = (JSON.parse(fs.text) as { name: string }[]).map((x) => x.name);
    } catch {
      // left empty: reported as a missing file system
    }
  }
  const sv = out(o, 'subvolume-info');
  if (sv.rc === 0) {
    try {
      const info = JSON.parse(sv.text) as { path: string; mode: number; uid: number; gid: number };
      facts.subvolume = { exists: true, path: info.path, mode: info.mode & 0o7777, uid: info.uid, gid: info.gid };
    } catch {
      facts.subvolume = { exists: false, why: `unreadable subvolume info: ${lastLine(sv.text)}` };
    }
  } else facts.subvolume = { exists: false, why: lastLine(sv.text) };
  const ls = out(o, 'export-ls');
  if (ls.rc === 0) {
    facts.cluster = true;
    try {
      facts.exports = ls.text.trim() ? (JSON.parse(ls.text) as CephExport[]) : [];
    } catch {
      facts.exports = [];
    }
  } else facts.clusterError = lastLine(ls.text);
  const info = out(o, 'export-info');
  if (info.rc === 0 && info.text.trim() && info.text.trim() !== '{}') {
    try {
      facts.export = JSON.parse(info.text) as CephExport;
    } catch {
      // treated as missing
    }
  }
  facts.orchestrator = out(o, 'orch').rc === 0 && /"available"\s*:\s*true/.test(out(o, 'orch').text);
  const hosts = out(o, 'orch-hosts');
  if (hosts.rc === 0) {
    try {
      facts.orchestratorHosts = (JSON.parse(hosts.text) as { hostname: string; addr: string }[]).map((h) => ({ hostname: String(h.hostname), addr: String(h.addr) }));
    } catch {
      // none known: a new cluster is refused with the reason
    }
  }
  return facts;
}

/** The Ceph versions whose named-flag syntax pinet knows: 16.2.7 (Pacific) to 19 (Squid). */
export function knownCephVersion(v: { major: number; minor: number; patch: number }): boolean {
  if (v.major === 16) return v.minor > 2 || (v.minor === 2 && v.patch >= 7);
  return v.major >= 17 && v.major <= 19;
}

export const CEPH_SQUASH: Record<Squash, string> = { none: 'none', root: 'root_squash', 'tftp-user': 'all' };

/** The subvolume's mode: squashed clients write as 4294967294, which cannot own it, so they get write access by the mode. */
export function subvolumeMode(s: Squash): number {
  return s === 'none' ? 0o755 : 0o777;
}

export interface CephStep {
  argv: string[];
  input?: string;
  /** What it does, for the plan. */
  summary: string;
  /** Why, for the plan. */
  reason: string;
  /** It creates something (a subvolume, an export, an NFS cluster) rather than changing it. */
  creates: boolean;
}

export interface WantedExport {
  cluster_id: string;
  pseudo: string;
  access_type: string;
  squash: string;
  fsal: { name: string; fs_name: string };
  clients: { addresses: string[]; access_type: string; squash: string }[];
  path?: string;
}

export interface CephPlan {
  steps: CephStep[];
  /** The export as it will be (its path filled in at apply time when the subvolume is new). */
  wanted: WantedExport;
  /** The export before, when there was one (rollback applies it again). */
  before?: CephExport;
  createsExport: boolean;
}

function refuse(message: string, hint?: string): PinetError {
  return new PinetError(message, hint ? { hint } : {});
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && [...a].sort().join(',') === [...b].sort().join(',');

export function planCeph(s: CephSettings, f: CephFacts, label: string): CephPlan {
  if (!f.cli) throw refuse(`${label}: the ceph command is not installed`, 'run pinet server setup --export ceph --on <a Ceph admin host> (ceph-common and a keyring)');
  if (f.privilege === 'sudo-needs-password' || f.privilege === 'no-sudo') throw refuse(`${label}: user ${f.user} cannot run ceph as root`, `log in as root, or allow passwordless sudo for ${f.user}`);
  if (!f.version) throw refuse(`${label}: ceph version failed: ${f.versionError ?? 'no answer'}`, 'check that the admin host reaches the cluster (ceph -s) with its keyring');
  if (!knownCephVersion(f.version)) {
    throw refuse(`${label}: ${f.version.text} is not a Ceph version pinet knows the commands of (16.2.7 to 19)`, 'the positional form of ceph nfs export create changed inside Pacific (16.2.0–16.2.6); upgrade Ceph, or make the export by hand and use --export existing');
  }
  if (!f.fsNames.includes(s.fs)) throw refuse(`${label}: there is no CephFS file system ${s.fs} (ceph fs ls: ${f.fsNames.join(', ') || 'none'})`, `create it (ceph fs volume create ${s.fs}) or pass --ceph-fs with one of them`);
  if (s.nfsRoot) {
    throw refuse(`${label}: the Pis' root over NFS needs NFSv3 (their initramfs mounts it with klibc's nfsmount), and the NFS-Ganesha Ceph manages serves NFSv4 only (Pacific to Reef)`, 'keep the root on the Pis\' disks, or serve the NFS root from another NFS server; the boot files on Ceph are fine with NFSv4');
  }
  const steps: CephStep[] = [];
  if (!f.cluster) {
    if (!f.orchestrator) {
      throw refuse(`${label}: there is no NFS cluster ${s.cluster} (${f.clusterError ?? 'ceph nfs export ls failed'}), and without an orchestrator (cephadm or rook) ceph nfs cluster create cannot make one`, `create the NFS cluster ${s.cluster} with your orchestrator, or pass --ceph-cluster with an existing one`);
    }
    // The orchestrator places daemons on the hosts it manages, by their names (cephadm: "Cannot place … Unknown hosts"); --nfs may name the host by its address.
    const host = f.orchestratorHosts.find((h) => h.hostname === s.placement) ?? f.orchestratorHosts.find((h) => h.addr === s.placement);
    if (!host) {
      const known = f.orchestratorHosts.map((h) => `${h.hostname} (${h.addr})`).join(', ') || 'none';
      throw refuse(`${label}: there is no NFS cluster ${s.cluster}, and the orchestrator manages no host ${s.placement} to run its NFS-Ganesha on (ceph orch host ls: ${known})`, `create it yourself on one of those hosts (ceph nfs cluster create ${s.cluster} <host>) and point --nfs at that host, then run pinet server setup again`);
    }
    steps.push({ argv: ['ceph', 'nfs', 'cluster', 'create', s.cluster, host.hostname], summary: `create the NFS cluster ${s.cluster} on ${host.hostname} (the orchestrator deploys Ganesha there)`, reason: 'the article\'s ceph nfs cluster create: the NFS-Ganesha that serves the export', creates: true });
  }
  const group = s.group ? ['--group_name', s.group] : [];
  const mode = subvolumeMode(s.squash);
  const modeWhy = s.squash === 'none'
    ? 'the boot server and the Pis write as root (no squash)'
    : `the export squashes the Pis' writes to ${CEPH_ANON}:${CEPH_ANON} (Ganesha's anonymous id, which mgr/nfs cannot change and subvolume create --uid cannot take), so the subvolume lets them write by its mode`;
  if (!f.subvolume.exists) {
    steps.push({ argv: ['ceph', 'fs', 'subvolume', 'create', s.fs, s.subvolume, ...group, '--mode', mode.toString(8)], summary: `create the subvolume ${s.subvolume} of ${s.fs}, mode ${mode.toString(8)}`, reason: `the article's ceph fs subvolume create; mode ${mode.toString(8)}: ${modeWhy}`, creates: true });
  } else if (f.subvolume.mode !== mode) {
    steps.push({ argv: ['ceph', 'fs', 'subvolume', 'create', s.fs, s.subvolume, ...group, '--mode', mode.toString(8)], summary: `set the mode of the subvolume ${s.subvolume} to ${mode.toString(8)} (it is ${f.subvolume.mode.toString(8)})`, reason: modeWhy, creates: false });
  }
  const squash = CEPH_SQUASH[s.squash];
  const squashWhy: Record<Squash, string> = {
    none: 'no squash: the Pis write as root, and pinet\'s kernel hook keeps their files readable for the TFTP server',
    'tftp-user': `squash all: every access becomes ${CEPH_ANON}:${CEPH_ANON}, the TFTP server's too, so it reads whatever the Pis write (even a 0600 kernel)`,
    root: `root squash: the Pis' root becomes ${CEPH_ANON}:${CEPH_ANON}, and pinet's kernel hook keeps their files readable for the TFTP server`,
  };
  const wanted: WantedExport = {
    cluster_id: s.cluster,
    pseudo: s.pseudo,
    access_type: 'none',
    squash: 'none',
    fsal: { name: 'CEPH', fs_name: s.fs },
    clients: [{ addresses: [...s.clients], access_type: 'rw', squash }],
    ...(f.subvolume.exists ? { path: f.subvolume.path } : {}),
  };
  const e = f.export;
  // pinet's export is the subvolume's: any other export at the pseudo path (another file system, another
  // path, or any path while the subvolume does not exist yet) belongs to someone else, and export apply would take it over.
  const foreign = !e ? undefined : e.fsal?.fs_name !== s.fs ? `file system ${e.fsal?.fs_name ?? '?'}` : !f.subvolume.exists ? `the subvolume ${s.subvolume} does not exist` : e.path !== f.subvolume.path ? `not the subvolume ${s.subvolume}` : undefined;
  if (e && foreign) {
    throw refuse(`${label}: the pseudo path ${s.pseudo} belongs to another export (${e.fsal?.fs_name ?? '?'}:${e.path}, export ${e.export_id}; ${foreign})`, 'choose another path in --nfs, or remove that export');
  }
  let createsExport = false;
  if (!e) {
    createsExport = true;
    steps.push({
      argv: ['ceph', 'nfs', 'export', 'create', 'cephfs', '--cluster-id', s.cluster, '--pseudo-path', s.pseudo, '--fsname', s.fs, '--path', '<subvolume path>', ...s.clients.flatMap((c) => ['--client_addr', c]), '--squash', squash],
      summary: `export it as ${s.pseudo} on ${s.cluster} to ${s.clients.join(', ')} (squash ${squash}; --path from ceph fs subvolume getpath)`,
      reason: `the article's ceph nfs export create; the clients are the Pis and this boot server (mgr/nfs gives nobody else access), ${squashWhy[s.squash]}`,
      creates: true,
    });
  } else {
    const c = e.clients ?? [];
    const ok = c.length === 1 && sameSet(c[0]!.addresses, s.clients) && c[0]!.access_type.toLowerCase() === 'rw' && c[0]!.squash.toLowerCase() === squash && e.access_type.toLowerCase() === 'none';
    if (!ok) {
      const next: CephExport = { ...e, access_type: 'none', squash: 'none', clients: wanted.clients };
      steps.push({ argv: ['ceph', 'nfs', 'export', 'apply', s.cluster, '-i', '-'], input: `${JSON.stringify(next, null, 2)}\n`, summary: `change the export ${s.pseudo}: clients ${s.clients.join(', ')}, squash ${squash}`, reason: 'ceph nfs export create leaves an existing export as it is ("Export already exists"): export apply changes it', creates: false });
    }
  }
  return { steps, wanted, ...(e ? { before: e } : {}), createsExport };
}

/** What differs between the export Ceph reports and the one pinet wants (empty: it matches). */
export function verifyCephExport(e: CephExport | undefined, want: WantedExport): string[] {
  if (!e) return [`ceph nfs export info shows no export ${want.pseudo}`];
  const problems: string[] = [];
  if (want.path && e.path !== want.path) problems.push(`its path is ${e.path}, not ${want.path}`);
  if (e.fsal?.fs_name !== want.fsal.fs_name) problems.push(`its file system is ${e.fsal?.fs_name}, not ${want.fsal.fs_name}`);
  const c = e.clients?.[0];
  const w = want.clients[0]!;
  if (!c || !sameSet(c.addresses, w.addresses)) problems.push(`its clients are ${c?.addresses.join(', ') ?? 'none'}, not ${w.addresses.join(', ')}`);
  if (c && c.squash.toLowerCase() !== w.squash) problems.push(`it squashes ${c.squash}, not ${w.squash}`);
  return problems;
}
