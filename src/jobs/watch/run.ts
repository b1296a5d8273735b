/**
 * `pinet watch` at run time: read the log source batch by batch, fill in
 * what the engine needs to know about the export and the neighbour table,
 * feed every line to the engine with its time, tick its clock once a
 * second, check SSH of enrolled Pis whose boot files were all sent, and hand
 * the events to the renderer. Ends when the input ends (`--once`, stdin) or
 * on Ctrl-C, with the summary.
 */
import type { Check } from '../doctor/model.js';
import { parseLogLine, stampToMs, type LogLine } from '../../server/dnsmasq-log.js';
import type { UnixUser } from '../../server/perms.js';
import type { InventoryEntry } from '../../server/state.js';
import { WatchEngine } from './engine.js';
import { iso, type WatchEvent } from './events.js';
import { ExportCatalog } from './export-catalog.js';
import { Neighbors } from './neighbors.js';
import type { Renderer } from './render.js';
import { describeSource, readSource, type SourceSpec } from './source.js';
import { waitForSsh } from './ssh-check.js';

export interface WatchRun {
  source: SourceSpec;
  once: boolean;
  sinceMs?: number;
  /** The TFTP root: dnsmasq's tftp-root, else the export directory. */
  tftpRoot: string;
  tftpUser?: UnixUser;
  inventory: InventoryEntry[];
  config?: { checks: Check[]; logDhcp: boolean; quiet: string[] };
  renderer: Renderer;
  live: boolean;
  stallMs: number;
  dhcpWaitMs: number;
  bootTimeoutMs: number;
  ssh: boolean;
  /** Ctrl-C. */
  signal: AbortSignal;
  neighborsFile?: string;
}

export interface WatchResult {
  ok: boolean;
  /** Ended by Ctrl-C (exit 0 whatever happened). */
  interrupted: boolean;
  lines: number;
}

export async function runWatch(o: WatchRun): Promise<WatchResult> {
  const catalog = new ExportCatalog(o.tftpRoot, o.tftpUser, o.inventory);
  await catalog.load();
  const neighbors = new Neighbors(o.neighborsFile);
  const engine = new WatchEngine({
    catalog,
    inventory: o.inventory,
    neighbors: neighbors.lookup,
    stallMs: o.stallMs,
    dhcpWaitMs: o.dhcpWaitMs,
    ssh: o.ssh && !o.once,
    liveFromMs: Date.now(),
    ...(o.config && { config: o.config }),
  });
  const header = `watching ${describeSource(o.source)}`;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  o.signal.addEventListener('abort', onAbort, { once: true });
  const checks = new Set<Promise<void>>();
  let dirty = false;
  let lines = 0;

  const emit = (evs: WatchEvent[]): void => {
    if (!evs.length) return;
    o.renderer.events(evs);
    dirty = true;
    for (const e of evs) if (e.type === 'stage' && e.stage === 'loaded') startSsh(e.pi.id);
  };
  const startSsh = (id: string): void => {
    const target = engine.sshTarget(id);
    if (!target || o.once) return;
    const p = waitForSsh(target, { timeoutMs: o.bootTimeoutMs, signal: stop.signal }).then(async (r) => {
      if (stop.signal.aborted) return;
      if (r.ok) return emit(engine.sshUp(id, Date.now(), target));
      emit(engine.sshGaveUp(id, Date.now(), target, r.detail));
      // Warned; a slow Pi may still come up: keep looking, less often, until watch ends.
      const late = await waitForSsh(target, { timeoutMs: Number.POSITIVE_INFINITY, intervalMs: 5000, signal: stop.signal });
      if (late.ok && !stop.signal.aborted) emit(engine.sshUp(id, Date.now(), target));
    });
    checks.add(p);
    void p.finally(() => checks.delete(p));
  };

  emit(engine.start(Date.now()));
  const redraw = (): void => {
    if (!o.live || !dirty) return;
    dirty = false;
    o.renderer.redraw(engine.rows(Date.now()), header);
  };
  const timers: NodeJS.Timeout[] = [];
  if (!o.once) {
    timers.push(
      setInterval(() => {
        emit(engine.tick(Date.now()));
        dirty = true;
      }, 1000),
    );
    if (o.live) timers.push(setInterval(redraw, 100));
  }

  let ended = false;
  try {
    const source = readSource(o.source, {
      once: o.once,
      ...(o.sinceMs !== undefined && { sinceMs: o.sinceMs }),
      signal: stop.signal,
      onNote: (n) => emit([{ type: 'source', time: iso(Date.now()), what: n.what, source: describeSource(o.source), ...(n.detail && { detail: n.detail }) }]),
    });
    for await (const batch of source) {
      const now = Date.now();
      const parsed: { line: LogLine; timeMs: number }[] = [];
      for (const b of batch) {
        const line = parseLogLine(b.raw);
        // A syslog stamp has whole seconds: for a line read within its own second, the time it was read is closer.
        const stamp = line.stamp ? stampToMs(line.stamp, now) : undefined;
        const timeMs = b.timeMs ?? (stamp === undefined ? now : now - stamp >= 0 && now - stamp < 1000 ? now : stamp);
        if (o.sinceMs !== undefined && timeMs < o.sinceMs && (b.timeMs !== undefined || line.stamp)) continue;
        parsed.push({ line, timeMs });
      }
      lines += parsed.length;
      const clients = new Set<string>();
      for (const { line } of parsed) {
        const e = line.event;
        if (e && 'client' in e && e.client) clients.add(e.client);
      }
      await Promise.all([catalog.prepare(parsed.map((p) => p.line), now), neighbors.learn(clients, now)]);
      const evs: WatchEvent[] = [];
      for (const { line, timeMs } of parsed) evs.push(...engine.feedLine(line, timeMs));
      emit(evs);
      if (stop.signal.aborted) break;
    }
    ended = !o.signal.aborted;
  } finally {
    for (const t of timers) clearInterval(t);
    stop.abort();
    o.signal.removeEventListener('abort', onAbort);
  }
  await Promise.all([...checks]);
  const now = Date.now();
  if (ended) emit(engine.finish(now));
  else emit(engine.tick(now));
  const summary = engine.summary(o.source.kind === 'stdin' ? 'stdin' : describeSource(o.source), now);
  o.renderer.finish(summary, summary.checks as never, header);
  return { ok: summary.ok, interrupted: !ended, lines };
}
