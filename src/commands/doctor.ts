/**
 * `pinet doctor [host...]`: every known reason a Pi will not netboot, with
 * the evidence and the fix (src/jobs/doctor). Exit 1 when a check fails
 * (or warns, with --strict).
 */
import type { Ctx } from './context.js';
import { CONFIG, FLAGS } from '../settings/catalog.js';
import { exportDirOf, stateDirOf } from '../settings/dirs.js';
import { concurrencyOf, connectOptions, resolveHosts } from '../settings/ssh.js';
import { StateStore } from '../server/state.js';

export async function run(args: string[], ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const st = await ctx.settings();
  const exportDir = exportDirOf(st);
  const state = new StateStore(stateDirOf(st, exportDir));
  const inventory = await state.readInventory();
  // The configs of staged bootloader updates enroll read (doctor only uses them: it writes nothing).
  const { StagedUpdates } = await import('../server/staged-updates.js');
  const staged = await StagedUpdates.load(state);
  const hosts = await resolveHosts(args, st, { useFleet: false });
  if (st.value(FLAGS.all)) for (const e of Object.values(inventory.pis)) if (!hosts.includes(e.host)) hosts.push(e.host);
  const tftpServer = st.value(CONFIG.doctor['tftp-server']);
  const dhcpProbe = st.value(FLAGS.dhcpProbe);
  const probeMac = st.value(FLAGS.probeMac);
  const log = st.value(FLAGS.log);
  const nfs = st.value(CONFIG.nfs);
  const conf = st.value(CONFIG.doctor['dnsmasq-conf']);

  const [{ runDoctor }, { formatReport, reportToJson, exitCodeFor }] = await Promise.all([import('../jobs/doctor/run.js'), import('../jobs/doctor/model.js')]);
  const report = await runDoctor({
    exportDir,
    inventory,
    knownPending: staged.known,
    hosts,
    conn: connectOptions(st, (m) => out.warn(m)),
    concurrency: concurrencyOf(st),
    ...(conf ? { dnsmasqConf: conf } : {}),
    ...(tftpServer ? { tftpServer } : {}),
    ...(dhcpProbe ? { dhcpProbe } : {}),
    ...(probeMac ? { probeMac } : {}),
    ...(log ? { log } : {}),
    ...(nfs ? { nfs } : {}),
  });
  const strict = st.value(FLAGS.strict)!;
  out.print(formatReport(report, out.c, { fleet: true, verbose: st.value(FLAGS.verbose)! }));
  out.emitJson(reportToJson(report, strict));
  return exitCodeFor(report, strict);
}
