/**
 * Plans: what a command will change, before it changes anything.
 *
 * A command that changes things first builds a Plan: a list of Changes, each
 * with a target (a Pi, the boot server), what it touches, a before and an
 * after (a unified diff for text files) and a reason. `--dry-run` prints the
 * plan and stops; otherwise the plan is confirmed, applied and verified
 * against. An enrolled, unchanged Pi produces an empty plan: "up to date".
 *
 * `planToJson` is stable: sorted keys, changes in plan order, no timestamps,
 * so CI can diff two dry runs.
 */
import { sortKeysDeep } from '../ui/json.js';
import { groupPlan, type PlanBlock } from './group.js';
import { listPis, pis } from './names.js';

export type ChangeKind =
  | 'create-dir'
  | 'copy-files'
  | 'write-file'
  | 'delete-file'
  | 'bootloader-config'
  | 'cancel-bootloader-update'
  | 'install-hook'
  | 'remove-hook'
  | 'inventory'
  | 'backup'
  | 'note';

export interface Change {
  /** Stable identifier within a target, e.g. "fstab", "copy", "bootloader". */
  id: string;
  kind: ChangeKind;
  /** Where: "boot server" or the Pi's name. */
  target: string;
  /** The file or directory touched, when there is one. */
  path?: string;
  /** One line: what changes. */
  summary: string;
  /** Why this change is needed. */
  reason: string;
  /** Unified diff for text files (computed when the plan is built). */
  diff?: string;
  /** Extra machine-readable detail (file lists, old/new values). */
  detail?: Record<string, unknown>;
}

export interface TargetPlan {
  /** The Pi (or "boot server"). */
  target: string;
  /** A line describing the target (serial, board, OS). */
  about?: string;
  changes: Change[];
  /** Warnings the user should read before confirming. */
  warnings: string[];
  /** Things that will not be done, and why (e.g. moving the root file system). */
  notes: string[];
}

export interface Plan {
  command: string;
  targets: TargetPlan[];
}

export function isEmptyTarget(t: TargetPlan): boolean {
  return t.changes.length === 0;
}

/** Nothing to change: every target was planned and needs nothing (a run whose targets were all refused is not up to date). */
export function isEmptyPlan(plan: Plan): boolean {
  return plan.targets.length > 0 && plan.targets.every(isEmptyTarget);
}

export function planToJson(plan: Plan): unknown {
  return sortKeysDeep({
    command: plan.command,
    upToDate: isEmptyPlan(plan),
    targets: plan.targets.map((t) => ({ ...t, upToDate: isEmptyTarget(t) })),
  });
}

const KIND_MARK: Record<ChangeKind, string> = {
  'create-dir': '+',
  'copy-files': '+',
  'write-file': '~',
  'delete-file': '-',
  'bootloader-config': '~',
  'cancel-bootloader-update': '-',
  'install-hook': '+',
  'remove-hook': '-',
  inventory: '~',
  backup: '+',
  note: ' ',
};

export interface PlanStyle {
  bold(s: string): string;
  dim(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
}

/**
 * The plan as a human reads it: per target, one line per change, diffs
 * indented. A plan of several Pis is grouped (group.ts): Pis with the same
 * changes apart from their own names are printed once, then what differs.
 */
export function formatPlan(plan: Plan, c: PlanStyle, colorDiff: (d: string) => string = (d) => d): string {
  if (plan.targets.length === 0) return '';
  const blocks = plan.targets.length === 1 ? [targetLines(plan.targets[0]!, c, colorDiff)] : groupPlan(plan).map((b) => blockLines(b, c, colorDiff));
  return `${blocks.map((l) => l.join('\n')).join('\n\n')}\n`;
}

function changeLines(ch: Change, c: PlanStyle, colorDiff: (d: string) => string, mark = KIND_MARK[ch.kind]): string[] {
  const lines = [`  ${mark} ${ch.summary}`, `      ${c.dim(`why: ${ch.reason}`)}`];
  if (ch.diff) lines.push(...colorDiff(ch.diff.replace(/\n$/, '')).split('\n').map((l) => `      ${l}`));
  return lines;
}

/** One target, as a plan of one Pi prints it. */
function targetLines(t: TargetPlan, c: PlanStyle, colorDiff: (d: string) => string): string[] {
  const lines: string[] = [c.bold(t.about ? `${t.target}: ${t.about}` : t.target)];
  for (const w of t.warnings) lines.push(`  ${c.yellow('warning:')} ${w}`);
  if (t.changes.length === 0) lines.push(`  ${c.green('up to date')}: nothing to change`);
  for (const ch of t.changes) lines.push(...changeLines(ch, c, colorDiff));
  for (const n of t.notes) lines.push(`  ${c.dim(`note: ${n}`)}`);
  return lines;
}

function blockLines(b: PlanBlock, c: PlanStyle, colorDiff: (d: string) => string): string[] {
  if (b.kind === 'one') return targetLines(b.target, c, colorDiff);
  const lines: string[] = [];
  if (b.kind === 'up-to-date') {
    lines.push(c.bold(`${pis(b.pis.length)}: ${listPis(b.pis)}`), `  ${c.green('up to date')}: nothing to change`);
  } else if (b.kind === 'same') {
    lines.push(c.bold(`${pis(b.pis.length)}, same changes: ${listPis(b.pis)}`));
    if (b.about) lines.push(`  ${c.dim(b.about)}`);
    for (const w of b.warnings) lines.push(`  ${c.yellow('warning:')} ${w}`);
    for (const ch of b.changes) lines.push(...changeLines(ch, c, colorDiff));
    for (const n of b.notes) lines.push(`  ${c.dim(`note: ${n}`)}`);
    for (const o of b.own) {
      for (const w of o.warnings) lines.push(`  ${o.pi}: ${c.yellow('warning:')} ${w}`);
      for (const n of o.notes) lines.push(`  ${o.pi}: ${c.dim(`note: ${n}`)}`);
    }
  } else {
    const one = b.pis.length === 1;
    const name = one ? b.pis[0]! : `${pis(b.pis.length)}: ${listPis(b.pis)}`;
    lines.push(c.bold(one && b.about ? `${name}: ${b.about}` : name));
    if (!one && b.about) lines.push(`  ${c.dim(b.about)}`);
    lines.push(`  as the ${pis(b.like.pis.length)} above (${listPis(b.like.pis, 4)}), except:`);
    for (const w of b.warnings) lines.push(`  ${c.yellow('warning:')} ${w}`);
    for (const ch of b.changes) lines.push(...changeLines(ch, c, colorDiff));
    for (const ch of b.without) lines.push(`  ${c.dim(`without: ${KIND_MARK[ch.kind]} ${ch.summary}`)}`);
    for (const w of b.withoutWarnings) lines.push(`  ${c.dim(`without the warning: ${w}`)}`);
    for (const n of b.notes) lines.push(`  ${c.dim(`note: ${n}`)}`);
  }
  return lines;
}
