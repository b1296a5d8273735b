/**
 * The inventory is read like any input: a hand-edited or damaged file with a
 * serial or directory name pinet would never write is refused, naming the
 * entry and the backup to restore, before any of it reaches a path or a lock.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StateStore } from '../../src/server/state.js';

const dir = mkdtempSync(join(tmpdir(), 'pinet-inventory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const entry = (serial: string, d: string) => ({ serial, dir: d, prefixMode: 'serial', host: 'pi', bootMount: '/boot/firmware', exportDir: '/mnt/netboot', nfs: 'h:/x', enrolledAt: '', updatedAt: '', changes: [], hooks: [] });

describe('inventory', () => {
  it('reads a good inventory and refuses hostile serials, directory names and ports', async () => {
    const store = new StateStore(dir);
    const write = (pis: Record<string, unknown>) => writeFileSync(store.inventoryPath, JSON.stringify({ version: 1, pis }));
    write({ '10000000bf9fed6f': entry('10000000bf9fed6f', 'bf9fed6f') });
    expect(Object.keys((await store.readInventory()).pis)).toEqual(['10000000bf9fed6f']);
    write({ '../../etc/x': entry('../../etc/x', 'bf9fed6f') });
    await expect(store.readInventory()).rejects.toThrow(/is damaged .*not a Raspberry Pi serial/);
    write({ '10000000bf9fed6f': entry('10000000bf9fed6f', '../outside') });
    await expect(store.readInventory()).rejects.toThrow(/is damaged .*not a plain relative path/);
    // The SSH port enroll records (watch connects to it): a TCP port or nothing.
    write({ '10000000bf9fed6f': { ...entry('10000000bf9fed6f', 'bf9fed6f'), port: 2201 } });
    expect((await store.readInventory()).pis['10000000bf9fed6f']?.port).toBe(2201);
    for (const port of ['22; rm -rf /', 0, 70_000, 22.5]) {
      write({ '10000000bf9fed6f': { ...entry('10000000bf9fed6f', 'bf9fed6f'), port } });
      await expect(store.readInventory()).rejects.toThrow(/is damaged .*is not a TCP port/);
    }
    write({ '10000000bf9fed6f': entry('10000000aaaaaaaa', 'bf9fed6f') });
    await expect(store.readInventory()).rejects.toMatchObject({ message: expect.stringMatching(/differs from its key/), hint: expect.stringMatching(/inventory\.json\.bak/) });
  });
});
