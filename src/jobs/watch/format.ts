/**
 * Watch events and Pi rows as text: one line per event (logs, pipes, CI)
 * and the rows of the live table and of the summary.
 */
import { human } from '../../ui/progress.js';
import { STAGE_TEXT, type PiRef, type PiRow, type WatchEvent } from './events.js';

export interface Paint {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
}

export const plain: Paint = { bold: (s) => s, dim: (s) => s, green: (s) => s, yellow: (s) => s, red: (s) => s, cyan: (s) => s };

export function clock(isoTime: string): string {
  const d = new Date(isoTime);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

export function seconds(s: number): string {
  return s < 100 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
}

/** "pi-07 (bf9fed6f)", "bf9fed6f", "dc:a6:32:01:02:03 (10.0.0.5)". */
export function piLabel(p: PiRef): string {
  const extra = p.host ? p.dir : [p.dir, p.mac, p.ip].find((x) => x !== undefined && x !== '' && x !== p.name);
  return extra ? `${p.name} (${extra})` : p.name;
}

/** One event as lines of text (a verdict carries its evidence and fix below it). */
export function eventLines(e: WatchEvent, c: Paint = plain): string[] {
  const t = 'time' in e ? c.dim(clock(e.time)) : '';
  switch (e.type) {
    case 'source':
      return [`${t} log ${e.what}: ${e.detail ?? e.source}`];
    case 'notice': {
      const tag = e.level === 'fail' ? c.red('FAIL') : e.level === 'warn' ? c.yellow('warn') : c.dim('note');
      return [`${t} ${tag} ${e.message}`, ...(e.evidence ?? []).map((x) => `           ${c.dim(x)}`), ...(e.fix ? [`           ${c.cyan(`fix: ${e.fix}`)}`] : [])];
    }
    case 'dhcp':
      return [`${t} ${piLabel(e.pi)}: DHCP ${e.offer === 'proxy' ? 'proxy offer' : e.offer} on ${e.interface}${e.pi.mac ? ` to ${e.pi.mac}` : ''}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`];
    case 'file': {
      const what =
        e.outcome === 'sent'
          ? `sent ${e.file}${e.bytes !== undefined ? ` (${human(e.bytes)})` : ''}`
          : e.outcome === 'probe'
            ? `size probe of ${e.file}`
            : e.outcome === 'failed'
              ? `failed sending ${e.file}`
              : e.outcome === 'denied'
                ? `${e.file}: ${e.detail ?? 'Permission denied'}`
                : `${e.file} not found${e.optional ? ' (optional)' : ''}`;
      return [`${t} ${piLabel(e.pi)}: ${what}`];
    }
    case 'stage':
      return [`${t} ${piLabel(e.pi)}: ${STAGE_TEXT[e.stage]} after ${seconds(e.elapsed)}${e.note ? `: ${e.note.replace(/^all boot files sent; /, '')}` : ''}`];
    case 'verdict': {
      const tag = e.level === 'fail' ? c.red('FAIL') : e.level === 'warn' ? c.yellow('warn') : c.dim('note');
      return [`${t} ${tag} ${piLabel(e.pi)}: ${e.finding}`, ...(e.evidence ?? []).map((x) => `           ${c.dim(x)}`), ...(e.fix ? [`           ${c.cyan(`fix: ${e.fix}`)}`] : [])];
    }
    case 'booted':
      return [
        e.seconds !== undefined
          ? `${t} ${c.green('ok  ')} ${piLabel(e.pi)}: netbooted in ${Math.round(e.seconds)} s${e.from ? ` from ${e.from}` : ''} (SSH answers on ${e.ssh})`
          : `${t} ${c.green('ok  ')} ${piLabel(e.pi)}: up (SSH answers on ${e.ssh}); it booted before watch started${e.from ? `, from ${e.from}` : ''}`,
      ];
    case 'summary':
      return [];
  }
}

export const COLUMNS = ['PI', 'STAGE', 'FILES', 'BYTES', 'TIME', 'LAST'] as const;

export function rowCells(r: PiRow): string[] {
  const stage = r.state === 'fail' ? `FAILED: ${r.failedAt ?? STAGE_TEXT[r.stage]}` : r.state === 'warn' && r.stage !== 'booted' ? `${STAGE_TEXT[r.stage]} (stuck)` : STAGE_TEXT[r.stage];
  const last = r.bootSeconds !== undefined ? `netbooted in ${Math.round(r.bootSeconds)} s` : r.stage === 'booted' ? 'up (booted before watch started)' : (r.verdict ?? r.last);
  return [piLabel(r.pi), stage, String(r.files), human(r.bytes), seconds(r.elapsed), last];
}

/** Rows as an aligned table; the last column is cut to `width`. */
export function table(rows: PiRow[], c: Paint = plain, width = 120): string[] {
  const cells = rows.map(rowCells);
  const w = COLUMNS.map((h, i) => Math.min(i === 0 ? 32 : 30, Math.max(h.length, ...cells.map((r) => r[i]!.length))));
  const fmt = (r: string[]): string => {
    const line = r.map((x, i) => (i === r.length - 1 ? x : i === 2 || i === 3 || i === 4 ? x.padStart(w[i]!) : x.slice(0, w[i]!).padEnd(w[i]!))).join('  ');
    return line.length > width ? `${line.slice(0, width - 1)}…` : line;
  };
  const paint = (r: PiRow, s: string): string => (r.state === 'fail' ? c.red(s) : r.state === 'warn' ? c.yellow(s) : r.state === 'ok' ? c.green(s) : s);
  return [c.bold(fmt([...COLUMNS])), ...rows.map((r, i) => paint(r, fmt(cells[i]!)))];
}

/** "50 Pis: 30 booted, 2 boot files sent, 15 booting, 3 failed, 2 stuck". */
export function countLine(rows: PiRow[]): string {
  const n = { booted: 0, sent: 0, active: 0, fail: 0, warn: 0 };
  for (const r of rows) {
    if (r.state === 'ok') n[r.stage === 'booted' ? 'booted' : 'sent']++;
    else n[r.state]++;
  }
  const parts = [
    `${n.booted} booted`,
    ...(n.sent ? [`${n.sent} with all boot files sent`] : []),
    `${n.active} booting`,
    ...(n.fail ? [`${n.fail} failed`] : []),
    ...(n.warn ? [`${n.warn} stuck`] : []),
  ];
  return `${rows.length} Pi${rows.length === 1 ? '' : 's'}: ${parts.join(', ')}`;
}
