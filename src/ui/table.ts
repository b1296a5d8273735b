/**
 * Column-aligned text tables: the one helper behind every table pinet
 * prints (enroll/rollback summaries, list, info, doctor). Widths count what
 * the terminal shows (colour codes take no room); the last column is never
 * padded, so long details do not push trailing spaces.
 */

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** The width a string takes on the terminal (colours stripped). */
export function visibleWidth(text: string): number {
  return [...text.replace(ANSI, '')].length;
}

export function padEnd(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - visibleWidth(text)));
}

export interface TableOptions {
  /** Between columns (default two spaces). */
  gap?: string;
  /** Put before every line (e.g. an indent). */
  indent?: string;
  /** Cap a column's width (longer cells overflow, the column stays aligned). */
  maxWidth?: number[];
}

/** Rows (and an optional header row) as aligned lines. */
export function table(rows: string[][], opts: TableOptions = {}): string {
  const gap = opts.gap ?? '  ';
  const cols = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: cols }, (_, i) => {
    const w = Math.max(0, ...rows.map((r) => (i < r.length - 1 ? visibleWidth(r[i] ?? '') : 0)));
    return opts.maxWidth?.[i] !== undefined ? Math.min(w, opts.maxWidth[i]!) : w;
  });
  return rows.map((r) => (opts.indent ?? '') + r.map((cell, i) => (i < r.length - 1 ? padEnd(cell, widths[i]!) : cell)).join(gap)).join('\n');
}
