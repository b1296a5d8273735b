/**
 * The heart of `pinet watch`: fed dnsmasq log lines one at a time, each
 * with its time, it keeps every Pi's boot (stage, files and bytes, time
 * since its first packet, last event) and says what happened as events.
 * Pure: no I/O, no clock. The runner feeds lines and ticks the clock; tests
 * feed recorded real logs.
 *
 * How a boot reads in the log (dnsmasq 2.90, see src/server/dnsmasq-log.ts):
 * `PXE(eth0) <mac> proxy` is the DHCP proxy offer; "error 0 Early terminate
 * received from <ip>" followed by "sent"/"failed sending" of the same
 * client is a size probe (no bytes); "sent" is a file delivered;
 * "failed sending" without a probe is a transfer that stopped. The last
 * boot file is the kernel and the initramfs of the Pi's config.txt (from
 * the catalog); after it the Pi is `loaded`, and `booted` once the runner
 * reports its SSH port answering.
 *
 * The same lines also go through doctor's `LogSummarizer`, so the summary
 * at the end is doctor's log summary, word for word.
 */
import { logGroups } from '../doctor/live-checks.js';
import type { Check, CheckGroup } from '../doctor/model.js';
import { isKernelFile, LogSummarizer, OPTIONAL_BOOT_FILES, parseLogLine, splitTftpPath, type LogEvent, type LogLine } from '../../server/dnsmasq-log.js';
import { RPI_OUIS } from '../../server/dnsmasq-render.js';
import type { InventoryEntry } from '../../server/state.js';
import type { Catalog } from './catalog.js';
import { iso, STAGES, type FileOutcome, type Level, type PiRow, type Stage, type WatchEvent } from './events.js';
import { refOf, Registry, sameMac, type PiState } from './pis.js';
import { splitTarget } from './ssh-check.js';
import * as words from './verdicts.js';

export interface EngineOptions {
  catalog: Catalog;
  inventory?: InventoryEntry[];
  /** IP → MAC from the boot server's neighbour table, when known. */
  neighbors?: (ip: string) => string | undefined;
  /** doctor's checks of the dnsmasq config (to explain a Pi that gets no usable offer), and whether it has log-dhcp. */
  config?: { checks: Check[]; logDhcp: boolean; quiet: string[] };
  /** No event from a booting Pi for this long: stalled. Default 60 s. */
  stallMs?: number;
  /** A proxy offer and no TFTP request for this long: the offer was not taken. Default 20 s. */
  dhcpWaitMs?: number;
  /** Check SSH of enrolled Pis after their last boot file (the runner does it). Default true. */
  ssh?: boolean;
  /** When watching began: a boot whose files were all sent before is history (--since), its boot time unknown. */
  liveFromMs?: number;
}

const STAGE_RANK = new Map(STAGES.map((s, i) => [s, i]));
const rank = (s: Stage): number => STAGE_RANK.get(s)!;

export class WatchEngine {
  private readonly reg: Registry;
  private readonly summarizer: LogSummarizer;
  private readonly probing = new Set<string>();
  private readonly notices = new Set<string>();
  private failedNotice = false;
  private readonly pendingXids = new Map<string, { vendorClass: string; ms: number }>();
  private readonly vendorByXid = new Map<string, string>();
  private readonly stallMs: number;
  private readonly dhcpWaitMs: number;
  private lastMs = 0;

  constructor(private readonly o: EngineOptions) {
    this.reg = new Registry(o.inventory ?? []);
    this.summarizer = new LogSummarizer(o.catalog.root ? { tftpRoot: o.catalog.root } : {});
    this.stallMs = o.stallMs ?? 60_000;
    this.dhcpWaitMs = o.dhcpWaitMs ?? 20_000;
  }

  /** Notices about the dnsmasq config itself, before any line (log-dhcp, quiet-*). */
  start(nowMs: number): WatchEvent[] {
    const out: WatchEvent[] = [];
    if (this.o.config && !this.o.config.logDhcp) this.notice(out, nowMs, 'log.no-log-dhcp', 'warn', words.NO_LOG_DHCP);
    for (const q of this.o.config?.quiet ?? []) this.notice(out, nowMs, `log.${q}`, 'warn', words.QUIET(q));
    return out;
  }

  /** One raw log line, read at (or stamped) `timeMs`. */
  feed(raw: string, timeMs: number): WatchEvent[] {
    return this.feedLine(parseLogLine(raw), timeMs);
  }

  feedLine(line: LogLine, timeMs: number): WatchEvent[] {
    this.summarizer.add(line.event);
    if (!line.event) return [];
    this.lastMs = Math.max(this.lastMs, timeMs);
    const out: WatchEvent[] = [];
    this.handle(line.event, timeMs, out);
    return out;
  }

  /** The clock moved on: stalls, offers not taken, PXE clients nobody answered. */
  tick(nowMs: number): WatchEvent[] {
    const out: WatchEvent[] = [];
    for (const [xid, p] of this.pendingXids) {
      if (nowMs - p.ms < 3000) continue;
      this.pendingXids.delete(xid);
      this.unanswered(out, nowMs, p.vendorClass);
    }
    for (const pi of this.reg.all) {
      if (pi.ended || rank(pi.stage) >= rank('loaded')) continue;
      const idle = nowMs - pi.lastMs;
      // From the first offer: a Pi that ignores offers keeps asking, so its last line is always recent.
      const waiting = nowMs - pi.firstMs;
      if (pi.stage === 'dhcp' && waiting >= this.dhcpWaitMs) {
        this.verdict(out, pi, nowMs, 'dhcp.no-tftp', 'warn', words.dhcpWithoutTftp(Math.round(waiting / 1000), pi.offers, this.pxeCheck()));
      } else if (pi.stage !== 'dhcp' && idle >= this.stallMs) {
        this.verdict(out, pi, nowMs, 'boot.stalled', 'warn', words.stalled(Math.round(idle / 1000), pi.last, [...pi.failedPending.keys()].sort()));
      }
    }
    return out;
  }

  /** The end of a finished log (--once, end of input): requests nobody answered are final. */
  finish(nowMs: number): WatchEvent[] {
    const out: WatchEvent[] = [];
    for (const [xid, p] of this.pendingXids) {
      this.pendingXids.delete(xid);
      this.unanswered(out, nowMs, p.vendorClass);
    }
    return out;
  }

  /** Where to check SSH for this Pi once it is loaded (enrolled Pis only). */
  sshTarget(id: string): string | undefined {
    const pi = this.reg.all.find((p) => p.id === id);
    if (!pi?.entry || this.o.ssh === false) return undefined;
    // The address enroll recorded is "alias (hostname)" or "hostname"; the port it connected to is recorded when
    // not 22 (older inventories: only a port given with the host, "user@host:port", is known).
    const given = splitTarget(pi.entry.host.replace(/^.*@/, ''));
    const port = pi.entry.port ?? given.port;
    const a = pi.entry.address;
    const host = a ? splitTarget(/\(([^()]+)\)$/.exec(a)?.[1] ?? a).host : given.host;
    // Enrolled through a port forward or tunnel on this machine (127.0.0.1, ::1): the booted Pi is not there,
    // it is at the address it booted with.
    const booted = [...pi.ips].at(-1);
    if (booted && isLoopback(host)) return `${booted}:22`;
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  }

  /** SSH answered on `ssh`: the Pi is up (also after a boot.no-ssh warning: the runner keeps looking). */
  sshUp(id: string, timeMs: number, ssh: string): WatchEvent[] {
    const pi = this.reg.all.find((p) => p.id === id);
    if (!pi || pi.stage !== 'loaded') return [];
    const out: WatchEvent[] = [];
    // Files sent before watch began (read back with --since): SSH answering now says the Pi is up, not how long it took.
    const history = (pi.loadedMs ?? timeMs) < (this.o.liveFromMs ?? 0) - 2000;
    const seconds = Math.round((timeMs - pi.firstMs) / 100) / 10;
    if (!history) pi.bootSeconds = seconds;
    pi.ended = 'booted';
    // SSH answered after --boot-timeout: the warning was printed and stays in the log of events; the row is booted.
    pi.verdicts.delete('boot.no-ssh');
    const from = this.o.catalog.root && pi.dir ? `${this.o.catalog.root}/${pi.dir}` : undefined;
    this.setStage(out, pi, 'booted', timeMs, history ? `up; it booted before watch started${from ? `, from ${from}` : ''}` : `netbooted in ${Math.round(seconds)} s${from ? ` from ${from}` : ''}`);
    out.push({ type: 'booted', time: iso(timeMs), pi: refOf(pi), attempt: pi.attempt, ...(!history && { seconds }), ...(from && { from }), ssh });
    pi.last = `booted: SSH answers on ${ssh}`;
    return out;
  }

  /** SSH did not answer within the runner's boot timeout: a warning (the runner keeps looking, sshUp may follow). */
  sshGaveUp(id: string, timeMs: number, ssh: string, detail: string): WatchEvent[] {
    const pi = this.reg.all.find((p) => p.id === id);
    if (!pi || pi.stage !== 'loaded') return [];
    const out: WatchEvent[] = [];
    this.verdict(out, pi, timeMs, 'boot.no-ssh', 'warn', words.noSsh(Math.round((timeMs - (pi.loadedMs ?? timeMs)) / 1000), ssh, detail));
    return out;
  }

  rows(nowMs: number): PiRow[] {
    return [...this.reg.all].sort((a, b) => a.seq - b.seq).map((pi) => this.row(pi, nowMs));
  }

  /** doctor's log summary of everything fed so far. */
  checks(source: string): CheckGroup[] {
    return logGroups(this.summarizer.summary(), source);
  }

  summary(source: string, nowMs: number): Extract<WatchEvent, { type: 'summary' }> {
    const pis = this.rows(nowMs);
    const checks = this.checks(source);
    const failed = this.failedNotice || pis.some((r) => r.state === 'fail') || checks.some((g) => g.checks.some((c) => c.status === 'fail'));
    return { type: 'summary', time: iso(nowMs), ok: !failed, pis, checks };
  }

  // ---------------------------------------------------------------------------------------------

  private row(pi: PiState, nowMs: number): PiRow {
    const worst = [...pi.verdicts.values()].sort((a, b) => levelRank(b.level) - levelRank(a.level))[0];
    const state: PiRow['state'] = worst && worst.level !== 'info' ? worst.level : pi.stage === 'booted' || (pi.stage === 'loaded' && !this.sshTarget(pi.id)) ? 'ok' : 'active';
    const end = state === 'active' ? Math.max(nowMs, pi.lastMs) : pi.lastMs;
    const row: PiRow = {
      pi: refOf(pi),
      attempt: pi.attempt,
      stage: pi.stage,
      state,
      files: pi.sent.size,
      bytes: pi.bytes,
      elapsed: Math.round((end - pi.firstMs) / 100) / 10,
      since: iso(pi.firstMs),
      last: pi.last,
    };
    if (worst && worst.level !== 'info') row.verdict = worst.finding;
    if (pi.failedAt !== undefined) row.failedAt = pi.failedAt;
    if (pi.bootSeconds !== undefined) row.bootSeconds = pi.bootSeconds;
    return row;
  }

  private pxeCheck(): Check | undefined {
    return this.o.config?.checks.find((c) => c.id === 'dnsmasq.pxe');
  }

  private unanswered(out: WatchEvent[], ms: number, vendorClass: string): void {
    const w = words.unanswered(vendorClass, this.pxeCheck());
    this.notice(out, ms, 'dhcp.unanswered', w.level, w);
  }

  private notice(out: WatchEvent[], ms: number, id: string, level: Level, w: words.Words): void {
    if (this.notices.has(id)) return;
    this.notices.add(id);
    if (level === 'fail') this.failedNotice = true;
    out.push({ type: 'notice', time: iso(ms), id, level, message: w.finding, ...(w.fix && { fix: w.fix }), ...(w.evidence && { evidence: w.evidence }) });
  }

  private verdict(out: WatchEvent[], pi: PiState, ms: number, id: string, level: Level, w: words.Words): void {
    if (pi.verdicts.has(id)) return;
    pi.verdicts.set(id, { level, finding: w.finding });
    if (level === 'fail') pi.ended = 'failed';
    pi.last = w.finding;
    out.push({ type: 'verdict', time: iso(ms), pi: refOf(pi), attempt: pi.attempt, id, level, finding: w.finding, ...(w.fix && { fix: w.fix }), ...(w.evidence && { evidence: w.evidence }) });
  }

  private newAttempt(pi: PiState, ms: number): void {
    pi.attempt += 1;
    pi.offers = 0;
    pi.firstMs = ms;
    pi.stage = 'dhcp';
    pi.files.clear();
    pi.sent.clear();
    pi.bytes = 0;
    pi.failedPending.clear();
    pi.verdicts.clear();
    delete pi.loadedMs;
    delete pi.bootSeconds;
    delete pi.ended;
    delete pi.failedAt;
  }

  private setStage(out: WatchEvent[], pi: PiState, stage: Stage, ms: number, note?: string): void {
    if (pi.stage === stage) return;
    const from = pi.stage;
    pi.stage = stage;
    out.push({ type: 'stage', time: iso(ms), pi: refOf(pi), attempt: pi.attempt, stage, from, elapsed: Math.round((ms - pi.firstMs) / 100) / 10, ...(note && { note }) });
  }

  private isPi(mac: string): boolean {
    const m = sameMac(mac);
    return RPI_OUIS.some((o) => m.startsWith(o)) || (this.o.inventory ?? []).some((e) => e.mac !== undefined && sameMac(e.mac) === m);
  }

  private handle(e: LogEvent, ms: number, out: WatchEvent[]): void {
    switch (e.kind) {
      case 'tftp-error': {
        if (e.code === 0 && e.message === 'Early terminate') {
          this.notice(out, ms, 'log.early-terminate', 'info', words.EARLY_TERMINATE);
          this.probing.add(e.client);
        }
        const pi = this.reg.atIp(e.client);
        if (pi) {
          pi.lastMs = ms;
          pi.last = e.code === 0 && e.message === 'Early terminate' ? 'size probe' : `error ${e.code} "${e.message}" from the Pi`;
        }
        return;
      }
      case 'tftp-sent':
      case 'tftp-failed':
        this.transfer(e, ms, out);
        return;
      case 'tftp-not-found': {
        const { prefix, file } = splitTftpPath(e.path, this.o.catalog.root);
        const pi = e.client ? this.tftpPi(prefix, e.client, file, ms, out) : (this.reg.atDir(prefix) ?? this.tftpPi(prefix, undefined, file, ms, out));
        const optional = OPTIONAL_BOOT_FILES.has(file);
        this.fileEvent(out, pi, ms, file, 'not-found', { optional, ...(e.client && { client: e.client }) });
        this.advance(out, pi, ms, file);
        if (optional) this.notice(out, ms, 'log.optional', 'info', words.OPTIONAL_NOT_FOUND);
        // The bootloader's prefix probe: <prefix>start4.elf, then <prefix>start.elf; neither there means no prefix.
        else if ((file === 'start4.elf' || file === 'start.elf') && prefix !== '') this.verdict(out, pi, ms, 'boot.prefix', 'warn', words.prefixMissing(prefix, this.o.catalog.root, pi.entry?.host));
        else {
          pi.failedAt = file;
          this.verdict(out, pi, ms, 'boot.not-found', 'fail', words.notFound(file, prefix, this.o.catalog.root, pi.entry?.host));
        }
        return;
      }
      case 'tftp-denied': {
        const { prefix, file } = splitTftpPath(e.path, this.o.catalog.root);
        const pi = this.reg.atDir(prefix) ?? this.tftpPi(prefix, undefined, file, ms, out);
        const facts = this.o.catalog.file(e.path);
        this.fileEvent(out, pi, ms, file, 'denied', { detail: e.reason });
        this.advance(out, pi, ms, file);
        const dirPath = e.path.slice(0, e.path.length - file.length).replace(/\/+$/, '') || '/';
        pi.failedAt = file;
        this.verdict(out, pi, ms, 'boot.denied', 'fail', words.denied(file, e.path, facts, dirPath, this.o.catalog.tftpUser, pi.entry?.host));
        return;
      }
      case 'dhcp-vendor':
        this.vendorByXid.set(e.xid, e.vendorClass);
        if (e.vendorClass.startsWith('PXEClient')) this.pendingXids.set(e.xid, { vendorClass: e.vendorClass, ms });
        if (this.vendorByXid.size > 4096) this.vendorByXid.delete(this.vendorByXid.keys().next().value!);
        return;
      case 'dhcp-packet':
        this.dhcp(e, ms, out);
        return;
      default:
        return;
    }
  }

  private dhcp(e: Extract<LogEvent, { kind: 'dhcp-packet' }>, ms: number, out: WatchEvent[]): void {
    if (e.xid) this.pendingXids.delete(e.xid);
    else if (!this.o.config) this.notice(out, ms, 'log.no-log-dhcp', 'warn', words.NO_LOG_DHCP);
    if (e.type === 'DHCPACK' && e.addr) this.reg.linkIpMac(e.addr, e.mac, ms);
    const vendor = e.xid ? this.vendorByXid.get(e.xid) : undefined;
    const pxe = e.type === 'PXE' || (e.type === 'DHCPDISCOVER' && vendor?.startsWith('PXEClient') === true);
    if (!pxe || !this.isPi(e.mac)) return;
    const pi = this.reg.forMac(e.mac, ms);
    if (pi.ended || rank(pi.stage) > rank('dhcp')) this.newAttempt(pi, ms);
    pi.lastMs = ms;
    pi.offers += 1;
    const offer = e.detail ?? e.type;
    pi.last = `${e.type === 'PXE' ? 'PXE' : e.type} ${offer === e.type ? '' : offer} on ${e.iface}`.replace(/\s+/g, ' ');
    out.push({ type: 'dhcp', time: iso(ms), pi: refOf(pi), attempt: pi.attempt, offer, interface: e.iface, ...(vendor && { vendorClass: vendor }) });
  }

  /** The Pi of a TFTP line; a Pi that ended its last attempt and asks for start4.elf again starts a new one. */
  private tftpPi(prefix: string, client: string | undefined, file: string, ms: number, out: WatchEvent[]): PiState {
    const pi = this.reg.forTftp(prefix, client, ms, this.o.neighbors ?? (() => undefined));
    if ((pi.ended || rank(pi.stage) >= rank('loaded')) && file === 'start4.elf') this.newAttempt(pi, ms);
    if (pi.stage === 'dhcp') this.setStage(out, pi, 'firmware', ms);
    if (prefix === '') this.verdict(out, pi, ms, 'boot.prefix', 'warn', words.NO_PREFIX);
    return pi;
  }

  private transfer(e: Extract<LogEvent, { kind: 'tftp-sent' | 'tftp-failed' }>, ms: number, out: WatchEvent[]): void {
    const { prefix, file } = splitTftpPath(e.path, this.o.catalog.root);
    const pi = this.tftpPi(prefix, e.client, file, ms, out);
    const probe = this.probing.delete(e.client);
    if (probe) {
      this.fileEvent(out, pi, ms, file, 'probe', { client: e.client });
    } else if (e.kind === 'tftp-failed') {
      pi.failedPending.set(file, ms);
      this.fileEvent(out, pi, ms, file, 'failed', { client: e.client });
    } else {
      const bytes = this.o.catalog.file(e.path)?.size;
      pi.sent.add(file);
      pi.bytes += bytes ?? 0;
      pi.failedPending.delete(file);
      this.fileEvent(out, pi, ms, file, 'sent', { client: e.client, ...(bytes !== undefined && { bytes }) });
    }
    this.advance(out, pi, ms, file);
  }

  private fileEvent(out: WatchEvent[], pi: PiState, ms: number, file: string, outcome: FileOutcome, extra: { client?: string; bytes?: number; optional?: boolean; detail?: string }): void {
    pi.lastMs = ms;
    const rec = pi.files.get(file);
    pi.files.set(file, { outcome: rec?.outcome === 'sent' && outcome === 'probe' ? 'sent' : outcome, count: (rec?.count ?? 0) + 1 });
    const what: Record<FileOutcome, string> = { sent: 'sent', probe: 'size probe of', failed: 'failed sending', 'not-found': 'not found:', denied: 'permission denied:' };
    pi.last = `${what[outcome]} ${file}`;
    out.push({ type: 'file', time: iso(ms), pi: refOf(pi), attempt: pi.attempt, file, outcome, ...extra });
  }

  /** The stage after a transfer: initramfs or kernel once one of their files is asked for, loaded once all of them were sent. */
  private advance(out: WatchEvent[], pi: PiState, ms: number, file: string): void {
    if (pi.ended || rank(pi.stage) >= rank('loaded')) return;
    const info = pi.dir !== undefined ? this.o.catalog.dir(pi.dir) : undefined;
    const kernel = info?.kernel;
    const initramfs = info?.initramfs ?? [];
    const isKernel = kernel !== undefined ? file === kernel : isKernelFile(file);
    const kernelSent = kernel !== undefined ? pi.sent.has(kernel) : [...pi.sent].some((f) => isKernelFile(f));
    let stage: Stage = pi.stage;
    if (kernelSent && initramfs.every((f) => pi.sent.has(f))) stage = 'loaded';
    else if (isKernel) stage = 'kernel';
    else if (initramfs.includes(file)) stage = 'initramfs';
    if (rank(stage) <= rank(pi.stage)) return;
    if (stage === 'loaded') {
      pi.loadedMs = ms;
      const ssh = this.sshTarget(pi.id);
      this.setStage(out, pi, stage, ms, ssh ? `all boot files sent; waiting for SSH on ${ssh}` : 'all boot files sent; not in the inventory, so pinet cannot check that it came up');
      return;
    }
    this.setStage(out, pi, stage, ms);
  }
}

function levelRank(l: Level): number {
  return l === 'fail' ? 2 : l === 'warn' ? 1 : 0;
}

/** A host name or address on this machine's loopback. */
function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return /^127\./.test(h) || h === '::1' || h === 'localhost';
}
