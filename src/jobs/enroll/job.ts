/**
 * The enroll job on many Pis: prepare every Pi (connect → detect → lock →
 * plan), show the plan, ask once, apply on the Pis that change (then
 * verify, record, optionally reboot), and report each Pi's result from its
 * task records. One failing Pi never stops the others.
 */
import { formatError, PinetError } from '../../errors.js';
import type { ConnectOptions } from '../../remote/index.js';
import { checkExportDir } from '../../server/export.js';
import { stamp as makeStamp, type InventoryEntry, type StateStore } from '../../server/state.js';
import type { Plan } from '../../plan/model.js';
import type { Progress } from '../../ui/progress.js';
import { describeOutcome, Job, tasksIn, type TargetRecord } from '../runner.js';
import { NetbootWatch } from './netboot-watch.js';
import type { EnrollSettings } from './plan.js';
import type { RebootReport } from './reboot.js';
import { applyTasks, prepareTasks, recordInventory, type EnrollEnv, type EnrollPi } from './tasks.js';

/** One Pi's outcome, as the summary table and `--json` show it. */
export interface PiResult {
  host: string;
  serial?: string;
  dir?: string;
  result: 'enrolled' | 'up to date' | 'failed' | 'planned' | 'refused' | 'rolled back';
  changes: string[];
  error?: string;
  report?: { done: string[]; notDone: string[]; undone: string[]; backup?: { pi: string; local: string }; uncertain?: boolean };
  reboot?: RebootReport;
}

export interface EnrollRunOptions {
  concurrency: number;
  dryRun: boolean;
  reboot: boolean;
  rebootTimeoutMs: number;
  /** With reboot: the dnsmasq configuration that names its log (default /etc/dnsmasq.conf, /etc/dnsmasq.d). */
  dnsmasqConf?: string[];
  /** A note for the user (why the network boots cannot be followed). */
  warn?: (message: string) => void;
  /** Asked once, after the plan is shown; returns false to stop. */
  confirm: (plan: Plan, changing: number) => Promise<boolean>;
  showPlan: (plan: Plan) => void;
  progress: (names: string[]) => Progress;
}

export async function enrollMany(hosts: string[], settings: EnrollSettings, conn: ConnectOptions, state: StateStore, opts: EnrollRunOptions): Promise<{ plan: Plan; results: PiResult[] }> {
  await checkExportDir(settings.exportDir);
  await state.ensure();
  const env: EnrollEnv = {
    settings,
    conn,
    state,
    inventory: await state.readInventory(),
    stamp: makeStamp(),
    reboot: opts.reboot,
    rebootTimeoutMs: opts.rebootTimeoutMs,
  };
  const job = new Job<EnrollPi>('enroll', hosts.map((host) => ({ target: host, ctx: { host } })), opts.concurrency);
  let watching: Promise<NetbootWatch | undefined> | undefined;
  try {
    await job.phase('prepare', prepareTasks(env), {
      view: opts.progress(hosts),
      describe: formatError,
      finished: (c) => {
        const n = c.plan!.target.changes.length;
        return n ? { outcome: 'ok', detail: `${n} change(s) planned` } : { outcome: 'up to date' };
      },
    });
    const plan: Plan = { command: 'enroll', targets: job.targets.flatMap((t) => (t.ctx.plan && !t.failed ? [t.ctx.plan.target] : [])) };
    opts.showPlan(plan);
    const changing = job.active.filter((t) => t.ctx.plan!.target.changes.length > 0);
    if (opts.dryRun || changing.length === 0) return { plan, results: job.targets.map(resultOf) };

    if (!(await opts.confirm(plan, changing.length))) throw new PinetError('nothing was changed (not confirmed)', { exitCode: 1 });
    await checkExportDir(settings.exportDir, changing.reduce((n, t) => n + t.ctx.plan!.copy.bytes, 0));
    // --reboot: dnsmasq's log shows each Pi's network boot (opened once, at the first reboot).
    if (opts.reboot) env.netboot = () => (watching ??= openWatch(settings.exportDir, changing.map((t) => t.ctx.plan!.inventoryEntry), opts));

    await job.phase('apply', applyTasks(env), {
      only: (t) => changing.includes(t),
      view: opts.progress(changing.map((t) => t.target)),
      describe: (err) => formatError(err),
      finished: (c) => ({ outcome: c.reboot && !c.reboot.ok ? 'failed' : 'ok', detail: `${c.plan!.target.changes.length} change(s)${c.reboot ? `; ${c.reboot.detail}` : ''}` }),
    });
    for (const t of changing) {
      // The Pi may already point at its directory: record it, so a second run completes the job.
      if (t.failed?.kept) await recordInventory(env, t.ctx, true).catch(() => undefined);
    }
    return { plan, results: job.targets.map(resultOf) };
  } finally {
    await job.close();
    await (await watching)?.close();
  }
}

/** dnsmasq's log, or undefined (said once) when it cannot be followed: then only SSH tells how the Pis came back. */
async function openWatch(exportDir: string, entries: InventoryEntry[], opts: EnrollRunOptions): Promise<NetbootWatch | undefined> {
  const w = await NetbootWatch.open({ exportDir, entries, ...(opts.dnsmasqConf && { dnsmasqConf: opts.dnsmasqConf }) }).catch((err: unknown) => `cannot open it: ${formatError(err)}`);
  if (typeof w !== 'string') return w;
  opts.warn?.(`--reboot: the network boots cannot be followed in dnsmasq's log (${w}); waiting for SSH only`);
  return undefined;
}

/** A Pi's result, from its task records. */
function resultOf(t: TargetRecord<EnrollPi>): PiResult {
  const p = t.ctx.plan;
  const base = { host: t.target, ...(p ? { serial: p.serial, dir: p.dir } : {}) };
  if (!p || t.failed?.phase === 'prepare') return { ...base, result: 'refused', changes: [], error: formatError(t.failed?.error) };
  const changes = p.target.changes.map((c) => c.summary);
  const applied = t.tasks.some((r) => r.phase === 'apply');
  if (!applied) return { ...base, result: changes.length ? 'planned' : 'up to date', changes };
  const report: NonNullable<PiResult['report']> = {
    done: tasksIn(t, 'done', 'apply'),
    notDone: [...tasksIn(t, 'failed', 'apply'), ...tasksIn(t, 'not done', 'apply')],
    undone: tasksIn(t, 'undone', 'apply'),
    ...(t.ctx.backup ? { backup: t.ctx.backup } : {}),
    ...(t.failed?.kept ? { uncertain: true } : {}),
  };
  if (!t.failed) return { ...base, result: 'enrolled', changes, report, ...(t.ctx.reboot ? { reboot: t.ctx.reboot } : {}) };
  return { ...base, result: 'failed', changes, report, error: formatError(applyError(t)) };
}

/** The failure of the apply phase, naming the Pi, what was done and what was not, and what to do. */
function applyError(t: TargetRecord<EnrollPi>): PinetError {
  const err = t.failed!.error;
  const label = t.ctx.plan!.label;
  const msg = err instanceof Error ? err.message : String(err);
  const hint = t.failed!.kept
    ? `${t.failed!.kept}; nothing was undone: run pinet enroll again to finish`
    : 'the Pi still boots as before; fix the cause and run pinet enroll again';
  return new PinetError(`${msg.startsWith(label) ? msg : `${label}: ${msg}`} (${describeOutcome(t, 'apply')})`, { hint, cause: err });
}
