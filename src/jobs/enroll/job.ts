/**
 * The enroll job on many Pis: prepare every Pi (connect → detect → lock →
 * plan → hash the files to copy), decide who sends each unique content
 * (send-once.ts), show the plan, ask once, fetch (the chosen Pis send each
 * content once into the boot server's content store; a content a failed
 * sender did not deliver is asked of another Pi that has it), apply on the
 * Pis that change (their directories filled from the store, then verify,
 * record, optionally reboot), and report each Pi's result from its task
 * records. One failing Pi never stops the others. The phases run one after
 * the other for all Pis, so any --concurrency works: every content is in
 * the store before any Pi's directory is filled. The store is removed when
 * the job ends, whatever happened.
 */
import { formatError, PinetError } from '../../errors.js';
import type { ConnectOptions } from '../../remote/index.js';
import { ContentStore, contentName } from '../../server/content-store.js';
import { checkExportDir } from '../../server/export.js';
import { StagedUpdates } from '../../server/staged-updates.js';
import { stamp as makeStamp, type InventoryEntry, type StateStore } from '../../server/state.js';
import type { Plan } from '../../plan/model.js';
import type { Progress } from '../../ui/progress.js';
import { Job, tasksIn, type TargetRecord } from '../runner.js';
import type { NetbootWatch } from './netboot-watch.js';
import type { EnrollSettings } from './plan.js';
import type { RebootReport } from './reboot.js';
import { planSending, type SendPlan } from './send-once.js';
import { Filler } from './fill.js';
import { applyTasks, prepareTasks, recordInventory, type EnrollEnv, type EnrollPi } from './tasks.js';
import { hashedFiles, sendTask } from './transfer.js';

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
    staged: await StagedUpdates.load(state),
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
    const copying = job.active.filter((t) => t.ctx.plan!.copy.files.length > 0);
    const sending = planSending(copying.map((t) => ({ pi: t.target, files: hashedFiles(t.ctx) })));
    for (const t of copying) {
      const load = sending.bySender.get(t.target);
      const copy = t.ctx.plan!.target.changes.find((c) => c.id === 'copy');
      if (copy) copy.detail = { ...copy.detail, network: { bytes: load?.bytes ?? 0, files: load?.files.length ?? 0 } };
    }
    const plan: Plan = {
      command: 'enroll',
      targets: job.targets.flatMap((t) => (t.ctx.plan && !t.failed ? [t.ctx.plan.target] : [])),
      ...(sending.transfer.files > 0 && { transfer: sending.transfer }),
    };
    opts.showPlan(plan);
    const changing = job.active.filter((t) => t.ctx.plan!.target.changes.length > 0);
    if (opts.dryRun || changing.length === 0) return { plan, results: job.targets.map(resultOf) };

    if (!(await opts.confirm(plan, changing.length))) throw new PinetError('nothing was changed (not confirmed)', { exitCode: 1 });
    await checkExportDir(settings.exportDir, changing.reduce((n, t) => n + t.ctx.plan!.copy.bytes, 0));
    // --reboot: dnsmasq's log shows each Pi's network boot (opened once, at the first reboot).
    if (opts.reboot) env.netboot = () => (watching ??= openWatch(settings.exportDir, changing.map((t) => t.ctx.plan!.inventoryEntry), opts));

    if (sending.contents.length > 0) {
      env.store = await ContentStore.open(settings.exportDir);
      env.filler = new Filler(
        env.store,
        copying.map((t) => t.ctx),
        { moved: (host, kind, bytes, total, since) => env.moved?.(host, kind, bytes, total, since) },
      );
      await fetchContents(job, env, copying, sending, opts);
    }

    const view = opts.progress(changing.map((t) => t.target));
    env.moved = (host, kind, bytes, total, since) => view.moved?.(host, kind, bytes, total, since);
    for (const t of changing) env.filler?.report(t.target); // what was copied while the contents arrived
    await job.phase('apply', applyTasks(env), {
      only: (t) => changing.includes(t),
      view,
      describe: (err) => formatError(err),
      finished: (c) => ({ outcome: c.reboot && !c.reboot.ok ? 'failed' : 'ok', detail: `${c.plan!.target.changes.length} change(s)${c.reboot ? `; ${c.reboot.detail}` : ''}` }),
    });
    for (const t of changing) {
      // The Pi may already point at its directory: record it, so a second run completes the job.
      if (t.failed?.kept) await recordInventory(env, t.ctx, true).catch(() => undefined);
    }
    return { plan, results: job.targets.map(resultOf) };
  } finally {
    if (!opts.dryRun) await env.staged?.save();
    await job.close();
    await env.filler?.cleanup();
    await env.store?.remove();
    await (await watching)?.close();
  }
}

/** Rounds of the fetch phase at most: each round after the first asks other Pis for what failed senders did not send. */
const FETCH_ROUNDS = 5;

/**
 * The fetch phase: the chosen Pis send their contents into the store (and
 * the filler copies each into the Pis' directories as it arrives). A
 * content that did not arrive (its sender failed: a file changed since it
 * was hashed, a lost connection) is asked of another Pi that has it, in
 * another round; what no Pi can send fails the Pis that need it when their
 * copy task takes their directory.
 */
async function fetchContents(job: Job<EnrollPi>, env: EnrollEnv, copying: TargetRecord<EnrollPi>[], first: SendPlan, opts: EnrollRunOptions): Promise<void> {
  const store = env.store!;
  const filler = env.filler!;
  const needed = (): Set<string> => new Set(copying.filter((x) => !x.failed).flatMap((t) => hashedFiles(t.ctx).filter((f) => !store.has(f)).map(contentName)));
  let sending = first;
  for (let round = 0; round < FETCH_ROUNDS && sending.bySender.size > 0; round++) {
    env.sending = sending;
    const senders = [...sending.bySender.keys()];
    const view = opts.progress(senders);
    // This view shows what crosses the network; the copies made meanwhile show in the apply phase's.
    env.moved = (host, kind, bytes, total, since) => (kind === 'network' ? view.moved?.(host, kind, bytes, total, since) : undefined);
    await job.phase('fetch', [sendTask(env)], { only: (t) => sending.bySender.has(t.target), view, describe: formatError });
    for (const t of copying) if (t.failed) filler.drop(t.target);
    const missing = needed();
    if (missing.size === 0) break;
    const alive = copying.filter((t) => !t.failed);
    sending = planSending(
      alive.map((t) => ({ pi: t.target, files: hashedFiles(t.ctx) })),
      missing,
    );
  }
  const failedSenders = job.targets.filter((t) => t.failed?.phase === 'fetch').map((t) => t.target);
  const why = failedSenders.length ? `the Pis that had them failed (${failedSenders.join(', ')})` : 'no Pi sent them';
  filler.finish(new Map([...needed()].map((name) => [name, why])));
}

/**
 * dnsmasq's log, or undefined (said once) when it cannot be followed: then only SSH tells how the
 * Pis came back. The watcher (dnsmasq's log, the boot engine and its checks) is loaded only here,
 * with --reboot.
 */
async function openWatch(exportDir: string, entries: InventoryEntry[], opts: EnrollRunOptions): Promise<NetbootWatch | undefined> {
  const w = await import('./netboot-watch.js')
    .then(({ NetbootWatch: Watch }) => Watch.open({ exportDir, entries, ...(opts.dnsmasqConf && { dnsmasqConf: opts.dnsmasqConf }) }))
    .catch((err: unknown) => `cannot open it: ${formatError(err)}`);
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
  const applied = t.tasks.some((r) => CHANGING.includes(r.phase));
  if (!applied) return { ...base, result: changes.length ? 'planned' : 'up to date', changes };
  const report: NonNullable<PiResult['report']> = {
    done: changingTasks(t, 'done'),
    notDone: [...changingTasks(t, 'failed'), ...changingTasks(t, 'not done')],
    undone: changingTasks(t, 'undone'),
    ...(t.ctx.backup ? { backup: t.ctx.backup } : {}),
    ...(t.failed?.kept ? { uncertain: true } : {}),
  };
  if (!t.failed) return { ...base, result: 'enrolled', changes, report, ...(t.ctx.reboot ? { reboot: t.ctx.reboot } : {}) };
  return { ...base, result: 'failed', changes, report, error: formatError(applyError(t)) };
}

/** The phases that change things: fetch (a Pi sending its files changes nothing yet) and apply. */
const CHANGING = ['fetch', 'apply'];

/** A Pi's tasks of the changing phases in a state, in order, each name once. */
function changingTasks(t: TargetRecord<EnrollPi>, state: Parameters<typeof tasksIn>[1]): string[] {
  return [...new Set(CHANGING.flatMap((phase) => tasksIn(t, state, phase)))];
}

/** The failure of the fetch or apply phase, naming the Pi, what was done and what was not, and what to do. */
function applyError(t: TargetRecord<EnrollPi>): PinetError {
  const err = t.failed!.error;
  const label = t.ctx.plan!.label;
  const msg = err instanceof Error ? err.message : String(err);
  const hint = t.failed!.kept
    ? `${t.failed!.kept}; nothing was undone: run pinet enroll again to finish`
    : 'the Pi still boots as before; fix the cause and run pinet enroll again';
  const notDone = [...changingTasks(t, 'failed'), ...changingTasks(t, 'not done')];
  const undone = changingTasks(t, 'undone');
  const outcome = `done: ${changingTasks(t, 'done').join(', ') || 'nothing'}; not done: ${notDone.join(', ') || 'nothing'}${undone.length ? `; undone: ${undone.join(', ')}` : ''}`;
  return new PinetError(`${msg.startsWith(label) ? msg : `${label}: ${msg}`} (${outcome})`, { hint, cause: err });
}
