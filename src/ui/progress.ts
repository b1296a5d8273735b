/**
 * Progress of a job on many targets at once, on stderr.
 *
 * On a terminal: a live list, one line per target with its current step
 * and the bytes copied, redrawn in place (log-update) at most ten times a
 * second, left on screen when the phase ends. Elsewhere (CI, pipes,
 * --json): one plain line per step change, `<target>: <step>`, never per
 * byte. The task runner (src/jobs/runner.ts) drives it.
 *
 * Bytes that cross the network (a Pi sending its boot files) and bytes
 * copied on this machine (into the Pis' directories) are reported with
 * `moved`: each target's row shows them with a rate, a total line per kind
 * sums all targets with the overall rate; without a terminal, a target's
 * line says them when it finishes, and one total line per kind ends the
 * phase.
 *
 * The live view's renderer (log-update and what it loads: ~80 ms of module
 * loading) is loaded only for a terminal: commands get their progress
 * factory from `progressFor`, which loads it first when it is needed.
 */
import type { createLogUpdate as CreateLogUpdate } from 'log-update';

/** 'network': sent by a Pi over the network; 'local': copied on this machine. */
export type MovedKind = 'network' | 'local';

export interface Progress {
  step(name: string, step: string): void;
  bytes(name: string, bytes: number, total?: number): void;
  /** Bytes of `kind` moved for a target so far, of `total`; `since`: when it began (the view's clock), when not at the first call. */
  moved?(name: string, kind: MovedKind, bytes: number, total: number, since?: number): void;
  done(name: string, outcome: 'ok' | 'failed' | 'up to date' | 'skipped', detail?: string): void;
  /** Leaves the final state on screen. */
  stop(): void;
}

interface Moved {
  bytes: number;
  total: number;
  /** When the first bytes were reported, and the last. */
  start: number;
  last: number;
}

interface Row {
  step: string;
  bytes?: number;
  total?: number;
  outcome?: string;
  detail?: string;
  moved: Partial<Record<MovedKind, Moved>>;
  /** The kind of the current step's bytes, when they are moved ones. */
  showing?: MovedKind;
}

const KINDS: MovedKind[] = ['network', 'local'];
const KIND_TEXT: Record<MovedKind, { total: string; done: string }> = {
  network: { total: 'over the network', done: 'sent' },
  local: { total: 'copied on this machine', done: 'copied' },
};

/** Bytes with GB for the totals (human() stops at MB, as watch shows it). */
function size(bytes: number): string {
  return bytes >= 1024 * 1024 * 1024 ? `${(bytes / 1024 / 1024 / 1024).toFixed(2)} GB` : human(bytes);
}

/** "12.3 MB/s", or '' before a rate can be told. */
export function rate(bytes: number, ms: number): string {
  return ms > 0 && bytes > 0 ? `${size(Math.round((bytes * 1000) / ms))}/s` : '';
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** One target's moved bytes of a kind, as its finished line says them: "sent 3.4 MB over the network in 1.2 s, 2.8 MB/s". */
function movedText(kind: MovedKind, m: Moved): string {
  const r = rate(m.bytes, m.last - m.start);
  return `${KIND_TEXT[kind].done} ${size(m.bytes)} ${kind === 'network' ? 'over the network' : 'locally'} in ${seconds(m.last - m.start)}${r ? `, ${r}` : ''}`;
}

/** All targets' moved bytes of a kind: "over the network: 171.2 MB of 171.2 MB from 50 Pis in 3.4 s (50.3 MB/s)". */
function totalText(kind: MovedKind, rows: Iterable<Row>, now: number, what: string): string | undefined {
  let bytes = 0;
  let total = 0;
  let start = Infinity;
  let last = 0;
  let n = 0;
  for (const r of rows) {
    const m = r.moved[kind];
    if (!m) continue;
    n++;
    bytes += m.bytes;
    total += m.total;
    start = Math.min(start, m.start);
    last = Math.max(last, r.outcome === undefined ? now : m.last);
  }
  if (n === 0) return undefined;
  const r = rate(bytes, last - start);
  return `total ${KIND_TEXT[kind].total}: ${size(bytes)} of ${size(total)} ${kind === 'network' ? 'from' : 'for'} ${n} ${what}${n === 1 ? '' : 's'} in ${seconds(last - start)}${r ? ` (${r})` : ''}`;
}

const SPIN = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function human(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export interface ProgressColors {
  green(s: string): string;
  red(s: string): string;
  dim(s: string): string;
}

export interface ProgressOptions {
  live?: boolean;
  color?: ProgressColors;
  /** What a target is, in the total lines ("Pi"). */
  what?: string;
  /** The clock (ms), for tests. */
  now?: () => number;
}

let createLogUpdate: typeof CreateLogUpdate | undefined;

/** Loads the live view's renderer (needed before createProgress draws a live view). */
export async function loadLiveView(): Promise<void> {
  createLogUpdate ??= (await import('log-update')).createLogUpdate;
}

type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** A progress factory for a command: the live view's renderer loaded first when `stream` gets the live view. */
export async function progressFor(stream: ProgressStream, opts: ProgressOptions = {}): Promise<(names: string[]) => Progress> {
  const live = opts.live ?? stream.isTTY === true;
  if (live) await loadLiveView();
  return (names) => createProgress(stream, names, { ...opts, live });
}

export function createProgress(stream: ProgressStream, names: string[], opts: ProgressOptions = {}): Progress {
  const live = opts.live ?? stream.isTTY === true;
  const rows = new Map<string, Row>(names.map((n) => [n, { step: 'waiting', moved: {} }]));
  const now = opts.now ?? (() => performance.now());
  return live ? liveProgress(stream, rows, now, opts) : lineProgress(stream, rows, now, opts);
}

/** Records moved bytes on a row. */
function recordMoved(r: Row, kind: MovedKind, bytes: number, total: number, now: number, since?: number): void {
  const m = r.moved[kind];
  if (m) Object.assign(m, { bytes, total, last: now });
  else r.moved[kind] = { bytes, total, start: since ?? now, last: now };
  r.showing = kind;
}

function lineProgress(stream: NodeJS.WritableStream, rows: Map<string, Row>, now: () => number, opts: ProgressOptions): Progress {
  return {
    step(name, step) {
      const r = rows.get(name);
      if (r) r.step = step;
      stream.write(`${name}: ${step}\n`);
    },
    bytes(name, bytes, total) {
      const r = rows.get(name);
      if (r) Object.assign(r, { bytes, total });
    },
    moved(name, kind, bytes, total, since) {
      const r = rows.get(name);
      if (r) recordMoved(r, kind, bytes, total, now(), since);
    },
    done(name, outcome, detail) {
      const r = rows.get(name);
      if (r) r.outcome = outcome;
      const moved = r ? KINDS.flatMap((k) => (r.moved[k] ? [movedText(k, r.moved[k])] : [])) : [];
      const all = [...(detail ? [detail] : []), ...moved].join('; ');
      stream.write(`${name}: ${outcome}${all ? ` (${all})` : ''}\n`);
    },
    stop() {
      for (const k of KINDS) {
        const t = totalText(k, rows.values(), now(), opts.what ?? 'Pi');
        if (t) stream.write(`${t}\n`);
      }
    },
  };
}

function liveProgress(stream: NodeJS.WritableStream & { columns?: number }, rows: Map<string, Row>, now: () => number, opts: ProgressOptions): Progress {
  const c = opts.color ?? { green: (s: string) => s, red: (s: string) => s, dim: (s: string) => s };
  const width = Math.min(32, Math.max(4, ...[...rows.keys()].map((n) => n.length)));
  if (!createLogUpdate) throw new Error('internal error: the live view was not loaded (await loadLiveView() or use progressFor)');
  const render = createLogUpdate(stream, { showCursor: false });
  let frame = 0;
  const text = (): string => {
    const cols = stream.columns ?? 100;
    const t = now();
    const fit = (line: string): string => (line.length > cols ? `${line.slice(0, Math.max(10, cols - 1))}…` : line);
    const lines = [...rows].map(([name, r]) => {
      const mark = r.outcome === undefined ? SPIN[frame] : r.outcome === 'failed' ? c.red('✗') : c.green('✓');
      const m = r.showing ? r.moved[r.showing] : undefined;
      const bytes = m
        ? `  ${size(m.bytes)} / ${size(m.total)}${rate(m.bytes, t - m.start) ? `  ${rate(m.bytes, t - m.start)}` : ''}`
        : r.bytes !== undefined
          ? `  ${human(r.bytes)}${r.total ? ` / ${human(r.total)}` : ''}`
          : '';
      const moved = KINDS.flatMap((k) => (r.moved[k] ? [movedText(k, r.moved[k])] : []));
      const detail = [...(r.detail ? [r.detail] : []), ...moved].join('; ');
      const what = r.outcome !== undefined ? `${r.outcome}${detail ? ` (${detail})` : ''}` : `${r.step}${bytes}`;
      return fit(`${mark} ${name.padEnd(width)}  ${what}`);
    });
    for (const k of KINDS) {
      const total = totalText(k, rows.values(), t, opts.what ?? 'Pi');
      if (total) lines.push(fit(`  ${total}`));
    }
    return lines.join('\n');
  };
  const timer = setInterval(() => {
    frame = (frame + 1) % SPIN.length;
    render(text());
  }, 100);
  timer.unref();
  render(text());
  const update = (name: string, fn: (r: Row) => void): void => {
    const r = rows.get(name);
    if (r) fn(r);
  };
  return {
    step: (name, step) =>
      update(name, (r) => {
        r.step = step;
        r.bytes = undefined;
        r.showing = undefined;
      }),
    bytes: (name, bytes, total) =>
      update(name, (r) => {
        r.bytes = bytes;
        r.total = total;
        r.showing = undefined;
      }),
    moved: (name, kind, bytes, total, since) => update(name, (r) => recordMoved(r, kind, bytes, total, now(), since)),
    done: (name, outcome, detail) =>
      update(name, (r) => {
        r.outcome = outcome;
        r.detail = detail;
      }),
    stop() {
      clearInterval(timer);
      render(text());
      render.done();
    },
  };
}
