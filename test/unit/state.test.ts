import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { checkStateDir, StateStore, stamp } from '../../src/server/state.js';

const made: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'pinet-state-'));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** Lets pending I/O and promise callbacks run until `cond` holds (no timers: they are fake where this is used). */
async function settle(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

describe('state directory', () => {
  it('refuses a state directory inside the export', () => {
    expect(() => checkStateDir('/mnt/netboot/.pinet', '/mnt/netboot')).toThrow(/TFTP serves to anyone/);
    expect(() => checkStateDir('/mnt/netboot', '/mnt/netboot')).toThrow();
    expect(checkStateDir('/var/lib/pinet', '/mnt/netboot')).toBe('/var/lib/pinet');
    expect(checkStateDir('/mnt/netboot2', '/mnt/netboot')).toBe('/mnt/netboot2');
  });

  it('keeps the inventory private and never loses concurrent updates', async () => {
    const s = new StateStore(join(dir(), 'state'));
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        s.updateInventory((inv) => {
          const serial = `10000000000000${i.toString(16).padStart(2, '0')}`;
          inv.pis[serial] = { serial, dir: serial.slice(-8) } as never;
        }),
      ),
    );
    const inv = await s.readInventory();
    expect(Object.keys(inv.pis)).toHaveLength(20);
    expect(statSync(s.inventoryPath).mode & 0o777).toBe(0o600);
    expect(statSync(s.dir).mode & 0o777).toBe(0o700);
  });

  it('reports a damaged inventory instead of overwriting it', async () => {
    const s = new StateStore(dir());
    writeFileSync(s.inventoryPath, '{ not json');
    await expect(s.readInventory()).rejects.toThrow(/damaged/);
    await expect(s.updateInventory(() => undefined)).rejects.toThrow(/damaged/);
    expect(readFileSync(s.inventoryPath, 'utf8')).toBe('{ not json');
  });

  it('lets only one run hold a Pi lock, and takes over a lock whose process died', async () => {
    const s = new StateStore(dir());
    const lock = await s.lock('10000000bf9fed6f', { what: 'pi-07' });
    await expect(s.lock('10000000bf9fed6f', { what: 'pi-07' })).rejects.toThrow(/pi-07 is locked by another pinet run \(pid \d+\)/);
    await lock.release();
    const again = await s.lock('10000000bf9fed6f');
    await again.release();

    // a lock left by a process that no longer exists
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((r) => child.on('exit', () => r(child.pid!)));
    writeFileSync(join(s.dir, 'locks', 'x.lock'), `${deadPid} ${hostname()}\n`);
    const taken = await s.lock('x');
    expect(readFileSync(taken.path, 'utf8')).toContain(String(process.pid));
    await taken.release();
  });

  it('waits for a lock when asked to: the second holder gets it only after the first releases it', async () => {
    const s = new StateStore(dir());
    const first = await s.lock('inv');
    // Fake timers: the waiting run sleeps between attempts on a timer, so each attempt is seen, and none is missed.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const events: string[] = [];
      const second = s.lock('inv', { waitMs: 60_000 }).then((l) => {
        events.push('second holds it');
        return l;
      });
      // It tries, finds the lock held, and sleeps; again and again while the first holds it.
      for (let attempt = 0; attempt < 5; attempt++) {
        await settle(() => vi.getTimerCount() === 1);
        expect(events).toEqual([]);
        vi.runOnlyPendingTimers();
      }
      events.push('first released');
      await first.release();
      await settle(() => vi.getTimerCount() === 1 || events.length === 2);
      vi.runOnlyPendingTimers();
      const lock = await second;
      expect(events).toEqual(['first released', 'second holds it']);
      expect(readFileSync(lock.path, 'utf8')).toBe(`${process.pid} ${hostname()}\n`);
      await lock.release();
    } finally {
      vi.useRealTimers();
    }
  });

  it('stamps sort in time order', () => {
    expect(stamp(new Date('2026-11-25T10:44:55.123Z'))).toBe('20261125T104455Z');
  });
});
