/**
 * config.txt as the Pi firmware reads it: lines, conditional sections, and
 * which settings apply to a given board.
 *
 * Syntax (raspberrypi/documentation config_txt/*.adoc): `key=value` lines,
 * `#` comment lines, `initramfs <file>[,<file>…] <address|followkernel>`
 * (no `=`), `include <file>` (the file's lines are read in place), and
 * conditional filters in brackets. A filter applies to the lines after it
 * until the next filter; filters of the same type replace each other
 * (`[pi4]` then `[cm4]` is just `[cm4]`), filters of different types combine
 * (`[EDID=…]` then `[pi4]` needs both), `[all]` resets them all and `[none]`
 * turns everything off until the next `[all]`.
 *
 * Evaluation against one board: model filters (`[pi4]`, `[pi400]`, `[cm4]`,
 * `[cm4s]`, `[pi5]`, `[cm5]`, `[pi500]`, older ones) and `[board-type=0x11]`
 * are decided from the revision code, `[0x12345678]` from the serial when
 * given, `[HDMI:n]` always applies (it selects a port, not a condition),
 * `[tryboot]` is taken as false (a normal boot). Filters pinet cannot decide
 * (`[gpioN=…]`, `[EDID=…]`, expression filters such as `[partition=2]`,
 * unknown names) make the lines below them "maybe", and are reported.
 */

import { splitLines, type Line } from './text.js';

/** The firmware's line length limit (documented as 98 characters, 78 on older firmware). */
export const CONFIG_LINE_LIMIT = 98;

export interface ConfigLine extends Line {
  number: number;
  kind: 'blank' | 'comment' | 'section' | 'setting' | 'initramfs' | 'include' | 'invalid';
  /** Sections: the text between the brackets. */
  filter?: string;
  /** Settings: the key, lowercase, and the value as written (trimmed). */
  key?: string;
  value?: string;
  /** initramfs lines: the files (comma-separated in the file) and the address (`followkernel`, `0x…`). */
  initramfs?: { files: string[]; address?: string };
  /** include lines: the file name. */
  include?: string;
}

export function parseConfigTxt(text: string): ConfigLine[] {
  return splitLines(text).map((line, i): ConfigLine => {
    const number = i + 1;
    const t = line.text.trim();
    if (t === '') return { ...line, number, kind: 'blank' };
    if (t.startsWith('#')) return { ...line, number, kind: 'comment' };
    const sec = /^\[([^\]]*)\]/.exec(t);
    if (sec) return { ...line, number, kind: 'section', filter: sec[1]!.trim() };
    const ir = /^initramfs[ \t]+(\S+)(?:[ \t]+(\S+))?\s*$/.exec(t);
    if (ir) {
      const initramfs: ConfigLine['initramfs'] = { files: ir[1]!.split(',').filter(Boolean) };
      if (ir[2] !== undefined) initramfs.address = ir[2];
      return { ...line, number, kind: 'initramfs', initramfs };
    }
    const inc = /^include[ \t]+(\S+)\s*$/.exec(t);
    if (inc) return { ...line, number, kind: 'include', include: inc[1]! };
    const eq = t.indexOf('=');
    if (eq > 0 && /^[A-Za-z0-9_:]+$/.test(t.slice(0, eq).trim())) {
      return { ...line, number, kind: 'setting', key: t.slice(0, eq).trim().toLowerCase(), value: t.slice(eq + 1).trim() };
    }
    return { ...line, number, kind: 'invalid' };
  });
}

export type Applies = 'yes' | 'no' | 'maybe';

/** What the evaluation needs to know about the board (a `Board` from revision.ts fits). */
export interface BoardFacts {
  /** Model filters the board reads (`pi4`, `cm4`, ...). */
  filters: readonly string[];
  /** Board type from the revision code. */
  type?: number;
}

export interface EvalContext {
  board: BoardFacts;
  /** Serial (8 or 16 hex digits), for `[0x…]` filters. */
  serial?: string;
  /** Returns the text of an included file (name relative to the boot partition), undefined when missing. */
  include?: (name: string) => string | undefined;
}

export interface EvaluatedLine {
  /** Position in the order the firmware reads lines (across includes). */
  order: number;
  /** `config.txt` or the name of the included file the line comes from. */
  file: string;
  line: ConfigLine;
  applies: Applies;
  /** The filters in force, as written (`pi4`, `gpio4=1`). */
  conditions: string[];
}

export interface ConfigEvaluation {
  /** Every setting, initramfs and include line, in the order the firmware reads them, with its applicability. */
  lines: EvaluatedLine[];
  includes: { name: string; found: boolean; applies: Applies; from: string; line: number }[];
  /** Filters pinet could not decide, as written. */
  undecided: string[];
  /** Lines longer than the firmware reads (it cuts them). */
  longLines: { file: string; line: number }[];
  /** Problems with includes: cycles, nesting too deep, unsafe names. */
  errors: string[];
}

const MODEL_FILTERS = new Set([
  'pi1', 'pi2', 'pi3', 'pi3+', 'pi4', 'pi5', 'pi400', 'pi500', 'pi0', 'pi0w', 'pi02',
  'cm0', 'cm1', 'cm3', 'cm3+', 'cm4', 'cm4s', 'cm5',
]);

interface FilterState {
  /** filter type → [text, decision] */
  active: Map<string, [string, Applies]>;
  none: boolean;
}

/** The type and the decision of one filter; undefined type for [all]. */
function judgeFilter(filter: string, ctx: EvalContext): { type: string; applies: Applies } | 'all' | 'none' {
  const f = filter.trim();
  const lower = f.toLowerCase();
  if (lower === 'all') return 'all';
  if (lower === 'none') return 'none';
  if (MODEL_FILTERS.has(lower)) return { type: 'model', applies: ctx.board.filters.includes(lower) ? 'yes' : 'no' };
  const bt = /^board-type=(0x[0-9a-f]+|\d+)$/i.exec(f);
  if (bt) {
    if (ctx.board.type === undefined) return { type: 'model', applies: 'maybe' };
    return { type: 'model', applies: Number(bt[1]) === ctx.board.type ? 'yes' : 'no' };
  }
  const serial = /^0x([0-9a-f]{1,16})$/i.exec(f);
  if (serial) {
    if (ctx.serial === undefined || !/^[0-9a-f]{1,16}$/i.test(ctx.serial)) return { type: 'serial', applies: 'maybe' };
    const want = serial[1]!.toLowerCase().replace(/^0+/, '');
    const full = ctx.serial.toLowerCase().replace(/^0+/, '');
    const low = ctx.serial.toLowerCase().padStart(16, '0').slice(8).replace(/^0+/, '');
    return { type: 'serial', applies: want === full || want === low ? 'yes' : 'no' };
  }
  if (/^hdmi:\d+$/i.test(f)) return { type: 'hdmi', applies: 'yes' };
  if (lower === 'tryboot') return { type: 'tryboot', applies: 'no' };
  if (/^gpio\d+=\d+$/i.test(f)) return { type: 'gpio', applies: 'maybe' };
  if (/^edid=/i.test(f)) return { type: 'edid', applies: 'maybe' };
  const name = /^[a-z0-9_+-]+/i.exec(f)?.[0] ?? f;
  return { type: `other:${name.toLowerCase()}`, applies: 'maybe' };
}

function combine(state: FilterState): Applies {
  if (state.none) return 'no';
  let result: Applies = 'yes';
  for (const [, decision] of state.active.values()) {
    if (decision === 'no') return 'no';
    if (decision === 'maybe') result = 'maybe';
  }
  return result;
}

/** A file name config.txt may name: relative to the boot partition, no `..`, no control characters. */
export function isSafeBootPath(name: string): boolean {
  return name !== '' && !/[\0-\x1f\x7f\\]/.test(name) && !name.replace(/^\/+/, '').split('/').some((s) => s === '..' || s === '');
}

/** Evaluate config.txt (and its includes) for one board. Never throws. */
export function evaluateConfigTxt(text: string, ctx: EvalContext): ConfigEvaluation {
  const out: ConfigEvaluation = { lines: [], includes: [], undecided: [], longLines: [], errors: [] };
  const state: FilterState = { active: new Map(), none: false };
  const undecided = new Set<string>();

  // The applicability and conditions only change at section lines.
  let applies: Applies = 'yes';
  let conditions: string[] = [];
  const recompute = (): void => {
    applies = combine(state);
    conditions = [...(state.none ? ['none'] : []), ...[...state.active.values()].map(([t]) => t)];
  };

  const walk = (fileText: string, file: string, stack: string[]): void => {
    for (const line of parseConfigTxt(fileText)) {
      if (line.text.length > CONFIG_LINE_LIMIT && line.kind !== 'comment') out.longLines.push({ file, line: line.number });
      if (line.kind === 'section') {
        const j = judgeFilter(line.filter!, ctx);
        if (j === 'all') {
          state.active.clear();
          state.none = false;
        } else if (j === 'none') state.none = true;
        else {
          state.active.set(j.type, [line.filter!, j.applies]);
          if (j.applies === 'maybe') undecided.add(line.filter!);
        }
        recompute();
        continue;
      }
      if (line.kind !== 'setting' && line.kind !== 'initramfs' && line.kind !== 'include') continue;
      out.lines.push({ order: out.lines.length, file, line, applies, conditions });
      if (line.kind !== 'include' || applies === 'no') continue;

      const name = line.include!;
      if (!isSafeBootPath(name)) {
        out.errors.push(`${file} line ${line.number}: include ${JSON.stringify(name)} is not a plain file name in the boot partition`);
        continue;
      }
      const key = name.replace(/^\/+/, '');
      if (stack.includes(key)) {
        out.errors.push(`${file} line ${line.number}: include ${key} includes itself (through ${stack.join(' → ')})`);
        continue;
      }
      if (stack.length >= 8) {
        out.errors.push(`${file} line ${line.number}: include ${key} is nested more than 8 deep`);
        continue;
      }
      const body = ctx.include?.(key);
      out.includes.push({ name: key, found: body !== undefined, applies, from: file, line: line.number });
      if (body !== undefined) walk(body, key, [...stack, key]);
    }
  };
  walk(text, 'config.txt', ['config.txt']);
  out.undecided = [...undecided];
  return out;
}

export interface EffectiveValue {
  /** The value that certainly applies (last `yes` line), if any. */
  value?: string;
  /** Where it comes from. */
  from?: { file: string; line: number };
  /** Later values under filters pinet could not decide: any of them may win instead. */
  maybe: { value: string; file: string; line: number; conditions: string[] }[];
}

const byKeyCache = new WeakMap<ConfigEvaluation, Map<string, EvaluatedLine[]>>();

/** The applicable (yes/maybe) setting lines of an evaluation, grouped by key, in order. */
function linesByKey(ev: ConfigEvaluation): Map<string, EvaluatedLine[]> {
  let map = byKeyCache.get(ev);
  if (map === undefined) {
    map = new Map();
    for (const l of ev.lines) {
      if (l.line.kind !== 'setting' || l.applies === 'no') continue;
      const list = map.get(l.line.key!);
      if (list) list.push(l);
      else map.set(l.line.key!, [l]);
    }
    byKeyCache.set(ev, map);
  }
  return map;
}

/** The value of a setting for this board: last applicable line wins. */
export function effectiveValue(ev: ConfigEvaluation, key: string): EffectiveValue {
  const out: EffectiveValue = { maybe: [] };
  for (const l of linesByKey(ev).get(key.toLowerCase()) ?? []) {
    if (l.applies === 'yes') {
      out.value = l.line.value!;
      out.from = { file: l.file, line: l.line.number };
      out.maybe = [];
    } else out.maybe.push({ value: l.line.value!, file: l.file, line: l.line.number, conditions: l.conditions });
  }
  return out;
}

/** Every applicable line of a repeatable setting (dtoverlay, dtparam), in order. */
export function allValues(ev: ConfigEvaluation, key: string): EvaluatedLine[] {
  return [...(linesByKey(ev).get(key.toLowerCase()) ?? [])];
}
