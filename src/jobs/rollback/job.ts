/**
 * The rollback job on many Pis, with the same shape as enroll: prepare
 * (connect → detect → lock → plan), show, confirm, apply (the Pi in one
 * round trip: fstab, hooks, bootloader; then cmdline.txt in the export,
 * --purge, the inventory). Each Pi is locked like enroll locks it, so a
 * rollback never runs while an enroll changes the same Pi.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { formatError, PinetError } from '../../errors.js';
import { gather, type Detected } from '../../host/detect.js';
import { PI_STATE_DIR } from '../../host/pi-layout.js';
import { connect, type ConnectOptions, type RemoteHost } from '../../remote/index.js';
import { runScript, ScriptError } from '../../remote/script.js';
import type { Inventory, StateStore } from '../../server/state.js';
import type { Plan } from '../../plan/model.js';
import type { Progress } from '../../ui/progress.js';
import { writeFileAtomic } from '../../util/fs.js';
import type { PiResult } from '../enroll/job.js';
import { cmdlineNameOf } from '../enroll/plan.js';
import { describeOutcome, Job, tasksIn, type Task, type TargetRecord } from '../runner.js';
import { planRollback, type RollbackPlan } from './plan.js';

interface RollbackPi {
  host: string;
  remote?: RemoteHost;
  detected?: Detected;
  plan?: RollbackPlan;
}

interface RollbackEnv {
  conn: ConnectOptions;
  state: StateStore;
  inventory: Inventory;
  purge: boolean;
}

export interface RollbackRunOptions {
  concurrency: number;
  dryRun: boolean;
  purge: boolean;
  confirm: (plan: Plan, changing: number) => Promise<boolean>;
  showPlan: (plan: Plan) => void;
  progress: (names: string[]) => Progress;
}

const read = (dir: string | undefined, name: string) => (dir ? readFile(join(dir, name), 'utf8').catch(() => undefined) : Promise.resolve(undefined));

function prepareTasks(env: RollbackEnv): Task<RollbackPi>[] {
  return [
    {
      name: 'connect',
      title: 'connecting',
      async run(c, t) {
        const remote = await connect(c.host, env.conn);
        c.remote = remote;
        t.cleanup(() => remote.close());
      },
    },
    {
      name: 'detect',
      title: 'reading the Pi',
      async run(c) {
        c.detected = await gather(c.remote!, c.host);
      },
    },
    {
      name: 'lock',
      title: 'locking',
      when: (c) => c.detected!.facts.serial.known,
      async run(c, t) {
        const d = c.detected!;
        const serial = d.facts.serial.known ? d.facts.serial.value.full : '';
        const lock = await env.state.lock(`pi-${serial}`, { what: `${d.label} (serial ${serial})` });
        t.cleanup(() => lock.release());
      },
    },
    {
      name: 'plan',
      title: 'planning',
      async run(c) {
        const d = c.detected!;
        const entry = d.facts.serial.known ? env.inventory.pis[d.facts.serial.value.full] : undefined;
        const backupDir = entry?.backup?.local;
        const [fstab, bootloader, cmdline] = await Promise.all([read(backupDir, 'fstab'), read(backupDir, 'bootloader.conf'), read(backupDir, 'cmdline.txt')]);
        const exportCmdline = entry ? await read(join(entry.exportDir, entry.dir), cmdlineNameOf(d)) : undefined;
        c.plan = await planRollback({
          detected: d,
          entry,
          purge: env.purge,
          inventoryPath: env.state.inventoryPath,
          backups: { ...(fstab !== undefined && { fstab }), ...(bootloader !== undefined && { bootloader }), ...(cmdline !== undefined && { cmdline }) },
          ...(exportCmdline !== undefined && { exportCmdline }),
        });
      },
    },
  ];
}

const plan = (c: RollbackPi): RollbackPlan => c.plan!;

function applyTasks(env: RollbackEnv): Task<RollbackPi>[] {
  return [
    {
      name: 'pi',
      title: 'restoring /etc/fstab and the bootloader config',
      when: (c) => Boolean(plan(c).fstab || plan(c).eeprom || plan(c).hooks.length),
      steps: [
        { name: 'fstab', when: (c) => plan(c).fstab !== undefined },
        { name: 'hooks', when: (c) => plan(c).hooks.length > 0 },
        { name: 'bootloader', when: (c) => plan(c).eeprom !== undefined },
      ],
      async run(c, t) {
        const p = plan(c);
        const eeprom = p.eeprom;
        const args = [PI_STATE_DIR, p.bootDir, p.fstab?.after ?? '', eeprom?.action ?? '', eeprom?.action === 'apply' ? eeprom.text : '', ...p.hooks];
        const out = await runScript(c.remote!, 'rollback', args, { sudo: true, onFail: 'return', step: 'restoring /etc/fstab and the bootloader config', timeoutMs: 120_000 });
        for (const s of out.done) t.step(s, 'done');
        for (const s of out.undone) t.step(s, 'undone');
        if (out.failure) throw Object.assign(new PinetError(`${out.failure.step}: ${out.failure.message}`), { failedStep: out.failure.step });
      },
    },
    {
      name: 'cmdline',
      title: 'restoring cmdline.txt in the export',
      when: (c) => plan(c).cmdline !== undefined,
      async run(c) {
        await writeFileAtomic(plan(c).cmdline!.path, plan(c).cmdline!.after);
      },
    },
    {
      name: 'purge',
      title: "deleting the Pi's directory in the export",
      when: (c) => plan(c).purge !== undefined,
      async run(c) {
        await rm(plan(c).purge!, { recursive: true, force: true });
      },
    },
    {
      name: 'inventory',
      title: 'removing it from the inventory',
      async run(c) {
        const p = plan(c);
        await env.state.updateInventory((inv) => {
          delete inv.pis[p.entry.serial];
          if (!p.purge) (inv.kept ??= {})[p.entry.serial] = { dir: p.entry.dir, exportDir: p.entry.exportDir };
          else if (inv.kept) delete inv.kept[p.entry.serial];
        });
      },
    },
  ];
}

export async function rollbackMany(hosts: string[], conn: ConnectOptions, state: StateStore, opts: RollbackRunOptions): Promise<{ plan: Plan; results: PiResult[] }> {
  const env: RollbackEnv = { conn, state, inventory: await state.readInventory(), purge: opts.purge };
  await state.ensure();
  const job = new Job<RollbackPi>('rollback', hosts.map((host) => ({ target: host, ctx: { host } })), opts.concurrency);
  try {
    await job.phase('prepare', prepareTasks(env), { view: opts.progress(hosts), describe: formatError, finished: (c) => ({ outcome: 'ok', detail: `${c.plan!.target.changes.length} change(s) planned` }) });
    const plan: Plan = { command: 'rollback', targets: job.active.map((t) => t.ctx.plan!.target) };
    opts.showPlan(plan);
    const ready = job.active;
    if (opts.dryRun || ready.length === 0) return { plan, results: job.targets.map(resultOf) };
    if (!(await opts.confirm(plan, ready.length))) throw new PinetError('nothing was changed (not confirmed)');
    await job.phase('apply', applyTasks(env), {
      view: opts.progress(ready.map((t) => t.target)),
      describe: formatError,
      finished: (c) => ({ outcome: 'ok', detail: `${c.plan!.target.changes.length} change(s)` }),
    });
    return { plan, results: job.targets.map(resultOf) };
  } finally {
    await job.close();
  }
}

function resultOf(t: TargetRecord<RollbackPi>): PiResult {
  const p = t.ctx.plan;
  if (!p || t.failed?.phase === 'prepare') return { host: t.target, result: 'refused', changes: [], error: formatError(t.failed?.error) };
  const base = { host: t.target, serial: p.entry.serial, dir: p.entry.dir, changes: p.target.changes.map((c) => c.summary) };
  if (!t.tasks.some((r) => r.phase === 'apply')) return { ...base, result: 'planned' };
  const report = { done: tasksIn(t, 'done', 'apply'), notDone: [...tasksIn(t, 'failed', 'apply'), ...tasksIn(t, 'not done', 'apply')], undone: tasksIn(t, 'undone', 'apply') };
  if (!t.failed) return { ...base, result: 'rolled back', report };
  const err = t.failed.error;
  const why = err instanceof ScriptError || err instanceof Error ? err.message : String(err);
  const failure = new PinetError(`${p.label}: rollback failed: ${why} (${describeOutcome(t, 'apply')})`, {
    hint: 'the Pi is enrolled as before; fix the cause and run pinet rollback again',
    cause: err,
  });
  return { ...base, result: 'failed', report, error: formatError(failure) };
}
