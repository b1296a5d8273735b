/**
 * The end of enroll and rollback: the per-Pi table (Pi, serial, result,
 * what changed or why it failed) for a handful of Pis or with --verbose,
 * and for a fleet the summary: how many Pis are ok (up to date), changed or
 * failed, and the failed ones grouped by cause, the same error with each
 * Pi's own names abstracted ("3 Pis: cannot connect to <pi> … — pi-07,
 * pi-12, pi-31"). A Pi whose reboot did not bring it back over the
 * network counts as failed, with the netboot verdict as its cause.
 */
import { abstractNames, listPis, namesOf, pis } from '../plan/names.js';
import { table } from '../ui/table.js';
import type { PiResult } from './enroll/job.js';

/** Up to this many Pis, the per-Pi table is printed without --verbose. */
export const TABLE_UP_TO = 10;

export function summaryTable(results: PiResult[]): string {
  const detail = (r: PiResult): string => r.error ?? (r.changes.length ? `${r.changes.length} change(s)${r.reboot ? `; ${r.reboot.detail}` : ''}` : 'nothing to change');
  return table([['PI', 'SERIAL', 'RESULT', 'DETAIL'], ...results.map((r) => [r.host, r.serial ?? '-', r.result, detail(r)])]);
}

export interface SummaryStyle {
  bold(s: string): string;
  red(s: string): string;
  green(s: string): string;
  cyan(s: string): string;
  dim(s: string): string;
}

/** Why a Pi failed (its error, or its reboot's verdict), or undefined when it did not. */
export function failureOf(r: PiResult): { text: string; fix?: string } | undefined {
  if (r.result === 'failed' || r.result === 'refused') return { text: r.error ?? r.result };
  if (r.reboot && !r.reboot.ok) return { text: r.reboot.detail.replace(/; back up; .*$/, ''), ...(r.reboot.netboot?.verdict?.fix && { fix: r.reboot.netboot.verdict.fix }) };
  return undefined;
}

/** The counts line and the failures by cause; empty for a single Pi (its table says it all). */
export function fleetSummary(results: PiResult[], c: SummaryStyle): string[] {
  if (results.length < 2) return [];
  const n = { ok: 0, changed: 0, failed: 0 };
  const changedWord = new Set<string>();
  const causes = new Map<string, { text: string; fix?: string; pis: string[] }>();
  const netbooted: number[] = [];
  for (const r of results) {
    const f = failureOf(r);
    if (r.reboot?.netboot?.outcome === 'netbooted' && r.reboot.netboot.seconds !== undefined) netbooted.push(r.reboot.netboot.seconds);
    if (!f) {
      if (r.result === 'up to date') n.ok++;
      else {
        n.changed++;
        changedWord.add(r.result === 'planned' ? 'would change' : r.result);
      }
      continue;
    }
    n.failed++;
    const names = namesOf(r.host, [f.text, r.serial ? `serial ${r.serial}` : undefined, r.dir ? `directory ${r.dir}` : undefined]);
    const text = abstractNames(f.text, names);
    const fix = f.fix !== undefined ? abstractNames(f.fix, names) : undefined;
    const key = JSON.stringify([text, fix ?? null]);
    const cause = causes.get(key) ?? { text, ...(fix !== undefined && { fix }), pis: [] };
    cause.pis.push(r.host);
    causes.set(key, cause);
  }
  const changed = changedWord.size === 1 ? [...changedWord][0]! : 'changed';
  const parts = [`${n.ok} ok (up to date)`, `${n.changed} ${changed}`, `${n.failed} failed`];
  const lines = [c.bold(`${pis(results.length)}: ${parts.join(', ')}`)];
  if (netbooted.length) {
    const sorted = [...netbooted].sort((a, b) => a - b);
    const mid = sorted[Math.floor(sorted.length / 2)]!;
    lines.push(`  ${c.green('netbooted')}: ${pis(sorted.length)}, in ${Math.round(sorted[0]!)}–${Math.round(sorted.at(-1)!)} s (median ${Math.round(mid)} s)`);
  }
  for (const cause of [...causes.values()].sort((a, b) => b.pis.length - a.pis.length)) {
    const single = cause.pis.length === 1;
    const r = single ? results.find((x) => x.host === cause.pis[0])! : undefined;
    const own = r ? failureOf(r)! : undefined;
    lines.push(`  ${c.red('failed')} ${pis(cause.pis.length)}: ${own ? own.text : cause.text} — ${listPis(cause.pis)}`);
    const fix = own ? own.fix : cause.fix;
    if (fix) lines.push(`      ${c.cyan(`fix: ${fix}`)}`);
  }
  return lines;
}

/** Each rebooted Pi's netboot verdict with its evidence and fix (the table has room for one line only). */
export function netbootFindings(results: PiResult[], c: SummaryStyle): string[] {
  const lines: string[] = [];
  for (const r of results) {
    const v = r.reboot?.netboot?.verdict;
    if (!v) continue;
    lines.push(`${r.host}: ${v.level === 'fail' ? c.red('FAIL') : 'warn'} ${v.finding}`);
    for (const e of v.evidence ?? []) lines.push(`  ${c.dim(e)}`);
    if (v.fix) lines.push(`  ${c.cyan(`fix: ${v.fix}`)}`);
  }
  return lines;
}

/** The end of enroll and rollback: the table (a handful of Pis, or verbose), then the fleet summary. */
export function formatResults(results: PiResult[], c: SummaryStyle, o: { verbose?: boolean } = {}): string {
  const parts: string[] = [];
  if (results.length <= TABLE_UP_TO || o.verbose) {
    parts.push(summaryTable(results));
    const found = netbootFindings(results, c);
    if (found.length) parts.push(found.join('\n'));
  }
  const fleet = fleetSummary(results, c);
  if (fleet.length) parts.push(fleet.join('\n'));
  if (results.length > TABLE_UP_TO && !o.verbose) parts.push(c.dim(`(the table of every Pi: --verbose, or --json)`));
  return parts.join('\n\n');
}
