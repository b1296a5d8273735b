/**
 * `pinet enroll <host...>`: settings from flags and pinet.yaml, then the
 * enroll job (src/jobs/enroll), then the plan, a summary table, or one
 * JSON document.
 */
import type { Ctx } from './context.js';
import { UsageError } from '../errors.js';
import { formatPlan, planToJson, type Plan } from '../plan/model.js';
import { CONFIG, FLAGS } from '../settings/catalog.js';
import { stateDirOf } from '../settings/dirs.js';
import { enrollSettingsOf } from '../settings/enroll.js';
import { concurrencyOf, connectOptions, resolveHosts } from '../settings/ssh.js';
import { StateStore } from '../server/state.js';
import type { Settings } from '../settings/resolve.js';

/**
 * Who must own the Pis' files in the export: --squash (or server.squash in
 * pinet.yaml) when given, else what pinet server setup recorded, else nobody
 * in particular (the export does not squash).
 */
async function exportOwnerOf(st: Settings, exportDir: string, stateDir: string) {
  const { exportOwner, isServerRecord, ownerFor } = await import('../jobs/server/record.js');
  const record = await new StateStore(stateDir).readJson('server.json');
  const given = st.given(CONFIG.server.squash) ? st.get(CONFIG.server.squash)! : undefined;
  if (!given) return exportOwner(record, exportDir);
  if (given.value === 'none') return undefined;
  if (isServerRecord(record) && record.exportDir === exportDir && record.squash === given.value) return exportOwner(record, exportDir);
  const conf = st.value(CONFIG.doctor['dnsmasq-conf']);
  const anon = given.value === 'root' ? { uid: 65534, gid: 65534 } : await import('../settings/server.js').then((m) => m.tftpUserHere(conf?.length ? conf : undefined));
  return ownerFor(given.value, anon, given.source);
}

export async function run(args: string[], ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const st = await ctx.settings();
  const hosts = await resolveHosts(args, st);
  if (hosts.length === 0) throw new UsageError('no host given', 'name one or more Pis (pinet enroll pi-07), use --hosts-file, or list a fleet in pinet.yaml');
  const settings = await enrollSettingsOf(st);
  const stateDir = stateDirOf(st, settings.exportDir);
  const owner = await exportOwnerOf(st, settings.exportDir, stateDir);
  if (owner) settings.owner = owner;
  const conn = connectOptions(st, (m) => out.warn(m));
  const dryRun = st.value(FLAGS.dryRun)!;
  const reboot = st.value(FLAGS.reboot)!;
  const dnsmasqConf = st.value(CONFIG.doctor['dnsmasq-conf']);
  if (reboot && dryRun) out.warn('--dry-run: no Pi is rebooted');

  const [{ enrollMany }, { formatResults, failureOf }, { colorDiff }, progress] = await Promise.all([
    import('../jobs/enroll/job.js'),
    import('../jobs/summary.js'),
    import('../util/diff.js'),
    import('../ui/progress.js').then((m) => m.progressFor(out.stderr, { color: out.ce })),
  ]);
  const { plan, results } = await enrollMany(hosts, settings, conn, new StateStore(stateDir), {
    concurrency: concurrencyOf(st),
    dryRun,
    reboot,
    rebootTimeoutMs: st.value(FLAGS.rebootTimeout)! * 1000,
    ...(dnsmasqConf && { dnsmasqConf }),
    warn: (m) => out.warn(m),
    progress,
    showPlan: (p: Plan) => {
      if (p.targets.length === 0 || out.json) return;
      out.print(formatPlan(p, out.c, (d) => colorDiff(d, out.c)));
    },
    confirm: async (_p, changing) => {
      if (st.value(FLAGS.yes)) return true;
      if (process.stdin.isTTY && out.stderr.isTTY && !out.json) {
        const { confirm } = await import('../ui/prompt.js');
        return confirm(`Apply these changes to ${changing} Pi${changing === 1 ? '' : 's'}?`);
      }
      throw new UsageError(`refusing to change ${changing} Pi${changing === 1 ? '' : 's'} without confirmation`, 'review the plan with --dry-run, then pass --yes');
    },
  });

  // A Pi that did not come back over the network after --reboot failed too.
  const failed = results.filter((r) => failureOf(r) !== undefined);
  out.emitJson({ dryRun, plan: planToJson(plan), results });
  if (!out.json) {
    if (dryRun) out.info(`dry run: nothing was changed (${results.filter((r) => r.result === 'planned').length} Pi(s) would change)`);
    else if (results.every((r) => r.result === 'up to date')) out.info('up to date: nothing to change');
    if (results.length > 1 || failed.length > 0 || !dryRun) out.print(`\n${formatResults(results, out.c, { verbose: st.value(FLAGS.verbose)! })}`);
  }
  return failed.length > 0 ? 1 : 0;
}
