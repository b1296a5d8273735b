/**
 * The task runner (src/jobs/runner.ts) on made-up tasks that log what they
 * do: tasks run in order per target, conditions are read just before their
 * task runs, a failure undoes earlier work in reverse (unless the task says
 * the changes must stay), a batched task reports its own steps, cleanups
 * run once, one target's failure leaves the others alone, and the progress
 * view hears each of it.
 */
import { describe, expect, it } from 'vitest';
import { describeOutcome, Job, KeepChangesError, tasksIn, type Task } from '../../src/jobs/runner.js';
import type { Progress } from '../../src/ui/progress.js';

interface Ctx {
  name: string;
  log: string[];
  found?: boolean;
  /** Tasks that fail on this target. */
  failAt?: string;
}

/** A task that logs "run <name>" / "undo <name>" in the target's log and fails where the target says. */
function task(name: string, over: Partial<Task<Ctx>> = {}): Task<Ctx> {
  return {
    name,
    title: `doing ${name}`,
    async run(c) {
      c.log.push(`run ${name}`);
      if (c.failAt === name) throw new Error(`${name} broke on ${c.name}`);
    },
    async undo(c) {
      c.log.push(`undo ${name}`);
    },
    ...over,
  };
}

function job(targets: Partial<Ctx>[], concurrency = 4): Job<Ctx> {
  return new Job<Ctx>('test', targets.map((t, i) => ({ target: t.name ?? `t${i}`, ctx: { name: `t${i}`, log: [], ...t } })), concurrency);
}

/** A progress view that records what it is told. */
function recorder(): Progress & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    step: (n, s) => events.push(`${n} step ${s}`),
    bytes: (n, b, t) => events.push(`${n} bytes ${b}/${t}`),
    done: (n, o, d) => events.push(`${n} done ${o}${d ? ` ${d}` : ''}`),
    stop: () => events.push('stop'),
  };
}

describe('task runner', () => {
  it('runs the tasks in order on every target, and records them done', async () => {
    const j = job([{ name: 'a' }, { name: 'b' }]);
    await j.phase('apply', [task('one'), task('two'), task('three')]);
    for (const t of j.targets) {
      expect(t.ctx.log).toEqual(['run one', 'run two', 'run three']);
      expect(tasksIn(t, 'done')).toEqual(['one', 'two', 'three']);
      expect(t.failed).toBeUndefined();
    }
  });

  it('reads a condition just before its task runs: it may depend on what earlier tasks found', async () => {
    const j = job([{ name: 'a' }]);
    const asked: string[] = [];
    await j.phase('prepare', [
      task('detect', { run: async (c) => void (c.log.push('run detect'), (c.found = true)) }),
      task('lock', { when: (c) => (asked.push(`found=${c.found}`), c.found === true) }),
      task('skipped', { when: () => false }),
    ]);
    expect(asked).toEqual(['found=true']);
    expect(j.targets[0]!.ctx.log).toEqual(['run detect', 'run lock']);
    // a task whose condition is false is not part of the job for that target
    expect(j.targets[0]!.tasks.map((r) => r.name)).toEqual(['detect', 'lock']);
  });

  it('a failure undoes the earlier tasks in reverse order, the later ones are "not done", and the target leaves the job', async () => {
    const j = job([{ name: 'a', failAt: 'three' }]);
    await j.phase('apply', [task('one'), task('two', { undo: undefined }), task('three'), task('four')]);
    const t = j.targets[0]!;
    expect(t.ctx.log).toEqual(['run one', 'run two', 'run three', 'undo one']);
    expect(t.tasks.map((r) => `${r.name}:${r.state}`)).toEqual(['one:undone', 'two:done', 'three:failed', 'four:not done']);
    expect(t.failed).toMatchObject({ phase: 'apply', task: 'three' });
    expect((t.failed!.error as Error).message).toBe('three broke on a');
    expect(describeOutcome(t, 'apply')).toBe('done: two; not done: three, four; undone: one');
    // a later phase skips it
    await j.phase('verify', [task('five')]);
    expect(t.ctx.log).not.toContain('run five');
    expect(j.active).toEqual([]);
  });

  it('undo runs in reverse even across several undoable tasks, and a failing undo leaves its task "done"', async () => {
    const j = job([{ name: 'a', failAt: 'four' }]);
    await j.phase('apply', [
      task('one'),
      task('two', {
        async undo(c) {
          c.log.push('undo two');
          throw new Error('cannot');
        },
      }),
      task('three'),
      task('four'),
    ]);
    const t = j.targets[0]!;
    expect(t.ctx.log.filter((l) => l.startsWith('undo'))).toEqual(['undo three', 'undo two', 'undo one']);
    expect(tasksIn(t, 'undone')).toEqual(['one', 'three']);
    expect(tasksIn(t, 'done')).toEqual(['two']);
  });

  it('KeepChangesError: nothing is undone, and the target records why', async () => {
    const j = job([{ name: 'a' }]);
    const cause = new Error('connection lost');
    await j.phase('apply', [
      task('one'),
      task('pi', {
        async run(c) {
          c.log.push('run pi');
          throw new KeepChangesError(cause, 'the connection dropped while the Pi was being changed');
        },
      }),
      task('after'),
    ]);
    const t = j.targets[0]!;
    expect(t.ctx.log).toEqual(['run one', 'run pi']);
    expect(t.failed).toEqual({ phase: 'apply', task: 'pi', error: cause, kept: 'the connection dropped while the Pi was being changed' });
    expect(t.tasks.map((r) => `${r.name}:${r.state}`)).toEqual(['one:done', 'pi:failed', 'after:not done']);
  });

  it('a batched task reports its steps: done ones, undone ones, and the one its failure names', async () => {
    const steps = [{ name: 'backup' }, { name: 'fstab' }, { name: 'hooks', when: (c: Ctx) => c.name !== 'b' }, { name: 'bootloader' }];
    const batched = (fail: boolean): Task<Ctx> => ({
      name: 'pi',
      title: 'changing the Pi',
      steps,
      async run(_c, t) {
        t.step('backup', 'done');
        t.step('fstab', 'done');
        if (fail) {
          t.step('fstab', 'undone');
          throw Object.assign(new Error('rpi-eeprom-config --apply failed'), { failedStep: 'bootloader' });
        }
      },
    });
    const ok = job([{ name: 'a' }]);
    await ok.phase('apply', [batched(false)]);
    // steps the task did not report are done when it succeeds
    expect(ok.targets[0]!.tasks.map((r) => `${r.name}:${r.state}`)).toEqual(['backup:done', 'fstab:done', 'hooks:done', 'bootloader:done']);

    const bad = job([{ name: 'a' }, { name: 'b' }]);
    await bad.phase('apply', [batched(true)]);
    expect(bad.targets[0]!.tasks.map((r) => `${r.name}:${r.state}`)).toEqual(['backup:done', 'fstab:undone', 'hooks:not done', 'bootloader:failed']);
    // a step whose condition is false for a target is not listed for it
    expect(bad.targets[1]!.tasks.map((r) => r.name)).toEqual(['backup', 'fstab', 'bootloader']);
    expect(bad.targets[0]!.failed!.task).toBe('bootloader');
  });

  it('cleanups run once, last registered first, when the job closes, even after a failure', async () => {
    const closed: string[] = [];
    const j = job([{ name: 'a' }, { name: 'b', failAt: 'lock' }]);
    await j.phase('prepare', [
      task('connect', { run: async (c, t) => t.cleanup(() => void closed.push(`close ${c.name}`)) }),
      task('lock', {
        async run(c, t) {
          if (c.failAt === 'lock') throw new Error('locked by another pinet run');
          t.cleanup(() => {
            closed.push(`release ${c.name}`);
            throw new Error('already released'); // a failing cleanup does not stop the others
          });
        },
      }),
    ]);
    expect(closed).toEqual([]);
    await j.close();
    expect([...closed].sort()).toEqual(['close a', 'close b', 'release a']);
    expect(closed.indexOf('release a')).toBeLessThan(closed.indexOf('close a'));
    await j.close();
    expect(closed).toHaveLength(3);
  });

  it('one target failing leaves the others running to the end, also with concurrency 1', async () => {
    for (const concurrency of [1, 3]) {
      const j = job([{ name: 'a' }, { name: 'b', failAt: 'two' }, { name: 'c' }], concurrency);
      await j.phase('apply', [task('one'), task('two'), task('three')]);
      expect(j.targets.map((t) => t.ctx.log.join(','))).toEqual(['run one,run two,run three', 'run one,run two,undo one', 'run one,run two,run three']);
      expect(j.active.map((t) => t.target)).toEqual(['a', 'c']);
      await j.phase('verify', [task('four')], { only: (t) => t.target !== 'a' });
      expect(j.targets.map((t) => t.ctx.log.includes('run four'))).toEqual([false, false, true]);
    }
  });

  it('never runs more targets at once than the concurrency', async () => {
    let running = 0;
    let most = 0;
    const gate: Array<() => void> = [];
    const j = job(Array.from({ length: 6 }, (_, i) => ({ name: `p${i}` })), 2);
    const phase = j.phase('apply', [
      task('slow', {
        async run() {
          running++;
          most = Math.max(most, running);
          await new Promise<void>((r) => gate.push(r));
          running--;
        },
      }),
    ]);
    // release the tasks one at a time, each as soon as it is waiting
    for (let released = 0; released < 6; released++) {
      while (gate.length === 0) await new Promise((r) => setImmediate(r));
      gate.shift()!();
    }
    await phase;
    expect(most).toBe(2);
  });

  it('tells the progress view each title, the bytes, the outcome and the failure', async () => {
    const view = recorder();
    const j = job([{ name: 'a' }, { name: 'b', failAt: 'copy' }], 1);
    await j.phase(
      'apply',
      [
        task('copy', {
          title: (c) => `copying for ${c.name}`,
          async run(c, t) {
            t.bytes(512, 1024);
            t.title('verifying');
            if (c.failAt === 'copy') throw new Error('disk full');
          },
        }),
      ],
      { view, finished: () => ({ outcome: 'ok', detail: '1 change(s)' }), describe: (e) => `FAILED: ${(e as Error).message}` },
    );
    expect(view.events).toEqual([
      'a step copying for a',
      'a bytes 512/1024',
      'a step verifying',
      'a done ok 1 change(s)',
      'b step copying for b',
      'b bytes 512/1024',
      'b step verifying',
      'b done failed FAILED: disk full',
      'stop',
    ]);
  });

  it('shows a target as failed when its tasks ran but its result is not the one wanted, without failing it', async () => {
    const view = recorder();
    const j = job([{ name: 'a' }, { name: 'b' }], 1);
    await j.phase('apply', [task('reboot', { async run() {} })], {
      view,
      finished: (c) => (c.name === 'b' ? { outcome: 'failed', detail: 'did not netboot' } : { outcome: 'ok' }),
    });
    expect(view.events.filter((e) => e.includes(' done '))).toEqual(['a done ok', 'b done failed did not netboot']);
    expect(j.targets.map((t) => t.failed)).toEqual([undefined, undefined]);
  });
});
