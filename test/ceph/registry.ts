/**
 * The files in /run/pinet-ceph that tie a test run to its cluster:
 *
 *   slot-<N>.json            claimed exclusively by a cluster daemon: its PID,
 *                            start time, directory (stale when the PID is gone)
 *   run-<pid>-<start>.json   one per test run (the owner process): the state of
 *                            its cluster (starting / ready with ClusterInfo / failed)
 *   run-<pid>-<start>.lock   held while one test file starts the run's cluster,
 *                            so the others wait for it instead of starting another
 */
import { mkdirSync } from 'node:fs';
import { open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterInfo, DaemonRecord } from './cluster.js';
import { RUN_DIR, SLOTS } from './layout.js';
import { isAlive, processStart, sleep } from './proc.js';

export interface Owner {
  pid: number;
  start: string | null;
}

export interface SlotRecord {
  daemon: Owner;
  dir: string;
  processes: DaemonRecord[];
}

export type RunState =
  | { status: 'starting'; daemon: Owner; log: string }
  | { status: 'ready'; daemon: Owner; log: string; info: ClusterInfo }
  | { status: 'failed'; daemon: Owner; log: string; error: string };

export function ensureRunDir(): void {
  mkdirSync(RUN_DIR, { recursive: true, mode: 0o755 });
}

export function ownerOf(pid: number): Owner {
  return { pid, start: processStart(pid) };
}

export function runBase(owner: Owner): string {
  return join(RUN_DIR, `run-${owner.pid}-${owner.start ?? 'x'}`);
}

export const slotFile = (slot: number): string => join(RUN_DIR, `slot-${slot}.json`);

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

export const readSlot = (slot: number): Promise<SlotRecord | null> => readJson<SlotRecord>(slotFile(slot));
export const readRunState = (owner: Owner): Promise<RunState | null> => readJson<RunState>(`${runBase(owner)}.json`);

/** Write a JSON file atomically (temporary file + rename). */
export async function writeJson(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n');
  await rename(tmp, file);
}

/**
 * Claim a free slot for `rec.daemon`; a slot whose daemon is dead is handed
 * to `onStale` (which must clean it up) and then claimed.
 */
export async function claimSlot(rec: SlotRecord, onStale: (slot: number, old: SlotRecord | null) => Promise<void>): Promise<number> {
  ensureRunDir();
  for (let slot = 0; slot < SLOTS; slot++) {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(slotFile(slot), 'wx');
        await fh.writeFile(JSON.stringify(rec, null, 2) + '\n');
        await fh.close();
        return slot;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const old = await readSlot(slot);
      if (old && isAlive(old.daemon)) break;
      await onStale(slot, old);
      await unlink(slotFile(slot)).catch(() => undefined);
    }
  }
  throw new Error(`all ${SLOTS} test Ceph slots in ${RUN_DIR} are taken by running clusters`);
}

/** Hold `<base>.lock` while `fn` runs; waits while a live process holds it, takes it over from a dead one. */
export async function withRunLock<T>(owner: Owner, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  ensureRunDir();
  const lock = `${runBase(owner)}.lock`;
  const me = ownerOf(process.pid);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await open(lock, 'wx');
      await fh.writeFile(JSON.stringify(me));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await readJson<Owner>(lock);
    if (holder && !isAlive(holder)) {
      await unlink(lock).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (held by PID ${holder?.pid ?? '?'})`);
    await sleep(200);
  }
  try {
    return await fn();
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}
