/**
 * `pinet server setup` as a job: prepare (connect → detect → lock → plan),
 * show the plan, ask, apply (export → mount → dnsmasq → verify → record),
 * with the same runner, progress and results as enroll.
 */
import { exitCodeOf, formatError, PinetError } from '../../errors.js';
import type { Plan } from '../../plan/model.js';
import type { Progress } from '../../ui/progress.js';
import { describeOutcome, Job, tasksIn, type TargetRecord } from '../runner.js';
import { recordSetup, serverApplyTasks, serverPrepareTasks, type ServerEnv, type ServerTarget } from './tasks.js';

export interface ServerResult {
  target: string;
  result: 'set up' | 'rolled back' | 'up to date' | 'planned' | 'refused' | 'failed';
  changes: string[];
  error?: string;
  report?: { done: string[]; notDone: string[]; undone: string[] };
  /** How dnsmasq was restarted, or what the user must run. */
  dnsmasq?: string;
  /** A refusal's exit code: 2 for a bad value (usage), 1 otherwise. */
  exitCode?: number;
}

export interface ServerRunOptions {
  dryRun: boolean;
  confirm: (plan: Plan, changing: number) => Promise<boolean>;
  showPlan: (plan: Plan) => void;
  progress: (names: string[]) => Progress;
}

export async function setupServer(env: ServerEnv, opts: ServerRunOptions): Promise<{ plan: Plan; result: ServerResult }> {
  await env.state.ensure();
  const job = new Job<ServerTarget>('server setup', [{ target: 'boot server', ctx: { backups: {} } }], 1);
  try {
    await job.phase('prepare', serverPrepareTasks(env), {
      view: opts.progress(['boot server']),
      describe: formatError,
      finished: (c) => (c.plan!.target.changes.length ? { outcome: 'ok', detail: `${c.plan!.target.changes.length} change(s) planned` } : { outcome: 'up to date' }),
    });
    const t = job.targets[0]!;
    const plan: Plan = { command: 'server setup', targets: t.ctx.plan && !t.failed ? [t.ctx.plan.target] : [] };
    opts.showPlan(plan);
    const changing = job.active.filter((x) => x.ctx.plan!.target.changes.length > 0);
    if (opts.dryRun || changing.length === 0) return { plan, result: resultOf(t) };
    if (!(await opts.confirm(plan, 1))) throw new PinetError('nothing was changed (not confirmed)');
    await job.phase('apply', serverApplyTasks(env), {
      view: opts.progress(['boot server']),
      describe: formatError,
      finished: (c) => ({ outcome: 'ok', detail: `${c.plan!.target.changes.length} change(s)` }),
    });
    // Changes that stay after a failure (the export is mounted, Ceph has its export) are recorded, so rollback finds them.
    if (job.targets[0]!.failed?.kept) await recordSetup(env, t.ctx).catch(() => undefined);
    return { plan, result: resultOf(t) };
  } finally {
    await job.close();
  }
}

function resultOf(t: TargetRecord<ServerTarget>): ServerResult {
  const p = t.ctx.plan;
  if (!p || t.failed?.phase === 'prepare') return { target: t.target, result: 'refused', changes: [], error: formatError(t.failed?.error), exitCode: exitCodeOf(t.failed?.error) };
  const changes = p.target.changes.map((c) => c.summary);
  if (!t.tasks.some((r) => r.phase === 'apply')) return { target: t.target, result: changes.length ? 'planned' : 'up to date', changes };
  const report = { done: tasksIn(t, 'done', 'apply'), notDone: [...tasksIn(t, 'failed', 'apply'), ...tasksIn(t, 'not done', 'apply')], undone: tasksIn(t, 'undone', 'apply') };
  const dnsmasq = t.ctx.dnsmasqRestart !== undefined ? { dnsmasq: t.ctx.dnsmasqRestart } : {};
  if (!t.failed) return { target: t.target, result: 'set up', changes, report, ...dnsmasq };
  const err = t.failed.error;
  const msg = err instanceof Error ? err.message : String(err);
  const hint = (err as PinetError).hint ?? (t.failed.kept ? `${t.failed.kept} (recorded: pinet server rollback undoes it); fix the cause and run pinet server setup again` : 'what this run changed was undone; fix the cause and run pinet server setup again');
  return { target: t.target, result: 'failed', changes, report, ...dnsmasq, error: formatError(new PinetError(`${msg} (${describeOutcome(t, 'apply')})`, { hint })) };
}
