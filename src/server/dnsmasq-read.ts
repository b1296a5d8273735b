/**
 * Reading an existing dnsmasq configuration, for `pinet doctor`: the files
 * dnsmasq would read and their directives, each with file and line.
 *
 * Lines are unquoted and stripped of comments with dnsmasq's own rules (a
 * `#` after whitespace starts a comment; inside double quotes `\"`, `\\`,
 * `\t`, `\n` are escapes and commas are kept). `conf-file=` and `conf-dir=`
 * are followed, like dnsmasq does.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export interface Directive {
  key: string;
  /** The value after `=`, unquoted; undefined for a bare directive like `enable-tftp`. */
  value?: string;
  /** Comma-separated arguments, split outside quotes. */
  args: string[];
  file: string;
  line: number;
  raw: string;
}

/** One config line as dnsmasq reads it; null for blank/comment lines. */
export function parseDnsmasqLine(raw: string): { key: string; value?: string; args: string[] } | null {
  let out = '';
  const args: string[] = [];
  let cur = '';
  let white = true;
  let sawEq = false;
  for (let i = 0; i < raw.length; i++) {
    let ch = raw[i]!;
    if (ch === '"') {
      // quoted run: escapes allowed, metacharacters hidden
      i++;
      for (; i < raw.length && raw[i] !== '"'; i++) {
        ch = raw[i]!;
        if (ch === '\\' && i + 1 < raw.length && '"tnebr\\'.includes(raw[i + 1]!)) {
          const e = raw[++i]!;
          ch = e === 't' ? '\t' : e === 'n' ? '\n' : e === 'b' ? '\b' : e === 'r' ? '\r' : e === 'e' ? '\x1b' : e;
        }
        out += ch;
        if (sawEq) cur += ch;
      }
      white = false;
      continue;
    }
    if (/\s/.test(ch)) {
      white = true;
      out += ' ';
      if (sawEq) cur += ' ';
      continue;
    }
    if (white && ch === '#') break;
    white = false;
    if (!sawEq && ch === '=') {
      sawEq = true;
      out += ch;
      continue;
    }
    if (sawEq && ch === ',') {
      args.push(cur.trim());
      cur = '';
      out += ch;
      continue;
    }
    out += ch;
    if (sawEq) cur += ch;
  }
  const line = out.trim();
  if (line === '') return null;
  const eq = line.indexOf('=');
  if (eq < 0) return { key: line, args: [] };
  args.push(cur.trim());
  return { key: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim(), args };
}

export interface DnsmasqConfig {
  directives: Directive[];
  files: string[];
  /** Files that could not be read, with why. */
  errors: string[];
}

const DEBIAN_CONF_DIR_SKIP = ['.dpkg-dist', '.dpkg-old', '.dpkg-new', '.bak', '~'];

/**
 * Read `paths` (files or directories) like dnsmasq's conf-file/conf-dir.
 * Default: /etc/dnsmasq.conf and /etc/dnsmasq.d/ as Debian starts dnsmasq.
 */
export async function readDnsmasqConfig(paths: string[] = ['/etc/dnsmasq.conf', '/etc/dnsmasq.d']): Promise<DnsmasqConfig> {
  const result: DnsmasqConfig = { directives: [], files: [], errors: [] };
  const seen = new Set<string>();

  async function readDir(dir: string, suffixRules: string[] = DEBIAN_CONF_DIR_SKIP): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') result.errors.push(`${dir}: ${code}`);
      return;
    }
    const include = suffixRules.filter((s) => s.startsWith('*')).map((s) => s.slice(1));
    const exclude = suffixRules.filter((s) => !s.startsWith('*'));
    for (const n of names) {
      if (n.startsWith('.') || n.endsWith('~') || (n.startsWith('#') && n.endsWith('#'))) continue;
      if (exclude.some((s) => n.endsWith(s))) continue;
      if (include.length > 0 && !include.some((s) => n.endsWith(s))) continue;
      const p = join(dir, n);
      const st = await stat(p).catch(() => undefined);
      if (st?.isFile()) await readOne(p);
    }
  }

  async function readOne(file: string): Promise<void> {
    const abs = resolve(file);
    if (seen.has(abs)) return;
    seen.add(abs);
    let text: string;
    try {
      text = await readFile(abs, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EISDIR') return readDir(abs);
      if (code !== 'ENOENT') result.errors.push(`${abs}: ${code}`);
      return;
    }
    result.files.push(abs);
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]!.replace(/\r$/, '');
      const d = parseDnsmasqLine(raw);
      if (!d) continue;
      result.directives.push({ ...d, file: abs, line: i + 1, raw });
      if (d.key === 'conf-file' && d.value) await readOne(d.value);
      if (d.key === 'conf-dir' && d.value) {
        const [dir, ...rules] = d.args;
        if (dir) await readDir(dir, rules.length > 0 ? rules : []);
      }
    }
  }

  for (const p of paths) {
    const st = await stat(p).catch(() => undefined);
    if (st?.isDirectory()) await readDir(p);
    else await readOne(p);
  }
  return result;
}

export function find(cfg: DnsmasqConfig, key: string): Directive[] {
  return cfg.directives.filter((d) => d.key === key);
}
