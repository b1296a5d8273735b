/**
 * Progress of work on many Pis at once, on stderr.
 *
 * On a terminal: a live list, one line per Pi with its current step and the
 * bytes copied, redrawn at most ten times a second. Elsewhere (CI, pipes,
 * --json): one plain log line per step change, never per byte.
 */

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

export function createProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
  names: string[],
  opts: { live?: boolean; color?: { green(s: string): string; red(s: string): string; dim(s: string): string } } = {},
): Progress {
  const live = opts.live ?? stream.isTTY === true;
  const c = opts.color ?? { green: (s: string) => s, red: (s: string) => s, dim: (s: string) => s };
  const rows = new Map<string, Row>(names.map((n) => [n, { step: 'waiting' }]));
  const width = Math.min(32, Math.max(4, ...names.map((n) => n.length)));

  if (!live) {
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

  let drawn = 0;
  let frame = 0;
  let dirty = true;
  const draw = () => {
    if (!dirty) return;
    dirty = false;
    frame = (frame + 1) % SPIN.length;
    const cols = stream.columns ?? 100;
    let out = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const [name, r] of rows) {
      const mark = r.outcome === undefined ? SPIN[frame] : r.outcome === 'failed' ? c.red('✗') : c.green('✓');
      const bytes = r.bytes !== undefined ? `  ${human(r.bytes)}${r.total ? ` / ${human(r.total)}` : ''}` : '';
      const text = r.outcome !== undefined ? `${r.outcome}${r.detail ? ` (${r.detail})` : ''}` : `${r.step}${bytes}`;
      out += `\x1b[2K${mark} ${name.padEnd(width)}  ${text}`.slice(0, cols + 20) + '\n';
    }
    drawn = rows.size;
    stream.write(out);
  };
  const timer = setInterval(() => {
    dirty = true;
    draw();
  }, 100);
  timer.unref();
  return {
    step(name, step) {
      const r = rows.get(name);
      if (r) {
        r.step = step;
        r.bytes = undefined;
        dirty = true;
      }
    },
    bytes(name, bytes, total) {
      const r = rows.get(name);
      if (r) {
        r.bytes = bytes;
        r.total = total;
        dirty = true;
      }
    },
    done(name, outcome, detail) {
      const r = rows.get(name);
      if (r) {
        r.outcome = outcome;
        r.detail = detail;
        dirty = true;
      }
    },
    stop() {
      clearInterval(timer);
      dirty = true;
      draw();
    },
  };
}
