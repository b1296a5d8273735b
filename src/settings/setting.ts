/**
 * A setting: one value a user can give as a flag, in pinet.yaml, or leave
 * to its default, with the one validator that checks it wherever it comes
 * from (the flags a command was given, before it runs; the config file's
 * schema for pinet.yaml; see catalog.ts for every setting and config-file.ts
 * for the schema built from them).
 *
 * Validators are plain synchronous functions returning a result; the config
 * file's valibot schema wraps the same functions. Those that need pinet's
 * parsers live in validators.ts, loaded only when a command runs. Types come
 * from the validators: `ValueOf<typeof setting>`.
 */
import { bad, ok, type Checked } from '../util/checked.js';

export { bad, ok, type Checked };

export interface Setting<T> {
  /** Where it sits in pinet.yaml, e.g. "enroll.boot-order" (set by the catalog); absent: flag only. */
  key?: string;
  /** The flag, as commander writes it: "--boot-order <hex|preset>" or "-n, --dry-run". */
  flag?: string;
  /** --help text, without the default (which is added from `default`/`defaultText`). */
  help: string;
  /** The one validator: a flag's string, or a value parsed from YAML. */
  check(value: unknown): Checked<T>;
  /** The default, stated here only. */
  default?: T;
  /** How --help states a default that is not a plain value ("export-dir, else /mnt/netboot"). */
  defaultText?: string;
  /** A flag that may be repeated; its values are collected into a list. */
  repeatable?: boolean;
  /** A path in the config file: relative to the file's directory (a flag's: to the working directory). */
  path?: boolean;
  /** Choices, for --help. */
  choices?: readonly string[];
}

export type ValueOf<S> = S extends Setting<infer T> ? T : never;

/** A validator whose parser is imported by `prepare()`, which must be awaited before the first check. */
export type LazyCheck<T> = ((v: unknown) => Checked<T>) & { prepare(): Promise<void> };

/** Makes a setting's validator ready (imports its parser, if it has one). */
export async function prepareCheck(s: Setting<unknown>): Promise<void> {
  await (s.check as Partial<LazyCheck<unknown>>).prepare?.();
}

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

const CONTROL = /[\u0000-\u001f\u007f]/;

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** A string value, checked further by `more` (which may also transform it). */
export function text<T = string>(more?: (s: string) => Checked<T>): (v: unknown) => Checked<T> {
  return (v) => {
    if (typeof v !== 'string') return bad(`expected string, got ${typeName(v)}`);
    return more ? more(v) : ok(v as unknown as T);
  };
}

/** Any string without control characters. */
export const plainText = text((s) => (CONTROL.test(s) ? bad('must not contain newlines or control characters') : ok(s)));


/** A path (absolute or relative; resolved where it was given) without control characters. */
export const anyPath = text((s) => {
  if (s === '') return bad('must not be empty');
  if (CONTROL.test(s)) return bad('must not contain newlines or control characters');
  return ok(s);
});

/** A whole number in a range; flags give it as text. */
export function int(min: number, max: number): (v: unknown) => Checked<number> {
  return (v) => {
    const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n)) return bad(`expected a whole number from ${min} to ${max}, got ${typeName(v) === 'string' ? show(v) : typeName(v)}`);
    if (n < min || n > max) return bad(`expected a whole number from ${min} to ${max}`);
    return ok(n);
  };
}

/** true or false (a flag is given or not: commander passes true). */
export function boolean(v: unknown): Checked<boolean> {
  return typeof v === 'boolean' ? ok(v) : bad(`expected boolean, got ${typeName(v)}`);
}

/** One of a few words. */
export function oneOf<const W extends string>(words: readonly W[]): (v: unknown) => Checked<W> {
  return (v) => (typeof v === 'string' && (words as readonly string[]).includes(v) ? ok(v as W) : bad(`expected ${words.map((w) => JSON.stringify(w)).join(' or ')}, got ${show(v)}`));
}

/** A list; YAML may give one value instead of a list. */
export function list<T>(item: (v: unknown) => Checked<T>): (v: unknown) => Checked<T[]> {
  const check = (v: unknown): Checked<T[]> => {
    const items = Array.isArray(v) ? v : [v];
    const out: T[] = [];
    for (const [i, x] of items.entries()) {
      const r = item(x);
      if (!r.ok) return bad(Array.isArray(v) ? `item ${i + 1}: ${r.error}` : r.error, r.hint);
      out.push(r.value);
    }
    return ok(out);
  };
  // A list of values that need a parser needs it too.
  const prepare = (item as Partial<LazyCheck<T>>).prepare;
  return prepare ? Object.assign(check, { prepare }) : check;
}

/** Adapts a validator of src/pi or src/util that returns an error text (or undefined when fine). */
export function fromCheck(fn: (s: string) => string | undefined, hint?: string): (v: unknown) => Checked<string> {
  return text((s) => {
    const error = fn(s);
    return error === undefined ? ok(s) : bad(error, hint);
  });
}

/** The long flag of a setting: "--export-dir". */
export function longFlag(s: Setting<unknown>): string {
  const m = /--[a-z0-9-]+/.exec(s.flag ?? '');
  return m ? m[0] : (s.key ?? '?');
}

/** commander's attribute name for a flag: "--export-dir" → "exportDir", "--no-ssh" → "ssh". */
export function attributeName(s: Setting<unknown>): string {
  return longFlag(s).slice(2).replace(/^no-/, '').replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** What --help shows for a setting: its text and where its default comes from. */
export function helpText(s: Setting<unknown>): string {
  const dflt = s.defaultText ?? (s.default === undefined || s.default === false ? undefined : Array.isArray(s.default) ? s.default.join(', ') : String(s.default));
  const key = s.key ? `; pinet.yaml: ${s.key}` : '';
  return `${s.help}${dflt !== undefined ? ` (default: ${dflt}${key})` : key ? ` (${key.slice(2)})` : ''}`;
}
