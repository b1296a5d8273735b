/**
 * `pinet watch`: every Pi's network boot, live, from dnsmasq's log. Finds
 * the log as doctor finds the dnsmasq config (or takes --log/--journal),
 * names Pis from the inventory, and prints a live table on a terminal, one
 * line per event elsewhere, or newline-delimited JSON events with --json.
 * Ctrl-C prints the summary and exits 0; --once reads what is there and
 * prints doctor's log summary (exit 1 when a boot failed).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Ctx } from './index.js';
import { EXIT_OK, EXIT_USAGE, exitCodeOf, formatError, PinetError, UsageError } from '../errors.js';
import { StateStore } from '../server/state.js';
import { parseSince } from '../watch/since.js';
import { resolveExportDir, resolveStateDir } from './enroll.js';

export interface WatchFlags {
  log?: string;
  journal?: boolean;
  journalFile?: string;
  unit?: string;
  once?: boolean;
  since?: string;
  dnsmasqConf?: string[];
  exportDir?: string;
  stateDir?: string;
  stall?: string;
  bootTimeout?: string;
  ssh?: boolean;
}

function seconds(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !(n > 0)) throw new UsageError(`${flag} ${JSON.stringify(value)}: expected a number of seconds`, `e.g. ${flag} ${fallback}`);
  return n;
}

export async function run(_args: string[], flags: WatchFlags, ctx: Ctx): Promise<number> {
  const { out } = ctx;
  try {
    return await watch(flags, ctx);
  } catch (err) {
    if (!out.json) throw err;
    // One line, like every other event of the stream.
    out.error(formatError(err));
    const exitCode = exitCodeOf(err);
    out.stdout.write(`${JSON.stringify({ error: { exitCode, message: err instanceof Error ? err.message : String(err), ...(err instanceof PinetError && err.hint && { hint: err.hint }) }, type: 'error' })}\n`);
    return exitCode;
  }
}

async function watch(flags: WatchFlags, ctx: Ctx): Promise<number> {
  const { out } = ctx;
  const sources = [flags.log !== undefined, flags.journal === true, flags.journalFile !== undefined].filter(Boolean).length;
  if (sources > 1) throw new UsageError('--log, --journal and --journal-file name different logs', 'give one of them');
  if (flags.unit !== undefined && !/^[A-Za-z0-9@._:-]{1,128}$/.test(flags.unit)) throw new UsageError(`--unit ${JSON.stringify(flags.unit)}: not a unit name`, 'e.g. --unit dnsmasq');
  const now = Date.now();
  const sinceMs = flags.since !== undefined ? parseSince(flags.since, now) : undefined;
  const stallMs = seconds('--stall', flags.stall, 60) * 1000;
  const bootTimeoutMs = seconds('--boot-timeout', flags.bootTimeout, 300) * 1000;

  const cfg = await ctx.config();
  const exportDir = resolveExportDir(flags.exportDir, cfg);
  const inventory = await new StateStore(resolveStateDir(flags.stateDir, cfg, exportDir)).readInventory();
  const confPaths = flags.dnsmasqConf?.map((p) => resolve(p)) ?? cfg.data.doctor?.['dnsmasq-conf'] ?? ['/etc/dnsmasq.conf', '/etc/dnsmasq.d'];

  const [{ readDnsmasqConfig, find }, { checkDnsmasqConfig, tftpIdentity }, { chooseSource }] = await Promise.all([
    import('../server/dnsmasq-conf.js'),
    import('../doctor/dnsmasq-checks.js'),
    import('../watch/source.js'),
  ]);
  const dnsmasq = await readDnsmasqConfig(confPaths);
  const source = chooseSource({ ...(flags.log !== undefined && { log: flags.log }), ...(flags.journal && { journal: true }), ...(flags.journalFile !== undefined && { journalFile: flags.journalFile }), ...(flags.unit && { unit: flags.unit }) }, dnsmasq);
  if (!source) {
    throw new PinetError(`no dnsmasq configuration in ${confPaths.join(', ')} to find its log in`, {
      exitCode: EXIT_USAGE,
      hint: 'name the log: --log /var/log/dnsmasq.log, --log - (stdin), --journal, or pass --dnsmasq-conf',
    });
  }
  const [passwd, group] = await Promise.all(['/etc/passwd', '/etc/group'].map((p) => readFile(p, 'utf8').catch(() => '')));
  const accounts = { passwd: passwd!, group: group! };
  const defaultUser = /^dnsmasq:/m.test(accounts.passwd) ? 'dnsmasq' : 'nobody';
  const haveConfig = dnsmasq.files.length > 0;
  const { checks, facts } = checkDnsmasqConfig(dnsmasq, { exportDir, defaultUser, port53InUse: false, sources: confPaths.join(', '), accounts });
  const tftpUser = tftpIdentity(facts.user, facts.group, accounts).user;

  const [{ runWatch }, render] = await Promise.all([import('../watch/run.js'), import('../watch/render.js')]);
  const live = !out.json && !flags.once && out.stdout.isTTY === true;
  const renderer = out.json ? render.jsonRenderer(out.stdout) : live ? render.tableRenderer(out.stdout, out.stderr, out.c) : render.linesRenderer(out.stdout, out.stderr, out.c);
  const quiet = flags.once && !out.json ? { ...renderer, events: () => undefined } : renderer;

  const ac = new AbortController();
  const onSignal = (): void => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const r = await runWatch({
      source,
      once: flags.once ?? false,
      ...(sinceMs !== undefined && { sinceMs }),
      tftpRoot: facts.tftpRoot ?? exportDir,
      ...(tftpUser && { tftpUser }),
      inventory: Object.values(inventory.pis),
      ...(haveConfig && { config: { checks, logDhcp: find(dnsmasq, 'log-dhcp').length > 0, quiet: ['quiet-dhcp', 'quiet-tftp'].filter((k) => find(dnsmasq, k).length > 0) } }),
      renderer: quiet,
      live,
      stallMs,
      dhcpWaitMs: Math.min(stallMs, 20_000),
      bootTimeoutMs,
      ssh: flags.ssh !== false,
      signal: ac.signal,
    });
    return r.interrupted || r.ok ? EXIT_OK : 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
