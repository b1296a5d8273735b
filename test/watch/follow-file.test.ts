/**
 * The `tail -F` follower on real files (no root): appends, rotation by
 * rename (the old file read to its end first), truncation in place, a
 * truncate-and-regrow between two checks, and a file that appears late.
 * The same cases against the real dnsmasq are in watch.integration.test.ts.
 */
import { appendFile, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { followFile, type FollowNote } from '../../src/jobs/watch/follow-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pinet-follow-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Follow `path` in the background, collecting lines and notes. */
function follower(path: string, fromStart = false) {
  const ac = new AbortController();
  const lines: string[] = [];
  const notes: FollowNote[] = [];
  const done = (async () => {
    for await (const batch of followFile(path, { fromStart, pollMs: 20, signal: ac.signal, onNote: (n) => notes.push(n) })) lines.push(...batch);
  })();
  const until = async (pred: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; lines: ${JSON.stringify(lines)}; notes: ${JSON.stringify(notes)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { lines, notes, until, stop: async () => (ac.abort(), done) };
}

describe('followFile', () => {
  it('starts at the end and reads appended lines, a partial line only once it is complete', async () => {
    const p = join(dir, 'log');
    await writeFile(p, 'old 1\nold 2\n');
    const f = follower(p);
    await f.until(() => f.notes.some((n) => n.what === 'opened'), 'open');
    await appendFile(p, 'new 1\nnew');
    await f.until(() => f.lines.length === 1, 'one line');
    await appendFile(p, ' 2\n');
    await f.until(() => f.lines.length === 2, 'two lines');
    await f.stop();
    expect(f.lines).toEqual(['new 1', 'new 2']);
  });

  it('reads the new file from its start after a rename, and what the writer still adds to the old one', async () => {
    const p = join(dir, 'log');
    await writeFile(p, '');
    const f = follower(p);
    await f.until(() => f.notes.some((n) => n.what === 'opened'), 'open');
    await appendFile(p, 'a\n');
    await f.until(() => f.lines.length === 1, 'a');
    // logrotate: rename, create the new file, then tell the writer (dnsmasq: SIGUSR2), which writes to the old one until then.
    await rename(p, `${p}.1`);
    await appendFile(`${p}.1`, 'b (old file, after the rename)\n');
    await writeFile(p, 'c (new file)\n');
    await f.until(() => f.notes.some((n) => n.what === 'rotated') && f.lines.length === 3, 'b and c');
    await appendFile(`${p}.1`, 'd (old file, after the new one was created)\n');
    await appendFile(p, 'e (new file)\n');
    await f.until(() => f.lines.length === 5, 'd and e');
    await f.stop();
    expect(f.lines.slice(0, 3).sort()).toEqual(['a', 'b (old file, after the rename)', 'c (new file)']);
    expect(f.lines.slice(3).sort()).toEqual(['d (old file, after the new one was created)', 'e (new file)']);
    expect(f.notes.map((n) => n.what)).toEqual(['opened', 'rotated']);
  });

  it('starts again at 0 when the file is truncated in place (copytruncate)', async () => {
    const p = join(dir, 'log');
    await writeFile(p, 'x'.repeat(100) + '\n');
    const f = follower(p);
    await f.until(() => f.notes.some((n) => n.what === 'opened'), 'open');
    await truncate(p, 0);
    await f.until(() => f.notes.some((n) => n.what === 'truncated'), 'truncation');
    await appendFile(p, 'after\n');
    await f.until(() => f.lines.length === 1, 'after');
    await f.stop();
    expect(f.lines).toEqual(['after']);
  });

  it('notices a truncation even when the file grew back past the old position before the next check', async () => {
    const p = join(dir, 'log');
    await writeFile(p, 'first line of the old file\n');
    const ac = new AbortController();
    const notes: FollowNote[] = [];
    const it = followFile(p, { fromStart: true, pollMs: 60_000, signal: ac.signal, onNote: (n) => notes.push(n) });
    expect((await it.next()).value).toEqual(['first line of the old file']);
    // Between two checks: truncated, and rewritten longer than before.
    await writeFile(p, 'new content, longer than the old one was\nsecond\n');
    const next = await it.next();
    ac.abort();
    await it.return(undefined);
    expect(notes.map((n) => n.what)).toEqual(['opened', 'truncated']);
    expect(next.value).toEqual(['new content, longer than the old one was', 'second']);
  });

  it('waits for a file that does not exist yet and reads it from its start', async () => {
    const p = join(dir, 'later.log');
    const f = follower(p);
    await f.until(() => f.notes.some((n) => n.what === 'waiting'), 'waiting');
    await writeFile(p, 'hello\n');
    await f.until(() => f.lines.length === 1, 'hello');
    await f.stop();
    expect(f.lines).toEqual(['hello']);
  });

  it('with once, reads what is there, including a last line without a newline, and ends', async () => {
    const p = join(dir, 'log');
    await writeFile(p, 'a\nb\nc');
    const out: string[] = [];
    for await (const b of followFile(p, { fromStart: true, once: true })) out.push(...b);
    expect(out).toEqual(['a', 'b', 'c']);
  });
});
