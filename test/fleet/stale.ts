/**
 * Cleaning up after crashed fleets: namespaces, slot locks and fleet
 * directories whose owning process is gone. A fleet stopped normally leaves
 * none of these; a test process killed with SIGKILL (or a machine crash) can.
 * Processes are never touched: a fleet's daemon stops its Pis by itself when
 * its owner goes away.
 */
import { basename, join } from 'node:path';
import { rm, stat, unlink } from 'node:fs/promises';
import { deleteNamespaces, lanOwner, listNamespaces } from './netns.js';
import { FLEET_FILES, listLocks, NS_PREFIX, ownerAlive, slotId } from './slot.js';
import type { Owner } from './slot.js';

export interface StaleReport {
  namespaces: string[];
  locks: string[];
  dirs: string[];
}

function nsOwnerPid(name: string): { slot: number; pid: number } | null {
  const m = new RegExp(`^${NS_PREFIX}(\\d\\d)-(\\d+)-`).exec(name);
  return m ? { slot: Number(m[1]), pid: Number(m[2]) } : null;
}

/** A fleet's own temp directory goes entirely; in a directory the user chose, only the fleet's files. */
async function removeFleetDir(dir: string): Promise<void> {
  if (basename(dir).startsWith('pinet-fleet-')) await rm(dir, { recursive: true, force: true });
  else await Promise.all(FLEET_FILES.map((f) => rm(join(dir, f), { recursive: true, force: true })));
}

/** Remove what a dead fleet left in a slot (called before the slot is reused). */
export async function cleanupSlot(index: number, owner: Owner | null): Promise<void> {
  const prefix = `${NS_PREFIX}${String(index).padStart(2, '0')}-`;
  const names = (await listNamespaces()).filter((n) => n.startsWith(prefix));
  await deleteNamespaces(names);
  if (owner?.dir?.startsWith('/')) await removeFleetDir(owner.dir);
}

/** Remove every leftover of fleets whose owner process is dead. Returns what was removed. */
export async function cleanupStale(): Promise<StaleReport> {
  const report: StaleReport = { namespaces: [], locks: [], dirs: [] };
  for (const lock of await listLocks()) {
    if (lock.owner && ownerAlive(lock.owner)) continue;
    // A lock without an owner yet may be one a starting fleet is still writing.
    if (!lock.owner && Date.now() - (await stat(lock.lockFile).then((s) => s.mtimeMs, () => 0)) < 10_000) continue;
    if (lock.owner?.dir?.startsWith('/')) {
      await removeFleetDir(lock.owner.dir);
      report.dirs.push(lock.owner.dir);
    }
    await unlink(lock.lockFile).catch(() => undefined);
    report.locks.push(lock.lockFile);
  }
  const names = await listNamespaces();
  const lanStarts = new Map<string, string | null>();
  for (const n of names.filter((x) => x.endsWith('-lan'))) {
    const tag = await lanOwner(n);
    lanStarts.set(n.slice(0, -'-lan'.length), /start=(\d+)/.exec(tag ?? '')?.[1] ?? null);
  }
  const stale = names.filter((n) => {
    const o = nsOwnerPid(n);
    if (!o) return false;
    return !ownerAlive({ pid: o.pid, start: lanStarts.get(slotId(o.slot, o.pid)) ?? null });
  });
  await deleteNamespaces(stale);
  report.namespaces.push(...stale);
  return report;
}
