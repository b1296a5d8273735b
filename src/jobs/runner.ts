/**
 * The task runner: every job that changes things (enroll, rollback, the
 * boot server's setup) is a list of named tasks run by this one runner.
 *
 * A job works on targets (Pis, or the boot server's parts) in phases:
 * typically "prepare" (connect → detect → lock → plan), then the job shows
 * the plan and asks, then "apply" (the changes, then verify). In a phase,
 * each target runs the phase's tasks in order, concurrently with the other
 * targets (up to `concurrency`). A task has a name (what reports say), a
 * title (what the progress view shows), a condition, its work, and its undo
 * where one exists. When a task fails, the tasks done before it on that
 * target are undone in reverse order, and the target drops out of later
 * phases; the other targets go on. Tasks may also register a cleanup (close
 * a connection, release a lock), run once when the job ends.
 *
 * A task that does several steps in one round trip (the Pi-side script of
 * enroll) declares them as `steps`, and reports each one's outcome.
 *
 * Progress, the `--json` results, the summary table and the report of what
 * was done / not done / undone all come from the task records kept here.
 */
import type { Progress } from '../ui/progress.js';
import { mapLimit } from '../util/concurrency.js';

export type TaskState = 'pending' | 'running' | 'done' | 'failed' | 'undone' | 'not done';

export interface TaskControl {
  /** Bytes copied so far (shown by the progress view). */
  bytes(done: number, total?: number): void;
  /** Changes the title the progress view shows. */
  title(text: string): void;
  /** For a task with steps: the outcome of one of them. */
  step(name: string, state: 'done' | 'undone'): void;
  /** Something to do once when the job ends, success or not (close, release). */
  cleanup(fn: () => Promise<void> | void): void;
}

export interface Task<C> {
  /** Short, stable: the name reports use ("copy", "fstab"). */
  name: string;
  /** What the progress view shows while it runs ("copying /boot/firmware"). */
  title: string | ((c: C) => string);
  /** The task runs only when this is true; otherwise it is not part of the job for this target. */
  when?: (c: C) => boolean;
  run(c: C, t: TaskControl): Promise<void>;
  /** Reverses `run` after a later task on the same target failed. */
  undo?(c: C): Promise<void>;
  /** Steps done together by `run` (in one round trip); each is reported like a task. */
  steps?: { name: string; when?: (c: C) => boolean }[];
}

/** Thrown by a task whose failure must not undo what was done before it (the target may already depend on it). */
export class KeepChangesError extends Error {
  constructor(
    readonly error: unknown,
    /** Why the earlier steps stay: "the connection dropped while the Pi was being changed". */
    readonly why: string,
  ) {
    super(error instanceof Error ? error.message : String(error), { cause: error });
    this.name = 'KeepChangesError';
  }
}

export interface TaskRecord {
  name: string;
  phase: string;
  state: TaskState;
  /** The error, for the failed task. */
  error?: unknown;
}

export interface TargetRecord<C> {
  target: string;
  ctx: C;
  tasks: TaskRecord[];
  /** The phase and task that failed, when one did. */
  failed?: { phase: string; task: string; error: unknown; kept?: string };
}

/** What a progress view is told (src/ui/progress.ts draws it). */
export type RunnerView = Progress;

export interface PhaseOptions<C> {
  /** Which targets take part (default: every target that has not failed). */
  only?: (r: TargetRecord<C>) => boolean;
  /** The progress view for this phase. */
  view?: RunnerView;
  /**
   * What the view says when a target finishes the phase. 'failed' marks a
   * target whose tasks all ran but whose result is not what was wanted (a Pi
   * enrolled that did not netboot after --reboot); the target is not failed.
   */
  finished?: (c: C) => { outcome: 'ok' | 'up to date' | 'skipped' | 'failed'; detail?: string };
  /** One line for a target's failure (default: the error's message). */
  describe?: (err: unknown) => string;
}

export class Job<C> {
  readonly targets: TargetRecord<C>[];
  private readonly cleanups: Array<() => Promise<void> | void> = [];

  constructor(
    readonly name: string,
    targets: { target: string; ctx: C }[],
    private readonly concurrency: number,
  ) {
    this.targets = targets.map((t) => ({ target: t.target, ctx: t.ctx, tasks: [] }));
  }

  /** Targets still in the job (no task has failed on them). */
  get active(): TargetRecord<C>[] {
    return this.targets.filter((t) => !t.failed);
  }

  /** Runs `tasks` on every active target (or `opts.only`), concurrently across targets. */
  async phase(phase: string, tasks: Task<C>[], opts: PhaseOptions<C> = {}): Promise<void> {
    const chosen = this.targets.filter((t) => !t.failed && (opts.only ? opts.only(t) : true));
    try {
      await mapLimit(chosen, this.concurrency, (t) => this.runTarget(t, phase, tasks, opts));
    } finally {
      opts.view?.stop();
    }
  }

  private async runTarget(t: TargetRecord<C>, phase: string, tasks: Task<C>[], opts: PhaseOptions<C>): Promise<void> {
    const view = opts.view;
    // Conditions are evaluated just before a task runs: they may read what earlier tasks found.
    const enabled = (cond: ((c: C) => boolean) | undefined): boolean => {
      try {
        return cond?.(t.ctx) ?? true;
      } catch {
        return true; // cannot tell yet (an earlier task failed): count it as not done
      }
    };
    const recordsOf = (task: Task<C>): TaskRecord[] => {
      const names = task.steps?.filter((s) => enabled(s.when)).map((s) => s.name) ?? [task.name];
      const recs = names.map((name): TaskRecord => ({ name, phase, state: 'pending' }));
      t.tasks.push(...recs);
      return recs;
    };
    const done: { task: Task<C>; recs: TaskRecord[] }[] = [];
    for (const [i, task] of tasks.entries()) {
      if (!enabled(task.when)) continue;
      const recs = recordsOf(task);
      const title = typeof task.title === 'function' ? task.title(t.ctx) : task.title;
      view?.step(t.target, title);
      for (const r of recs) r.state = 'running';
      const control: TaskControl = {
        bytes: (n, total) => view?.bytes(t.target, n, total),
        title: (text) => view?.step(t.target, text),
        step: (name, state) => {
          const r = recs.find((x) => x.name === name);
          if (r) r.state = state;
        },
        cleanup: (fn) => {
          this.cleanups.push(fn);
        },
      };
      try {
        await task.run(t.ctx, control);
        for (const r of recs) if (r.state === 'running') r.state = 'done';
        done.push({ task, recs });
      } catch (err) {
        const failedStep = stepOf(err);
        const failing = recs.find((r) => r.state === 'running' && (failedStep === undefined || r.name === failedStep)) ?? recs.find((r) => r.state === 'running');
        if (failing) {
          failing.state = 'failed';
          failing.error = err;
        }
        for (const r of recs) if (r.state === 'running') r.state = 'not done';
        const kept = err instanceof KeepChangesError ? err.why : undefined;
        t.failed = { phase, task: failing?.name ?? task.name, error: err instanceof KeepChangesError ? err.error : err, ...(kept ? { kept } : {}) };
        if (!kept) await this.undo(t.ctx, done);
        for (const rest of tasks.slice(i + 1)) if (enabled(rest.when)) for (const r of recordsOf(rest)) r.state = 'not done';
        view?.done(t.target, 'failed', (opts.describe ?? defaultDescribe)(t.failed.error));
        return;
      }
    }
    if (view) {
      const f = opts.finished?.(t.ctx) ?? { outcome: 'ok' as const };
      view.done(t.target, f.outcome, f.detail);
    }
  }

  private async undo(ctx: C, done: { task: Task<C>; recs: TaskRecord[] }[]): Promise<void> {
    for (const { task, recs } of [...done].reverse()) {
      if (!task.undo) continue;
      try {
        await task.undo(ctx);
        for (const r of recs) if (r.state === 'done') r.state = 'undone';
      } catch {
        // Undo is best effort: the task stays "done" in the report, which says so.
      }
    }
  }

  /** Runs every cleanup once, last registered first. */
  async close(): Promise<void> {
    for (const fn of this.cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // closing a dead connection or a released lock is not an error
      }
    }
  }
}

/** The step a failure names (a remote script's "fail <step>"), when it names one. */
function stepOf(err: unknown): string | undefined {
  const e = err instanceof KeepChangesError ? err.error : err;
  const s = (e as { failedStep?: unknown } | undefined)?.failedStep;
  return typeof s === 'string' ? s : undefined;
}

function defaultDescribe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Names of a target's tasks in a state, in order (e.g. what was done). */
export function tasksIn<C>(t: TargetRecord<C>, state: TaskState, phase?: string): string[] {
  return t.tasks.filter((r) => r.state === state && (phase === undefined || r.phase === phase)).map((r) => r.name);
}

/** "done: a, b; not done: c; undone: d", from the task records of a phase. */
export function describeOutcome<C>(t: TargetRecord<C>, phase: string): string {
  const failed = tasksIn(t, 'failed', phase);
  const done = tasksIn(t, 'done', phase);
  const notDone = [...failed, ...tasksIn(t, 'not done', phase)];
  const undone = tasksIn(t, 'undone', phase);
  return `done: ${done.join(', ') || 'nothing'}; not done: ${notDone.join(', ') || 'nothing'}${undone.length ? `; undone: ${undone.join(', ')}` : ''}`;
}
