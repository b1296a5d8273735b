/**
 * The process that owns one test Ceph cluster for a whole test run. Started
 * detached by shared.ts (the first test file of a run that needs Ceph); it
 * claims a slot, starts the cluster (cluster.ts), publishes its state in the
 * run's state file, and stops everything when the run's owner process (the
 * vitest main process, or a script) is gone, or on SIGTERM/SIGINT. Its
 * daemons carry a parent-death signal, so even a SIGKILL of this process
 * ends them; stale.ts removes what is left on disk then.
 *
 * Usage: node --import tsx test/ceph/daemon.ts '{"owner":{"pid":N,"start":"..."},"keep":false}'
 * (`keep`: leave the cluster's directory and the log for debugging).
 */
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import type { RunningCluster } from './cluster.js';
import { startCluster } from './cluster.js';
import { isAlive, processStart } from './proc.js';
import type { Owner, RunState, SlotRecord } from './registry.js';
import { claimSlot, runBase, slotFile, writeJson } from './registry.js';
import { cleanupSlot, ownerTag } from './stale.js';

const config = JSON.parse(process.argv[2] ?? '{}') as { owner: Owner; keep?: boolean };
const owner = config.owner;
const me: Owner = { pid: process.pid, start: processStart(process.pid) };
const base = runBase(owner);
const stateFile = `${base}.json`;
const log = (line: string): void => {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
};

let cluster: RunningCluster | null = null;
let slot = -1;
let dir = '';
let stopping: Promise<void> | null = null;
/** While the cluster starts: shutdown waits for it (startCluster undoes its own work if it fails). */
let starting: Promise<unknown> = Promise.resolve();

async function shutdown(reason: string): Promise<void> {
  stopping ??= (async () => {
    log(`stopping: ${reason}`);
    await starting.catch(() => undefined);
    if (cluster) await cluster.stop();
    if (dir !== '' && !config.keep) await rm(dir, { recursive: true, force: true });
    if (slot >= 0) await unlink(slotFile(slot)).catch(() => undefined);
    log('stopped');
  })();
  return stopping;
}

/** The run is over: remove its state and log files, and exit. */
async function finish(reason: string, code: number): Promise<never> {
  await shutdown(reason);
  await unlink(stateFile).catch(() => undefined);
  if (!config.keep) await unlink(`${base}.log`).catch(() => undefined);
  process.exit(code);
}

async function main(): Promise<void> {
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(sig, () => {
      void finish(sig, 0);
    });
  }
  const initial: RunState = { status: 'starting', daemon: me, log: `${base}.log` };
  await writeJson(stateFile, initial);
  const record: SlotRecord = { daemon: me, dir: '', processes: [] };
  slot = await claimSlot(record, async (s, old) => {
    log(`slot ${s} is stale: ${(await cleanupSlot(s, old)).join('; ') || 'nothing to clean'}`);
  });
  dir = await mkdtemp(`/tmp/pinet-ceph-${slot}-`);
  await writeJson(slotFile(slot), { ...record, dir });
  log(`slot ${slot}, directory ${dir}, owner pid ${owner.pid}`);

  // The owner may end while the cluster starts: check it all along.
  const watch = setInterval(() => {
    if (!isAlive(owner)) {
      clearInterval(watch);
      void finish(`owner ${owner.pid} is gone`, 0);
    }
  }, 500);

  try {
    const start = startCluster({ slot, dir, owner: ownerTag(process.pid), log });
    starting = start;
    cluster = await start;
  } catch (e) {
    const failed: RunState = { status: 'failed', daemon: me, log: `${base}.log`, error: (e as Error).stack ?? String(e) };
    log(`start failed: ${failed.error}`);
    // Everything is undone now; the failure stays readable for the run's other test files until the run ends.
    await shutdown('start failed');
    await writeJson(stateFile, failed);
    return;
  }
  if (stopping) return;
  await writeJson(slotFile(slot), { daemon: me, dir, processes: cluster.info.processes } satisfies SlotRecord);
  const ready: RunState = { status: 'ready', daemon: me, log: `${base}.log`, info: cluster.info };
  await writeJson(stateFile, ready);
  log(`ready in ${cluster.info.startupMs} ms`);
}

main().catch((e: unknown) => {
  log(`fatal: ${(e as Error).stack ?? String(e)}`);
  void finish('fatal error', 1);
});
