/**
 * Progress of a job on many targets at once, on stderr.
 *
 * On a terminal: a live list, one line per target with its current step
 * and the bytes copied, redrawn in place (log-update) at most ten times a
 * second, left on screen when the phase ends. Elsewhere (CI, pipes,
 * --json): one plain line per step change, `<target>: <step>`, never per
 * byte. The task runner (src/jobs/runner.ts) drives it.
 */
import { createLogUpdate } from 'log-update';

export interface Progress {
  step(name: string, step: string): void;
  bytes(name: string, bytes: number, total?: number): void;
  done(name: string, outcome: 'ok' | 'failed' | 'up to date' | 'skipped', detail?: string): void;
  /** Leaves the final state on screen. */
  stop(): void;
}

interface Row {
  step: string;
  bytes?: number;
  total?: number;
  outcome?: string;
  detail?: string;
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

export function createProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
  names: string[],
  opts: { live?: boolean; color?: ProgressColors } = {},
): Progress {
  const live = opts.live ?? stream.isTTY === true;
  const rows = new Map<string, Row>(names.map((n) => [n, { step: 'waiting' }]));
  return live ? liveProgress(stream, rows, opts.color) : lineProgress(stream, rows);
}

function lineProgress(stream: NodeJS.WritableStream, rows: Map<string, Row>): Progress {
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
    done(name, outcome, detail) {
      stream.write(`${name}: ${outcome}${detail ? ` (${detail})` : ''}\n`);
    },
    stop() {},
  };
}

function liveProgress(stream: NodeJS.WritableStream & { columns?: number }, rows: Map<string, Row>, color?: ProgressColors): Progress {
  const c = color ?? { green: (s: string) => s, red: (s: string) => s, dim: (s: string) => s };
  const width = Math.min(32, Math.max(4, ...[...rows.keys()].map((n) => n.length)));
  const render = createLogUpdate(stream, { showCursor: false });
  let frame = 0;
  const text = (): string => {
    const cols = stream.columns ?? 100;
    return [...rows]
      .map(([name, r]) => {
        const mark = r.outcome === undefined ? SPIN[frame] : r.outcome === 'failed' ? c.red('✗') : c.green('✓');
        const bytes = r.bytes !== undefined ? `  ${human(r.bytes)}${r.total ? ` / ${human(r.total)}` : ''}` : '';
        const what = r.outcome !== undefined ? `${r.outcome}${r.detail ? ` (${r.detail})` : ''}` : `${r.step}${bytes}`;
        const line = `${mark} ${name.padEnd(width)}  ${what}`;
        return line.length > cols ? `${line.slice(0, Math.max(10, cols - 1))}…` : line;
      })
      .join('\n');
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
      }),
    bytes: (name, bytes, total) =>
      update(name, (r) => {
        r.bytes = bytes;
        r.total = total;
      }),
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
