/**
 * `pinet doctor [host...]`: every known reason a Pi will not netboot, with
 * the evidence and the fix. Exit 1 when a check fails (or warns, with
 * --strict).
 */
import { resolve } from 'node:path';
import type { Ctx } from './index.js';
import { UsageError } from '../errors.js';
import { concurrencyOf, connectOptions, resolveHosts, type SshFlags } from '../host/session.js';
import { parseNfsSource } from '../pi/fstab.js';
import { StateStore } from '../server/state.js';
import { isIPv4 } from '../util/ipv4.js';
import { resolveExportDir, resolveStateDir } from './enroll.js';

export interface DoctorFlags extends SshFlags {
  exportDir?: string;
  stateDir?: string;
  dnsmasqConf?: string[];
  tftpServer?: string;
  dhcpProbe?: string;
  probeMac?: string;
  log?: string;
  nfs?: string;
  strict?: boolean;
  all?: boolean;
}

export async function run(args: string[], flags: DoctorFlags, ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const cfg = await ctx.config();
  const exportDir = resolveExportDir(flags.exportDir, cfg);
  const state = new StateStore(resolveStateDir(flags.stateDir, cfg, exportDir));
  const inventory = await state.readInventory();
  const hosts = await resolveHosts(args, flags, cfg, { useFleet: false });
  if (flags.all) for (const e of Object.values(inventory.pis)) if (!hosts.includes(e.host)) hosts.push(e.host);
  const tftpServer = flags.tftpServer ?? cfg.data.doctor?.['tftp-server'];
  if (tftpServer !== undefined && !isIPv4(tftpServer)) throw new UsageError(`--tftp-server ${JSON.stringify(tftpServer)}: expected an IPv4 address`);
  if (flags.dhcpProbe !== undefined && !/^[A-Za-z0-9_.@-]{1,15}$/.test(flags.dhcpProbe)) throw new UsageError(`--dhcp-probe ${JSON.stringify(flags.dhcpProbe)}: not an interface name`);
  if (flags.probeMac !== undefined && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(flags.probeMac)) throw new UsageError(`--probe-mac ${JSON.stringify(flags.probeMac)}: expected a MAC like dc:a6:32:01:02:03`);
  const nfs = flags.nfs ?? cfg.data.nfs;
  if (nfs !== undefined && !parseNfsSource(nfs).ok) throw new UsageError(`--nfs ${JSON.stringify(nfs)}: expected server:/path`);
  const conf = flags.dnsmasqConf?.map((p) => resolve(p)) ?? cfg.data.doctor?.['dnsmasq-conf'];

  const [{ runDoctor }, { formatReport, reportToJson, exitCodeFor }] = await Promise.all([import('../doctor/run.js'), import('../doctor/model.js')]);
  const report = await runDoctor({
    exportDir,
    inventory,
    hosts,
    conn: connectOptions(flags, cfg, (m) => out.warn(m)),
    concurrency: concurrencyOf(flags, cfg),
    ...(conf ? { dnsmasqConf: conf } : {}),
    ...(tftpServer ? { tftpServer } : {}),
    ...(flags.dhcpProbe ? { dhcpProbe: flags.dhcpProbe } : {}),
    ...(flags.probeMac ? { probeMac: flags.probeMac.toLowerCase() } : {}),
    ...(flags.log ? { log: flags.log } : {}),
    ...(nfs ? { nfs } : {}),
  });
  const strict = flags.strict ?? false;
  out.print(formatReport(report, out.c));
  out.emitJson(reportToJson(report, strict));
  return exitCodeFor(report, strict);
}
