/**
 * `pinet rollback <host...>`: undo enroll on each Pi (plan, --dry-run,
 * confirmation, apply), and remove it from the inventory.
 */
import type { Ctx } from './index.js';
import { formatError, PinetError, UsageError } from '../errors.js';
import { concurrencyOf, connectOptions, openHost, resolveHosts, type SshFlags } from '../host/session.js';
import { formatPlan, planToJson, type Plan } from '../plan.js';
import { StateStore } from '../server/state.js';
import { mapLimit } from '../util/concurrency.js';
import { resolveStateDir, summaryTable } from './enroll.js';
import type { RemoteHost } from '../remote/index.js';
import type { RollbackPlan } from '../enroll/rollback.js';
import type { PiResult } from '../enroll/run.js';

export interface RollbackFlags extends SshFlags {
  stateDir?: string;
  purge?: boolean;
  dryRun?: boolean;
  yes?: boolean;
}

export async function run(args: string[], flags: RollbackFlags, ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const cfg = await ctx.config();
  const hosts = await resolveHosts(args, flags, cfg, { useFleet: false });
  if (hosts.length === 0) throw new UsageError('no host given', 'name the Pis to roll back, e.g. pinet rollback pi-07');
  const state = new StateStore(resolveStateDir(flags.stateDir, cfg));
  const conn = connectOptions(flags, cfg, (m) => out.warn(m));
  const [{ gather }, { planRollback, applyRollback }, { colorDiff }] = await Promise.all([
    import('../host/detect.js'),
    import('../enroll/rollback.js'),
    import('../util/diff.js'),
  ]);
  const inv = await state.readInventory();

  const planned = await mapLimit(hosts, concurrencyOf(flags, cfg), async (host) => {
    let remote: RemoteHost | undefined;
    try {
      remote = await openHost(host, conn);
      const d = await gather(remote, host);
      const entry = d.facts.serial.known ? inv.pis[d.facts.serial.value.full] : undefined;
      const plan = await planRollback(d, entry, { purge: flags.purge ?? false, inventoryPath: state.inventoryPath });
      return { host, remote, plan };
    } catch (err) {
      await remote?.close().catch(() => undefined);
      return { host, error: err };
    }
  });
  const plan: Plan = { command: 'rollback', targets: planned.flatMap((p) => (p.plan ? [p.plan.target] : [])) };
  if (!out.json && plan.targets.length) out.print(formatPlan(plan, out.c, (d) => colorDiff(d, out.c)));
  for (const p of planned) if (p.error) out.error(formatError(p.error));

  const results: PiResult[] = [];
  const closeAll = () => Promise.all(planned.map((p) => p.remote?.close().catch(() => undefined)));
  const ready = planned.filter((p): p is { host: string; remote: RemoteHost; plan: RollbackPlan } => p.plan !== undefined);
  let go = !flags.dryRun && ready.length > 0;
  if (go && !flags.yes) {
    if (process.stdin.isTTY && out.stderr.isTTY && !out.json) {
      const { confirm } = await import('../ui/prompt.js');
      go = await confirm(`Roll back ${ready.length} Pi${ready.length === 1 ? '' : 's'}?`);
      if (!go) {
        await closeAll();
        throw new PinetError('nothing was changed (not confirmed)');
      }
    } else {
      await closeAll();
      throw new UsageError(`refusing to roll back ${ready.length} Pi${ready.length === 1 ? '' : 's'} without confirmation`, 'review with --dry-run, then pass --yes');
    }
  }
  for (const p of planned) {
    if (!p.plan) {
      results.push({ host: p.host, result: 'refused', changes: [], error: formatError(p.error) });
      continue;
    }
    const changes = p.plan.target.changes.map((c) => c.summary);
    if (!go) {
      results.push({ host: p.host, serial: p.plan.entry.serial, dir: p.plan.entry.dir, result: 'planned', changes });
      continue;
    }
    try {
      await applyRollback(p.plan, p.remote!, state);
      results.push({ host: p.host, serial: p.plan.entry.serial, dir: p.plan.entry.dir, result: 'rolled back', changes });
    } catch (err) {
      out.error(formatError(err));
      results.push({ host: p.host, serial: p.plan.entry.serial, dir: p.plan.entry.dir, result: 'failed', changes, error: formatError(err) });
    }
  }
  await closeAll();
  out.emitJson({ dryRun: flags.dryRun ?? false, plan: planToJson(plan), results });
  if (!out.json) {
    if (flags.dryRun) out.info('dry run: nothing was changed');
    out.print(summaryTable(results));
  }
  return results.some((r) => r.result === 'failed' || r.result === 'refused') ? 1 : 0;
}
