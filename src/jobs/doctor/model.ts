/**
 * What a doctor check reports, and how a report is printed.
 *
 * Every check gives a status (`ok`, `warn`, `fail`, `skip` with the reason),
 * a one-line finding with its evidence (file, line, value), and for warn and
 * fail a concrete fix. Checks are grouped by the boot server and by Pi, so a
 * pasted report reads top to bottom like a support answer. At fleet scale
 * (`formatReport(..., { fleet: true })`) each finding is printed once with
 * the Pis it applies to, their own names abstracted (src/plan/names.ts).
 */
import { sortKeysDeep } from '../../ui/json.js';
import { abstractNames, listPis, namesOf, pis, type OwnNames } from '../../plan/names.js';
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

export interface FormatOptions {
  /**
   * Fleet view (pinet doctor): with two or more Pi directories, log entries
   * or Pis, each finding is printed once with the Pis it applies to,
   * failures first; the end line counts Pis by their worst status. Without
   * it (watch's summary of the log), every group is printed as it is.
   */
  fleet?: boolean;
  /** With `fleet`: every Pi's own evidence under each grouped finding. */
  verbose?: boolean;
}

export function formatReport(report: Report, c: Style, o: FormatOptions = {}): string {
  const subjects = o.fleet ? report.groups.map(subjectOf) : report.groups.map(() => undefined);
  const kinds = new Map<SubjectKind, number>();
  for (const s of subjects) if (s) kinds.set(s.kind, (kinds.get(s.kind) ?? 0) + 1);
  const grouped = (k: SubjectKind | undefined): boolean => k !== undefined && (kinds.get(k) ?? 0) >= 2;
  const hosts = hostsByDir(subjects);

  const blocks: string[][] = [];
  const done = new Set<SubjectKind>();
  for (const [i, g] of report.groups.entries()) {
    const s = subjects[i];
    if (!s || !grouped(s.kind)) {
      blocks.push(groupLines(g, c));
      continue;
    }
    if (done.has(s.kind)) continue;
    done.add(s.kind);
    const members = report.groups.flatMap((x, j) => (subjects[j]?.kind === s.kind ? [{ group: x, subject: subjects[j]! }] : []));
    blocks.push(findingLines(s.kind, members, hosts, c, o.verbose === true));
  }
  const lines = blocks.flatMap((b) => [...b, '']);
  const n = counts(report);
  lines.push(`${n.ok} ok, ${n.warn} warning${n.warn === 1 ? '' : 's'}, ${n.fail} failed, ${n.skip} skipped`);
  if (o.fleet) lines.push(...fleetLines(report.groups, subjects, hosts, c));
  return lines.join('\n');
}

function labels(c: Style): Record<Status, string> {
  return { ok: c.green('ok  '), warn: c.yellow('warn'), fail: c.red('FAIL'), skip: c.dim('skip') };
}

/** One group, one line per check with its evidence and fix below it. */
function groupLines(g: CheckGroup, c: Style): string[] {
  const label = labels(c);
  const lines = [c.bold(g.about ? `${g.name}: ${g.about}` : g.name)];
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
  return lines;
}

// ---- the fleet view ----------------------------------------------------------------------

type SubjectKind = 'export' | 'log' | 'pi';

/** A group about one Pi: which kind, its names (for abstracting them), and how it is called. */
interface Subject {
  kind: SubjectKind;
  names: OwnNames;
  /** Its directory in the export, when known. */
  dir?: string;
  /** The host it was enrolled or checked as. */
  host?: string;
}

const isIds = (g: CheckGroup, prefixes: string[]): boolean => g.checks.length > 0 && g.checks.every((ch) => prefixes.some((p) => ch.id.startsWith(p)));

/** Which groups are about one Pi, read from the names the checks give them (export-checks, live-checks, run.ts). */
function subjectOf(g: CheckGroup): Subject | undefined {
  if (g.name === 'boot server') return undefined;
  const log = /^log: (.+)\/$/.exec(g.name);
  if (log && isIds(g, ['log.'])) return { kind: 'log', dir: log[1]!, names: namesOf(log[1]!, [`directory ${log[1]}`]) };
  if (isIds(g, ['export.', 'tftp.']) && !g.checks.some((ch) => ch.id === 'export.empty')) {
    const m = /^(?:(.*) \()?(\/.*?)\/\)?$/.exec(g.name);
    if (!m) return undefined;
    const dir = m[2]!.slice(m[2]!.lastIndexOf('/') + 1);
    const host = m[1];
    const names = namesOf(host ?? dir, [g.about, `directory ${dir}`]);
    return { kind: 'export', dir, ...(host !== undefined && { host }), names };
  }
  if (isIds(g, ['pi.'])) {
    const m = /^(.*?)(?: \(([^)]*)\))?$/.exec(g.name)!;
    const names = namesOf(m[1]!, [g.name, g.about, ...g.checks.map((ch) => ch.finding)]);
    return { kind: 'pi', host: m[1]!, names, ...(names.dir !== undefined && { dir: names.dir }) };
  }
  return undefined;
}

/** Directory → host, from the export's groups (enrolled directories) and the Pis' (their serial). */
function hostsByDir(subjects: (Subject | undefined)[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const s of subjects) if (s?.dir !== undefined && s.host !== undefined && !m.has(s.dir)) m.set(s.dir, s.host);
  return m;
}

/** How a subject is called in lists: its host, else its directory. */
function nameOf(s: Subject, hosts: Map<string, string>): string {
  return s.host ?? (s.dir !== undefined ? (hosts.get(s.dir) ?? s.dir) : s.names.pi);
}

const ORDER: Record<Status, number> = { fail: 0, warn: 1, skip: 2, ok: 3 };

interface Finding {
  check: Check;
  /** The abstracted findings and fixes of its Pis (the same but for numbers). */
  findings: string[];
  fixes: string[];
  members: { name: string; check: Check; evidence: string[] }[];
  first: number;
}

const NUMBER = /\d+(?:\.\d+)?/g;

/** A text with its numbers masked: findings that differ only in a count or a rate are one finding. */
const skeleton = (t: string): string => t.replace(NUMBER, '#');

/** Texts with the same skeleton as one: each number that differs among them becomes its range ("0.5–1.6 MB/s"). */
function merged(texts: string[]): string {
  const first = texts[0]!;
  if (texts.every((t) => t === first)) return first;
  const numbers = texts.map((t) => t.match(NUMBER) ?? []);
  let i = 0;
  return first.replace(NUMBER, (n) => {
    const values = numbers.map((ns) => ns[i]!);
    i++;
    if (values.every((v) => v === n)) return n;
    const sorted = [...values].sort((a, b) => Number(a) - Number(b));
    return `${sorted[0]}–${sorted.at(-1)}`;
  });
}

/** Every finding of a kind of group once, with the Pis it applies to; failures first. */
function findingLines(kind: SubjectKind, members: { group: CheckGroup; subject: Subject }[], hosts: Map<string, string>, c: Style, verbose: boolean): string[] {
  const label = labels(c);
  const findings = new Map<string, Finding>();
  let order = 0;
  for (const { group, subject } of members) {
    for (const ch of group.checks) {
      const a = (t: string): string => abstractNames(t, subject.names);
      const finding = a(ch.finding);
      const fix = ch.fix !== undefined ? a(ch.fix) : undefined;
      const key = JSON.stringify([ch.id, ch.status, skeleton(finding), fix === undefined ? null : skeleton(fix)]);
      let f = findings.get(key);
      if (!f) findings.set(key, (f = { check: ch, findings: [], fixes: [], members: [], first: order++ }));
      f.findings.push(finding);
      if (fix !== undefined) f.fixes.push(fix);
      f.members.push({ name: nameOf(subject, hosts), check: ch, evidence: (ch.evidence ?? []).map(a) });
    }
  }
  const sorted = [...findings.values()].sort((x, y) => ORDER[x.check.status] - ORDER[y.check.status] || x.first - y.first);
  const dirs = members.map((m) => m.group.name);
  const head =
    kind === 'pi'
      ? `${pis(members.length)}, checked over SSH`
      : kind === 'export'
        ? `${members.length} Pi directories in the export${exportRoot(dirs)}`
        : `the log: ${members.length} Pi directories${members[0]!.group.about ? `, ${members[0]!.group.about}` : ''}`;
  const lines = [c.bold(head)];
  const width = Math.min(28, Math.max(...sorted.map((f) => visibleWidth(f.check.title)), 0));
  const pad = `        ${' '.repeat(width)}  `;
  const rows = table(
    sorted.map((f) => {
      const one = f.members.length === 1;
      return [label[f.check.status], f.check.title, `${one ? f.members[0]!.check.finding : merged(f.findings)} — ${pis(f.members.length)}: ${listPis(f.members.map((m) => m.name))}`];
    }),
    { indent: '  ', maxWidth: [4, 28] },
  ).split('\n');
  for (const [i, f] of sorted.entries()) {
    lines.push(rows[i]!);
    const bad = f.check.status === 'warn' || f.check.status === 'fail';
    const one = f.members.length === 1;
    if (verbose) {
      for (const m of f.members) for (const e of m.check.evidence ?? []) lines.push(`${pad}${c.dim(one ? e : `${m.name}: ${e}`)}`);
    } else if (bad) {
      const ev = f.members.map((m) => JSON.stringify(m.evidence));
      if (one) for (const e of f.members[0]!.check.evidence ?? []) lines.push(`${pad}${c.dim(e)}`);
      else if (ev.every((e) => e === ev[0])) for (const e of f.members[0]!.evidence) lines.push(`${pad}${c.dim(e)}`);
      else lines.push(`${pad}${c.dim('(each Pi\'s evidence: --verbose)')}`);
    }
    if (bad && f.fixes.length) lines.push(`${pad}${c.cyan(`fix: ${one ? f.members[0]!.check.fix : merged(f.fixes)}`)}`);
  }
  return lines;
}

/** " (/mnt/netboot)" when every directory group names a path under one export. */
function exportRoot(names: string[]): string {
  const roots = new Set(names.map((n) => /(\/.*)\/[^/]+\/\)?$/.exec(n)?.[1]).filter((x) => x !== undefined));
  return roots.size === 1 ? ` (${[...roots][0]})` : '';
}

/** The end: Pis by their worst status, and the failed ones by cause. */
function fleetLines(groups: CheckGroup[], subjects: (Subject | undefined)[], hosts: Map<string, string>, c: Style): string[] {
  const worst = new Map<string, Status>();
  const causes = new Map<string, { text: string; own: string; pis: Set<string> }>();
  const rank: Record<Status, number> = { skip: 0, ok: 1, warn: 2, fail: 3 };
  for (const [i, g] of groups.entries()) {
    const s = subjects[i];
    if (!s) continue;
    const name = nameOf(s, hosts);
    for (const ch of g.checks) {
      const prev = worst.get(name);
      if (prev === undefined || rank[ch.status] > rank[prev]) worst.set(name, ch.status);
      if (ch.status !== 'fail') continue;
      const text = `${ch.title}: ${abstractNames(ch.finding, s.names)}`;
      const cause = causes.get(text) ?? { text, own: `${ch.title}: ${ch.finding}`, pis: new Set<string>() };
      cause.pis.add(name);
      causes.set(text, cause);
    }
  }
  if (worst.size === 0) return [];
  const n: Record<Status, number> = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const st of worst.values()) n[st]++;
  const parts = [`${n.ok} ok`, `${n.warn} warn`, `${n.fail} FAIL`, ...(n.skip ? [`${n.skip} skipped`] : [])];
  const lines = [c.bold(`${pis(worst.size)}: ${parts.join(', ')}`)];
  for (const cause of [...causes.values()].sort((a, b) => b.pis.size - a.pis.size)) {
    lines.push(`  ${c.red('FAIL')} ${pis(cause.pis.size)}: ${cause.pis.size === 1 ? cause.own : cause.text} — ${listPis([...cause.pis])}`);
  }
  return lines;
}

export const ok = (id: string, title: string, finding: string, evidence?: string[]): Check => ({ id, title, status: 'ok', finding, ...(evidence && { evidence }) });
export const warn = (id: string, title: string, finding: string, fix: string, evidence?: string[]): Check => ({ id, title, status: 'warn', finding, fix, ...(evidence && { evidence }) });
export const fail = (id: string, title: string, finding: string, fix: string, evidence?: string[]): Check => ({ id, title, status: 'fail', finding, fix, ...(evidence && { evidence }) });
export const skip = (id: string, title: string, reason: string): Check => ({ id, title, status: 'skip', finding: reason });
