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
  /** enroll: the bytes of the copy, over the network and on this machine (absent when nothing is copied). */
  transfer?: PlanTransfer;
}

/**
 * The bytes of enroll's copy, for all Pis together: every file into the
 * Pis' directories (`files`, `bytes`, `pis`); of those bytes, each distinct
 * content (SHA-256 and size) over the network once (`network.files`
 * contents, `network.bytes`, sent by `network.senders` Pis, at most
 * `network.largestSender` bytes by one of them), and the rest copied on the
 * boot server (`local`: the last copy of each content is moved, not copied).
 */
export interface PlanTransfer {
  files: number;
  bytes: number;
  pis: number;
  network: { files: number; bytes: number; senders: number; largestSender: number };
  local: { files: number; bytes: number };
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
    ...(plan.transfer && { transfer: plan.transfer }),
  });
}

/** Bytes for people: 512 B, 1.0 kB, 171.2 MB, 8.97 GB (powers of 1024, as the copy lines). */
export function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

/** The plan's copy in one line: what crosses the network once, what is copied here. */
export function transferLine(t: PlanTransfer): string {
  const net = t.network;
  const senders = t.pis === 1 ? '' : net.senders === 1 ? ', by 1 Pi' : `, by ${net.senders} Pis, at most ${bytesText(net.largestSender)} from one`;
  return (
    `copy: ${t.files} file${t.files === 1 ? '' : 's'} (${bytesText(t.bytes)}) into ${t.pis === 1 ? "the Pi's directory" : `${pis(t.pis)}' directories`}: ` +
    `${bytesText(net.bytes)} over the network (${net.files} distinct file${net.files === 1 ? '' : 's'}, each sent once${senders}), ` +
    `${bytesText(t.local.bytes)} copied on this machine`
  );
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
  if (plan.transfer && plan.transfer.files > 0) blocks.push([c.bold(transferLine(plan.transfer))]);
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
