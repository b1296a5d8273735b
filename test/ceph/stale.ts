/**
 * Clean up after a test Ceph cluster whose daemon died without cleaning up
 * (SIGKILL, a crash, a machine that lost power): stop the processes it
 * recorded (only if the PID still is that process), delete its namespaces
 * (only if its LAN bridge names that daemon), remove its directory and its
 * slot file. The daemon's children get SIGKILL from the kernel when it dies
 * (parent-death signal), so normally only files and namespaces are left.
 */
import { readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { RUN_DIR, SLOTS, layout } from './layout.js';
import { deleteNetwork, lanOwner } from './net.js';
import { isAlive } from './proc.js';
import type { SlotRecord } from './registry.js';
import { readSlot, slotFile } from './registry.js';

export function ownerTag(daemonPid: number): string {
  return `pinet-ceph-daemon=${daemonPid}`;
}

export async function cleanupSlot(slot: number, rec: SlotRecord | null): Promise<string[]> {
  const done: string[] = [];
  for (const p of rec?.processes ?? []) {
    if (isAlive(p)) {
      try {
        process.kill(p.pid, 'SIGKILL');
        done.push(`killed ${p.name} (pid ${p.pid})`);
      } catch {
        // Already gone.
      }
    }
  }
  const l = layout(slot);
  const tag = await lanOwner(l.lan.netns);
  if (tag === null || rec === null || tag === ownerTag(rec.daemon.pid)) {
    await deleteNetwork(l);
    done.push(`deleted namespaces ${l.prefix}-*`);
  }
  if (rec?.dir && rec.dir.startsWith('/tmp/pinet-ceph-')) {
    await rm(rec.dir, { recursive: true, force: true });
    done.push(`removed ${rec.dir}`);
  }
  return done;
}

/** Clean every slot whose daemon is dead, and run files of dead test runs. */
export async function cleanupStale(): Promise<string[]> {
  const done: string[] = [];
  for (let slot = 0; slot < SLOTS; slot++) {
    const rec = await readSlot(slot);
    if (rec === null || isAlive(rec.daemon)) continue;
    done.push(...(await cleanupSlot(slot, rec)));
    await unlink(slotFile(slot)).catch(() => undefined);
  }
  let names: string[] = [];
  try {
    names = await readdir(RUN_DIR);
  } catch {
    return done;
  }
  for (const n of names) {
    const m = /^run-(\d+)-(\w+)\./.exec(n);
    if (!m) continue;
    if (!isAlive({ pid: Number(m[1]), start: m[2] === 'x' ? null : m[2]! })) {
      await unlink(join(RUN_DIR, n)).catch(() => undefined);
      done.push(`removed ${join(RUN_DIR, n)}`);
    }
  }
  return done;
}
