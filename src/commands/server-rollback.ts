/**
 * `pinet server rollback`: undo `pinet server setup` (src/jobs/server/
 * rollback.ts): the export's files, the boot server's mount and fstab
 * line, pinet's dnsmasq config; with a plan and confirmation.
 */
import type { Ctx } from './context.js';
import { PinetError, UsageError } from '../errors.js';
import { formatPlan, planToJson, type Plan } from '../plan/model.js';
import { FLAGS } from '../settings/catalog.js';
import { stateDirOf } from '../settings/dirs.js';
import { connectOptions } from '../settings/ssh.js';
import { StateStore } from '../server/state.js';

/** Plan display, confirmation and progress, as enroll has them. */
async function conventions(ctx: Ctx, question: string) {
  const { out } = ctx;
  const st = await ctx.settings();
  const [{ colorDiff }, progress] = await Promise.all([import('../util/diff.js'), import('../ui/progress.js').then((m) => m.progressFor(out.stderr, { color: out.ce }))]);
  return {
    st,
    opts: {
      dryRun: st.value(FLAGS.dryRun)!,
      progress,
      showPlan: (p: Plan) => {
        if (!out.json && p.targets.length) out.print(formatPlan(p, out.c, (d) => colorDiff(d, out.c)));
      },
      confirm: async () => {
        if (st.value(FLAGS.yes)) return true;
        if (process.stdin.isTTY && out.stderr.isTTY && !out.json) {
          const { confirm } = await import('../ui/prompt.js');
          if (await confirm(question)) return true;
          throw new PinetError('nothing was changed (not confirmed)');
        }
        throw new UsageError('refusing to change the boot server without confirmation', 'review with --dry-run, then pass --yes');
      },
    },
  };
}

function finish(ctx: Ctx, dryRun: boolean, plan: Plan, result: { result: string; error?: string; dnsmasq?: string }, done: string): number {
  const { out } = ctx;
  out.emitJson({ dryRun, plan: planToJson(plan), result });
  if (!out.json) {
    if (result.result === 'up to date') out.info('up to date: nothing to change');
    else if (dryRun && !result.error) out.info('dry run: nothing was changed');
    else if (result.error) out.error(result.error);
    else out.info(`${done}${result.dnsmasq ? ` (${result.dnsmasq})` : ''}`);
  }
  return result.result === 'failed' || result.result === 'refused' ? 1 : 0;
}

export async function run(_args: string[], ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const { st, opts } = await conventions(ctx, 'Roll the boot server setup back?');
  const [{ rollbackServer }, { systemdDnsmasq }] = await Promise.all([import('../jobs/server/rollback.js'), import('../jobs/server/service.js')]);
  const { plan, result } = await rollbackServer({ conn: connectOptions(st, (m) => out.warn(m)), state: new StateStore(stateDirOf(st)), dnsmasqService: systemdDnsmasq(), ...opts });
  return finish(ctx, opts.dryRun, plan, result, 'the boot server setup is rolled back');
}
