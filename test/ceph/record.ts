/**
 * Record the real `ceph` CLI (and what NFS clients see) for every command
 * `pinet server setup --export ceph` will run, and their error cases, into
 * test/fixtures/ceph/<name>.json: the exact argv, stdin, exit code, stdout,
 * stderr (and the parsed JSON where the output is JSON). Commands run on the
 * test cluster's admin host over SSH, exactly as pinet will run them; NFS
 * reads and writes run libnfs from the client namespaces.
 *
 *   node --import tsx test/ceph/record.ts                 start a cluster, record everything, stop it
 *   node --import tsx test/ceph/record.ts orchestrator    only the orchestrator section (added to the others)
 *
 * cephx keys in the output are replaced by "<redacted>". Values that differ
 * per cluster (fsid, subvolume UUIDs, ports) differ between recordings.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientName } from './layout.js';
import type { CephCluster, CephfsStat } from './shared.js';
import { cephCluster } from './shared.js';
import { sleep } from './proc.js';

const OUT = fileURLToPath(new URL('../fixtures/ceph/', import.meta.url));

export interface Recording {
  name: string;
  /** What this recording shows. */
  about: string;
  /** Where the command ran: `ssh ceph-admin` (the admin host) or `nfs client <name> (<ip>)`. */
  via: string;
  argv: string[];
  stdin: string | null;
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout parsed, when it is JSON. */
  json?: unknown;
  /** For NFS recordings: the file as CephFS itself has it afterwards (libcephfs). */
  cephfs?: CephfsStat | null;
  cephVersion: string;
}

/** POSIX shell single-quoting of one argument. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function redact(text: string): string {
  return text
    .replace(/(secret_access_key\s*=\s*")[^"]*(")/gi, '$1<redacted>$2')
    .replace(/("key"\s*:\s*")[^"]*(")/g, '$1<redacted>$2')
    .replace(/(key\s*=\s*)[A-Za-z0-9+/]{30,}={0,2}/g, '$1<redacted>');
}

function parseJson(s: string): unknown {
  const t = s.trim();
  if (!t.startsWith('{') && !t.startsWith('[')) return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return undefined;
  }
}

class Recorder {
  readonly recordings: Recording[] = [];
  version = 'unknown';

  constructor(
    readonly c: CephCluster,
    /** Local directory for the files nfs-cp sends (the client namespaces share this machine's file system). */
    readonly scratch: string,
  ) {}

  /** A local file with `content`, for nfs-cp to send. */
  async local(name: string, content: string): Promise<string> {
    const p = join(this.scratch, name);
    await writeFile(p, content);
    return p;
  }

  /** Run argv on the admin host over SSH and record it. */
  async ceph(name: string, about: string, argv: string[], stdin?: string): Promise<Recording> {
    const r = await this.c.adminSsh(argv.map(shq).join(' '), stdin === undefined ? {} : { input: stdin });
    return this.add({ name, about, via: 'ssh ceph-admin', argv, stdin: stdin ?? null, exitCode: r.code, stdout: r.stdout, stderr: r.stderr });
  }

  /** Run a libnfs tool from a client namespace and record it, with the CephFS truth about `cephfsPath`. */
  async nfs(name: string, about: string, client: ClientName, tool: 'nfs-ls' | 'nfs-cp' | 'nfs-cat', args: string[], cephfsPath?: string): Promise<Recording> {
    const r = await this.c.nfs(client, tool, args);
    const rec = this.add({
      name, about, via: `nfs client ${client} (${this.c.clientIp(client)})`, argv: [tool, ...args], stdin: null,
      exitCode: r.code, stdout: r.stdout, stderr: r.stderr,
    });
    if (cephfsPath !== undefined) rec.cephfs = await this.c.cephfsStat(cephfsPath);
    return rec;
  }

  private add(r: Omit<Recording, 'cephVersion'>): Recording {
    const rec: Recording = { ...r, stdout: redact(r.stdout), stderr: redact(r.stderr), cephVersion: this.version };
    const json = parseJson(rec.stdout);
    if (json !== undefined) rec.json = json;
    if (this.recordings.some((x) => x.name === rec.name)) throw new Error(`duplicate recording name ${rec.name}`);
    this.recordings.push(rec);
    process.stderr.write(`recorded ${rec.name}: exit ${rec.exitCode}\n`);
    return rec;
  }
}

/** Wait until Ganesha has reloaded its exports after a change (mgr/nfs notifies it; the reload is asynchronous). */
async function settle(c: CephCluster, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('NFS-Ganesha did not pick up the export change within 30 s');
    await sleep(200);
  }
  void c;
}

export async function recordAll(c: CephCluster, scratch: string): Promise<Recording[]> {
  const R = new Recorder(c, scratch);
  const fs = c.info.fsName;
  const nfs = c.info.nfsClusterId;
  const piNet = c.info.layout.piSubnet;
  const bootIp = c.clientIp('boot');

  // --- version
  const v = await R.ceph('version', 'The CLI and cluster version as text', ['ceph', 'version']);
  R.version = /ceph version (\S+)/.exec(v.stdout)?.[1] ?? 'unknown';
  for (const r of R.recordings) r.cephVersion = R.version;
  await R.ceph('version-json', 'ceph version as JSON', ['ceph', 'version', '--format', 'json']);
  await R.ceph('versions', 'Versions of every running daemon (JSON without --format)', ['ceph', 'versions']);
  await R.ceph('mgr-module-ls', 'mgr modules: volumes is always on; nfs state after cluster.ts (see nfsModuleEnabledByDefault in the README)', ['ceph', 'mgr', 'module', 'ls', '--format', 'json']);

  // --- file systems
  await R.ceph('fs-ls', 'File systems as text', ['ceph', 'fs', 'ls']);
  await R.ceph('fs-ls-json', 'File systems as JSON', ['ceph', 'fs', 'ls', '--format', 'json']);
  await R.ceph('fs-volume-ls', 'Volumes (JSON without --format)', ['ceph', 'fs', 'volume', 'ls']);
  await R.ceph('subvolume-ls-empty', 'No subvolume yet', ['ceph', 'fs', 'subvolume', 'ls', fs]);
  await R.ceph('subvolume-create', "The article's command: no flags", ['ceph', 'fs', 'subvolume', 'create', fs, 'picluster-boot']);
  await R.ceph('subvolume-info', 'A new subvolume: uid 0, gid 0, mode 16877 (0o40755)', ['ceph', 'fs', 'subvolume', 'info', fs, 'picluster-boot']);
  const getpath = await R.ceph('subvolume-getpath', 'The CephFS path to export', ['ceph', 'fs', 'subvolume', 'getpath', fs, 'picluster-boot']);
  const bootPath = getpath.stdout.trim();
  await R.ceph('subvolume-create-again', 'Re-running create on an existing subvolume: exit 0, no output', ['ceph', 'fs', 'subvolume', 'create', fs, 'picluster-boot']);

  await R.ceph('subvolume-create-mode-uid-gid', 'Create with --mode 777 --uid 1000 --gid 1000', ['ceph', 'fs', 'subvolume', 'create', fs, 'rec-mode', '--mode', '777', '--uid', '1000', '--gid', '1000']);
  await R.ceph('subvolume-info-mode-777', 'The mode, uid and gid it got', ['ceph', 'fs', 'subvolume', 'info', fs, 'rec-mode']);
  await R.ceph('subvolume-create-again-no-mode', 'Re-running create without --mode on a 777 subvolume', ['ceph', 'fs', 'subvolume', 'create', fs, 'rec-mode']);
  await R.ceph('subvolume-info-after-rerun', 'After the re-run without --mode: mode back to 0o40755, uid/gid kept', ['ceph', 'fs', 'subvolume', 'info', fs, 'rec-mode']);
  await R.ceph('subvolume-create-again-uid-0', 'Re-running create with --uid 0 --gid 0 on a subvolume owned by 1000', ['ceph', 'fs', 'subvolume', 'create', fs, 'rec-mode', '--uid', '0', '--gid', '0', '--mode', '777']);
  await R.ceph('subvolume-info-after-uid-0', 'After --uid 0 --gid 0: the owner stays 1000 (mgr/volumes ignores a uid/gid of 0 on an existing subvolume), the mode is set', ['ceph', 'fs', 'subvolume', 'info', fs, 'rec-mode']);
  await R.ceph('subvolume-create-again-uid-2000', 'Re-running create with --uid 2000 --gid 2000 (non-zero) on an existing subvolume', ['ceph', 'fs', 'subvolume', 'create', fs, 'rec-mode', '--uid', '2000', '--gid', '2000', '--mode', '775']);
  await R.ceph('subvolume-info-after-uid-2000', 'After --uid 2000 --gid 2000: the owner changes', ['ceph', 'fs', 'subvolume', 'info', fs, 'rec-mode']);
  await R.ceph('subvolume-create-uid-65534', 'Create owned by nobody:nogroup (65534)', ['ceph', 'fs', 'subvolume', 'create', fs, 'rec-nobody', '--uid', '65534', '--gid', '65534', '--mode', '755']);
  await R.ceph('subvolume-info-uid-65534', 'Its owner', ['ceph', 'fs', 'subvolume', 'info', fs, 'rec-nobody']);
  await R.ceph('subvolume-create-uid-4294967294', "Create owned by Ganesha's anonymous uid (-2 as unsigned 32 bit)", ['ceph', 'fs', 'subvolume', 'create', fs, 'rec-anon', '--uid', '4294967294', '--gid', '4294967294']);
  await R.ceph('subvolume-ls-after-failed-create', 'Does the failed create leave the subvolume behind?', ['ceph', 'fs', 'subvolume', 'ls', fs]);
  await R.ceph('subvolume-info-failed-create', 'info of the subvolume the failed create left', ['ceph', 'fs', 'subvolume', 'info', fs, 'rec-anon']);
  await R.ceph('subvolume-rm-failed-create', 'Removing it', ['ceph', 'fs', 'subvolume', 'rm', fs, 'rec-anon']);
  await R.ceph('subvolume-create-uid-minus-2', 'Create with --uid -2', ['ceph', 'fs', 'subvolume', 'create', fs, 'rec-minus', '--uid', '-2', '--gid', '-2']);
  await R.ceph('subvolume-create-missing-group', '--group_name of a group that does not exist', ['ceph', 'fs', 'subvolume', 'create', fs, 'rec-grouped', '--group_name', 'pinet']);
  await R.ceph('subvolumegroup-create', 'Create the group', ['ceph', 'fs', 'subvolumegroup', 'create', fs, 'pinet']);
  await R.ceph('subvolume-create-group', 'Create in a group', ['ceph', 'fs', 'subvolume', 'create', fs, 'rec-grouped', '--group_name', 'pinet', '--mode', '775']);
  await R.ceph('subvolume-getpath-group', 'Its path (under the group)', ['ceph', 'fs', 'subvolume', 'getpath', fs, 'rec-grouped', '--group_name', 'pinet']);
  await R.ceph('subvolume-getpath-group-missing-flag', 'getpath without --group_name for a grouped subvolume', ['ceph', 'fs', 'subvolume', 'getpath', fs, 'rec-grouped']);
  await R.ceph('subvolume-ls', 'Subvolumes of the default group (JSON without --format)', ['ceph', 'fs', 'subvolume', 'ls', fs]);
  await R.ceph('subvolume-ls-group', 'Subvolumes of a group', ['ceph', 'fs', 'subvolume', 'ls', fs, '--group_name', 'pinet']);
  await R.ceph('subvolume-info-missing', 'info of a subvolume that does not exist', ['ceph', 'fs', 'subvolume', 'info', fs, 'no-such-subvolume']);
  await R.ceph('subvolume-getpath-missing', 'getpath of a subvolume that does not exist', ['ceph', 'fs', 'subvolume', 'getpath', fs, 'no-such-subvolume']);
  await R.ceph('subvolume-create-unknown-fs', 'create on a file system that does not exist', ['ceph', 'fs', 'subvolume', 'create', 'no-such-fs', 'picluster-boot']);
  await R.ceph('subvolume-getpath-unknown-fs', 'getpath on a file system that does not exist', ['ceph', 'fs', 'subvolume', 'getpath', 'no-such-fs', 'picluster-boot']);
  await R.ceph('subvolume-ls-unknown-fs', 'ls on a file system that does not exist', ['ceph', 'fs', 'subvolume', 'ls', 'no-such-fs']);

  // --- NFS clusters (no orchestrator)
  await R.ceph('nfs-cluster-ls', 'List NFS clusters without an orchestrator', ['ceph', 'nfs', 'cluster', 'ls']);
  await R.ceph('nfs-cluster-info', 'Info of the hand-made cluster without an orchestrator', ['ceph', 'nfs', 'cluster', 'info', nfs]);
  await R.ceph('nfs-cluster-info-all', 'Info of all clusters without an orchestrator', ['ceph', 'nfs', 'cluster', 'info']);
  await R.ceph('rados-nfs-before-cluster-create', 'The .nfs pool before `nfs cluster create`', ['rados', '-p', '.nfs', 'ls', '--all']);
  await R.ceph('nfs-cluster-create', "The article's command without an orchestrator", ['ceph', 'nfs', 'cluster', 'create', 'rec-orphan', 'nfs-host']);
  await R.ceph('rados-nfs-after-cluster-create', 'What the failed create left in the .nfs pool (namespace<TAB>object)', ['rados', '-p', '.nfs', 'ls', '--all']);
  await R.ceph('nfs-export-ls-orphan-cluster', 'Exports of the cluster whose create failed: the config object makes it known', ['ceph', 'nfs', 'export', 'ls', 'rec-orphan']);
  await R.ceph('nfs-cluster-rm-orphan', 'Removing that cluster without an orchestrator', ['ceph', 'nfs', 'cluster', 'rm', 'rec-orphan']);
  await R.ceph('rados-rm-orphan-config', 'Removing its config object by hand', ['rados', '-p', '.nfs', '-N', 'rec-orphan', 'rm', 'conf-nfs.rec-orphan']);
  await R.ceph('nfs-cluster-config-set', 'Ganesha user config (EXPORT_DEFAULTS with Anonymous_Uid) through mgr/nfs without an orchestrator', ['ceph', 'nfs', 'cluster', 'config', 'set', nfs, '-i', '-'], 'EXPORT_DEFAULTS {\n  Anonymous_Uid = 65534;\n  Anonymous_Gid = 65534;\n}\n');

  // --- exports
  await R.ceph('nfs-export-ls-empty', 'Exports of a cluster with none', ['ceph', 'nfs', 'export', 'ls', nfs]);
  await R.ceph('nfs-export-ls-unknown-cluster', 'Exports of a cluster that does not exist', ['ceph', 'nfs', 'export', 'ls', 'no-such-cluster']);
  await R.ceph('nfs-export-create-old-positional', 'The 16.2.0-16.2.6 positional form (fsname clusterid binding) on 16.2.15', ['ceph', 'nfs', 'export', 'create', 'cephfs', fs, nfs, '/picluster-boot', `--path=${bootPath}`]);
  await R.ceph('nfs-export-create-client-addr', "The article's export with named flags, the Pis' subnet only, squash all", [
    'ceph', 'nfs', 'export', 'create', 'cephfs', '--cluster-id', nfs, '--pseudo-path', '/picluster-boot', '--fsname', fs, '--path', bootPath,
    '--client_addr', piNet, '--squash', 'all',
  ]);
  await R.ceph('nfs-export-info', 'The export as mgr/nfs reports it: access_type none and squash none on the export, rw/all in the client block', ['ceph', 'nfs', 'export', 'info', nfs, '/picluster-boot']);
  await R.ceph('nfs-export-get', '`export get` (older name of info)', ['ceph', 'nfs', 'export', 'get', nfs, '/picluster-boot']);
  const raw = await c.rados(['-p', '.nfs', '-N', nfs, 'get', 'export-1', '-']);
  R.recordings.push({
    name: 'rados-export-block', about: 'The Ganesha EXPORT block mgr/nfs stored (what NFS-Ganesha reads): no Anonymous_Uid/Gid', via: 'rados from the LAN (client.admin)',
    argv: ['rados', '-p', '.nfs', '-N', nfs, 'get', 'export-1', '-'], stdin: null, exitCode: raw.code, stdout: redact(raw.stdout), stderr: raw.stderr, cephVersion: R.version,
  });
  const conf = await c.rados(['-p', '.nfs', '-N', nfs, 'get', `conf-nfs.${nfs}`, '-']);
  R.recordings.push({
    name: 'rados-conf-nfs', about: "The NFS cluster's config object: one %url line per export", via: 'rados from the LAN (client.admin)',
    argv: ['rados', '-p', '.nfs', '-N', nfs, 'get', `conf-nfs.${nfs}`, '-'], stdin: null, exitCode: conf.code, stdout: conf.stdout, stderr: conf.stderr, cephVersion: R.version,
  });
  await R.ceph('nfs-export-create-existing', 'The same create again: exit 0, "Export already exists" on stderr', [
    'ceph', 'nfs', 'export', 'create', 'cephfs', '--cluster-id', nfs, '--pseudo-path', '/picluster-boot', '--fsname', fs, '--path', bootPath,
    '--client_addr', piNet, '--squash', 'all',
  ]);
  await R.ceph('nfs-export-create-existing-different', 'A create on the existing pseudo path with other settings: nothing changes', [
    'ceph', 'nfs', 'export', 'create', 'cephfs', '--cluster-id', nfs, '--pseudo-path', '/picluster-boot', '--fsname', fs, '--path', '/',
    '--client_addr', '10.99.0.0/16', '--squash', 'none', '--readonly',
  ]);
  await R.ceph('nfs-export-info-unchanged', 'The export after those creates', ['ceph', 'nfs', 'export', 'info', nfs, '/picluster-boot']);
  await R.ceph('nfs-export-info-missing', 'info of a pseudo path with no export', ['ceph', 'nfs', 'export', 'info', nfs, '/no-such-export']);
  await R.ceph('nfs-export-info-unknown-cluster', 'info on a cluster that does not exist', ['ceph', 'nfs', 'export', 'info', 'no-such-cluster', '/picluster-boot']);
  await R.ceph('nfs-export-ls', 'Pseudo paths of the cluster', ['ceph', 'nfs', 'export', 'ls', nfs]);
  await R.ceph('nfs-export-ls-detailed', 'Every export in full', ['ceph', 'nfs', 'export', 'ls', nfs, '--detailed']);
  await R.ceph('nfs-export-create-two-client-addrs', 'Two --client_addr flags (the Pis and the boot server) on a second export', [
    'ceph', 'nfs', 'export', 'create', 'cephfs', '--cluster-id', nfs, '--pseudo-path', '/rec-two', '--fsname', fs, '--path', bootPath,
    '--client_addr', piNet, '--client_addr', bootIp, '--squash', 'root',
  ]);
  await R.ceph('nfs-export-create-no-client-addr', 'No --client_addr: access and squash on the export itself', [
    'ceph', 'nfs', 'export', 'create', 'cephfs', '--cluster-id', nfs, '--pseudo-path', '/rec-open', '--fsname', fs, '--path', bootPath, '--squash', 'root_squash',
  ]);
  await R.ceph('nfs-export-info-no-client-addr', 'That export', ['ceph', 'nfs', 'export', 'info', nfs, '/rec-open']);
  await R.ceph('nfs-export-create-missing-path', 'A --path that does not exist in CephFS', [
    'ceph', 'nfs', 'export', 'create', 'cephfs', '--cluster-id', nfs, '--pseudo-path', '/rec-missing', '--fsname', fs, '--path', '/volumes/_nogroup/no-such-subvolume',
  ]);
  await R.ceph('nfs-export-create-unknown-fs', 'An --fsname that does not exist', [
    'ceph', 'nfs', 'export', 'create', 'cephfs', '--cluster-id', nfs, '--pseudo-path', '/rec-nofs', '--fsname', 'no-such-fs', '--path', '/',
  ]);
  await R.ceph('nfs-export-create-unknown-cluster', 'A --cluster-id that does not exist', [
    'ceph', 'nfs', 'export', 'create', 'cephfs', '--cluster-id', 'no-such-cluster', '--pseudo-path', '/rec-x', '--fsname', fs, '--path', '/',
  ]);
  await R.ceph('nfs-export-create-bad-squash', 'An unknown --squash value', [
    'ceph', 'nfs', 'export', 'create', 'cephfs', '--cluster-id', nfs, '--pseudo-path', '/rec-bad', '--fsname', fs, '--path', '/', '--squash', 'nobody',
  ]);

  // --- NFS access with --client_addr: the Pi in the list, the boot server not in it
  const mountable = async (client: ClientName, path: string, version: 3 | 4): Promise<boolean> =>
    (await c.nfs(client, 'nfs-ls', [c.nfsUrl(path, { version })])).code === 0;
  await settle(c, () => mountable('pi', '/picluster-boot', 4));
  await R.nfs('nfs4-ls-pi-in-client-addr', 'NFSv4.0 from a client inside --client_addr', 'pi', 'nfs-ls', [c.nfsUrl('/picluster-boot', { version: 4 })]);
  await R.nfs('nfs4-ls-boot-not-in-client-addr', 'NFSv4.0 from the boot server, not in --client_addr (the export itself has access_type none)', 'boot', 'nfs-ls', [c.nfsUrl('/picluster-boot', { version: 4 })]);
  await R.nfs('nfs4-write-squash-all-root-owned-subvolume', 'Root on a Pi writes into the new (root-owned 0755) subvolume through squash all', 'pi', 'nfs-cp', [await R.local('probe.txt', 'probe\n'), c.nfsUrl('/picluster-boot/probe.txt', { version: 4 })], `${bootPath}/probe.txt`);
  await R.nfs('nfs3-ls-pseudo-path', 'NFSv3 with the pseudo path (export protocols [4])', 'pi', 'nfs-ls', [c.nfsUrl('/picluster-boot')]);
  await R.nfs('nfs3-ls-cephfs-path-v4-only', 'NFSv3 with the CephFS path (export protocols [4])', 'pi', 'nfs-ls', [c.nfsUrl(bootPath)]);

  // --- export apply: add the boot server, protocols 3 and 4
  const info = JSON.parse((await c.adminSsh(['ceph', 'nfs', 'export', 'info', nfs, '/picluster-boot'].map(shq).join(' '))).stdout) as Record<string, unknown>;
  const applied = { ...info, protocols: [3, 4], clients: [{ addresses: [piNet, bootIp], access_type: 'rw', squash: 'all' }] };
  await R.ceph('nfs-export-apply-update', 'apply from stdin: add the boot server to the client block and NFSv3', ['ceph', 'nfs', 'export', 'apply', nfs, '-i', '-'], JSON.stringify(applied, null, 2));
  await R.ceph('nfs-export-info-after-apply', 'The export after apply', ['ceph', 'nfs', 'export', 'info', nfs, '/picluster-boot']);
  await R.ceph('nfs-export-apply-same', 'apply of the unchanged export again', ['ceph', 'nfs', 'export', 'apply', nfs, '-i', '-'], JSON.stringify(applied, null, 2));
  await settle(c, () => mountable('boot', '/picluster-boot', 4));
  await R.nfs('nfs4-ls-boot-after-apply', 'The boot server after it was added to the client block', 'boot', 'nfs-ls', [c.nfsUrl('/picluster-boot', { version: 4 })]);
  await R.nfs('nfs3-ls-pseudo-path-after-apply', 'NFSv3 with the pseudo path after protocols [3, 4]', 'pi', 'nfs-ls', [c.nfsUrl('/picluster-boot')]);
  await R.nfs('nfs3-ls-cephfs-path-after-apply', 'NFSv3 with the CephFS path after protocols [3, 4]', 'pi', 'nfs-ls', [c.nfsUrl(bootPath)]);
  await R.nfs('nfs4-ls-far', 'A client in no list', 'far', 'nfs-ls', [c.nfsUrl('/picluster-boot', { version: 4 })]);

  // --- squash: where a squashed client can write, and what identity its files get
  await R.ceph('subvolume-create-squash-target', 'A subvolume a squashed client can write to (mode 777)', ['ceph', 'fs', 'subvolume', 'create', fs, 'rec-squash', '--mode', '777']);
  const sqPath = (await c.adminSsh(['ceph', 'fs', 'subvolume', 'getpath', fs, 'rec-squash'].map(shq).join(' '))).stdout.trim();
  await R.ceph('nfs-export-create-squash-all', 'Export it to the Pis and the boot server, squash all', [
    'ceph', 'nfs', 'export', 'create', 'cephfs', '--cluster-id', nfs, '--pseudo-path', '/rec-squash', '--fsname', fs, '--path', sqPath,
    '--client_addr', piNet, '--client_addr', bootIp, '--squash', 'all',
  ]);
  await settle(c, () => mountable('pi', '/rec-squash', 4));
  await R.nfs('nfs4-write-squash-all-root', 'Root on a Pi writes a file: the owner CephFS records', 'pi', 'nfs-cp', [await R.local('kernel.img', 'kernel\n'), c.nfsUrl('/rec-squash/kernel.img', { version: 4 })], `${sqPath}/kernel.img`);
  await R.nfs('nfs4-write-squash-all-uid-1000', 'uid 1000 on a Pi writes a file', 'pi', 'nfs-cp', [await R.local('user.txt', 'user\n'), c.nfsUrl('/rec-squash/user.txt', { version: 4, uid: 1000, gid: 1000 })], `${sqPath}/user.txt`);
  await c.cephfsWrite(`${sqPath}/root-0600.img`, 'secret kernel\n', { uid: 0, gid: 0 }, 0o600);
  await R.nfs('nfs4-read-squash-all-root-0600', 'The boot server (as uid 65534, like dnsmasq) reads a root-owned 0600 file through squash all', 'boot', 'nfs-cat', [c.nfsUrl('/rec-squash/root-0600.img', { version: 4, uid: 65534, gid: 65534 })], `${sqPath}/root-0600.img`);
  await c.cephfsWrite(`${sqPath}/anon-0600.img`, 'anon kernel\n', { uid: 4294967294, gid: 4294967294 }, 0o600);
  await R.nfs('nfs4-read-squash-all-anon-0600', "The boot server (uid 65534) reads a 0600 file owned by Ganesha's anonymous uid through squash all", 'boot', 'nfs-cat', [c.nfsUrl('/rec-squash/anon-0600.img', { version: 4, uid: 65534, gid: 65534 })], `${sqPath}/anon-0600.img`);
  await R.nfs('nfs4-ls-squash-all', 'The listing a squashed client sees', 'boot', 'nfs-ls', [c.nfsUrl('/rec-squash', { version: 4 })]);

  // --- a pseudo path owned by another export
  await R.ceph('nfs-export-create-pseudo-taken', 'create on /rec-two (owned by another export) for another subvolume', [
    'ceph', 'nfs', 'export', 'create', 'cephfs', '--cluster-id', nfs, '--pseudo-path', '/rec-two', '--fsname', fs, '--path', sqPath, '--client_addr', piNet,
  ]);
  const two = JSON.parse((await c.adminSsh(['ceph', 'nfs', 'export', 'info', nfs, '/rec-two'].map(shq).join(' '))).stdout) as Record<string, unknown>;
  await R.ceph('nfs-export-apply-pseudo-taken', "apply of /picluster-boot's export (its export_id) moved to the pseudo path /rec-two", ['ceph', 'nfs', 'export', 'apply', nfs, '-i', '-'], JSON.stringify({ ...applied, pseudo: '/rec-two' }, null, 2));
  await R.ceph('nfs-export-apply-export-id-changed', 'apply on an existing pseudo path with another export_id', ['ceph', 'nfs', 'export', 'apply', nfs, '-i', '-'], JSON.stringify({ ...two, export_id: 99 }, null, 2));
  await R.ceph('nfs-export-ls-after-pseudo-taken', 'The exports after those attempts', ['ceph', 'nfs', 'export', 'ls', nfs, '--detailed']);
  await R.ceph('nfs-export-apply-new', 'apply of an export that does not exist yet (no export_id): creates it', ['ceph', 'nfs', 'export', 'apply', nfs, '-i', '-'], JSON.stringify({
    path: sqPath, pseudo: '/rec-applied', access_type: 'none', squash: 'none', protocols: [4], transports: ['TCP'],
    fsal: { name: 'CEPH', fs_name: fs }, clients: [{ addresses: [piNet], access_type: 'ro', squash: 'root' }],
  }, null, 2));
  await R.ceph('nfs-export-apply-anonymous-uid', 'apply with anonymous_uid/anonymous_gid keys: are they kept?', ['ceph', 'nfs', 'export', 'apply', nfs, '-i', '-'], JSON.stringify({ ...applied, anonymous_uid: 65534, anonymous_gid: 65534 }, null, 2));
  await R.ceph('nfs-export-info-after-anonymous-uid', 'The export after that apply', ['ceph', 'nfs', 'export', 'info', nfs, '/picluster-boot']);
  await R.ceph('nfs-export-apply-bad-json', 'apply of text that is not JSON', ['ceph', 'nfs', 'export', 'apply', nfs, '-i', '-'], 'not json\n');

  // --- removal
  await R.ceph('nfs-export-rm', 'Remove an export', ['ceph', 'nfs', 'export', 'rm', nfs, '/rec-open']);
  await R.ceph('nfs-export-rm-missing', 'Remove it again', ['ceph', 'nfs', 'export', 'rm', nfs, '/rec-open']);
  await R.ceph('nfs-export-rm-unknown-cluster', 'Remove on a cluster that does not exist', ['ceph', 'nfs', 'export', 'rm', 'no-such-cluster', '/rec-open']);
  await R.ceph('subvolume-rm-exported', 'Remove a subvolume that an export still points at', ['ceph', 'fs', 'subvolume', 'rm', fs, 'rec-squash']);
  await R.ceph('subvolume-rm-missing', 'Remove a subvolume that does not exist', ['ceph', 'fs', 'subvolume', 'rm', fs, 'no-such-subvolume']);
  await recordOrchestrator(R);
  return R.recordings;
}

/**
 * With and without an orchestrator. cephadm needs containers and rook
 * Kubernetes, neither runs here; Ceph's own `test_orchestrator` mgr module
 * (shipped in ceph-mgr-modules-core, "does not actually do anything") is a
 * real orchestrator backend as far as the orchestrator CLI and mgr/nfs are
 * concerned: the answers of `orch status`, `orch host ls` and `nfs cluster
 * create` with an orchestrator come from the real code paths. Recorded last
 * (and undone at the end): with an orchestrator, mgr/nfs lists NFS clusters
 * from it, so the hand-made one disappears.
 */
async function recordOrchestrator(R: Recorder): Promise<void> {
  const nfs = R.c.info.nfsClusterId;
  await R.ceph('orch-status', 'Orchestrator status without an orchestrator (what ceph-detect.sh asks)', ['ceph', 'orch', 'status', '--format', 'json']);
  await R.ceph('orch-host-ls', 'Orchestrator hosts without an orchestrator', ['ceph', 'orch', 'host', 'ls', '--format', 'json']);
  await R.ceph('mgr-module-enable-test-orchestrator', "Enable Ceph's test orchestrator module", ['ceph', 'mgr', 'module', 'enable', 'test_orchestrator']);
  try {
    await R.ceph('orch-set-backend-test-orchestrator', 'Make it the orchestrator backend', ['ceph', 'orch', 'set', 'backend', 'test_orchestrator']);
    await R.ceph('orch-status-test-orchestrator', 'Orchestrator status with one', ['ceph', 'orch', 'status', '--format', 'json']);
    await R.ceph('orch-host-ls-test-orchestrator', 'Its hosts (the test orchestrator knows only localhost): the names a placement must use', ['ceph', 'orch', 'host', 'ls', '--format', 'json']);
    await R.ceph('nfs-export-ls-hand-made-cluster-with-orchestrator', 'The hand-made NFS cluster once an orchestrator is on: mgr/nfs lists clusters from the orchestrator', ['ceph', 'nfs', 'export', 'ls', nfs]);
    await R.ceph('nfs-cluster-ls-test-orchestrator', 'NFS clusters with an orchestrator', ['ceph', 'nfs', 'cluster', 'ls']);
    await R.ceph('nfs-cluster-create-test-orchestrator', "The article's command with an orchestrator, placed on one of its hosts", ['ceph', 'nfs', 'cluster', 'create', 'rec-orch', 'localhost']);
    await R.ceph('rados-nfs-after-orch-cluster-create', 'What that create wrote to the .nfs pool (namespace<TAB>object)', ['rados', '-p', '.nfs', 'ls', '--all']);
    await R.ceph('nfs-export-ls-orch-cluster', 'Exports of the cluster the orchestrator created (the test orchestrator lists no nfs service)', ['ceph', 'nfs', 'export', 'ls', 'rec-orch']);
  } finally {
    await R.c.adminSsh(['ceph', 'orch', 'set', 'backend', ''].map(shq).join(' '));
    await R.c.adminSsh(['ceph', 'mgr', 'module', 'disable', 'test_orchestrator'].map(shq).join(' '));
    await R.c.adminSsh(['rados', '-p', '.nfs', '-N', 'rec-orch', 'rm', 'conf-nfs.rec-orch'].map(shq).join(' '));
  }
  await R.ceph('nfs-export-ls-hand-made-cluster-after-orchestrator', 'The hand-made cluster again, the orchestrator backend unset', ['ceph', 'nfs', 'export', 'ls', nfs]);
}

async function main(): Promise<void> {
  const only = process.argv[2];
  if (only !== undefined && only !== 'orchestrator') throw new Error(`usage: record.ts [orchestrator]`);
  const c = await cephCluster();
  process.stderr.write(`cluster up in ${c.info.startupMs} ms; recording\n`);
  const scratch = await mkdtemp('/tmp/pinet-ceph-record-');
  let recs: Recording[];
  try {
    if (only === 'orchestrator') {
      const R = new Recorder(c, scratch);
      R.version = /ceph version (\S+)/.exec((await c.adminSsh('ceph version')).stdout)?.[1] ?? 'unknown';
      await recordOrchestrator(R);
      // Added to the recordings already there: the others keep their files, the index lists all.
      const index = JSON.parse(await readFile(join(OUT, 'index.json'), 'utf8')) as { recordings: { name: string }[] };
      const fresh = new Set(R.recordings.map((r) => r.name));
      const kept = await Promise.all(index.recordings.filter((r) => !fresh.has(r.name)).map(async (r) => JSON.parse(await readFile(join(OUT, `${r.name}.json`), 'utf8')) as Recording));
      recs = [...kept, ...R.recordings];
    } else {
      recs = await recordAll(c, scratch);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  await mkdir(OUT, { recursive: true });
  for (const f of await readdir(OUT)) if (f.endsWith('.json')) await rm(join(OUT, f));
  for (const r of recs) await writeFile(join(OUT, `${r.name}.json`), JSON.stringify(r, null, 2) + '\n');
  await writeFile(
    join(OUT, 'index.json'),
    JSON.stringify(
      {
        about: 'Recordings of the real ceph CLI and NFS-Ganesha (FSAL CEPH) on the single-node test cluster of test/ceph; regenerate with `node --import tsx test/ceph/record.ts`.',
        cephVersion: recs[0]?.cephVersion,
        nfsModuleEnabledByDefault: c.info.nfsModuleEnabledByDefault,
        recordings: recs.map((r) => ({ name: r.name, about: r.about, exitCode: r.exitCode })),
      },
      null,
      2,
    ) + '\n',
  );
  process.stderr.write(`wrote ${recs.length} recordings to ${OUT}\n`);
  // This process is the cluster's owner: the daemon stops it when we exit.
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
