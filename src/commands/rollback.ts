/**
 * `pinet rollback <host...>`: settings, then the rollback job
 * (src/jobs/rollback): plan, --dry-run, confirmation, apply; then a summary
 * table or one JSON document.
 */
import type { Ctx } from './context.js';
import { PinetError, UsageError } from '../errors.js';
import { formatPlan, planToJson, type Plan } from '../plan/model.js';
import { FLAGS } from '../settings/catalog.js';
import { stateDirOf } from '../settings/dirs.js';
import { concurrencyOf, connectOptions, resolveHosts } from '../settings/ssh.js';
import { StateStore } from '../server/state.js';

export async function run(args: string[], ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const st = await ctx.settings();
  const hosts = await resolveHosts(args, st, { useFleet: false });
  if (hosts.length === 0) throw new UsageError('no host given', 'name the Pis to roll back, e.g. pinet rollback pi-07');
  const state = new StateStore(stateDirOf(st));
  const conn = connectOptions(st, (m) => out.warn(m));
  const dryRun = st.value(FLAGS.dryRun)!;
  const [{ rollbackMany }, { formatResults }, { colorDiff }, progress] = await Promise.all([
    import('../jobs/rollback/job.js'),
    import('../jobs/summary.js'),
    import('../util/diff.js'),
    import('../ui/progress.js').then((m) => m.progressFor(out.stderr, { color: out.ce })),
  ]);
  const { plan, results } = await rollbackMany(hosts, conn, state, {
    concurrency: concurrencyOf(st),
    dryRun,
    purge: st.value(FLAGS.purge)!,
    progress,
    showPlan: (p: Plan) => {
      if (!out.json && p.targets.length) out.print(formatPlan(p, out.c, (d) => colorDiff(d, out.c)));
    },
    confirm: async (_p, n) => {
      if (st.value(FLAGS.yes)) return true;
      if (process.stdin.isTTY && out.stderr.isTTY && !out.json) {
        const { confirm } = await import('../ui/prompt.js');
        if (await confirm(`Roll back ${n} Pi${n === 1 ? '' : 's'}?`)) return true;
        throw new PinetError('nothing was changed (not confirmed)');
      }
      throw new UsageError(`refusing to roll back ${n} Pi${n === 1 ? '' : 's'} without confirmation`, 'review with --dry-run, then pass --yes');
    },
  });
  out.emitJson({ dryRun, plan: planToJson(plan), results });
  if (!out.json) {
    if (dryRun) out.info('dry run: nothing was changed');
    out.print(formatResults(results, out.c, { verbose: st.value(FLAGS.verbose)! }));
  }
  return results.some((r) => r.result === 'failed' || r.result === 'refused') ? 1 : 0;
}
