/**
 * The plan of `pinet server setup`: pure decisions from plain data (the
 * settings, what the NFS server and the boot server have, the inventory).
 * In order: the NFS export (a Linux NFS server's line in a pinet-owned file
 * in /etc/exports.d/, or a pinet-owned Ganesha EXPORT block included from
 * ganesha.conf; `existing` changes nothing there), the boot server's own
 * mount of it (the article's fstab line), and dnsmasq (pinet's config,
 * rendered as render-dnsmasq does). Only what is missing or different is
 * planned; a second run with nothing changed is "up to date". The seed
 * article's bootstrap traps are refused or warned about first.
 */
import { PinetError, UsageError } from '../../errors.js';
import { nfsSourceFor, setNfsMount, type NfsSource } from '../../pi/fstab.js';
import type { Change, TargetPlan } from '../../plan/model.js';
import { exportClients, mountWaitsForNetwork, nameResolution, nfsServerNotNetbooted, type TrapFinding } from '../../server/bootstrap.js';
import {
  ganeshaExports,
  ganeshaIncludes,
  ganeshaProtocols,
  withGaneshaProtocols,
  parseExportfsV,
  renderGaneshaExport,
  renderKernelExports,
  verifyKernelExport,
  type Anon,
  type ExportSpec,
  type Squash,
} from '../../server/nfs-export.js';
import type { Inventory } from '../../server/state.js';
import { unifiedDiff } from '../../util/diff.js';
import type { IPv4Net } from '../../util/ipv4.js';
import type { BootServerFacts, NfsServerFacts } from './facts.js';
import { CEPH_ANON, planCeph, type CephFacts, type CephPlan, type CephSettings } from './ceph.js';

export type Backend = 'kernel-nfs' | 'ganesha' | 'ceph' | 'existing';

export const KERNEL_EXPORTS_FILE = '/etc/exports.d/pinet.exports';
export const GANESHA_CONF = '/etc/ganesha/ganesha.conf';
export const GANESHA_BLOCK = '/etc/ganesha/pinet.conf';
/** The Export_Id pinet's Ganesha block uses (high, so it does not meet hand-written ones). */
export const GANESHA_EXPORT_ID = 7411;

export interface ServerSettings {
  backend: Backend;
  /** The NFS server's SSH destination; undefined: this machine. */
  on?: string;
  /** How the Pis and the boot server mount the export (`nfs-host:/picluster-boot`). */
  nfs: string;
  nfsSource: NfsSource;
  /** The exported directory on the NFS server. */
  path: string;
  clients: string[];
  squash: Squash;
  /** The Pis mount their root over NFS (the initramfs needs NFSv3). */
  nfsRoot: boolean;
  mountOptions: string;
  /** Where the boot server mounts the export (also the TFTP root). */
  exportDir: string;
  dnsmasqConfPath: string;
  /** pinet's dnsmasq config, rendered as render-dnsmasq would. */
  dnsmasqText: string;
  /** The Pis' subnet (from the dnsmasq settings). */
  pisNet?: IPv4Net;
  /** The command that regenerates the files (for their headers). */
  regenerate: string;
  /** --export ceph: the file system, subvolume, NFS cluster. */
  ceph?: CephSettings;
}

export interface ServerPlan {
  settings: ServerSettings;
  anon: Anon;
  spec: ExportSpec;
  export?: {
    file: string;
    content: string;
    before: string | null;
    /** ganesha: ganesha.conf's new text (the include line, NFSv3 enabled), when it changes. */
    main?: { before: string; after: string };
    /** hup: reload the exports; restart: (re)start the server (Ganesha's NFS versions changed, or the server is stopped). */
    reload: 'hup' | 'restart';
  };
  /** How many files and directories in the exported directory belong to someone else than the squash needs. */
  ownedByOthers?: number;
  /** The exported directory's owner (uid:gid) and mode, when it must be created or changed. */
  directory?: { owner: string; mode: string; create: boolean; /** Also give what is inside to the owner (a squashing export over existing boot files). */ recursive?: boolean };
  mount?: { fstab?: { before: string; after: string }; mount: boolean };
  dnsmasq?: { before: string | null; after: string };
  /** --export ceph: the ceph commands to run on the admin host. */
  ceph?: CephPlan;
  /** dnsmasq must be (re)started: its config changed, or it does not run it yet. */
  restartDnsmasq: boolean;
  findings: TrapFinding[];
  target: TargetPlan;
}

export interface ServerPlanInput {
  settings: ServerSettings;
  nfs: NfsServerFacts;
  boot: BootServerFacts;
  inventory: Inventory;
  /** Answers of the boot server's nameservers (bootstrap.dns). */
  dnsAnswers?: Record<string, boolean | undefined>;
  /** dnsmasq serves pinet's config right now (its config file is in place and it runs). */
  dnsmasqRunning: boolean;
  /** --export ceph: what the admin host's ceph said. */
  ceph?: CephFacts;
}

function refuse(message: string, hint?: string): PinetError {
  return new PinetError(message, hint ? { hint } : {});
}

/** The address of the boot server on the Pis' LAN. */
export function bootServerAddress(boot: BootServerFacts, pis: IPv4Net | undefined): string | undefined {
  if (!pis) return undefined;
  const mask = (p: number) => (p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0);
  const num = (a: string) => a.split('.').reduce((n, x) => n * 256 + Number(x), 0) >>> 0;
  return boot.addresses.find(([a]) => ((num(a) & mask(pis.prefix)) >>> 0) === num(pis.network))?.[0];
}

function checkNfsHost(n: NfsServerFacts, s: ServerSettings): void {
  if (s.backend === 'existing' || s.backend === 'ceph') return;
  if (n.privilege === 'sudo-needs-password' || n.privilege === 'no-sudo') {
    throw refuse(`${n.label}: user ${n.user} cannot run privileged steps (${n.privilege === 'no-sudo' ? 'no sudo' : 'sudo needs a password'}), and the export must be changed as root`, `log in as root, or allow passwordless sudo for ${n.user}`);
  }
  if (n.path.kind === 'other') throw refuse(`${n.label}: ${s.path} exists and is not a directory`, 'choose another --path, or move it away');
  if (s.backend === 'kernel-nfs' && !n.kernel.exportfs) {
    throw refuse(`${n.label}: the Linux NFS server is not installed (no exportfs)`, 'install it there (Debian: apt-get install nfs-kernel-server), then run again');
  }
  if (s.backend === 'ganesha') {
    if (!n.ganesha.binary) throw refuse(`${n.label}: NFS-Ganesha is not installed`, 'install it there (Debian: apt-get install nfs-ganesha nfs-ganesha-vfs), then run again');
    if (n.ganesha.conf === undefined) throw refuse(`${n.label}: ${GANESHA_CONF} is missing`, 'reinstall nfs-ganesha, or create its config');
  }
}

/** The export pinet wants, and whether the server's files and live state already match it. */
function planExport(s: ServerSettings, n: NfsServerFacts, spec: ExportSpec): ServerPlan['export'] {
  if (s.backend === 'kernel-nfs') {
    const content = renderKernelExports(spec, s.regenerate);
    const before = n.kernel.file ?? null;
    const live = verifyKernelExport(parseExportfsV(n.kernel.exportfsV), spec);
    // Installed but stopped (or never started): exportfs alone serves nothing.
    const stopped = n.systemd && n.kernel.active !== 'active';
    if (before === content && live.length === 0 && !stopped) return undefined;
    return { file: KERNEL_EXPORTS_FILE, content, before, reload: stopped ? 'restart' : 'hup' };
  }
  if (s.backend === 'ganesha') {
    const conf = n.ganesha.conf ?? '';
    for (const e of ganeshaExports(conf)) {
      if (e.pseudo === spec.pseudo || e.id === GANESHA_EXPORT_ID) {
        throw refuse(`${n.label}: ${GANESHA_CONF} already has an EXPORT ${e.pseudo === spec.pseudo ? `with Pseudo ${spec.pseudo}` : `with Export_Id ${e.id}`}`, `remove it (pinet writes its own block to ${GANESHA_BLOCK}), or use --export existing`);
      }
    }
    const content = renderGaneshaExport(spec, GANESHA_EXPORT_ID, s.regenerate);
    let main = conf;
    if (!ganeshaIncludes(main).includes(GANESHA_BLOCK)) main = `${main.replace(/\n*$/, '\n')}\n# pinet: the boot files export (pinet server setup)\n%include "${GANESHA_BLOCK}"\n`;
    // The Pis' initramfs mounts an NFS root with klibc's nfsmount: NFSv3 only; Ganesha opens its v3 socket only at start.
    const needV3 = s.nfsRoot && !ganeshaProtocols(main).includes(3);
    if (needV3) main = withGaneshaProtocols(main, [3, 4]);
    if (n.ganesha.block === content && main === conf && n.ganesha.running) return undefined;
    return { file: GANESHA_BLOCK, content, before: n.ganesha.block ?? null, ...(main !== conf ? { main: { before: conf, after: main } } : {}), reload: needV3 || !n.ganesha.running ? 'restart' : 'hup' };
  }
  return undefined;
}

export async function planServer(input: ServerPlanInput): Promise<ServerPlan> {
  const { settings: s, nfs: n, boot } = input;
  checkNfsHost(n, s);
  // mgr/nfs cannot set Ganesha's Anonymous_Uid: a squashing Ceph export writes as 4294967294.
  const anon: Anon = s.backend === 'ceph' ? { uid: CEPH_ANON, gid: CEPH_ANON } : s.squash === 'tftp-user' ? { uid: boot.tftpUser.uid, gid: boot.tftpUser.gid } : { uid: 65534, gid: 65534 };
  const spec: ExportSpec = { path: s.path, pseudo: s.nfsSource.path, clients: s.clients, squash: s.squash, anon, versions: [3, 4] };

  // The bootstrap traps: refuse what leaves the fleet unbootable after a power loss.
  const bootAddr = bootServerAddress(boot, s.pisNet);
  const findings: TrapFinding[] = [
    nfsServerNotNetbooted(input.inventory, { names: [s.nfsSource.host, ...(s.on ? [s.on.replace(/^[^@]*@/, '').replace(/:\d+$/, '')] : [])], addresses: n.addresses.map(([, a]) => a.split('/')[0]!) }),
    nameResolution(s.nfsSource.host, boot.resolvConf, input.inventory, input.dnsAnswers),
    s.backend === 'existing' ? { id: 'bootstrap.clients', level: 'skip', finding: 'the export is not pinet\'s (--export existing): its client list is checked when the boot server mounts it' } : exportClients(s.clients, s.pisNet, bootAddr),
    mountWaitsForNetwork(s.mountOptions.split(',')),
  ];
  const fatal = findings.filter((f) => f.level === 'fail');
  // Client lists that leave out the Pis or the boot server are a bad --client value (exit 2), the rest are the surroundings.
  if (fatal.length && fatal.every((f) => f.id === 'bootstrap.clients')) throw new UsageError(`--client: ${fatal[0]!.finding}`, fatal[0]!.fix);
  if (fatal.length) throw refuse(fatal.map((f) => f.finding).join('; '), fatal[0]!.fix);

  const plan: ServerPlan = { settings: s, anon, spec, restartDnsmasq: false, findings, target: { target: 'boot server', about: '', changes: [], warnings: [], notes: [] } };
  const changes: Change[] = [];
  const warnings = findings.filter((f) => f.level === 'warn').map((f) => `${f.finding} (${f.fix})`);
  if (s.backend === 'kernel-nfs' && s.squash !== 'none') {
    // What the VM lab showed (test/vm/server-setup-e2e.test.ts): the squashed chown to root is refused;
    // flash-kernel's mv from /tmp only warns, anything that must set the owner fails.
    warnings.push(
      `--squash ${s.squash} on the Linux NFS server: it refuses a squashed client's chown to root (EPERM). Ubuntu's flash-kernel still installs a new kernel (its mv warns "failed to preserve ownership"), but what must set owners in /boot/firmware fails there (dpkg unpacking a package into it, cp -p); --squash none (the default, with pinet's kernel hook) or NFS-Ganesha avoids it`,
    );
  }

  // 1. the export
  const exp = planExport(s, n, spec);
  if (exp) plan.export = exp;
  if (s.backend === 'ceph') {
    if (!s.ceph || !input.ceph) throw new Error('internal error: --export ceph without its settings or facts');
    plan.ceph = planCeph(s.ceph, input.ceph, n.label);
    for (const [i, step] of plan.ceph.steps.entries()) {
      changes.push({ id: `ceph-${i + 1}`, kind: step.creates ? 'create-dir' : 'write-file', target: n.label, summary: `${step.summary}: ${step.argv.join(' ')}`, reason: step.reason, ...(step.input ? { diff: step.input } : {}) });
    }
  }
  if (s.backend !== 'existing' && s.backend !== 'ceph') {
    const owner = s.squash === 'none' ? '0:0' : `${anon.uid}:${anon.gid}`;
    const [ou, og] = owner.split(':').map(Number);
    const p = n.path;
    // Squashed Pis can only replace files their anonymous identity owns, and neither they nor this
    // boot server (squashed too) may chown the files of a Pi enrolled before: pinet does it here, as root.
    const others = s.squash === 'none' ? 0 : Object.entries(n.owners).reduce((k, [o, count]) => (o === owner ? k : k + count), 0);
    if (p.kind === 'missing' || p.uid !== ou || p.gid !== og || p.mode !== 0o755 || others > 0) plan.directory = { owner, mode: '755', create: p.kind === 'missing', ...(others > 0 ? { recursive: true } : {}) };
    if (others > 0) plan.ownedByOthers = others;
  }
  if (plan.directory) {
    changes.push({
      id: 'directory',
      kind: plan.directory.create ? 'create-dir' : 'write-file',
      target: n.label,
      path: s.path,
      summary: `${plan.directory.create ? 'create' : 'set owner and mode of'} ${s.path} on ${n.label}: owner ${plan.directory.owner}, mode 0755${plan.directory.recursive ? `; the ${plan.ownedByOthers} files and directories in it that belong to others too` : ''}`,
      reason: s.squash === 'none' ? 'the exported directory; the Pis write their boot files as root' : `the squashed Pis write as ${anon.uid}:${anon.gid}, so the directories they write into must be theirs`,
    });
  }
  if (exp) {
    changes.push({
      id: 'export',
      kind: 'write-file',
      target: n.label,
      path: exp.file,
      summary: `${exp.file} on ${n.label}: export ${s.path}${s.backend === 'ganesha' ? ` as ${spec.pseudo}` : ''} to ${s.clients.join(', ')} (squash: ${s.squash}), then ${s.backend === 'kernel-nfs' ? `exportfs -ra${exp.reload === 'restart' ? ', and start the NFS server (systemctl enable --now nfs-server: it is stopped)' : ''}` : exp.reload === 'restart' ? `start Ganesha${n.ganesha.running ? ' again' : ' (systemctl enable nfs-ganesha; it is stopped)'}` : 'reload Ganesha'}`,
      reason: 'the Pis and the boot server mount the boot files from it',
      diff: await unifiedDiff(exp.file, exp.before, exp.content),
    });
    if (exp.main) {
      changes.push({
        id: 'ganesha-conf',
        kind: 'write-file',
        target: n.label,
        path: GANESHA_CONF,
        summary: `${GANESHA_CONF} on ${n.label}: include pinet's block${exp.reload === 'restart' ? '; restart Ganesha' : ''}`,
        reason: exp.reload === 'restart' && s.nfsRoot ? "the Pis' initramfs mounts its NFS root with NFSv3, which Ganesha enables only when it starts" : "Ganesha reads pinet's block from there",
        diff: await unifiedDiff(GANESHA_CONF, exp.main.before, exp.main.after),
      });
    }
  }

  // 2. the boot server's own mount
  const source = s.nfs;
  const fe = setNfsMount(boot.fstab, { source, mountpoint: s.exportDir, options: s.mountOptions });
  if (!fe.ok) throw refuse(`/etc/fstab on this machine: ${fe.error}`, fe.hint);
  const mounted = mountedFrom(boot.mounts, s.exportDir);
  if (mounted && normalise(mounted.source) !== normalise(source)) {
    throw refuse(`${s.exportDir} is busy: ${mounted.source} (${mounted.fstype}) is mounted there`, `unmount it first, or choose another --export-dir`);
  }
  const mount: NonNullable<ServerPlan['mount']> = { mount: !mounted };
  if (fe.changed) mount.fstab = { before: boot.fstab, after: fe.text };
  if (mount.fstab || mount.mount) plan.mount = mount;
  if (mount.fstab) {
    changes.push({ id: 'fstab', kind: 'write-file', target: 'boot server', path: '/etc/fstab', summary: `/etc/fstab: mount ${source} at ${s.exportDir} over NFS${fe.ok && !fe.added ? ' (the old line kept as a comment)' : ''}`, reason: 'dnsmasq serves the boot files from this mount, and enroll copies them there', diff: await unifiedDiff('/etc/fstab', mount.fstab.before, mount.fstab.after) });
  }
  if (mount.mount) changes.push({ id: 'mount', kind: 'create-dir', target: 'boot server', path: s.exportDir, summary: `mount ${s.exportDir} now`, reason: 'the boot files are served from it' });

  // 3. dnsmasq
  if (!boot.dnsmasq) {
    throw refuse('dnsmasq is not installed on this machine', 'install it (Debian: apt-get install dnsmasq), then run pinet server setup again; pinet does not install packages');
  }
  if (boot.dnsmasqConf !== s.dnsmasqText) {
    plan.dnsmasq = { before: boot.dnsmasqConf, after: s.dnsmasqText };
    changes.push({ id: 'dnsmasq', kind: 'write-file', target: 'boot server', path: s.dnsmasqConfPath, summary: `${s.dnsmasqConfPath}: pinet's dnsmasq config (checked with dnsmasq --test first)`, reason: 'proxy DHCP answers the Pis, TFTP serves them the export', diff: await unifiedDiff(s.dnsmasqConfPath, boot.dnsmasqConf, s.dnsmasqText) });
  }
  plan.restartDnsmasq = plan.dnsmasq !== undefined || !input.dnsmasqRunning;
  if (plan.restartDnsmasq) {
    changes.push({
      id: 'dnsmasq-restart',
      kind: 'write-file',
      target: 'boot server',
      summary: boot.dnsmasqUnit ? 'restart dnsmasq (systemctl restart dnsmasq)' : 'dnsmasq must be restarted by hand (no systemd unit here): pinet says how',
      reason: plan.dnsmasq ? 'it reads its config only when it starts' : 'it does not serve the boot files yet',
    });
  }
  if (changes.length > 0) {
    changes.push({ id: 'record', kind: 'inventory', target: 'boot server', summary: 'record the export, its squash and the backups in the state directory', reason: 'enroll, doctor and pinet server rollback read it' });
  }
  plan.target = {
    target: 'boot server',
    about: `${s.backend === 'existing' ? 'existing export' : s.backend === 'ceph' ? `CephFS ${s.ceph?.fs}/${s.ceph?.subvolume} via NFS cluster ${s.ceph?.cluster}` : s.backend} ${nfsSourceFor(s.nfsSource, '').replace(/\/$/, '')} on ${n.label}, mounted at ${s.exportDir}`,
    changes,
    warnings,
    notes: s.backend === 'existing' ? ['--export existing: nothing is changed on the NFS server'] : [],
  };
  return plan;
}

/** The mount at `mountpoint` in /proc/mounts (the topmost one), when there is one. */
export function mountedFrom(mounts: string, mountpoint: string): { source: string; fstype: string; options: string[] } | undefined {
  let found: { source: string; fstype: string; options: string[] } | undefined;
  for (const line of mounts.split('\n')) {
    const [src, mp, fstype, opts] = line.split(' ');
    if (mp === mountpoint.replace(/\/+$/, '') && src && fstype) found = { source: src, fstype, options: (opts ?? '').split(',') };
  }
  return found;
}

function normalise(source: string): string {
  return source.replace(/\/+$/, '');
}
