/**
 * The one place where flags, the config file and defaults meet: a value is
 * the flag's when one was given, else the file's, else the default, and it
 * remembers where it came from so an error can name it ("--export-dir",
 * "export-dir in /etc/pinet.yaml", "default"). Flags arrive already checked
 * (commands/index.ts runs each setting's validator on the flags given before
 * the command runs), and the file was checked against the same validators
 * when it was read.
 */
import { resolve as resolvePath } from 'node:path';
import { UsageError } from '../errors.js';
import type { Sourced } from '../util/checked.js';
import { expandHome } from '../util/paths.js';
import type { LoadedConfig } from './config-file.js';
import { attributeName, longFlag, type Setting } from './setting.js';

export type { Sourced };

export { attributeName, longFlag };

function configValue(data: unknown, key: string): unknown {
  let node = data;
  for (const part of key.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** A flag's path is relative to the working directory ("none" and "-" stay as they are). */
function flagPath(v: unknown): unknown {
  if (typeof v === 'string') return v === 'none' || v === '-' ? v : resolvePath(expandHome(v));
  if (Array.isArray(v)) return v.map(flagPath);
  return v;
}

export class Settings {
  constructor(
    /** The command's parsed flags (commander's opts()). */
    readonly flags: Record<string, unknown>,
    readonly config: LoadedConfig,
  ) {}

  /** flag > config file > default, with where it came from; undefined when none of them has it. */
  get<T>(s: Setting<T>): Sourced<T> | undefined {
    if (s.flag) {
      const f = this.flags[attributeName(s)];
      if (f !== undefined) return { value: (s.path ? flagPath(f) : f) as T, source: longFlag(s) };
    }
    if (s.key) {
      const c = configValue(this.config.data, s.key);
      if (c !== undefined) return { value: c as T, source: `${s.key} in ${this.config.path ?? 'the config file'}` };
    }
    if (s.default !== undefined) return { value: s.default, source: 'default' };
    return undefined;
  }

  value<T>(s: Setting<T>): T | undefined {
    return this.get(s)?.value;
  }

  /** A setting that must be there; `why` says so ("enroll needs to know how Pis mount the export"). */
  need<T>(s: Setting<T>, why: string, hint?: string): Sourced<T> {
    const v = this.get(s);
    if (v === undefined) throw new UsageError(why, hint);
    return v;
  }

  /** Was the setting given (as a flag or in the file), rather than left to its default? */
  given(s: Setting<unknown>): boolean {
    const v = this.get(s);
    return v !== undefined && v.source !== 'default';
  }
}
