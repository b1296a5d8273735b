/**
 * What a doctor check reports, and how a report is printed.
 *
 * Every check gives a status (`ok`, `warn`, `fail`, `skip` with the reason),
 * a one-line finding with its evidence (file, line, value), and for warn and
 * fail a concrete fix. Checks are grouped by the boot server and by Pi, so a
 * pasted report reads top to bottom like a support answer.
 */
import { sortKeysDeep } from '../../ui/json.js';
import { table, visibleWidth } from '../../ui/table.js';

export type Status = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  /** Stable id, e.g. "dnsmasq.tftp", "export.readable", "pi.boot-order". */
  id: string;
  title: string;
  status: Status;
  finding: string;
  evidence?: string[];
  fix?: string;
}

export interface CheckGroup {
  /** "boot server" or a Pi's name. */
  name: string;
  about?: string;
  checks: Check[];
}

export interface Report {
  groups: CheckGroup[];
}

export function counts(report: Report): Record<Status, number> {
  const c: Record<Status, number> = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const g of report.groups) for (const ch of g.checks) c[ch.status]++;
  return c;
}

export function exitCodeFor(report: Report, strict: boolean): number {
  const c = counts(report);
  return c.fail > 0 || (strict && c.warn > 0) ? 1 : 0;
}

export function reportToJson(report: Report, strict: boolean): unknown {
  return sortKeysDeep({ groups: report.groups, summary: counts(report), strict, ok: exitCodeFor(report, strict) === 0 });
}

export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
}

export function formatReport(report: Report, c: Style): string {
  const label: Record<Status, string> = {
    ok: c.green('ok  '),
    warn: c.yellow('warn'),
    fail: c.red('FAIL'),
    skip: c.dim('skip'),
  };
  const lines: string[] = [];
  for (const g of report.groups) {
    lines.push(c.bold(g.about ? `${g.name}: ${g.about}` : g.name));
    const width = Math.min(28, Math.max(...g.checks.map((ch) => visibleWidth(ch.title)), 0));
    const rows = table(
      g.checks.map((ch) => [label[ch.status], ch.title, ch.finding]),
      { indent: '  ', maxWidth: [4, 28] },
    ).split('\n');
    for (const [i, ch] of g.checks.entries()) {
      lines.push(rows[i]!);
      for (const e of ch.evidence ?? []) lines.push(`        ${' '.repeat(width)}  ${c.dim(e)}`);
      if (ch.fix && (ch.status === 'warn' || ch.status === 'fail')) lines.push(`        ${' '.repeat(width)}  ${c.cyan(`fix: ${ch.fix}`)}`);
    }
    lines.push('');
  }
  const n = counts(report);
  lines.push(`${n.ok} ok, ${n.warn} warning${n.warn === 1 ? '' : 's'}, ${n.fail} failed, ${n.skip} skipped`);
  return lines.join('\n');
}

export const ok = (id: string, title: string, finding: string, evidence?: string[]): Check => ({ id, title, status: 'ok', finding, ...(evidence && { evidence }) });
export const warn = (id: string, title: string, finding: string, fix: string, evidence?: string[]): Check => ({ id, title, status: 'warn', finding, fix, ...(evidence && { evidence }) });
export const fail = (id: string, title: string, finding: string, fix: string, evidence?: string[]): Check => ({ id, title, status: 'fail', finding, fix, ...(evidence && { evidence }) });
export const skip = (id: string, title: string, reason: string): Check => ({ id, title, status: 'skip', finding: reason });
