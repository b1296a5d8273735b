/**
 * A plan of many Pis, grouped: Pis whose changes are the same apart from
 * their own names (see names.ts) form one block, printed once with the
 * names as placeholders and the list of its Pis; then only what differs
 * per Pi: a Pi's own warnings and notes, or a Pi that is like a block but
 * for a few changes ("as the 40 Pis above, except: …"). A Pi like no other
 * is printed in full, as a plan of one Pi is. Pure: the blocks are data,
 * printed by `formatPlan` (model.ts).
 */
import type { Change, Plan, TargetPlan } from './model.js';
import { abstractNames, namesOf, type OwnNames } from './names.js';

/** Pis with the same changes. `changes` and `common` hold the texts with placeholders. */
export interface SameBlock {
  kind: 'same';
  pis: string[];
  about?: string;
  changes: Change[];
  /** Warnings and notes every Pi of the block has. */
  warnings: string[];
  notes: string[];
  /** What only some of its Pis have (their real texts). */
  own: { pi: string; warnings: string[]; notes: string[] }[];
}

/**
 * Pis that are like a block except for a few changes: one Pi (its texts
 * as they are), or several with the same differences (placeholders).
 */
export interface LikeBlock {
  kind: 'like';
  pis: string[];
  /** The about line of a single Pi, or the common one (placeholders) of several. */
  about?: string;
  like: SameBlock;
  /** Its changes the block does not have (or has otherwise). */
  changes: Change[];
  /** The block's changes it does not have (with placeholders). */
  without: Change[];
  warnings: string[];
  notes: string[];
  /** The block's warnings it does not have. */
  withoutWarnings: string[];
}

/** A Pi printed as it is. */
export interface OneBlock {
  kind: 'one';
  target: TargetPlan;
}

/** Pis with nothing to change and nothing to say. */
export interface UpToDateBlock {
  kind: 'up-to-date';
  pis: string[];
}

export type PlanBlock = SameBlock | LikeBlock | OneBlock | UpToDateBlock;

/** The names a target's texts reveal (its about line, its fstab's PARTUUIDs, its label in messages). */
export function targetNames(t: TargetPlan): OwnNames {
  return namesOf(t.target, [t.about, ...t.warnings, ...t.notes, ...t.changes.flatMap((c) => [c.summary, c.reason, c.diff, c.path])]);
}

function abstractChange(c: Change, n: OwnNames): Change {
  const a = (s: string): string => abstractNames(s, n);
  const out: Change = { id: a(c.id), kind: c.kind, target: '<pi>', summary: a(c.summary), reason: a(c.reason) };
  if (c.path !== undefined) out.path = a(c.path);
  if (c.diff !== undefined) out.diff = a(c.diff);
  return out;
}

/** What makes two changes the same for people: everything printed, names abstracted (not `detail`, which is for machines). */
function keyOf(c: Change): string {
  return JSON.stringify([c.id, c.kind, c.path ?? null, c.summary, c.reason, c.diff ?? null]);
}

interface Prepared {
  t: TargetPlan;
  names: OwnNames;
  abstract: Change[];
  keys: string[];
  warnings: string[];
  notes: string[];
}

/** The blocks of a plan of several targets, in print order: the biggest block first, then the others by size and plan order. */
export function groupPlan(plan: Plan): PlanBlock[] {
  const prepared: Prepared[] = plan.targets.map((t) => {
    const names = targetNames(t);
    const abstract = t.changes.map((c) => abstractChange(c, names));
    return { t, names, abstract, keys: abstract.map(keyOf), warnings: t.warnings.map((w) => abstractNames(w, names)), notes: t.notes.map((x) => abstractNames(x, names)) };
  });

  const quiet = prepared.filter((p) => p.t.changes.length === 0 && p.t.warnings.length === 0 && p.t.notes.length === 0);
  const buckets = new Map<string, Prepared[]>();
  for (const p of prepared) {
    if (quiet.length > 1 && quiet.includes(p)) continue;
    const sig = JSON.stringify(p.keys);
    buckets.set(sig, [...(buckets.get(sig) ?? []), p]);
  }
  const ordered = [...buckets.values()].sort((a, b) => b.length - a.length || prepared.indexOf(a[0]!) - prepared.indexOf(b[0]!));

  const blocks: PlanBlock[] = [];
  const full: { block: SameBlock; keys: string[] }[] = [];
  for (const members of ordered) {
    const first = members[0]!;
    const one = members.length === 1;
    // The block printed in full that it shares most changes with, if that is at least half of its own.
    let best: { ref: (typeof full)[number]; shared: number } | undefined;
    for (const ref of full) {
      const shared = first.keys.filter((k) => ref.keys.includes(k)).length;
      if (shared > 0 && shared * 2 >= first.keys.length && (!best || shared > best.shared)) best = { ref, shared };
    }
    const common = (pick: (p: Prepared) => string[]): string[] => pick(first).filter((x) => members.every((m) => pick(m).includes(x)));
    const about = one ? first.t.about || undefined : commonAbout(members);
    if (best) {
      const { block: ref, keys: refKeys } = best.ref;
      const ownAt = first.keys.map((k, i) => (refKeys.includes(k) ? -1 : i)).filter((i) => i >= 0);
      const ownIds = new Set(ownAt.map((i) => first.abstract[i]!.id));
      // A single Pi's own texts as they are; several Pis' with placeholders.
      const warnings = one ? first.t.warnings : common((p) => p.warnings);
      const abstractWarnings = one ? first.warnings : warnings;
      const notes = one ? first.t.notes : common((p) => p.notes);
      const abstractNotes = one ? first.notes : notes;
      blocks.push({
        kind: 'like',
        pis: members.map((m) => m.t.target),
        ...(about && { about }),
        like: ref,
        changes: ownAt.map((i) => (one ? first.t.changes[i]! : first.abstract[i]!)),
        without: ref.changes.filter((c, i) => !first.keys.includes(refKeys[i]!) && !ownIds.has(c.id)),
        warnings: warnings.filter((_, i) => !ref.warnings.includes(abstractWarnings[i]!)),
        notes: notes.filter((_, i) => !ref.notes.includes(abstractNotes[i]!)),
        withoutWarnings: ref.warnings.filter((w) => !first.warnings.includes(w)),
      });
      continue;
    }
    if (one || first.t.changes.length === 0) {
      for (const m of members) blocks.push({ kind: 'one', target: m.t });
      continue;
    }
    const warnings = common((p) => p.warnings);
    const notes = common((p) => p.notes);
    const block: SameBlock = {
      kind: 'same',
      pis: members.map((m) => m.t.target),
      ...(about && { about }),
      changes: first.abstract,
      warnings,
      notes,
      own: members
        .map((m) => ({
          pi: m.t.target,
          warnings: m.t.warnings.filter((_, i) => !warnings.includes(m.warnings[i]!)),
          notes: m.t.notes.filter((_, i) => !notes.includes(m.notes[i]!)),
        }))
        .filter((o) => o.warnings.length + o.notes.length > 0),
    };
    blocks.push(block);
    full.push({ block, keys: first.keys });
  }
  if (quiet.length > 1) blocks.push({ kind: 'up-to-date', pis: quiet.map((q) => q.t.target) });
  return blocks;
}

/** The about line of several Pis with their names abstracted, when it is the same for all. */
function commonAbout(members: Prepared[]): string | undefined {
  const abouts = new Set(members.map((m) => (m.t.about ? abstractNames(m.t.about, m.names) : '')));
  return abouts.size === 1 ? [...abouts][0] || undefined : undefined;
}
