/**
 * Start and stop one real single-node Ceph cluster for the tests, from
 * Debian's packages, in the style of Ceph's vstart.sh and go-ceph's CI:
 * one monitor, one manager, one OSD on memstore, one MDS, cephx, a CephFS
 * named like the article's (`homenet-fs`), the NFS cluster `hn-nfs` made by
 * hand (the `.nfs` pool and its config object: there is no orchestrator),
 * NFS-Ganesha with FSAL CEPH reading its exports from RADOS, and a Ceph
 * admin host reached over SSH. Every daemon is started by this process
 * (through `setpriv --pdeathsig KILL`, so none outlives it) and stopped by
 * PID with SIGKILL (its data is thrown away); everything created is undone
 * in reverse by stop().
 *
 * This runs inside the cluster daemon (daemon.ts); tests reach it through
 * shared.ts.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adminConf, clusterConf, ganeshaConf, sshdConf } from './conf.js';
import type { Layout } from './layout.js';
import { FS_NAME, GANESHA_NODE, NFS_CLUSTER_ID, layout } from './layout.js';
import { createNetwork, deleteNetwork } from './net.js';
import { must, processStart, run, until } from './proc.js';

const ASSETS = fileURLToPath(new URL('./assets/', import.meta.url));

export interface DaemonRecord {
  name: string;
  pid: number;
  start: string | null;
}

/** What a test needs to know about a running cluster (written to state.json by the daemon). */
export interface ClusterInfo {
  slot: number;
  layout: Layout;
  dir: string;
  fsid: string;
  /** ceph.conf of the daemons; with `adminKeyring` it lets the test run `ceph` as client.admin. */
  conf: string;
  adminKeyring: string;
  fsName: string;
  nfsClusterId: string;
  admin: {
    /** Host alias in `sshConfig`. */
    host: string;
    port: number;
    sshConfig: string;
    knownHosts: string;
    identityFile: string;
    hostKey: string;
  };
  ganeshaLog: string;
  /** Whether mgr/nfs was already on in a new cluster (cluster.ts enables it otherwise). */
  nfsModuleEnabledByDefault: boolean;
  processes: DaemonRecord[];
  startupMs: number;
  stages: Array<{ stage: string; ms: number }>;
}

export interface RunningCluster {
  info: ClusterInfo;
  stop(): Promise<void>;
}

interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<void>;
}

/** `ceph` as client.admin from the LAN namespace (the test's own view of the cluster). */
export function cephArgv(info: Pick<ClusterInfo, 'conf' | 'layout'>, args: string[]): [string, string[]] {
  return ['ip', ['netns', 'exec', info.layout.lan.netns, 'ceph', '--conf', info.conf, '--connect-timeout', '30', ...args]];
}

export async function startCluster(opts: { slot: number; dir: string; owner: string; log: (line: string) => void }): Promise<RunningCluster> {
  const t0 = Date.now();
  const stages: ClusterInfo['stages'] = [];
  const stage = (name: string): void => {
    stages.push({ stage: name, ms: Date.now() - t0 });
    opts.log(`${name} (${Date.now() - t0} ms)`);
  };
  const l = layout(opts.slot);
  const dir = opts.dir;
  const undo: Array<{ what: string; fn: () => Promise<void> }> = [];
  const children: Child[] = [];

  const stop = async (): Promise<void> => {
    while (undo.length > 0) {
      const u = undo.pop()!;
      try {
        await u.fn();
      } catch (e) {
        opts.log(`cleanup of ${u.what} failed: ${(e as Error).message}`);
      }
    }
  };

  const conf = join(dir, 'ceph.conf');
  const adminKeyring = join(dir, 'ceph.client.admin.keyring');
  const ceph = (args: string[], input?: string): Promise<string> => {
    const [cmd, argv] = cephArgv({ conf, layout: l }, args);
    return must(cmd, argv, { input, timeoutMs: 90_000 });
  };
  const inCeph = (args: string[]): string[] => ['netns', 'exec', l.ceph.netns, ...args];

  /** Start a long-running program that dies with this process; stopped by PID in reverse order. */
  const startDaemon = async (name: string, argv: string[]): Promise<Child> => {
    const logFd = openSync(join(dir, 'log', `${name}.out`), 'a');
    const proc = spawn('setpriv', ['--pdeathsig', 'KILL', ...argv], { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.once('exit', (code, signal) => opts.log(`${name} (pid ${proc.pid}) exited: ${code ?? signal}`));
    const child: Child = { name, proc, exited };
    children.push(child);
    undo.push({
      what: name,
      // SIGKILL: the cluster's data is thrown away, and `unshare` (Ganesha, the admin host) ignores SIGTERM while it waits.
      fn: async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        proc.kill('SIGKILL');
        await exited;
      },
    });
    return child;
  };
  const alive = (c: Child): boolean => c.proc.exitCode === null && c.proc.signalCode === null;
  const tail = async (file: string): Promise<string> => {
    try {
      return (await readFile(file, 'utf8')).split('\n').slice(-15).join('\n');
    } catch {
      return '(no log)';
    }
  };
  const mustRun = (c: Child, logFile: string) => async (): Promise<void> => {
    if (!alive(c)) throw new Error(`${c.name} exited during start-up; its log:\n${await tail(logFile)}`);
  };

  try {
    // The network.
    await createNetwork(l, opts.owner);
    undo.push({ what: 'network namespaces', fn: () => deleteNetwork(l) });
    stage('network');

    for (const d of ['mon.a', 'mgr.x', 'osd.0', 'mds.a', 'run', 'log', 'ganesha', 'admin/mnt', 'admin/etc-ceph', 'admin/sshd', 'client']) {
      await mkdir(join(dir, d), { recursive: true });
    }
    const fsid = randomUUID();
    await writeFile(conf, clusterConf({ fsid, monIp: l.ceph.ip, subnet: l.subnet, dir }));

    // Monitor: keyrings, monmap, mkfs, start.
    const monKeyring = join(dir, 'ceph.mon.keyring');
    await must('ceph-authtool', ['--create-keyring', monKeyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await must('ceph-authtool', [
      '--create-keyring', adminKeyring, '--gen-key', '-n', 'client.admin',
      '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mds', 'allow *', '--cap', 'mgr', 'allow *',
    ]);
    await must('ceph-authtool', [monKeyring, '--import-keyring', adminKeyring]);
    const monmap = join(dir, 'monmap');
    await must('monmaptool', ['--create', '--addv', 'a', `[v2:${l.ceph.ip}:3300,v1:${l.ceph.ip}:6789]`, '--fsid', fsid, monmap]);
    await must('ip', inCeph(['ceph-mon', '--conf', conf, '--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', monKeyring]));
    const mon = await startDaemon('mon.a', ['ip', ...inCeph(['ceph-mon', '-f', '--conf', conf, '-i', 'a'])]);
    stage('mon started');

    // Manager.
    await ceph(['auth', 'get-or-create', 'mgr.x', 'mon', 'allow profile mgr', 'osd', 'allow *', 'mds', 'allow *', '-o', join(dir, 'mgr.x', 'keyring')]);
    const mgr = await startDaemon('mgr.x', ['ip', ...inCeph(['ceph-mgr', '-f', '--conf', conf, '-i', 'x'])]);

    // OSD on memstore: its key is made here and registered with `osd new`.
    const uuid = randomUUID();
    const secret = (await must('ceph-authtool', ['--gen-print-key'])).trim();
    const osdNew = join(dir, 'osd.0', 'new.json');
    await writeFile(osdNew, JSON.stringify({ cephx_secret: secret }));
    const id = (await ceph(['osd', 'new', uuid, '-i', osdNew])).trim();
    if (id !== '0') throw new Error(`ceph osd new gave OSD id ${JSON.stringify(id)}, expected 0`);
    await must('ip', inCeph(['ceph-osd', '--conf', conf, '-i', '0', '--mkfs', '--key', secret, '--osd-uuid', uuid]));
    await must('ceph-authtool', ['--create-keyring', join(dir, 'osd.0', 'keyring'), '--name', 'osd.0', '--add-key', secret]);
    const osd = await startDaemon('osd.0', ['ip', ...inCeph(['ceph-osd', '-f', '--conf', conf, '-i', '0'])]);

    // MDS.
    await ceph([
      'auth', 'get-or-create', 'mds.a', 'mon', 'allow profile mds', 'osd', 'allow rw tag cephfs *=*', 'mds', 'allow', 'mgr', 'allow profile mds',
      '-o', join(dir, 'mds.a', 'keyring'),
    ]);
    const mds = await startDaemon('mds.a', ['ip', ...inCeph(['ceph-mds', '-f', '--conf', conf, '-i', 'a'])]);
    stage('mgr, osd, mds started');

    const cephJson = async (args: string[]): Promise<Record<string, unknown>> => JSON.parse(await ceph([...args, '--format', 'json'])) as Record<string, unknown>;
    await until('the OSD to be up', async () => {
      await mustRun(osd, join(dir, 'log', 'osd.0.out'))();
      await mustRun(mon, join(dir, 'log', 'mon.a.out'))();
      return (await cephJson(['osd', 'stat'])).num_up_osds === 1;
    }, 120_000, 250);
    stage('osd up');
    await until('the manager to be available', async () => {
      await mustRun(mgr, join(dir, 'log', 'mgr.x.out'))();
      return (await cephJson(['mgr', 'stat'])).available === true;
    }, 120_000, 250);
    stage('mgr available');

    // CephFS through the mgr's volumes module, as the article's cluster has it.
    await until('the volumes module to answer', async () => (await run(...cephArgv({ conf, layout: l }, ['fs', 'volume', 'ls']))).code === 0, 120_000, 250);
    await ceph(['fs', 'volume', 'create', FS_NAME]);
    await until('the MDS to be active for ' + FS_NAME, async () => {
      await mustRun(mds, join(dir, 'log', 'mds.a.out'))();
      const fs = await cephJson(['fs', 'get', FS_NAME]);
      const info = ((fs.mdsmap as Record<string, unknown>).info ?? {}) as Record<string, { state: string }>;
      return Object.values(info).some((d) => d.state === 'up:active');
    }, 120_000, 250);
    stage('cephfs active');

    // The NFS cluster by hand (no orchestrator): the `.nfs` pool, the cluster's config object, Ganesha's cephx user.
    const modules = await cephJson(['mgr', 'module', 'ls']);
    const nfsModuleEnabledByDefault = ((modules.enabled_modules ?? []) as string[]).includes('nfs');
    if (!nfsModuleEnabledByDefault) await ceph(['mgr', 'module', 'enable', 'nfs']);
    await ceph(['osd', 'pool', 'create', '.nfs']);
    await ceph(['osd', 'pool', 'application', 'enable', '.nfs', 'nfs']);
    await must('ip', ['netns', 'exec', l.lan.netns, 'rados', '--conf', conf, '-p', '.nfs', '-N', NFS_CLUSTER_ID, 'create', `conf-nfs.${NFS_CLUSTER_ID}`]);
    await ceph([
      'auth', 'get-or-create', `client.nfs.${NFS_CLUSTER_ID}.${GANESHA_NODE}`, 'mon', 'allow r', 'osd', `allow rw pool=.nfs namespace=${NFS_CLUSTER_ID}`,
      '-o', join(dir, 'ganesha', 'keyring'),
    ]);
    await until('mgr/nfs to know the NFS cluster', async () => (await run(...cephArgv({ conf, layout: l }, ['nfs', 'export', 'ls', NFS_CLUSTER_ID]))).code === 0, 120_000, 250);
    stage('nfs cluster object');

    await writeFile(join(dir, 'ganesha', 'ganesha.conf'), ganeshaConf({ cephConf: conf }));
    const ganesha = await startDaemon('ganesha', [
      'ip', ...inCeph(['unshare', '--pid', '--mount', '--fork', '--kill-child', '--propagation', 'private', 'sh', join(ASSETS, 'ganesha.sh'), join(dir, 'ganesha')]),
    ]);
    await until('NFS-Ganesha to register NFS with rpcbind', async () => {
      await mustRun(ganesha, join(dir, 'ganesha', 'ganesha.log'))();
      const r = await run('ip', ['netns', 'exec', l.lan.netns, 'rpcinfo', '-p', l.ceph.ip]);
      return r.code === 0 && /\b100003\s+4\s+tcp\s+2049\b/.test(r.stdout) && /\bmountd\b/.test(r.stdout);
    }, 60_000, 100);
    stage('ganesha serving');

    // The admin host: keys, its /etc/ceph, sshd, and a relay from the host's loopback.
    const adminDir = join(dir, 'admin');
    const clientKey = join(dir, 'client', 'id_ed25519');
    const hostKey = join(adminDir, 'sshd', 'ssh_host_ed25519_key');
    await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `pinet-ceph-test@${l.prefix}`, '-f', clientKey]);
    await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ceph-admin', '-f', hostKey]);
    await writeFile(join(adminDir, 'sshd', 'authorized_keys'), await readFile(`${clientKey}.pub`, 'utf8'));
    await writeFile(
      join(adminDir, 'sshd', 'sshd_config'),
      sshdConf({
        hostKey: '/etc/ssh/pinet-ceph/ssh_host_ed25519_key',
        authorizedKeys: '/etc/ssh/pinet-ceph/authorized_keys',
        pidFile: '/run/sshd-pinet-ceph.pid',
      }),
    );
    await writeFile(join(adminDir, 'etc-ceph', 'ceph.conf'), adminConf({ fsid, monIp: l.ceph.ip }));
    await writeFile(join(adminDir, 'etc-ceph', 'ceph.client.admin.keyring'), await readFile(adminKeyring, 'utf8'));
    await chmod(join(adminDir, 'etc-ceph', 'ceph.client.admin.keyring'), 0o600);
    const admin = await startDaemon('admin-host', [
      'ip', 'netns', 'exec', l.admin.netns,
      'unshare', '--pid', '--mount', '--uts', '--ipc', '--fork', '--kill-child', '--propagation', 'private', 'sh', join(ASSETS, 'admin-host.sh'), adminDir,
    ]);
    const listener = await new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    });
    const port = (listener.address() as net.AddressInfo).port;
    const fd = (listener as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) throw new Error('cannot hand the listening socket to the relay (no file descriptor)');
    const relayLog = openSync(join(dir, 'log', 'relay.out'), 'a');
    const relay = spawn(
      'setpriv',
      ['--pdeathsig', 'KILL', 'nsenter', `--net=/run/netns/${l.lan.netns}`, '--', process.execPath, join(ASSETS, 'relay.mjs'), l.admin.ip, '22'],
      { stdio: ['ignore', relayLog, relayLog, fd] },
    );
    closeSync(relayLog);
    listener.close();
    const relayExited = new Promise<void>((resolve) => relay.once('exit', () => resolve()));
    children.push({ name: 'relay', proc: relay, exited: relayExited });
    undo.push({
      what: 'relay',
      fn: async () => {
        if (relay.exitCode === null && relay.signalCode === null) {
          relay.kill('SIGKILL');
          await relayExited;
        }
      },
    });

    const hostPub = (await readFile(`${hostKey}.pub`, 'utf8')).trim();
    const knownHosts = join(dir, 'client', 'known_hosts');
    await writeFile(knownHosts, `[127.0.0.1]:${port} ${hostPub.split(/\s+/).slice(0, 2).join(' ')}\n`);
    const sshConfig = join(dir, 'client', 'ssh_config');
    await writeFile(
      sshConfig,
      [
        '# OpenSSH client config for the test Ceph admin host (test/ceph)',
        'Host ceph-admin',
        '    HostName 127.0.0.1',
        `    Port ${port}`,
        '    User root',
        `    IdentityFile ${clientKey}`,
        '    IdentitiesOnly yes',
        `    UserKnownHostsFile ${knownHosts}`,
        '    GlobalKnownHostsFile /dev/null',
        '    StrictHostKeyChecking yes',
        '    BatchMode yes',
        '    ConnectTimeout 10',
        '',
      ].join('\n'),
    );
    await until('the admin host to answer over SSH', async () => {
      await mustRun(admin, join(dir, 'log', 'admin-host.out'))();
      const r = await run('ssh', ['-F', sshConfig, '-n', 'ceph-admin', 'test -s /etc/ceph/ceph.conf']);
      return r.code === 0;
    }, 60_000, 200);
    stage('admin host');

    const info: ClusterInfo = {
      slot: opts.slot,
      layout: l,
      dir,
      fsid,
      conf,
      adminKeyring,
      fsName: FS_NAME,
      nfsClusterId: NFS_CLUSTER_ID,
      admin: { host: 'ceph-admin', port, sshConfig, knownHosts, identityFile: clientKey, hostKey: hostPub },
      ganeshaLog: join(dir, 'ganesha', 'ganesha.log'),
      nfsModuleEnabledByDefault,
      processes: [...children.map((c) => ({ name: c.name, pid: c.proc.pid ?? -1, start: processStart(c.proc.pid ?? -1) }))],
      startupMs: Date.now() - t0,
      stages,
    };
    return { info, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Remove a cluster directory (after stop()). */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
