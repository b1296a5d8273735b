/**
 * `enroll --reboot` watching the Pis network-boot: dnsmasq's log, found as
 * `pinet watch` finds it (the dnsmasq config's `log-facility=` file, else
 * the journal of dnsmasq.service), followed from its end while the Pis
 * reboot, fed to watch's engine (src/jobs/watch/engine.ts), and each
 * event handed to the Pi it is about. The reboot task (reboot.ts) shows
 * each Pi's stage live and ends it with "netbooted in N s from
 * <export>/<dir>" or the verdict that explains why not, in watch's (and
 * doctor's) words.
 *
 * `openNetbootWatch` says why it cannot watch (no dnsmasq config, no
 * log-dhcp, a log it cannot read); the reboot then falls back to waiting
 * for SSH only.
 */
import { access, constants, readFile } from 'node:fs/promises';
import { formatError } from '../../errors.js';
import { parseLogLine, stampToMs, type LogLine } from '../../server/dnsmasq-log.js';
import { find, readDnsmasqConfig } from '../../server/dnsmasq-read.js';
import type { InventoryEntry } from '../../server/state.js';
import { checkDnsmasqConfig, tftpIdentity } from '../doctor/dnsmasq-checks.js';
import { WatchEngine } from '../watch/engine.js';
import type { PiRef, PiRow, WatchEvent } from '../watch/events.js';
import { ExportCatalog } from '../watch/export-catalog.js';
import { Neighbors } from '../watch/neighbors.js';
import { chooseSource, describeSource, readSource, type SourceSpec } from '../watch/source.js';

const DEFAULT_CONF = ['/etc/dnsmasq.conf', '/etc/dnsmasq.d'];

export interface NetbootWatchOptions {
  exportDir: string;
  /** The dnsmasq configuration to find the log in (as doctor and watch: --dnsmasq-conf, doctor.dnsmasq-conf). */
  dnsmasqConf?: string[];
  /** The Pis that will reboot, as the inventory will hold them (the engine names Pis from these). */
  entries: InventoryEntry[];
  /** A booting Pi silent this long is stuck (watch's --stall). */
  stallMs?: number;
}

/** One rebooting Pi, as its events come in. */
export class BootTracker {
  /** The events about this Pi, since it was tracked. */
  readonly events: WatchEvent[] = [];
  /** The first failure verdict, which ends the boot (the Pi's firmware halts). */
  failure?: Extract<WatchEvent, { type: 'verdict' }>;
  private listeners = new Set<() => void>();

  constructor(readonly entry: InventoryEntry) {}

  /** Is this event about this Pi? By directory, serial or MAC, as the engine tied them. */
  owns(p: PiRef): boolean {
    const e = this.entry;
    return p.serial === e.serial || (p.dir !== undefined && p.dir === e.dir) || (p.mac !== undefined && e.mac !== undefined && p.mac === e.mac.toLowerCase());
  }

  add(e: WatchEvent): void {
    this.events.push(e);
    if (e.type === 'verdict' && e.level === 'fail' && !this.failure) this.failure = e;
    for (const l of [...this.listeners]) l();
  }

  /** Called on every new event; returns the unsubscribe. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolves at the first failure verdict (never, while there is none). */
  failed(): Promise<Extract<WatchEvent, { type: 'verdict' }>> {
    if (this.failure) return Promise.resolve(this.failure);
    return new Promise((resolve) => {
      const off = this.onChange(() => {
        if (this.failure) {
          off();
          resolve(this.failure);
        }
      });
    });
  }

  /** The engine's id of this Pi (from its first event), if it was seen. */
  get id(): string | undefined {
    return this.events.find((e) => 'pi' in e)?.pi.id;
  }
}

export class NetbootWatch {
  private readonly trackers = new Set<BootTracker>();
  private readonly stop = new AbortController();
  private ticker?: NodeJS.Timeout;
  private lastBatchMs = 0;
  private reading?: Promise<void>;
  /** Set when the log stopped being readable while following it. */
  broken?: string;

  private constructor(
    readonly source: SourceSpec,
    readonly tftpRoot: string,
    private readonly engine: WatchEngine,
    private readonly catalog: ExportCatalog,
  ) {}

  /** Follow the log from its end; a string says why it cannot be followed. */
  static async open(o: NetbootWatchOptions): Promise<NetbootWatch | string> {
    const paths = o.dnsmasqConf ?? DEFAULT_CONF;
    const cfg = await readDnsmasqConfig(paths);
    const source = chooseSource({}, cfg);
    if (!source) return `no dnsmasq configuration in ${paths.join(', ')} to find its log in (pass --dnsmasq-conf)`;
    if (find(cfg, 'log-dhcp').length === 0) {
      return `the dnsmasq configuration (${cfg.files.join(', ')}) has no log-dhcp: without it dnsmasq does not log which Pi asks for a boot menu`;
    }
    const why = await unreadable(source);
    if (why) return why;
    const [passwd, group] = await Promise.all(['/etc/passwd', '/etc/group'].map((p) => readFile(p, 'utf8').catch(() => '')));
    const accounts = { passwd: passwd!, group: group! };
    const { defaultTftpIdentity, runningDnsmasq, tftpGroupOf } = await import('../../server/dnsmasq-proc.js');
    const who = defaultTftpIdentity(accounts, await runningDnsmasq(paths));
    const { checks, facts } = checkDnsmasqConfig(cfg, { exportDir: o.exportDir, defaultUser: who.user, port53InUse: false, sources: paths.join(', '), accounts });
    const tftpUser = tftpIdentity(facts.user, tftpGroupOf(facts, who), accounts).user;
    const tftpRoot = facts.tftpRoot ?? o.exportDir;
    const catalog = new ExportCatalog(tftpRoot, tftpUser, o.entries);
    await catalog.load();
    const engine = new WatchEngine({
      catalog,
      inventory: o.entries,
      config: { checks, logDhcp: true, quiet: ['quiet-dhcp', 'quiet-tftp'].filter((k) => find(cfg, k).length > 0) },
      ...(o.stallMs !== undefined && { stallMs: o.stallMs }),
      dhcpWaitMs: Math.min(o.stallMs ?? 20_000, 20_000),
      ssh: true,
      liveFromMs: Date.now(),
    });
    const w = new NetbootWatch(source, tftpRoot, engine, catalog);
    await w.start();
    return w;
  }

  /** Starts reading; resolves once the log is open at its end, so nothing written after is missed. */
  private async start(): Promise<void> {
    const neighbors = new Neighbors();
    let opened: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (opened = resolve));
    const batches = readSource(this.source, {
      once: false,
      signal: this.stop.signal,
      onNote: (n) => {
        if (n.what === 'opened' || n.what === 'waiting') opened();
      },
    });
    this.reading = (async () => {
      try {
        for await (const batch of batches) {
          const now = Date.now();
          this.lastBatchMs = now;
          const parsed: { line: LogLine; timeMs: number }[] = batch.map((b) => {
            const line = parseLogLine(b.raw);
            const stamp = line.stamp ? stampToMs(line.stamp, now) : undefined;
            // A syslog stamp has whole seconds: for a line read within its own second, the time it was read is closer.
            return { line, timeMs: b.timeMs ?? (stamp === undefined || (now - stamp >= 0 && now - stamp < 1000) ? now : stamp) };
          });
          const clients = new Set<string>();
          for (const { line } of parsed) if (line.event && 'client' in line.event && line.event.client) clients.add(line.event.client);
          await Promise.all([this.catalog.prepare(parsed.map((p) => p.line), now), neighbors.learn(clients, now)]);
          for (const { line, timeMs } of parsed) this.dispatch(this.engine.feedLine(line, timeMs));
        }
      } catch (err) {
        this.broken = `${describeSource(this.source)} could not be read any more: ${formatError(err)}`;
      } finally {
        opened();
      }
    })();
    this.ticker = setInterval(() => this.dispatch(this.engine.tick(Date.now())), 1000);
    this.ticker.unref();
    // The journal says nothing until its first entry: journalctl -n 0 -f starts at the end by itself.
    await Promise.race([ready, new Promise((r) => setTimeout(r, this.source.kind === 'journal' ? 500 : 5000).unref())]);
  }

  private dispatch(evs: WatchEvent[]): void {
    for (const e of evs) {
      if (!('pi' in e)) continue;
      for (const t of this.trackers) if (t.owns(e.pi)) t.add(e);
    }
  }

  /** Start following one Pi (before it is rebooted). */
  track(entry: InventoryEntry): BootTracker {
    const t = new BootTracker(entry);
    this.trackers.add(t);
    return t;
  }

  untrack(t: BootTracker): void {
    this.trackers.delete(t);
  }

  /** The engine's row of a tracked Pi (stage, files, bytes, verdict), if it was seen. */
  row(t: BootTracker): PiRow | undefined {
    const id = t.id;
    return id === undefined ? undefined : this.engine.rows(Date.now()).find((r) => r.pi.id === id);
  }

  /** SSH answered: the engine's "booted" event for the Pi, when its boot files were all sent. */
  sshUp(t: BootTracker, ssh: string): Extract<WatchEvent, { type: 'booted' }> | undefined {
    const id = t.id;
    if (id === undefined) return undefined;
    const evs = this.engine.sshUp(id, Date.now(), ssh);
    this.dispatch(evs);
    return evs.find((e): e is Extract<WatchEvent, { type: 'booted' }> => e.type === 'booted');
  }

  /** Wait until what dnsmasq has written is read: no new lines for a moment (at most 2.5 s). */
  async settle(): Promise<void> {
    const start = Date.now();
    for (;;) {
      const now = Date.now();
      if ((now - start >= 600 && now - this.lastBatchMs >= 400) || now - start >= 2500 || this.broken) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.stop.abort();
    await this.reading;
  }
}

/** Why the source cannot be read now (undefined: it can, or it will appear). */
async function unreadable(s: SourceSpec): Promise<string | undefined> {
  if (s.kind === 'file') {
    try {
      await access(s.path, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined; // dnsmasq creates it: followed from its start when it appears
      return `cannot read ${s.path} (${s.why}): ${code === 'EACCES' ? 'permission denied' : code}`;
    }
    return undefined;
  }
  if (s.kind === 'journal') {
    const { execa } = await import('execa');
    const r = await execa('journalctl', ['-u', s.unit, '-n', '1', '-o', 'json', '--no-pager', '-q'], { reject: false, timeout: 10_000 });
    if (r.failed && r.exitCode === undefined) return `${s.why}, but journalctl cannot run: ${String(r.shortMessage ?? '').split('\n')[0]}`;
    if (r.exitCode !== 0) return `${s.why}, but journalctl -u ${s.unit} failed: ${String(r.stderr).trim().split('\n').pop() ?? ''}`;
    if (String(r.stdout).trim() === '') return `${s.why}, but the journal holds no entry of ${s.unit}.service (does dnsmasq log to syslog here?)`;
    return undefined;
  }
  return undefined;
}

