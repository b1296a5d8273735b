/**
 * Where watch's events go:
 *  * `json`: newline-delimited JSON on stdout, one event per line, keys sorted;
 *  * `lines` (stdout is not a terminal): one line per event on stdout;
 *  * `table` (a terminal): a live table of every Pi, redrawn at most ten
 *    times a second, with verdicts and notices printed above it as they
 *    come. With more Pis than fit, the rows that need attention come first
 *    and finished Pis are folded into one line.
 * Log source notes (rotated, truncated) are progress: stderr, except in json.
 */
import { formatReport, type CheckGroup } from '../doctor/model.js';
import { sortKeysDeep } from '../../ui/json.js';
import type { PiRow, WatchEvent } from './events.js';
import { countLine, eventLines, table, type Paint } from './format.js';

type Stream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };

export interface Renderer {
  events(evs: WatchEvent[]): void;
  /** The live view (table mode only). */
  redraw(rows: PiRow[], header: string): void;
  /** The end: the summary event, the rows and doctor's log groups. */
  finish(summary: Extract<WatchEvent, { type: 'summary' }>, groups: CheckGroup[], header: string): void;
}

export function jsonRenderer(stdout: Stream): Renderer {
  const write = (e: WatchEvent): void => {
    stdout.write(`${JSON.stringify(sortKeysDeep(e))}\n`);
  };
  return {
    events: (evs) => evs.forEach(write),
    redraw: () => undefined,
    finish: (summary) => write(summary),
  };
}

export function linesRenderer(stdout: Stream, stderr: Stream, c: Paint): Renderer {
  return {
    events(evs) {
      for (const e of evs) (e.type === 'source' ? stderr : stdout).write(`${eventLines(e, c).join('\n')}\n`);
    },
    redraw: () => undefined,
    finish(summary, groups, header) {
      stdout.write(`\n${summaryText(summary.pis, groups, header, c, 1000)}\n`);
    },
  };
}

export function summaryText(rows: PiRow[], groups: CheckGroup[], header: string, c: Paint, width: number): string {
  const lines = [c.bold(`${header}: ${countLine(rows)}`)];
  if (rows.length) lines.push(...table(rows, c, width));
  lines.push('', "dnsmasq's log, as pinet doctor --log reads it:", formatReport({ groups }, c));
  return lines.join('\n');
}

const ORDER: Record<PiRow['state'], number> = { fail: 0, warn: 1, active: 2, ok: 3 };

export function tableRenderer(stdout: Stream, stderr: Stream, c: Paint): Renderer {
  let drawn = 0;
  const clear = (): string => (drawn > 0 ? `\x1b[${drawn}A\x1b[J` : '');
  return {
    events(evs) {
      const text = evs.filter((e) => e.type === 'notice' || e.type === 'verdict' || e.type === 'booted').flatMap((e) => eventLines(e, c));
      const notes = evs.filter((e) => e.type === 'source').flatMap((e) => eventLines(e, c));
      if (!text.length && !notes.length) return;
      // Permanent lines go above the live table: erase it, print, and let the next redraw put it back.
      stdout.write(clear());
      drawn = 0;
      if (notes.length) stderr.write(`${notes.join('\n')}\n`);
      if (text.length) stdout.write(`${text.join('\n')}\n`);
    },
    redraw(rows, header) {
      const width = stdout.columns ?? 120;
      // The whole frame (count line, header, rows) stays two lines short of the screen, or it would scroll.
      const room = Math.max(4, (stdout.rows ?? 40) - 4);
      const sorted = [...rows].sort((a, b) => ORDER[a.state] - ORDER[b.state]);
      let shown = sorted;
      let folded: PiRow[] = [];
      if (sorted.length > room) {
        shown = sorted.slice(0, room - 1);
        folded = sorted.slice(room - 1);
      }
      const lines = [c.bold(`${header}: ${countLine(rows)}`), ...table(shown, c, width)];
      if (folded.length) {
        const names = folded.map((r) => r.pi.name);
        lines.push(c.dim(`… and ${folded.length} more (${names.length > 3 ? `${names.slice(0, 2).join(', ')} … ${names[names.length - 1]}` : names.join(', ')}): ${countLine(folded)}`));
      }
      stdout.write(`${clear()}${lines.map((l) => (l.length > width + 20 ? l.slice(0, width + 20) : l)).join('\n')}\n`);
      drawn = lines.length;
    },
    finish(summary, groups, header) {
      stdout.write(`${clear()}${summaryText(summary.pis, groups, header, c, stdout.columns ?? 120)}\n`);
      drawn = 0;
    },
  };
}
