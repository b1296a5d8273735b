/**
 * `pinet watch`: every Pi's network boot, live, from dnsmasq's log. Finds
 * the log as doctor finds the dnsmasq config (or takes --log/--journal),
 * names Pis from the inventory, and prints a live table on a terminal, one
 * line per event elsewhere, or newline-delimited JSON events with --json.
 * Ctrl-C prints the summary and exits 0; --once reads what is there and
 * prints doctor's log summary (exit 1 when a boot failed).
 */
import { readFile } from 'node:fs/promises';
import type { Ctx } from './context.js';
import { EXIT_OK, EXIT_USAGE, exitCodeOf, formatError, PinetError, UsageError } from '../errors.js';
import { CONFIG, WATCH } from '../settings/catalog.js';
import { exportDirOf, stateDirOf } from '../settings/dirs.js';
import { StateStore } from '../server/state.js';
import { parseSince } from '../jobs/watch/since.js';

/** The flags of `pinet watch`, merged with pinet.yaml and the defaults. */
interface WatchFlags {
  log?: string;
  journal: boolean;
  journalFile?: string;
  unit: string;
  unitGiven: boolean;
  once: boolean;
  since?: string;
  dnsmasqConf?: string[];
  stall: number;
  bootTimeout: number;
  ssh: boolean;
}

export async function run(_args: string[], ctx: Ctx): Promise<number> {
  const st = await ctx.settings();
  const W = WATCH;
  const log = st.value(W.log);
  const journalFile = st.value(W.journalFile);
  const since = st.value(W.since);
  const conf = st.value(CONFIG.doctor['dnsmasq-conf']);
  const flags: WatchFlags = {
    ...(log !== undefined && { log }),
    journal: st.value(W.journal)!,
    ...(journalFile !== undefined && { journalFile }),
    unit: st.value(W.unit)!,
    unitGiven: st.given(W.unit),
    once: st.value(W.once)!,
    ...(since !== undefined && { since }),
    ...(conf !== undefined && { dnsmasqConf: conf }),
    stall: st.value(W.stall)!,
    bootTimeout: st.value(W.bootTimeout)!,
    ssh: st.flags.ssh !== false,
  };
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
  const now = Date.now();
  const sinceMs = flags.since !== undefined ? parseSince(flags.since, now) : undefined;
  const stallMs = flags.stall * 1000;
  const bootTimeoutMs = flags.bootTimeout * 1000;

  const st = await ctx.settings();
  const exportDir = exportDirOf(st);
  const inventory = await new StateStore(stateDirOf(st, exportDir)).readInventory();
  const confPaths = flags.dnsmasqConf ?? ['/etc/dnsmasq.conf', '/etc/dnsmasq.d'];

  const [{ readDnsmasqConfig, find }, { checkDnsmasqConfig, tftpIdentity }, { chooseSource }] = await Promise.all([
    import('../server/dnsmasq-read.js'),
    import('../jobs/doctor/dnsmasq-checks.js'),
    import('../jobs/watch/source.js'),
  ]);
  const dnsmasq = await readDnsmasqConfig(confPaths);
  const source = chooseSource({ ...(flags.log !== undefined && { log: flags.log }), ...(flags.journal && { journal: true }), ...(flags.journalFile !== undefined && { journalFile: flags.journalFile }), ...(flags.unitGiven && { unit: flags.unit }) }, dnsmasq);
  if (!source) {
    throw new PinetError(`no dnsmasq configuration in ${confPaths.join(', ')} to find its log in`, {
      exitCode: EXIT_USAGE,
      hint: 'name the log: --log /var/log/dnsmasq.log, --log - (stdin), --journal, or pass --dnsmasq-conf',
    });
  }
  const [passwd, group] = await Promise.all(['/etc/passwd', '/etc/group'].map((p) => readFile(p, 'utf8').catch(() => '')));
  const accounts = { passwd: passwd!, group: group! };
  const { defaultTftpIdentity, runningDnsmasq, tftpGroupOf } = await import('../server/dnsmasq-proc.js');
  const who = defaultTftpIdentity(accounts, await runningDnsmasq(confPaths));
  const haveConfig = dnsmasq.files.length > 0;
  const { checks, facts } = checkDnsmasqConfig(dnsmasq, { exportDir, defaultUser: who.user, port53InUse: false, sources: confPaths.join(', '), accounts });
  const tftpUser = tftpIdentity(facts.user, tftpGroupOf(facts, who), accounts).user;

  const [{ runWatch }, render] = await Promise.all([import('../jobs/watch/run.js'), import('../jobs/watch/render.js')]);
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
