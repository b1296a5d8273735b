/**
 * The tasks of `pinet server setup`, run by the task runner on one target
 * (the boot server and its NFS server):
 *
 * prepare: connect (to the NFS server, over SSH or here) → detect (the NFS
 *          server's script; this machine's fstab, mounts, dnsmasq, TFTP user,
 *          resolver) → lock → plan.
 * apply:   export (the directory, pinet's export file, the server told: one
 *          round trip) → verify the export → mount (fstab, mount, probe file
 *          read as the TFTP user: one round trip here) → dnsmasq config
 *          (checked by dnsmasq --test before it is written) → restart dnsmasq
 *          → verify TFTP (the probe file fetched from the Pis' address) →
 *          record.
 *
 * Every file replaced is backed up first (on the NFS server under
 * /var/lib/pinet/backup/, here in the state directory) and recorded, so
 * `pinet server rollback` can restore it; a failing step undoes the earlier
 * ones where it can.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { PinetError } from '../../errors.js';
import { PI_STATE_DIR } from '../../host/pi-layout.js';
import { tftpGet } from '../../net/tftp.js';
import { connect, type ConnectOptions, type RemoteHost } from '../../remote/index.js';
import { LocalHost } from '../../remote/local-host.js';
import { runScript, sectionText, type ScriptOutput } from '../../remote/script.js';
import { checkServiceConfig, findDnsmasq } from '../../server/dnsmasq-test.js';
import { parseExportfsV, verifyKernelExport } from '../../server/nfs-export.js';
import type { Inventory, StateStore } from '../../server/state.js';
import { sha256 } from '../../util/hash.js';
import { writeFileAtomic } from '../../util/fs.js';
import { KeepChangesError, type Task } from '../runner.js';
import { parseNfsFacts, type BootServerFacts, type NfsServerFacts } from './facts.js';
import { parseCephFacts, verifyCephExport, type CephExport, type CephFacts } from './ceph.js';
import { GANESHA_BLOCK, GANESHA_CONF, KERNEL_EXPORTS_FILE, planServer, type ServerPlan, type ServerSettings } from './plan.js';
import type { ServerRecord } from './record.js';

export interface ServerTarget {
  nfsHost?: RemoteHost | LocalHost;
  nfs?: NfsServerFacts;
  ceph?: CephFacts;
  boot?: BootServerFacts;
  plan?: ServerPlan;
  /** Backups made by this run. */
  backups: ServerRecord['backups'];
  /** What the NFS server says it exports after the change. */
  exportOutput?: ScriptOutput;
  mountOutput?: ScriptOutput;
  dnsmasqRestart?: string;
  /** dnsmasq could not be restarted here (no systemd): the user was told how. */
  manualRestart?: boolean;
}

export interface ServerEnv {
  settings: ServerSettings;
  conn: ConnectOptions;
  state: StateStore;
  inventory: Inventory;
  stamp: string;
  /** Reads this machine's facts (tests pass their own). */
  readBoot: () => Promise<BootServerFacts>;
  /** dnsmasq's service: is it active, restart it. */
  dnsmasqService: { active(): Promise<boolean>; restart(): Promise<string> };
  /** The address the Pis reach this machine's TFTP server at. */
  tftpAddress?: string;
  /** Where the previous run's record is (for the no-op run and rollback). */
  previous?: ServerRecord;
}

const plan = (c: ServerTarget): ServerPlan => c.plan!;
const local = new LocalHost();

export function serverPrepareTasks(env: ServerEnv): Task<ServerTarget>[] {
  const s = env.settings;
  return [
    {
      name: 'connect',
      title: s.on ? `connecting to ${s.on}` : 'NFS server: this machine',
      async run(c, t) {
        if (!s.on) {
          c.nfsHost = local;
          return;
        }
        const remote = await connect(s.on, env.conn);
        c.nfsHost = remote;
        t.cleanup(() => remote.close());
      },
    },
    {
      name: 'detect',
      title: 'reading the NFS server and this machine',
      async run(c) {
        const host = c.nfsHost!;
        if (s.backend === 'ceph') {
          const k = s.ceph!;
          const [out, boot] = await Promise.all([
            runScript(host, 'ceph-detect', [k.fs, k.subvolume, k.group ?? '', k.cluster, k.pseudo], { step: 'asking Ceph', timeoutMs: 120_000 }),
            env.readBoot(),
          ]);
          c.ceph = parseCephFacts(out);
          c.nfs = cephHostFacts(c.ceph, host.label, !s.on);
          c.boot = boot;
          return;
        }
        const [out, boot] = await Promise.all([
          runScript(host, 'nfs-detect', [s.path, KERNEL_EXPORTS_FILE, GANESHA_CONF, GANESHA_BLOCK], { step: 'reading the NFS server', timeoutMs: 60_000 }),
          env.readBoot(),
        ]);
        c.nfs = parseNfsFacts(out, host.label, !s.on);
        c.boot = boot;
      },
    },
    {
      name: 'lock',
      title: 'locking',
      async run(_c, t) {
        const lock = await env.state.lock('server', { what: 'the boot server setup' });
        t.cleanup(() => lock.release());
      },
    },
    {
      name: 'plan',
      title: 'planning',
      async run(c) {
        const running = await env.dnsmasqService.active().catch(() => false);
        c.plan = await planServer({ settings: s, nfs: c.nfs!, boot: c.boot!, inventory: env.inventory, dnsmasqRunning: running && c.boot!.dnsmasqConf === s.dnsmasqText, ...(c.ceph ? { ceph: c.ceph } : {}) });
        // Before anything changes: would dnsmasq start with pinet's file beside everything else it reads?
        if (c.plan.dnsmasq) await refuseRejectedConfig(s.dnsmasqText, s.dnsmasqConfPath);
      },
    },
  ];
}

/** dnsmasq --test of the configuration the service would read with `text` as `path`; a rejection names dnsmasq's words. */
async function refuseRejectedConfig(text: string, path: string): Promise<void> {
  const verdict = await checkServiceConfig(text, path);
  if (!verdict.ok) throw new PinetError(`dnsmasq rejects its configuration with pinet's ${path} in it: ${verdict.message}`, { hint: `${path} was not written and the running dnsmasq keeps its config; fix what dnsmasq names, then run pinet server setup again` });
}

/** Keeps a copy of a file this run replaces, in the state directory; returns where. */
async function backUp(env: ServerEnv, name: string, content: string): Promise<string> {
  const dir = join(env.state.dir, 'backups', 'server', env.stamp);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, name), content, { mode: 0o600, forceMode: true });
  return join(dir, name);
}

/** A probe file in the export, fetched over TFTP as a Pi would. */
async function tftpProbe(exportDir: string, server: string): Promise<void> {
  const name = `.pinet-tftp-probe-${randomBytes(4).toString('hex')}`;
  const path = join(exportDir, name);
  const body = `pinet TFTP probe ${name}\n`;
  await writeFile(path, body, { mode: 0o644 });
  try {
    const r = await tftpGet({ server, file: name, timeoutMs: 2000, retries: 3 });
    if (r.data?.toString('utf8') !== body) throw new PinetError(`TFTP from ${server} served ${name} with other content than was written`);
  } finally {
    await rm(path, { force: true });
  }
}

export function serverApplyTasks(env: ServerEnv): Task<ServerTarget>[] {
  const s = env.settings;
  return [
    {
      name: 'export',
      title: (c) => `exporting ${s.path} on ${c.nfs!.label}`,
      when: (c) => plan(c).export !== undefined || plan(c).directory !== undefined,
      steps: [{ name: 'directory' }, { name: 'backup' }, { name: 'export', when: (c) => plan(c).export !== undefined }],
      async run(c, t) {
        const p = plan(c);
        const e = p.export;
        const dir = p.directory ?? { owner: p.settings.squash === 'none' ? '0:0' : `${p.anon.uid}:${p.anon.gid}`, mode: '755' };
        const args = [PI_STATE_DIR, env.stamp, s.backend, e?.file ?? '', e?.content ?? '', s.path, dir.owner, dir.mode, e?.main ? GANESHA_CONF : '', e?.main?.after ?? '', e?.reload ?? 'hup', p.directory?.recursive ? 'recursive' : ''];
        const out = await runScript(c.nfsHost!, 'nfs-export-apply', args, { sudo: true, step: `exporting ${s.path}`, onFail: 'return', timeoutMs: 120_000 });
        for (const x of out.done) t.step(x, 'done');
        for (const x of out.undone) t.step(x, 'undone');
        const bk = out.records.find((r) => r.kind === 'done' && r.words.startsWith('backup '))?.words.slice('backup '.length);
        if (bk && e) c.backups.nfs = { host: c.nfs!.label, dir: bk, files: [e.file, ...(e.main ? [GANESHA_CONF] : [])], created: e.before === null ? [e.file] : [] };
        if (out.failure) throw Object.assign(new PinetError(`${c.nfs!.label}: ${out.failure.message}`), { failedStep: out.failure.step });
        c.exportOutput = out;
      },
      async undo(c) {
        const n = c.backups.nfs;
        if (!n) return;
        await runScript(c.nfsHost!, 'nfs-export-restore', [PI_STATE_DIR, s.backend, n.dir, ...n.files], { sudo: true, step: 'restoring the export', timeoutMs: 120_000 });
        delete c.backups.nfs;
      },
    },
    {
      name: 'ceph',
      title: 'making the Ceph export',
      when: (c) => (plan(c).ceph?.steps.length ?? 0) > 0,
      async run(c) {
        const p = plan(c).ceph!;
        const k = s.ceph!;
        const host = c.nfsHost!;
        const group = k.group ? ['--group_name', k.group] : [];
        let path = p.wanted.path;
        for (const step of p.steps) {
          if (step.argv.includes('<subvolume path>')) {
            path ??= (await host.exec(['ceph', 'fs', 'subvolume', 'getpath', k.fs, k.subvolume, ...group], { sudo: true, step: 'ceph fs subvolume getpath', timeoutMs: 60_000 })).stdout.trim();
          }
          const argv = step.argv.map((a) => (a === '<subvolume path>' ? path! : a));
          await host.exec(argv, { sudo: true, step: argv.slice(0, 4).join(' '), timeoutMs: 120_000, ...(step.input ? { input: step.input } : {}) });
        }
        c.backups.ceph = { cluster: k.cluster, pseudo: k.pseudo, ...(p.before ? { before: p.before } : { created: true }) };
        const info = (await host.exec(['ceph', 'nfs', 'export', 'info', k.cluster, k.pseudo], { sudo: true, step: 'ceph nfs export info', timeoutMs: 60_000 })).stdout.trim();
        const problems = verifyCephExport(info ? (JSON.parse(info) as CephExport) : undefined, { ...p.wanted, ...(path ? { path } : {}) });
        if (problems.length) throw new KeepChangesError(new PinetError(`${c.nfs!.label}: the Ceph export ${k.pseudo} is not as planned: ${problems.join('; ')}`), 'Ceph has the export');
      },
      async undo(c) {
        const k = c.backups.ceph;
        if (!k) return;
        if (k.created) await c.nfsHost!.exec(['ceph', 'nfs', 'export', 'rm', k.cluster, k.pseudo], { sudo: true, step: 'ceph nfs export rm', timeoutMs: 120_000 });
        else await c.nfsHost!.exec(['ceph', 'nfs', 'export', 'apply', k.cluster, '-i', '-'], { sudo: true, step: 'ceph nfs export apply', input: `${JSON.stringify(k.before, null, 2)}\n`, timeoutMs: 120_000 });
        delete c.backups.ceph;
      },
    },
    {
      name: 'verify export',
      title: 'checking what the NFS server exports',
      when: (c) => s.backend === 'kernel-nfs' && plan(c).export !== undefined,
      async run(c) {
        const problems = verifyKernelExport(parseExportfsV(sectionText(c.exportOutput!, 'exportfs-v') ?? ''), plan(c).spec);
        if (problems.length) throw new PinetError(`${c.nfs!.label}: exportfs -v does not show pinet's export as written: ${problems.join('; ')}`);
      },
    },
    {
      name: 'mount',
      title: `mounting ${s.exportDir}`,
      steps: [{ name: 'fstab', when: (c) => plan(c).mount?.fstab !== undefined }, { name: 'mount', when: (c) => plan(c).mount?.mount === true }, { name: 'probe' }],
      async run(c, t) {
        const p = plan(c);
        if (p.mount?.fstab) c.backups.fstab = await backUp(env, 'fstab', p.mount.fstab.before);
        const tu = c.boot!.tftpUser;
        const args = [PI_STATE_DIR, p.mount?.fstab?.after ?? '', p.mount?.fstab ? sha256(p.mount.fstab.before) : '', s.exportDir, s.nfs, String(tu.uid), String(tu.gid)];
        const out = await runScript(local, 'boot-mount', args, { sudo: true, step: `mounting ${s.exportDir}`, onFail: 'return', timeoutMs: 120_000 });
        for (const x of out.done) t.step(x, 'done');
        for (const x of out.undone) t.step(x, 'undone');
        if (out.failure) throw Object.assign(new PinetError(out.failure.message), { failedStep: out.failure.step });
        c.mountOutput = out;
        const expected = sectionText(out, 'expected')?.trim();
        const write = sectionText(out, 'probe-write')?.trim();
        const read = sectionText(out, 'probe-read')?.trim();
        const asTftp = sectionText(out, 'probe-tftp-user')?.trim();
        const probeFailed = (message: string, hint: string) => new KeepChangesError(Object.assign(new PinetError(message, { hint }), { failedStep: 'probe' }), 'the export is mounted');
        if (write !== 'ok') throw probeFailed(`cannot write into ${s.exportDir} as root: ${write || 'no answer'}`, 'the NFS server refuses this machine\'s writes: check the export\'s squash and the owner of its directory');
        if (read !== expected) throw probeFailed(`a file written into ${s.exportDir} does not read back: ${read}`, 'check the NFS server');
        if (asTftp !== expected) {
          throw probeFailed(`the TFTP server's user ${tu.name} (${tu.uid}:${tu.gid}) cannot read a file written into ${s.exportDir}: ${asTftp}`, 'the NFS server decides who reads what: check its squash, or use --squash tftp-user');
        }
      },
    },
    {
      name: 'dnsmasq',
      title: `writing ${s.dnsmasqConfPath}`,
      when: (c) => plan(c).dnsmasq !== undefined,
      async run(c) {
        const p = plan(c);
        await refuseRejectedConfig(p.dnsmasq!.after, s.dnsmasqConfPath);
        if (p.dnsmasq!.before !== null) c.backups.dnsmasq = await backUp(env, 'dnsmasq.conf', p.dnsmasq!.before);
        else c.backups.dnsmasqCreated = true;
        await writeFileAtomic(s.dnsmasqConfPath, p.dnsmasq!.after, { mode: 0o644 });
      },
      async undo(c) {
        const p = plan(c);
        if (p.dnsmasq!.before === null) await rm(s.dnsmasqConfPath, { force: true });
        else await writeFileAtomic(s.dnsmasqConfPath, p.dnsmasq!.before);
      },
    },
    {
      name: 'restart dnsmasq',
      title: 'restarting dnsmasq',
      when: (c) => plan(c).restartDnsmasq,
      async run(c) {
        if (!c.boot!.dnsmasqUnit) {
          // No systemd here: say what to run; the TFTP check waits for the next run.
          c.dnsmasqRestart = `no systemd unit for dnsmasq here: restart it yourself with ${s.dnsmasqConfPath} in its configuration (e.g. its init script, or dnsmasq --conf-file=${s.dnsmasqConfPath}), then run pinet server setup again to check TFTP`;
          c.manualRestart = true;
          return;
        }
        c.dnsmasqRestart = await env.dnsmasqService.restart();
      },
    },
    {
      name: 'verify tftp',
      title: 'fetching a probe file over TFTP',
      when: (c) => env.tftpAddress !== undefined && !c.manualRestart,
      async run() {
        await tftpProbe(s.exportDir, env.tftpAddress!);
      },
    },
    {
      name: 'record',
      title: 'recording the setup',
      async run(c) {
        await recordSetup(env, c);
      },
    },
  ];
}

/** Writes server.json: how the export is served and squashed, and every backup (also after a failure that kept changes). */
export async function recordSetup(env: ServerEnv, c: ServerTarget): Promise<void> {
  const s = env.settings;
  const p = plan(c);
  const prev = env.previous;
  const record: ServerRecord = {
    version: 1,
    backend: s.backend,
    ...(s.on ? { on: s.on } : {}),
    nfs: s.nfs,
    path: s.path,
    clients: s.clients,
    squash: s.squash,
    anon: p.anon,
    exportDir: s.exportDir,
    dnsmasqConf: s.dnsmasqConfPath,
    updatedAt: new Date().toISOString(),
    backups: { ...(prev?.backups ?? {}), ...c.backups },
  };
  await env.state.writeJson('server.json', record);
}

/** The Ceph admin host as the planner's NFS-server facts (the export itself is Ceph's). */
function cephHostFacts(f: CephFacts, label: string, local: boolean): NfsServerFacts {
  return {
    label,
    local,
    user: f.user,
    privilege: f.privilege,
    systemd: false,
    addresses: [],
    path: { kind: 'missing' },
    owners: {},
    parentExists: true,
    kernel: { exportfs: false, etcExports: '', otherFiles: '', exportfsV: '' },
    ganesha: { binary: false },
  };
}

/** This machine's facts for the plan. */
export async function readBootFacts(settings: ServerSettings, tftpUser: BootServerFacts['tftpUser']): Promise<BootServerFacts> {
  const read = (p: string) => readFile(p, 'utf8').catch(() => '');
  const [fstab, mounts, resolvConf, dnsmasqConf, dnsmasq] = await Promise.all([
    read('/etc/fstab'),
    read('/proc/self/mounts'),
    read('/etc/resolv.conf'),
    readFile(settings.dnsmasqConfPath, 'utf8').catch(() => null),
    findDnsmasq(),
  ]);
  const unit = await local.exec(['systemctl', 'cat', 'dnsmasq.service'], { reject: false }).then((r) => r.code === 0, () => false);
  const addresses: [string, number][] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal && a.cidr) addresses.push([a.address, Number(a.cidr.split('/')[1])]);
  }
  return { fstab, mounts, resolvConf, dnsmasqConf, ...(dnsmasq ? { dnsmasq } : {}), dnsmasqUnit: unit, tftpUser, addresses };
}

