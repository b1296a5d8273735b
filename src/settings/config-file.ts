/**
 * The pinet configuration file: where it is found, how it is parsed, and
 * its schema, built from the settings catalog (catalog.ts: the file's shape
 * is the catalog's shape, each value is checked by its setting's own
 * validator, the same one its flag uses; resolve.ts merges them).
 *
 * The file is the first of:
 * `--config PATH` (must exist), `./pinet.yaml`, `$XDG_CONFIG_HOME/pinet/config.yaml`
 * (default `~/.config/pinet/config.yaml`). It is YAML, validated against a
 * strict schema: an unknown key or a wrong type is a ConfigError naming the
 * key and its line. The YAML and schema libraries are loaded only when a
 * file exists, so commands without a config start fast.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { expandHome } from '../util/paths.js';
import { CONFIG, isSetting, prepareAll } from './catalog.js';
import type { Setting } from './setting.js';

/** The shape of pinet.yaml, inferred from the catalog: every key optional, each value its setting's type. */
export type ConfigShape<T> = { [K in keyof T]?: T[K] extends Setting<infer V> ? V : ConfigShape<T[K]> };
export type PinetConfigData = ConfigShape<typeof CONFIG>;

export interface LoadedConfig {
  /** Absolute path of the file the values came from, or undefined when none was found. */
  path?: string;
  data: PinetConfigData;
}

export function defaultConfigPaths(cwd = process.cwd(), env = process.env): string[] {
  const xdg = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return [join(cwd, 'pinet.yaml'), join(xdg, 'pinet', 'config.yaml')];
}

export async function loadConfig(explicit?: string, cwd = process.cwd()): Promise<LoadedConfig> {
  if (explicit !== undefined) {
    const path = resolve(cwd, explicit);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : String(code ?? err);
      throw new ConfigError(`cannot read config file ${path}: ${why}`, 'check the --config path');
    }
    return { path, data: await parseConfig(text, path) };
  }
  for (const path of defaultConfigPaths(cwd)) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw new ConfigError(`cannot read config file ${path}: ${code ?? String(err)}`, 'fix its permissions or pass --config');
    }
    return { path, data: await parseConfig(text, path) };
  }
  return { data: {} };
}

/** Parse and validate config text; `path` is used in messages and to resolve relative paths. */
export async function parseConfig(text: string, path: string): Promise<PinetConfigData> {
  const [{ parseDocument, LineCounter, isMap, isPair, isScalar, isSeq }, v] = await Promise.all([import('yaml'), import('valibot')]);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const line = lineCounter.linePos(yamlError.pos[0]).line;
    const msg = yamlError.message.split('\n')[0];
    throw new ConfigError(`${path}:${line}: not valid YAML: ${msg}`, 'fix the file or pass another with --config');
  }
  const raw: unknown = doc.toJS() ?? {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${path}: the top level must be a mapping of keys (e.g. "export-dir: /mnt/netboot")`);
  }
  await prepareAll(CONFIG, raw);

  const leaf = (setting: Setting<unknown>) =>
    v.pipe(
      v.unknown(),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        const r = setting.check(dataset.value);
        if (r.ok) return r.value;
        addIssue({ message: r.hint ? `${r.error}; ${r.hint}` : r.error });
        return NEVER;
      }),
    );
  type Node = Record<string, unknown>;
  const objectOf = (node: Node): ReturnType<typeof v.strictObject> =>
    v.strictObject(Object.fromEntries(Object.entries(node).map(([k, x]) => [k, v.optional(isSetting(x) ? leaf(x) : objectOf(x as Node))])));
  const schema = objectOf(CONFIG);

  const result = v.safeParse(schema, raw, { abortEarly: true });
  if (!result.success) {
    const issue = result.issues[0];
    const keys = (issue.path ?? []).map((p) => String(p.key));
    const dotted = keys.join('.') || '(top level)';
    // Find the line of the offending key in the YAML source.
    let line: number | undefined;
    let node: unknown = doc.contents;
    for (const key of keys) {
      if (isMap(node)) {
        const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === key);
        if (!pair) break;
        const keyNode = pair.key as { range?: [number, number, number] };
        if (keyNode.range) line = lineCounter.linePos(keyNode.range[0]).line;
        node = pair.value;
      } else if (isSeq(node)) {
        const item = node.items[Number(key)] as { range?: [number, number, number] } | undefined;
        if (item?.range) line = lineCounter.linePos(item.range[0]).line;
        node = item;
      } else break;
    }
    const where = line !== undefined ? `${path}:${line}` : path;
    if (issue.type === 'strict_object') {
      const parentKeys = keys.slice(0, -1);
      const known = knownKeys(schema, parentKeys);
      const guess = closest(keys[keys.length - 1] ?? '', known);
      throw new ConfigError(
        `${where}: unknown key "${dotted}"`,
        guess ? `did you mean "${[...parentKeys, guess].join('.')}"?` : `known keys here: ${known.join(', ')}`,
      );
    }
    const generic = issue as { type: string; message: string; expected: string | null; received: string };
    const expected = generic.type === 'raw_transform' ? generic.message : `expected ${generic.expected ?? generic.type}, got ${generic.received}`;
    throw new ConfigError(`${where}: "${dotted}": ${expected}`);
  }
  return resolvePaths(result.output as Record<string, unknown>, CONFIG, dirname(path)) as PinetConfigData;
}

function knownKeys(schema: unknown, path: string[]): string[] {
  let s = schema as { entries?: Record<string, unknown>; wrapped?: unknown };
  for (const key of path) {
    const entry = s.entries?.[key] as { wrapped?: unknown; entries?: unknown } | undefined;
    if (!entry) return [];
    s = (entry.wrapped ?? entry) as typeof s;
  }
  return Object.keys(s.entries ?? {});
}

/** Relative file paths in the config are relative to the config file (`path` settings; "none" and "-" stay). */
function resolvePaths(data: Record<string, unknown>, node: Record<string, unknown>, base: string): Record<string, unknown> {
  const r = (p: unknown) => (typeof p === 'string' && p !== 'none' && p !== '-' ? resolve(base, expandHome(p)) : p);
  for (const [k, val] of Object.entries(data)) {
    const def = node[k];
    if (isSetting(def)) {
      if (def.path) data[k] = Array.isArray(val) ? val.map(r) : r(val);
    } else if (def && val && typeof val === 'object') {
      resolvePaths(val as Record<string, unknown>, def as Record<string, unknown>, base);
    }
  }
  return data;
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return bestDist <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

