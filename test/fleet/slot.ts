/**
 * Where a fleet lives on the machine: its slot number (0-63) picks its /24 in
 * 10.251.64.0/18 and prefixes the names of its network namespaces, so that
 * fleets of test files running in parallel never collide.
 *
 * A slot is claimed by creating a lock file exclusively; the file records
 * the owner's PID and start time, so that a slot whose owner died (a crashed
 * run) can be recognised as stale and cleaned up.
 */
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export const LOCK_DIR = '/run/pinet-fleet';
export const SLOTS = 64;
/** Namespace names of every fleet start with this. */
export const NS_PREFIX = 'pfl';

/** The files and directories a fleet creates in its directory. */
export const FLEET_FILES = ['id_ed25519', 'id_ed25519.pub', 'hostkeys', 'ssh_config', 'known_hosts', 'daemon.log', 'state', 'fleet.json'];

export interface Owner {
  pid: number;
  /** Start time of the owner process (clock ticks since boot), against PID reuse. */
  start: string | null;
  /** The fleet's directory on the host. */
  dir: string;
}

export interface Slot {
  index: number;
  /** Prefix of the fleet's namespace names, e.g. `pfl07-12345`. */
  id: string;
  /** The third octet of the fleet's /24: 10.251.<octet>.0/24. */
  octet: number;
  lockFile: string;
}

export function slotId(index: number, pid: number): string {
  return `${NS_PREFIX}${String(index).padStart(2, '0')}-${pid}`;
}

export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counts from after the parenthesised command name.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export function ownerAlive(owner: Pick<Owner, 'pid' | 'start'>): boolean {
  const start = processStart(owner.pid);
  if (start === null) return false;
  return owner.start === null || owner.start === start;
}

export async function readOwner(lockFile: string): Promise<Owner | null> {
  try {
    return JSON.parse(await readFile(lockFile, 'utf8')) as Owner;
  } catch {
    return null;
  }
}

/**
 * Claim a free slot, starting from one derived from `seed` (the PID and a
 * per-process counter) so that parallel processes rarely race for the same
 * one. `onStale` is called for a slot whose owner is dead before it is reused.
 */
export async function claimSlot(dir: string, seed: number, onStale: (index: number, owner: Owner | null) => Promise<void>): Promise<Slot> {
  await mkdir(LOCK_DIR, { recursive: true, mode: 0o755 });
  const owner: Owner = { pid: process.pid, start: processStart(process.pid), dir };
  for (let attempt = 0; attempt < SLOTS * 2; attempt++) {
    const index = (seed + attempt) % SLOTS;
    const lockFile = join(LOCK_DIR, `slot-${String(index).padStart(2, '0')}.lock`);
    try {
      const fh = await open(lockFile, 'wx', 0o644);
      await fh.writeFile(JSON.stringify(owner) + '\n');
      await fh.close();
      return { index, id: slotId(index, process.pid), octet: 64 + index, lockFile };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const current = await readOwner(lockFile);
      if (current && ownerAlive(current)) continue;
      // A crashed run left this slot behind (or its owner is still writing the file).
      if (current === null) continue;
      await onStale(index, current);
      const removed = await unlink(lockFile).then(
        () => true,
        () => false,
      );
      if (removed) attempt--;
    }
  }
  throw new Error(`no free fake-Pi fleet slot in ${LOCK_DIR} (all ${SLOTS} are taken by running fleets)`);
}

export async function listLocks(): Promise<Array<{ index: number; lockFile: string; owner: Owner | null }>> {
  let names: string[];
  try {
    names = await readdir(LOCK_DIR);
  } catch {
    return [];
  }
  const out = [];
  for (const name of names) {
    const m = /^slot-(\d\d)\.lock$/.exec(name);
    if (!m) continue;
    const lockFile = join(LOCK_DIR, name);
    out.push({ index: Number(m[1]), lockFile, owner: await readOwner(lockFile) });
  }
  return out;
}
