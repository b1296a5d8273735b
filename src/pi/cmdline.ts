/**
 * cmdline.txt: the kernel command line the firmware hands to the kernel.
 *
 * One line of words separated by spaces (a word may hold a double-quoted part
 * with spaces, as the kernel allows). Parsing keeps every word and its order;
 * the editors replace only the words they own and keep the rest:
 *
 * * `setNfsRoot`: `root=/dev/nfs nfsroot=<ip>:<path>,vers=3,noacl ip=dhcp rw`,
 *   the form Debian/Ubuntu initramfs-tools understands (root=/dev/nfs selects
 *   its nfs script, which runs klibc `nfsmount -o nolock,rw <options> <ip>:<path>`).
 *   `noacl`: no NFSACL side protocol. NFS-Ganesha 4.3 (Debian 12, and the
 *   seed article's Ceph setups) answers the SETACL the kernel sends with every
 *   chmod over NFSv3 with EIO (nfs-ganesha issue 918, fixed in 5.0), so on
 *   such a root every chmod (dpkg, install, cp -p) fails; the VM lab saw it.
 * * `setRbdRoot`: `boot=rbd rbdroot=<mons>:<user>:<key>:<pool>:<image>`, the
 *   form of the LTSP RBD initramfs script (colon-separated fields, optional
 *   `@snapshot`, `:<partition>` and `:<mount options>` after the image).
 *
 * What klibc nfsmount accepts (klibc usr/kinit/nfsmount/main.c, as shipped in
 * Debian/Raspberry Pi OS): the server must be an IP address (it is parsed with
 * inet_aton, host names fail); integer options port, nfsvers, vers, rsize,
 * wsize, timeo, retrans, acregmin, acregmax, acdirmin, acdirmax; vers/nfsvers
 * only 2 or 3; flags soft, hard, intr, nointr, posix, noposix, cto, nocto, ac,
 * noac, lock, nolock, acl, noacl, v2, v3, udp, tcp, broken_suid, ro, rw. Any
 * other option (`proto=tcp`, `vers=4.1`, `sec=sys`, ...) aborts the mount.
 */

import { finding, type Finding } from './finding.js';
import { showValue } from './text.js';

export type CmdlineParse = { ok: true; words: string[]; warnings: string[] } | { ok: false; error: string };

/** Split cmdline.txt into words. Only the first line counts; text after it is reported. */
export function parseCmdline(text: string): CmdlineParse {
  if (text.includes('\0')) return { ok: false, error: 'cmdline.txt contains a NUL byte' };
  const nl = text.indexOf('\n');
  const first = (nl === -1 ? text : text.slice(0, nl)).replace(/\r$/, '');
  const rest = nl === -1 ? '' : text.slice(nl + 1);
  const warnings: string[] = [];
  if (rest.trim() !== '') warnings.push('cmdline.txt has more than one line: the firmware reads only the first');
  if (first.includes('\r')) return { ok: false, error: 'cmdline.txt contains a carriage return inside the line' };

  const words: string[] = [];
  let word = '';
  let quoted = false;
  for (const c of first) {
    if (c === '"') quoted = !quoted;
    if (!quoted && (c === ' ' || c === '\t')) {
      if (word !== '') words.push(word);
      word = '';
    } else word += c;
  }
  if (quoted) return { ok: false, error: `cmdline.txt has an unclosed double quote in ${showValue(word)}` };
  if (word !== '') words.push(word);
  return { ok: true, words, warnings };
}

function checkWord(word: string): string | undefined {
  if (word === '') return 'an empty word';
  if (/[\0\r\n]/.test(word)) return `word ${showValue(word)} contains a line break or NUL`;
  let quoted = false;
  for (const c of word) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === ' ' || c === '\t')) return `word ${showValue(word)} contains unquoted whitespace`;
  }
  if (quoted) return `word ${showValue(word)} has an unclosed double quote`;
  return undefined;
}

/** Longer lines are refused outright; the kernel keeps 2048 bytes on arm64, 1024 on 32-bit arm. */
export const CMDLINE_MAX = 4096;
const CMDLINE_WARN = 1024;

/** Back to cmdline.txt: one line, words joined by single spaces, a trailing newline. */
export function serializeCmdline(words: readonly string[]): { ok: true; text: string } | { ok: false; error: string } {
  for (const w of words) {
    const bad = checkWord(w);
    if (bad) return { ok: false, error: `cannot write cmdline.txt: ${bad.length > 200 ? bad.slice(0, 200) + '…' : bad}` };
  }
  const text = words.join(' ') + '\n';
  if (text.length > CMDLINE_MAX) return { ok: false, error: `cannot write cmdline.txt: the line would be ${text.length - 1} characters (at most ${CMDLINE_MAX})` };
  return { ok: true, text };
}

/** The key of a word: `root` for `root=/dev/nfs`, the word itself for flags like `rw`. */
export function wordKey(word: string): string {
  const eq = word.indexOf('=');
  return eq === -1 ? word : word.slice(0, eq);
}

/** The value of the last `key=` word (the one the kernel and initramfs-tools use), if any. */
export function getParam(words: readonly string[], key: string): string | undefined {
  for (let i = words.length - 1; i >= 0; i--) {
    const w = words[i]!;
    if (w.startsWith(key + '=')) return w.slice(key.length + 1);
  }
  return undefined;
}

export interface NfsRoot {
  /** Absent: initramfs-tools takes the server from DHCP. */
  server?: string;
  path: string;
  options: string[];
}

export interface RbdRoot {
  mons: string[];
  user: string;
  key: string;
  pool: string;
  image: string;
  snapshot?: string;
  partition?: string;
  mountOptions?: string;
}

export interface CmdlineInfo {
  root?: string;
  rootfstype?: string;
  nfsroot?: NfsRoot;
  ip?: string;
  boot?: string;
  rbdroot?: RbdRoot;
  /** Set when an rbdroot= word is present but not in the expected form. */
  rbdrootError?: string;
  init?: string;
  consoles: string[];
  /** The last of `ro`/`rw`, which is the one that counts. */
  mode?: 'ro' | 'rw';
}

/** `[<server>:]<path>[,<options>]`, split the way initramfs-tools does. */
export function parseNfsRoot(value: string): NfsRoot {
  const comma = value.indexOf(',');
  const main = comma === -1 ? value : value.slice(0, comma);
  const options = comma === -1 ? [] : value.slice(comma + 1).split(',').filter(Boolean);
  const colon = main.indexOf(':');
  if (colon === -1) return { path: main, options };
  return { server: main.slice(0, colon), path: main.slice(colon + 1), options };
}

/** `<mons>:<user>:<key>:<pool>:<image>[@<snap>][:<partition>[:<mount options>]]`. */
export function parseRbdRoot(value: string): { ok: true; value: RbdRoot } | { ok: false; error: string } {
  const f = value.split(':');
  if (f.length < 5 || f.length > 7 || f.slice(0, 5).some((x) => x === '')) {
    return { ok: false, error: `rbdroot=${showValue(value)} is not <mons>:<user>:<key>:<pool>:<image>[:<partition>[:<options>]]` };
  }
  const [mons, user, key, pool, imageSnap] = f as [string, string, string, string, string];
  const at = imageSnap.indexOf('@');
  const out: RbdRoot = {
    mons: mons.split(',').filter(Boolean),
    user,
    key,
    pool,
    image: at === -1 ? imageSnap : imageSnap.slice(0, at),
  };
  if (at !== -1) out.snapshot = imageSnap.slice(at + 1);
  if (f[5]) out.partition = f[5];
  if (f[6]) out.mountOptions = f[6];
  return { ok: true, value: out };
}

/** What the words say about the root file system and the console. */
export function describeCmdline(words: readonly string[]): CmdlineInfo {
  const info: CmdlineInfo = { consoles: [] };
  const set = (key: keyof CmdlineInfo, v: string | undefined): void => {
    if (v !== undefined) (info as unknown as Record<string, unknown>)[key] = v;
  };
  set('root', getParam(words, 'root'));
  set('rootfstype', getParam(words, 'rootfstype'));
  set('ip', getParam(words, 'ip'));
  set('boot', getParam(words, 'boot'));
  set('init', getParam(words, 'init'));
  const nfsroot = getParam(words, 'nfsroot');
  if (nfsroot !== undefined) info.nfsroot = parseNfsRoot(nfsroot);
  const rbdroot = getParam(words, 'rbdroot');
  if (rbdroot !== undefined) {
    const r = parseRbdRoot(rbdroot);
    if (r.ok) info.rbdroot = r.value;
    else info.rbdrootError = r.error;
  }
  for (const w of words) {
    if (w.startsWith('console=')) info.consoles.push(w.slice('console='.length));
    if (w === 'ro' || w === 'rw') info.mode = w;
  }
  return info;
}

/** Strict dotted-quad IPv4 (what klibc's inet_aton-based nfsmount is sure to accept). */
export function isIPv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/.test(p));
}

const NFS_PATH = /^\/[A-Za-z0-9._~+@=\/-]*$/;

export type WordsEdit = { ok: true; words: string[] } | { ok: false; error: string; hint?: string };

/** Why an NFS root server or path cannot go into nfsroot= (undefined: it can). */
function nfsRootProblem(server: string, path: string): { error: string; hint?: string } | undefined {
  if (!isIPv4(server)) {
    return {
      error: `NFS root server ${showValue(server)} is not an IPv4 address`,
      hint: "the initramfs mounts the root with klibc's nfsmount, which cannot resolve host names: give the server's IP address",
    };
  }
  if (path.length > 1024 || !NFS_PATH.test(path) || path.split('/').some((s) => s === '..')) {
    return { error: `NFS root path ${showValue(path)} is not a plain absolute path (no spaces, commas, colons or shell characters)` };
  }
  return undefined;
}

export interface NfsRootSpec {
  server: string;
  /** May hold `{serial}`: each Pi's directory name. */
  path: string;
}

/** `--nfs-root <ipv4>:/path` (`{serial}` in the path stands for each Pi's directory name). */
export function parseNfsRootSpec(spec: string): { ok: true; value: NfsRootSpec } | { ok: false; error: string; hint?: string } {
  const m = /^([^:]+):(\/.*)$/.exec(spec);
  if (!m) return { ok: false, error: 'expected <server-ip>:/path', hint: 'e.g. 10.86.5.2:/srv/nfsroot/{serial}' };
  const problem = nfsRootProblem(m[1]!, m[2]!.split('{serial}').join('x'));
  return problem ? { ok: false, ...problem } : { ok: true, value: { server: m[1]!, path: m[2]! } };
}

export interface RbdSpec {
  mons: string[];
  user: string;
  pool: string;
  /** May hold `{serial}`. */
  image: string;
}

/** `--rbd <mons>:<user>:<pool>:<image>` (mons comma-separated; the key comes from a file). */
export function parseRbdSpec(spec: string): { ok: true; value: RbdSpec } | { ok: false; error: string; hint?: string } {
  const parts = spec.split(':');
  if (parts.length !== 4 || parts.some((p) => p === '')) return { ok: false, error: 'expected <mons>:<user>:<pool>:<image> (mons comma-separated)' };
  const [mons, user, pool, image] = parts as [string, string, string, string];
  const value: RbdSpec = { mons: mons.split(','), user, pool, image };
  const problem = rbdProblem({ ...value, image: image.split('{serial}').join('x') });
  return problem ? { ok: false, error: problem } : { ok: true, value };
}

/**
 * Make the root file system NFS: `root=/dev/nfs nfsroot=<server>:<path>,vers=3,noacl ip=dhcp rw`
 * replaces root=, rootfstype=, nfsroot=, ip=, boot=, rbdroot=, ro and rw;
 * every other word keeps its place. Never emits vers=4.x or proto=.
 */
export function setNfsRoot(words: readonly string[], server: string, path: string): WordsEdit {
  const problem = nfsRootProblem(server, path);
  if (problem) return { ok: false, ...problem };
  const owned = new Set(['root', 'rootfstype', 'nfsroot', 'ip', 'boot', 'rbdroot', 'ro', 'rw']);
  const ours = ['root=/dev/nfs', `nfsroot=${server}:${path},vers=3,noacl`, 'ip=dhcp', 'rw'];
  return { ok: true, words: replaceOwned(words, owned, ours, new Set(['root', 'nfsroot', 'boot', 'rbdroot'])) };
}

export interface RbdTarget {
  /** Monitor addresses (IPv4 or host names, no ports: the fields are colon-separated). */
  mons: readonly string[] | string;
  user: string;
  key: string;
  pool: string;
  image: string;
}

/** Why RBD root fields cannot go into rbdroot= (undefined: they can); the key is checked when given. */
function rbdProblem(target: Omit<RbdTarget, 'key'> & { key?: string }): string | undefined {
  const mons = typeof target.mons === 'string' ? target.mons.split(',').filter(Boolean) : [...target.mons];
  if (mons.length === 0) return 'RBD root needs at least one Ceph monitor address';
  if (mons.length > 16) return `RBD root: ${mons.length} monitor addresses are more than a command line should carry (at most 16)`;
  for (const m of mons) {
    if (m.length > 253 || (!isIPv4(m) && !/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(m))) {
      return `Ceph monitor ${showValue(m)} is not an IPv4 address or host name (ports cannot be given: the rbdroot fields are colon-separated)`;
    }
  }
  const fields: [string, string | undefined, RegExp][] = [
    ['Ceph user', target.user, /^[A-Za-z0-9._-]+$/],
    ['Ceph key', target.key, /^[A-Za-z0-9+\/]+=*$/],
    ['RBD pool', target.pool, /^[A-Za-z0-9._-]+$/],
    ['RBD image', target.image, /^[A-Za-z0-9._-]+(@[A-Za-z0-9._-]+)?$/],
  ];
  for (const [what, value, re] of fields) {
    if (value === undefined) continue;
    if (value.length > 256) return `${what} is ${value.length} characters long (at most 256)`;
    if (!re.test(value)) return `${what} ${showValue(value)} has characters rbdroot cannot carry (allowed: letters, digits, . _ -${what === 'Ceph key' ? ', base64' : ''})`;
  }
  return undefined;
}

/**
 * Make the root file system a Ceph RBD image: `boot=rbd rbdroot=<mons>:<user>:<key>:<pool>:<image>`
 * replaces root=, rootfstype=, nfsroot=, boot= and rbdroot=; everything else stays.
 * The key ends up in cmdline.txt, which TFTP serves to anyone: callers must warn.
 */
export function setRbdRoot(words: readonly string[], target: RbdTarget): WordsEdit {
  const problem = rbdProblem(target);
  if (problem) return { ok: false, error: problem };
  const mons = typeof target.mons === 'string' ? target.mons.split(',').filter(Boolean) : [...target.mons];
  const rbd = `rbdroot=${mons.join(',')}:${target.user}:${target.key}:${target.pool}:${target.image}`;
  const owned = new Set(['root', 'rootfstype', 'nfsroot', 'boot', 'rbdroot']);
  return { ok: true, words: replaceOwned(words, owned, ['boot=rbd', rbd], owned) };
}

/** Drop every owned word; put `ours` where the first anchor word was, else at the end. */
function replaceOwned(words: readonly string[], owned: Set<string>, ours: string[], anchors: Set<string>): string[] {
  const out: string[] = [];
  let placed = false;
  for (const w of words) {
    const k = wordKey(w);
    if (!owned.has(k)) {
      out.push(w);
      continue;
    }
    if (!placed && anchors.has(k)) {
      out.push(...ours);
      placed = true;
    }
  }
  if (!placed) out.push(...ours);
  return out;
}

const KLIBC_INT_OPTIONS = new Set(['port', 'nfsvers', 'vers', 'rsize', 'wsize', 'timeo', 'retrans', 'acregmin', 'acregmax', 'acdirmin', 'acdirmax']);
const KLIBC_FLAGS = new Set([
  'soft', 'hard', 'intr', 'nointr', 'posix', 'noposix', 'cto', 'nocto', 'ac', 'noac', 'lock', 'nolock',
  'acl', 'noacl', 'v2', 'v3', 'udp', 'tcp', 'broken_suid', 'ro', 'rw',
]);

/** Would klibc's nfsmount (the initramfs of Debian, Ubuntu and Raspberry Pi OS) take this option? */
export function klibcRejects(option: string): string | undefined {
  const eq = option.indexOf('=');
  if (eq === -1) {
    return KLIBC_FLAGS.has(option) ? undefined : `klibc nfsmount does not know the option '${option}'`;
  }
  const name = option.slice(0, eq);
  const value = option.slice(eq + 1);
  if (!KLIBC_INT_OPTIONS.has(name)) {
    const why = name === 'proto' ? ' (use the flag tcp or udp instead)' : '';
    return `klibc nfsmount does not know the option '${name}='${why}`;
  }
  if (!/^(0x[0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(value)) return `klibc nfsmount needs a whole number in '${option}'`;
  const n = value.startsWith('0x') ? parseInt(value.slice(2), 16) : value.startsWith('0') ? parseInt(value, 8) : parseInt(value, 10);
  if ((name === 'vers' || name === 'nfsvers') && n !== 2 && n !== 3) {
    return `klibc nfsmount speaks only NFS versions 2 and 3, not '${option}'`;
  }
  return undefined;
}

export type RootMethod = 'nfs' | 'rbd' | 'local';

/** How this command line mounts its root: NFS, RBD, or a local device. */
export function rootMethod(info: CmdlineInfo): RootMethod {
  if (info.boot === 'rbd' || info.rbdroot !== undefined) return 'rbd';
  if (info.root === '/dev/nfs' || info.boot === 'nfs' || info.nfsroot !== undefined) return 'nfs';
  return 'local';
}

/**
 * Doctor's checks of a command line: NFS options the initramfs rejects, a
 * Ceph key that TFTP would serve to anyone, and root= consistent with the
 * boot method (`expected`, when the caller knows it).
 */
export function checkCmdline(words: readonly string[], expected?: RootMethod): Finding[] {
  const out: Finding[] = [];
  const info = describeCmdline(words);
  const method = rootMethod(info);
  if (expected !== undefined && expected !== method) {
    out.push(finding('fail', 'cmdline.method', `cmdline.txt mounts a ${method} root (root=${info.root ?? '(none)'}${info.boot ? ` boot=${info.boot}` : ''}), expected ${expected}`, `set the ${expected} root with pinet enroll --root ${expected}`));
  }

  if (method === 'nfs') {
    if (info.nfsroot === undefined) {
      out.push(finding('warn', 'cmdline.nfsroot-missing', 'root=/dev/nfs without nfsroot=: the initramfs must get the NFS path from DHCP (root-path)', 'add nfsroot=<server-ip>:<path>,vers=3'));
    } else {
      const nr = info.nfsroot;
      if (info.root !== '/dev/nfs' && info.boot !== 'nfs') {
        out.push(finding('fail', 'cmdline.root-not-nfs', `nfsroot= is set but root=${info.root ?? '(none)'}: the initramfs mounts a local root and ignores nfsroot`, 'set root=/dev/nfs'));
      }
      if (nr.server === undefined) {
        out.push(finding('info', 'cmdline.nfsroot-no-server', `nfsroot=${nr.path} names no server: the initramfs uses the DHCP server's root server`));
      } else if (!isIPv4(nr.server)) {
        out.push(finding('fail', 'cmdline.nfsroot-hostname', `nfsroot server ${showValue(nr.server)} is not an IP address: klibc nfsmount cannot resolve host names`, "use the NFS server's IPv4 address"));
      }
      const bad = nr.options.map(klibcRejects).filter((x): x is string => x !== undefined);
      for (const b of bad) out.push(finding('fail', 'cmdline.nfs-option', `nfsroot: ${b}; the initramfs will not mount the root`, 'use only vers=3 (or 2), tcp/udp and the other options klibc nfsmount knows'));
      if (bad.length === 0) out.push(finding('ok', 'cmdline.nfs-options', `nfsroot options are ones klibc nfsmount accepts: ${nr.options.join(',') || '(none)'}`));
    }
  }

  if (method === 'rbd') {
    if (info.boot !== 'rbd') out.push(finding('fail', 'cmdline.rbd-no-boot', 'rbdroot= is set without boot=rbd: the initramfs will not use it', 'add boot=rbd'));
    if (info.rbdrootError) out.push(finding('fail', 'cmdline.rbdroot-bad', info.rbdrootError));
    else if (info.rbdroot === undefined) out.push(finding('fail', 'cmdline.rbdroot-missing', 'boot=rbd without rbdroot=', 'add rbdroot=<mons>:<user>:<key>:<pool>:<image>'));
    else if (info.rbdroot.key !== '') {
      out.push(
        finding('warn', 'cmdline.ceph-key', `rbdroot= carries the Ceph key of client.${info.rbdroot.user}: TFTP serves cmdline.txt to anyone on the network`, 'give that Ceph user read access to this one image only, or keep the key out of cmdline.txt'),
      );
    }
  }

  const length = words.join(' ').length;
  if (length > CMDLINE_WARN) {
    out.push(finding('warn', 'cmdline.long', `cmdline.txt is ${length} characters; with what the firmware adds it may exceed the kernel's limit (1024 on 32-bit, 2048 on 64-bit kernels)`, 'drop words you do not need'));
  }
  if (words.includes('ro') && words.includes('rw')) {
    out.push(finding('info', 'cmdline.ro-rw', `both ro and rw are present; the last (${info.mode}) counts`));
  }
  return out;
}
