import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkExportDir, isExcluded, listTree, normalizeModes } from '../../src/server/export.js';

const made: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'pinet-export-'));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('export directory', () => {
  it('refuses a missing export and a file in its place', async () => {
    await expect(checkExportDir('/nonexistent/netboot')).rejects.toThrow(/does not exist/);
    const d = dir();
    writeFileSync(join(d, 'f'), '');
    await expect(checkExportDir(join(d, 'f'))).rejects.toThrow(/not a directory/);
    await expect(checkExportDir(d)).resolves.toBeUndefined();
  });

  it('refuses an export without room for the boot files', async () => {
    await expect(checkExportDir(dir(), Number.MAX_SAFE_INTEGER)).rejects.toThrow(/free, the boot files need/);
  });

  it('never copies a staged bootloader update', () => {
    for (const n of ['pieeprom.upd', 'pieeprom.sig', 'recovery.bin', 'RECOVERY.000']) expect(isExcluded(n)).toBe(true);
    for (const n of ['start4.elf', 'overlays/x.dtbo', 'vmlinuz', 'recovery.txt']) expect(isExcluded(n)).toBe(false);
    expect(isExcluded('sub/pieeprom.upd')).toBe(true); // like find -name, at any depth
  });

  it('makes every file 0644 and directory 0755, reporting what changed', async () => {
    const d = dir();
    mkdirSync(join(d, 'overlays'), { mode: 0o700 });
    writeFileSync(join(d, 'vmlinuz'), 'k', { mode: 0o600 });
    writeFileSync(join(d, 'overlays', 'a.dtbo'), 'o', { mode: 0o644 });
    chmodSync(join(d, 'overlays'), 0o700);
    chmodSync(join(d, 'vmlinuz'), 0o600);
    const changed = await normalizeModes(d);
    expect(changed).toEqual(expect.arrayContaining([{ path: 'vmlinuz', from: 0o600, to: 0o644 }, { path: 'overlays', from: 0o700, to: 0o755 }]));
    expect(statSync(join(d, 'vmlinuz')).mode & 0o777).toBe(0o644);
    expect(await normalizeModes(d)).toEqual([]);
  });

  it('lists a tree, names with spaces included', async () => {
    const d = dir();
    mkdirSync(join(d, 'overlays'));
    writeFileSync(join(d, 'config.txt'), 'arm_64bit=1\n');
    writeFileSync(join(d, 'overlays', 'a b.dtbo'), 'x');
    expect([...(await listTree(d)).keys()]).toEqual(['config.txt', 'overlays', 'overlays/a b.dtbo']);
  });

  it('lists the same synchronously (local file systems) and asynchronously (network ones): types, sizes, modes, order; a missing root is empty, an unreadable directory an error', async () => {
    const d = dir();
    mkdirSync(join(d, 'overlays/deeper'), { recursive: true });
    writeFileSync(join(d, 'vmlinuz'), 'kernel', { mode: 0o600 });
    writeFileSync(join(d, 'overlays/b.dtbo'), 'bb');
    writeFileSync(join(d, 'overlays/deeper/c'), 'ccc');
    writeFileSync(join(d, 'a.txt'), 'a');
    symlinkSync('vmlinuz', join(d, 'link'));
    chmodSync(join(d, 'vmlinuz'), 0o600);
    const sync = await listTree(d, 'sync');
    const async = await listTree(d, 'async');
    expect([...sync]).toEqual([...async]);
    expect([...(await listTree(d))]).toEqual([...sync]);
    expect([...sync.keys()]).toEqual(['a.txt', 'link', 'overlays', 'overlays/b.dtbo', 'overlays/deeper', 'overlays/deeper/c', 'vmlinuz']);
    expect(sync.get('vmlinuz')).toMatchObject({ type: 'file', size: 6, mode: 0o600 });
    expect(sync.get('link')?.type).toBe('symlink');
    expect(sync.get('overlays/deeper')?.type).toBe('dir');
    for (const how of ['sync', 'async', 'auto'] as const) expect((await listTree(join(d, 'missing'), how)).size).toBe(0);
    if (process.getuid?.() !== 0) {
      chmodSync(join(d, 'overlays'), 0o000);
      for (const how of ['sync', 'async'] as const) await expect(listTree(d, how)).rejects.toThrow(/EACCES/);
      chmodSync(join(d, 'overlays'), 0o755);
    }
  });
});

