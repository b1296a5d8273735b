/**
 * One test Ceph cluster per test run, shared by every test file that needs
 * it. vitest runs test files in worker processes of one main process; that
 * main process is the run's owner. The first file to call cephCluster()
 * starts the cluster daemon (daemon.ts, detached) under a lock; the others
 * wait on the same lock and attach to the cluster it published. The daemon
 * stops the cluster when the owner process ends, so the cluster outlives each
 * test file but not the run. A script (record.ts) is its own owner.
 *
 * (The repository's vitest config is shared by every area, so this is a
 * lock-protected singleton rather than a vitest globalSetup.)
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ClusterInfo } from './cluster.js';
import { cephArgv } from './cluster.js';
import type { ClientName } from './layout.js';
import type { RunOptions, RunResult } from './proc.js';
import { isAlive, run, sleep } from './proc.js';
import type { Owner, RunState } from './registry.js';
import { ownerOf, readRunState, runBase, withRunLock } from './registry.js';
import { cleanupStale } from './stale.js';

const DAEMON = fileURLToPath(new URL('./daemon.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CEPHFS_TOOL = fileURLToPath(new URL('./assets/cephfs-tool.py', import.meta.url));

/** Start-up of a cluster takes 20-60 s here; a loaded machine may need more. */
export const START_TIMEOUT_MS = 170_000;

/** The run's owner: PINET_CEPH_OWNER_PID, else vitest's main process (in a vitest worker), else this process. */
export function runOwner(): Owner {
  const fromEnv = Number(process.env.PINET_CEPH_OWNER_PID ?? '');
  if (Number.isInteger(fromEnv) && fromEnv > 0) return ownerOf(fromEnv);
  if (process.env.VITEST !== undefined) return ownerOf(process.ppid);
  return ownerOf(process.pid);
}

async function logTail(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-40).join('\n');
  } catch {
    return '(no daemon log)';
  }
}

function spawnDaemon(owner: Owner): Owner {
  const log = openSync(`${runBase(owner)}.log`, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', DAEMON, JSON.stringify({ owner, keep: process.env.PINET_CEPH_KEEP === '1' })], {
    cwd: PROJECT_ROOT,
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  return ownerOf(child.pid ?? -1);
}

/**
 * Wait until the run's daemon publishes a final state; undefined if no live
 * daemon is behind the state (`spawned`: a daemon just started, which may not
 * have written its state yet).
 */
async function awaitState(owner: Owner, deadline: number, spawned?: Owner): Promise<RunState | undefined> {
  for (;;) {
    const s = await readRunState(owner);
    if (s === null && spawned !== undefined && isAlive(spawned) && Date.now() < deadline) {
      await sleep(100);
      continue;
    }
    if (s === null || !isAlive(s.daemon)) return s?.status === 'failed' ? s : undefined;
    if (s.status !== 'starting') return s;
    if (Date.now() > deadline) throw new Error(`the test Ceph cluster did not start within ${START_TIMEOUT_MS} ms; daemon log:\n${await logTail(s.log)}`);
    await sleep(250);
  }
}

/**
 * The cluster of the run owned by `owner`: attach to it, or start it (under
 * the run's lock, so concurrent test files start one cluster, not several).
 */
export async function clusterOf(owner: Owner): Promise<CephCluster> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const state = await withRunLock(owner, START_TIMEOUT_MS, async () => {
    let s = await awaitState(owner, deadline);
    if (s === undefined) {
      await cleanupStale();
      const spawned = spawnDaemon(owner);
      s = await awaitState(owner, deadline, spawned);
      if (s === undefined) throw new Error(`the test Ceph cluster daemon exited at start; its log:\n${await logTail(`${runBase(owner)}.log`)}`);
    }
    return s;
  });
  if (state.status === 'failed') throw new Error(`the test Ceph cluster failed to start:\n${state.error}\ndaemon log:\n${await logTail(state.log)}`);
  if (state.status !== 'ready') throw new Error(`unexpected cluster state ${state.status}`);
  return new CephCluster(state.info, state.daemon);
}

let cached: Promise<CephCluster> | null = null;

/** The run's cluster, started on first use. */
export function cephCluster(): Promise<CephCluster> {
  cached ??= clusterOf(runOwner());
  cached.catch(() => {
    cached = null;
  });
  return cached;
}

export interface NfsUrlOptions {
  /** 3 (default of libnfs) or 4 (NFSv4.0: all libnfs speaks). */
  version?: 3 | 4;
  uid?: number;
  gid?: number;
}

export interface CephfsStat {
  uid: number;
  gid: number;
  mode: number;
  size: number;
}

/** A test's handle on the running cluster. */
export class CephCluster {
  constructor(
    readonly info: ClusterInfo,
    readonly daemon: Owner,
  ) {}

  /** `ceph <args>` as client.admin, from the LAN (the test's own view, not over SSH). */
  ceph(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const [cmd, argv] = cephArgv(this.info, args);
    return run(cmd, argv, { timeoutMs: 120_000, ...opts });
  }

  async cephJson<T = unknown>(args: string[]): Promise<T> {
    const r = await this.ceph([...args, '--format', 'json']);
    if (r.code !== 0) throw new Error(`ceph ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as T;
  }

  /** `rados <args>` as client.admin, from the LAN. */
  rados(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.info.layout.lan.netns, 'rados', '--conf', this.info.conf, ...args], { timeoutMs: 60_000, ...opts });
  }

  /** Run one remote command line on the admin host with the real OpenSSH client. */
  adminSsh(command: string, opts: RunOptions = {}): Promise<RunResult> {
    const args = ['-F', this.info.admin.sshConfig, ...(opts.input === undefined ? ['-n'] : []), this.info.admin.host, command];
    return run('ssh', args, { timeoutMs: 120_000, ...opts });
  }

  /** The NFS server's address (NFS-Ganesha in the cluster's namespace). */
  get nfsServer(): string {
    return this.info.layout.ceph.ip;
  }

  nfsUrl(path: string, opts: NfsUrlOptions = {}): string {
    if (!path.startsWith('/')) throw new Error(`NFS path ${path} must be absolute`);
    const q: string[] = [];
    if (opts.version === 4) q.push('version=4');
    if (opts.uid !== undefined) q.push(`uid=${opts.uid}`);
    if (opts.gid !== undefined) q.push(`gid=${opts.gid}`);
    return `nfs://${this.nfsServer}${path.split('/').map(encodeURIComponent).join('/')}${q.length > 0 ? '?' + q.join('&') : ''}`;
  }

  /** libnfs-utils' `nfs-ls`, `nfs-cp`, `nfs-cat`, `nfs-stat` from one of the client namespaces. */
  nfs(client: ClientName, tool: 'nfs-ls' | 'nfs-cp' | 'nfs-cat' | 'nfs-stat', args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.info.layout.clients[client].netns, tool, ...args], { timeoutMs: 60_000, ...opts });
  }

  /** The address of a client namespace. */
  clientIp(client: ClientName): string {
    return this.info.layout.clients[client].ip;
  }

  /** Ground truth from CephFS itself (libcephfs as client.admin): owner, mode and size of a path. */
  async cephfsStat(path: string): Promise<CephfsStat | null> {
    const r = await this.cephfsTool(['stat', path]);
    if (r.code === 2) return null;
    if (r.code !== 0) throw new Error(`cephfs stat ${path}: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as CephfsStat;
  }

  /** Write a file straight into CephFS (libcephfs) with the given owner and mode. */
  async cephfsWrite(path: string, data: string, owner: { uid: number; gid: number }, mode: number): Promise<void> {
    const r = await this.cephfsTool(['write', path, String(owner.uid), String(owner.gid), mode.toString(8)], { input: data });
    if (r.code !== 0) throw new Error(`cephfs write ${path}: ${r.stderr.trim()}`);
  }

  async cephfsRead(path: string): Promise<string> {
    const r = await this.cephfsTool(['read', path]);
    if (r.code !== 0) throw new Error(`cephfs read ${path}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  private cephfsTool(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return run(
      'ip',
      ['netns', 'exec', this.info.layout.lan.netns, '/usr/bin/python3', CEPHFS_TOOL, this.info.conf, this.info.fsName, ...args],
      { timeoutMs: 60_000, ...opts },
    );
  }

  /** The raw Ganesha EXPORT block mgr/nfs stored for an export id (what NFS-Ganesha reads). */
  async ganeshaExportBlock(exportId: number): Promise<string> {
    const r = await this.rados(['-p', '.nfs', '-N', this.info.nfsClusterId, 'get', `export-${exportId}`, '-']);
    if (r.code !== 0) throw new Error(`rados get export-${exportId}: ${r.stderr.trim()}`);
    return r.stdout;
  }
}
