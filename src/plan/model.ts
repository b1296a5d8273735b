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

export function isEmptyPlan(plan: Plan): boolean {
  return plan.targets.every(isEmptyTarget);
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

/** The plan as a human reads it: per target, one line per change, diffs indented. */
export function formatPlan(plan: Plan, c: PlanStyle, colorDiff: (d: string) => string = (d) => d): string {
  const lines: string[] = [];
  for (const t of plan.targets) {
    lines.push(c.bold(t.about ? `${t.target}: ${t.about}` : t.target));
    for (const w of t.warnings) lines.push(`  ${c.yellow('warning:')} ${w}`);
    if (t.changes.length === 0) lines.push(`  ${c.green('up to date')}: nothing to change`);
    for (const ch of t.changes) {
      lines.push(`  ${KIND_MARK[ch.kind]} ${ch.summary}`);
      lines.push(`      ${c.dim(`why: ${ch.reason}`)}`);
      if (ch.diff) lines.push(...colorDiff(ch.diff.replace(/\n$/, '')).split('\n').map((l) => `      ${l}`));
    }
    for (const n of t.notes) lines.push(`  ${c.dim(`note: ${n}`)}`);
    lines.push('');
  }
  return lines.join('\n');
}
