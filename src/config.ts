/**
 * The pinet configuration file: where it is found, how it is parsed and
 * validated, and how its values combine with flags.
 *
 * Precedence is flags > config file > defaults. The file is the first of:
 * `--config PATH` (must exist), `./pinet.yaml`, `$XDG_CONFIG_HOME/pinet/config.yaml`
 * (default `~/.config/pinet/config.yaml`). It is YAML, validated against a
 * strict schema: an unknown key or a wrong type is a ConfigError naming the
 * key and its line. The YAML and schema libraries are loaded only when a
 * file exists, so commands without a config start fast.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from './errors.js';

export interface DnsmasqConfig {
  subnet?: string;
  'tftp-root'?: string;
  interface?: string;
  mode?: 'proxy' | 'standalone';
  range?: string;
  'all-clients'?: boolean;
  'menu-text'?: string;
  template?: string;
  output?: string;
}

export interface SshConfig {
  config?: string;
  user?: string;
  port?: number;
  'identity-file'?: string[];
  'accept-new'?: boolean;
  'connect-timeout'?: number;
  options?: string[];
}

export interface EnrollConfig {
  'boot-order'?: string;
  'mount-options'?: string;
  root?: 'keep' | 'nfs' | 'rbd';
  'nfs-root'?: string;
  rbd?: string;
  'rbd-key-file'?: string;
}

export interface DoctorConfig {
  'tftp-server'?: string;
  'dnsmasq-conf'?: string[];
}

export interface PinetConfigData {
  'export-dir'?: string;
  nfs?: string;
  'state-dir'?: string;
  concurrency?: number;
  fleet?: string[];
  dnsmasq?: DnsmasqConfig;
  ssh?: SshConfig;
  enroll?: EnrollConfig;
  doctor?: DoctorConfig;
}

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
  const [{ parseDocument, LineCounter, isMap, isPair, isScalar, isSeq }, v] = await Promise.all([
    import('yaml'),
    import('valibot'),
  ]);
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

  const absPath = v.pipe(
    v.string(),
    v.check((s) => isAbsolute(s), 'must be an absolute path'),
  );
  const stringList = v.pipe(
    v.union([v.string(), v.array(v.string())]),
    v.transform((x) => (Array.isArray(x) ? x : [x])),
  );
  const positiveInt = (max: number) => v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(max));
  const schema = v.strictObject({
    'export-dir': v.optional(absPath),
    nfs: v.optional(v.string()),
    'state-dir': v.optional(v.string()),
    concurrency: v.optional(positiveInt(256)),
    fleet: v.optional(v.array(v.string())),
    ssh: v.optional(
      v.strictObject({
        config: v.optional(v.string()),
        user: v.optional(v.string()),
        port: v.optional(positiveInt(65535)),
        'identity-file': v.optional(stringList),
        'accept-new': v.optional(v.boolean()),
        'connect-timeout': v.optional(positiveInt(3600)),
        options: v.optional(v.array(v.string())),
      }),
    ),
    enroll: v.optional(
      v.strictObject({
        'boot-order': v.optional(v.string()),
        'mount-options': v.optional(v.string()),
        root: v.optional(v.picklist(['keep', 'nfs', 'rbd'])),
        'nfs-root': v.optional(v.string()),
        rbd: v.optional(v.string()),
        'rbd-key-file': v.optional(v.string()),
      }),
    ),
    doctor: v.optional(
      v.strictObject({
        'tftp-server': v.optional(v.string()),
        'dnsmasq-conf': v.optional(stringList),
      }),
    ),
    dnsmasq: v.optional(
      v.strictObject({
        subnet: v.optional(v.string()),
        'tftp-root': v.optional(absPath),
        interface: v.optional(v.string()),
        mode: v.optional(v.picklist(['proxy', 'standalone'])),
        range: v.optional(v.string()),
        'all-clients': v.optional(v.boolean()),
        'menu-text': v.optional(v.string()),
        template: v.optional(v.string()),
        output: v.optional(v.string()),
      }),
    ),
  });

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
    const expected =
      generic.type === 'check' ? generic.message : `expected ${generic.expected ?? generic.type}, got ${generic.received}`;
    throw new ConfigError(`${where}: "${dotted}": ${expected}`);
  }
  return resolvePaths(result.output as PinetConfigData, dirname(path));
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

/** Relative file paths in the config are relative to the config file. */
function resolvePaths(data: PinetConfigData, base: string): PinetConfigData {
  const r = (p: string) => resolve(base, expandHome(p));
  const d = data.dnsmasq;
  if (d) {
    if (d.template !== undefined) d.template = r(d.template);
    if (d.output !== undefined) d.output = r(d.output);
  }
  if (data['state-dir'] !== undefined) data['state-dir'] = r(data['state-dir']);
  if (data.ssh?.config !== undefined && data.ssh.config !== 'none') data.ssh.config = r(data.ssh.config);
  if (data.ssh?.['identity-file']) data.ssh['identity-file'] = data.ssh['identity-file'].map(r);
  if (data.enroll?.['rbd-key-file'] !== undefined) data.enroll['rbd-key-file'] = r(data.enroll['rbd-key-file']);
  if (data.doctor?.['dnsmasq-conf']) data.doctor['dnsmasq-conf'] = data.doctor['dnsmasq-conf'].map(r);
  return data;
}

export function expandHome(p: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return join(homedir(), p.slice(2));
  return p;
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

/** A value with where it came from, so errors can name the flag or the config key. */
export interface Sourced<T> {
  value: T;
  /** `--subnet` or `dnsmasq.subnet in /etc/pinet.yaml` or `default` */
  source: string;
}

export function pick<T>(
  flag: T | undefined,
  flagName: string,
  fromConfig: T | undefined,
  configKey: string,
  config: LoadedConfig,
  fallback?: T,
): Sourced<T> | undefined {
  if (flag !== undefined) return { value: flag, source: flagName };
  if (fromConfig !== undefined) return { value: fromConfig, source: `${configKey} in ${config.path ?? 'the config file'}` };
  if (fallback !== undefined) return { value: fallback, source: 'default' };
  return undefined;
}
