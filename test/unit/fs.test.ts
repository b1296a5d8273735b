import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeIfChanged } from '../../src/util/fs.js';

const made: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'pinet-fs-'));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

describe('atomic local writes', () => {
  it('creates a file with the requested mode and leaves no temporary file', async () => {
    const d = dir();
    await writeFileAtomic(join(d, 'a.conf'), 'x\n', { mode: 0o640 });
    expect(readFileSync(join(d, 'a.conf'), 'utf8')).toBe('x\n');
    expect(statSync(join(d, 'a.conf')).mode & 0o777).toBe(0o640);
    expect(readdirSync(d)).toEqual(['a.conf']);
  });

  it('keeps the mode of an existing file', async () => {
    const d = dir();
    const f = join(d, 'a.conf');
    writeFileSync(f, 'old');
    chmodSync(f, 0o600);
    await writeFileAtomic(f, 'new');
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it('writes only when the content changes, keeping a .bak of the old one', async () => {
    const d = dir();
    const f = join(d, 'a.conf');
    expect(await writeIfChanged(f, 'one\n', { backup: true })).toMatchObject({ changed: true, created: true, before: null });
    const inode = statSync(f).ino;
    expect(await writeIfChanged(f, 'one\n', { backup: true })).toMatchObject({ changed: false });
    expect(statSync(f).ino).toBe(inode); // untouched
    expect(await writeIfChanged(f, 'two\n', { backup: true })).toMatchObject({ changed: true, backupPath: `${f}.bak`, before: 'one\n' });
    expect(readFileSync(`${f}.bak`, 'utf8')).toBe('one\n');
    expect(readFileSync(f, 'utf8')).toBe('two\n');
  });

  it('fails without touching the target when the directory is missing', async () => {
    await expect(writeFileAtomic('/nonexistent-dir/x', 'a')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
