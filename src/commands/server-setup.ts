/**
 * `pinet server setup`: the boot server as code (src/jobs/server): the NFS
 * export (a Linux NFS server or NFS-Ganesha, here or over SSH, or an existing
 * one only verified), the boot server's own mount of it, and dnsmasq; plan,
 * confirm, apply, verify; a second run with nothing changed is a no-op.
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

function finish(ctx: Ctx, dryRun: boolean, plan: Plan, result: { result: string; error?: string; dnsmasq?: string; exitCode?: number }, done: string): number {
  const { out } = ctx;
  out.emitJson({ dryRun, plan: planToJson(plan), result });
  if (!out.json) {
    if (result.result === 'up to date') out.info('up to date: nothing to change');
    else if (dryRun && !result.error) out.info('dry run: nothing was changed');
    else if (result.error) out.error(result.error);
    else out.info(`${done}${result.dnsmasq ? ` (${result.dnsmasq})` : ''}`);
  }
  if (result.result === 'refused') return result.exitCode ?? 1;
  return result.result === 'failed' ? 1 : 0;
}

export async function run(_args: string[], ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const { st, opts } = await conventions(ctx, 'Apply these changes to the boot server?');
  const [{ serverSettingsOf }, { setupServer }, { readBootFacts }, { systemdDnsmasq }, { isServerRecord }, { stamp }] = await Promise.all([
    import('../settings/server.js'),
    import('../jobs/server/job.js'),
    import('../jobs/server/tasks.js'),
    import('../jobs/server/service.js'),
    import('../jobs/server/record.js'),
    import('../server/state.js'),
  ]);
  const resolved = await serverSettingsOf(st, { info: (m) => out.info(m), warn: (m) => out.warn(m) });
  const state = new StateStore(stateDirOf(st, resolved.settings.exportDir));
  const previous = await state.readJson('server.json').catch(() => undefined);
  const { plan, result } = await setupServer(
    {
      settings: resolved.settings,
      conn: connectOptions(st, (m) => out.warn(m)),
      state,
      inventory: await state.readInventory(),
      stamp: stamp(),
      readBoot: () => readBootFacts(resolved.settings, resolved.tftpUser),
      dnsmasqService: systemdDnsmasq(),
      ...(resolved.tftpAddress ? { tftpAddress: resolved.tftpAddress } : {}),
      ...(isServerRecord(previous) ? { previous } : {}),
    },
    opts,
  );
  return finish(ctx, opts.dryRun, plan, result, 'the boot server is set up');
}
