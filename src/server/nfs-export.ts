/**
 * The NFS export of the boot files, as pinet writes it and reads it back:
 * who may mount it (the Pis' subnet and the boot server, never everyone),
 * how it squashes (none, root, or everything to the TFTP server's user), a
 * Linux NFS server's line (a pinet-owned file in /etc/exports.d/) and what
 * `exportfs -v` says about it, an NFS-Ganesha EXPORT block (a pinet-owned
 * file included from ganesha.conf). Pure: no I/O here.
 */
import { inNetwork, isIPv4, parseCidr } from '../util/ipv4.js';
import { bad, ok, type Checked } from '../util/checked.js';
import { SQUASH_MODES, type Squash } from './names.js';

export { SQUASH_MODES, type Squash };

/** The identity squashed files get (`tftp-user`: dnsmasq's TFTP user on the boot server). */
export interface Anon {
  uid: number;
  gid: number;
}

export interface ExportSpec {
  /** The directory exported, on the NFS server (kernel NFS: also what clients mount). */
  path: string;
  /** What clients mount (Ganesha's Pseudo path; kernel NFS: the path itself). */
  pseudo: string;
  /** Who may mount it: IPv4 addresses and networks (CIDR). */
  clients: string[];
  squash: Squash;
  /** For `tftp-user` (and the anonymous identity of `root`). */
  anon: Anon;
  /** NFS versions clients need (3 for an NFS root mounted by the initramfs). */
  versions: (3 | 4)[];
}

const PLAIN_PATH = /^\/[A-Za-z0-9._+@=-]+(\/[A-Za-z0-9._+@=-]+)*$/;

/** An exported path: absolute, plain characters only (exports(5) and Ganesha both quote differently; pinet never needs to). */
export function checkExportPath(p: string): Checked<string> {
  if (p === '/') return bad('exporting / would give the Pis the whole file system');
  if (!PLAIN_PATH.test(p) || p.split('/').some((s) => s === '..' || s === '.')) {
    return bad('must be an absolute path of letters, digits and . _ + @ = - (no spaces, quotes or shell characters)', 'e.g. /srv/picluster-boot');
  }
  if (p.length > 900) return bad('is too long');
  return ok(p);
}

/** A client of the export: an IPv4 address or network; everyone (`*`, 0.0.0.0/0, /0–/7) is refused. */
export function checkClient(c: string): Checked<string> {
  if (c === '*' || c === '0.0.0.0/0' || c === '0.0.0.0') return bad('exporting to everyone lets any machine that reaches the NFS server rewrite every Pi\'s boot files', 'list the Pis\' subnet and the boot server, e.g. 10.86.5.0/24');
  if (isIPv4(c)) return ok(c);
  const net = parseCidr(c);
  if (!net) return bad('not an IPv4 address or network (like 10.86.5.0/24)');
  if (net.prefix < 8) return bad(`/${net.prefix} is far wider than a LAN of Pis`, 'list the Pis\' subnet and the boot server');
  if (net.network !== net.address) return bad(`write the network as ${net.network}/${net.prefix}`);
  return ok(c);
}

/** Does the client list let every address of `net` in? */
export function clientsCoverNet(clients: readonly string[], net: { network: string; prefix: number }): boolean {
  return clients.some((c) => {
    const n = c.includes('/') ? parseCidr(c) : null;
    return n !== null && n.prefix <= net.prefix && inNetwork(net.network, n);
  });
}

/** Does the client list let `address` in? */
export function clientsCover(clients: readonly string[], address: string): boolean {
  return clients.some((c) => {
    if (c === address) return true;
    const net = c.includes('/') ? parseCidr(c) : null;
    return net !== null && inNetwork(address, net);
  });
}

/** The exports(5) options of one client, as pinet writes them. */
export function kernelOptions(e: ExportSpec): string[] {
  const opts = ['rw', 'sync', 'no_subtree_check'];
  if (e.squash === 'none') opts.push('no_root_squash');
  else if (e.squash === 'root') opts.push('root_squash', `anonuid=${e.anon.uid}`, `anongid=${e.anon.gid}`);
  else opts.push('all_squash', `anonuid=${e.anon.uid}`, `anongid=${e.anon.gid}`);
  return opts;
}

export const GENERATED_HEADER = (regenerate: string) =>
  `# Written by pinet; edits are lost when it is regenerated with:\n#   ${regenerate}\n`;

/** The pinet-owned file in /etc/exports.d/ (one line). */
export function renderKernelExports(e: ExportSpec, regenerate: string): string {
  const opts = kernelOptions(e).join(',');
  return `${GENERATED_HEADER(regenerate)}${e.path} ${e.clients.map((c) => `${c}(${opts})`).join(' ')}\n`;
}

/** `exportfs -v`: path → client → options. Long paths put the clients on the next lines. */
export function parseExportfsV(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let current: string | undefined;
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    const m = /^(\S+)?\s*(?:(\S+)\(([^)]*)\))?\s*$/.exec(raw);
    if (!m) continue;
    if (m[1] !== undefined && !raw.startsWith(' ') && !raw.startsWith('\t')) {
      // "<path>" or "<path> <client>(<opts>)" (the path may be "<path>" with a client glued by tabs)
      const head = /^(\S+)\s+(\S+)\(([^)]*)\)\s*$/.exec(raw);
      if (head) {
        current = head[1]!;
        const clients = out.get(current) ?? new Map();
        clients.set(head[2]!, head[3]!.split(','));
        out.set(current, clients);
        continue;
      }
      current = m[1];
      if (!out.has(current)) out.set(current, new Map());
      continue;
    }
    const c = /^\s+(\S+)\(([^)]*)\)\s*$/.exec(raw);
    if (c && current) out.get(current)!.set(c[1]!, c[2]!.split(','));
  }
  return out;
}

/** Does the live export (from `exportfs -v`) match what pinet wrote? One line per difference. */
export function verifyKernelExport(live: Map<string, Map<string, string[]>>, e: ExportSpec): string[] {
  const clients = live.get(e.path);
  if (!clients) return [`${e.path} is not exported (exportfs -v does not list it)`];
  const problems: string[] = [];
  for (const c of e.clients) {
    const opts = clients.get(c);
    if (!opts) {
      problems.push(`${e.path} is not exported to ${c}`);
      continue;
    }
    for (const want of kernelOptions(e).filter((o) => o !== 'sync')) {
      // exportfs -v leaves out anonuid/anongid when they are the default, 65534 (seen on nfs-utils 2.6).
      if (/^anon[ug]id=65534$/.test(want) && !opts.some((o) => o.startsWith(want.split('=')[0]!))) continue;
      if (!opts.includes(want)) problems.push(`${e.path} to ${c}: ${want} is not in effect (${opts.join(',')})`);
    }
  }
  for (const c of clients.keys()) if (c === '*' || c === '<world>') problems.push(`${e.path} is also exported to everyone (${c})`);
  return problems;
}

/** Ganesha's squash words. */
function ganeshaSquash(s: Squash): string {
  return s === 'none' ? 'No_Root_Squash' : s === 'root' ? 'Root_Squash' : 'All_Squash';
}

/** The pinet-owned EXPORT block for NFS-Ganesha (FSAL VFS), one CLIENT block per client. */
export function renderGaneshaExport(e: ExportSpec, exportId: number, regenerate: string): string {
  const lines = [
    GENERATED_HEADER(regenerate).trimEnd(),
    'EXPORT {',
    `    Export_Id = ${exportId};`,
    `    Path = "${e.path}";`,
    `    Pseudo = "${e.pseudo}";`,
    `    Protocols = ${[...new Set(e.versions)].sort().join(', ')};`,
    '    Transports = TCP;',
    '    Access_Type = None;',
    '    Squash = Root_Squash;',
    `    Anonymous_Uid = ${e.anon.uid};`,
    `    Anonymous_Gid = ${e.anon.gid};`,
    '    SecType = sys;',
    '    FSAL { Name = VFS; }',
    '    CLIENT {',
    `        Clients = ${e.clients.join(', ')};`,
    '        Access_Type = RW;',
    `        Squash = ${ganeshaSquash(e.squash)};`,
    `        Anonymous_Uid = ${e.anon.uid};`,
    `        Anonymous_Gid = ${e.anon.gid};`,
    '    }',
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

/** The Export_Ids and Pseudo paths of the EXPORT blocks in a Ganesha config (comments dropped). */
export function ganeshaExports(conf: string): { id: number; pseudo?: string; path?: string }[] {
  const text = conf.replace(/#[^\n]*/g, '');
  const out: { id: number; pseudo?: string; path?: string }[] = [];
  const re = /\bEXPORT\s*\{/gi;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    let depth = 1;
    let i = m.index + m[0].length;
    while (i < text.length && depth > 0) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}') depth--;
      i++;
    }
    const body = text.slice(m.index, i);
    const get = (k: string) => new RegExp(`\\b${k}\\s*=\\s*"?([^";]+)"?\\s*;`, 'i').exec(body)?.[1]?.trim();
    const id = Number(get('Export_Id'));
    const pseudo = get('Pseudo');
    const path = get('Path');
    out.push({ id, ...(pseudo ? { pseudo } : {}), ...(path ? { path } : {}) });
  }
  return out;
}

/** The `%include` lines of a Ganesha config. */
export function ganeshaIncludes(conf: string): string[] {
  return [...conf.matchAll(/^\s*%include\s+"?([^"\s]+)"?\s*$/gm)].map((m) => m[1]!);
}

/** Which NFS versions a Ganesha config serves (NFS_CORE_PARAM Protocols; Ganesha's default is 3 and 4). */
export function ganeshaProtocols(conf: string): number[] {
  const core = /\bNFS_CORE_PARAM\s*\{([^}]*)\}/i.exec(conf.replace(/#[^\n]*/g, ''));
  const p = core ? /\bProtocols\s*=\s*([^;]+);/i.exec(core[1]!) : null;
  if (!p) return [3, 4];
  return p[1]!.split(/[\s,]+/).filter(Boolean).map((x) => Number(x.replace(/^v/i, ''))).filter((n) => Number.isInteger(n));
}

/** ganesha.conf with NFS_CORE_PARAM's Protocols set to `versions` (added when the block has no such line; the block added when missing). */
export function withGaneshaProtocols(conf: string, versions: number[]): string {
  const line = `Protocols = ${versions.join(', ')};`;
  const m = /(\bNFS_CORE_PARAM\s*\{)([^}]*)\}/i.exec(conf);
  if (!m) return `${conf.replace(/\n*$/, '\n')}\nNFS_CORE_PARAM {\n    ${line}\n}\n`;
  const body = m[2]!;
  const next = /\bProtocols\s*=[^;]*;/i.test(body) ? body.replace(/\bProtocols\s*=[^;]*;/i, line) : `${body.replace(/\s*$/, '')}\n    ${line}\n`;
  return conf.slice(0, m.index) + m[1] + next + '}' + conf.slice(m.index + m[0].length);
}
