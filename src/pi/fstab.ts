/**
 * /etc/fstab on a Pi: find the line that mounts the boot partition, replace it
 * with the NFS mount of the Pi's directory in the export (and undo that), and
 * check the result.
 *
 * Every byte we do not change is kept: comments, blank lines, tabs or spaces,
 * CRLF endings, a missing final newline. The replaced line stays in the file,
 * commented out directly above pinet's line behind a fixed, date-free marker
 * (`# pinet: replaced: <original line>`), so a second run can recognise its
 * own line and a rollback can restore the original exactly.
 */

import { checkTftpDirName } from './ids.js';
import { DEFAULT_NFS_OPTIONS } from './names.js';
import { finding, type Finding } from './finding.js';
import { dominantEol, escapeOctal, joinLines, showValue, splitFields, splitLines, unescapeOctal, type Line } from './text.js';

/** The marker pinet writes in front of the commented-out original line. */
export const FSTAB_MARKER = '# pinet: replaced: ';

/** The mount options of the article: `defaults,timeo=900,_netdev`. */
export { DEFAULT_NFS_OPTIONS };

/** Where OSes mount the boot partition, most specific first. */
export const BOOT_MOUNTPOINTS = ['/boot/firmware', '/boot'] as const;

export interface FstabEntry {
  source: string;
  target: string;
  fstype: string;
  options: string[];
  freq?: string;
  passno?: string;
}

export interface FstabLine extends Line {
  /** 1-based line number. */
  number: number;
  kind: 'entry' | 'comment' | 'blank' | 'invalid';
  entry?: FstabEntry;
}

export function parseFstab(text: string): FstabLine[] {
  return splitLines(text).map((line, i) => classify(line, i + 1));
}

function classify(line: Line, number: number): FstabLine {
  const trimmed = line.text.trim();
  if (trimmed === '') return { ...line, number, kind: 'blank' };
  if (trimmed.startsWith('#')) return { ...line, number, kind: 'comment' };
  const f = splitFields(line.text.replace(/\r/g, ' '));
  if (f.length < 3 || f.length > 6) return { ...line, number, kind: 'invalid' };
  const entry: FstabEntry = {
    source: unescapeOctal(f[0]!),
    target: unescapeOctal(f[1]!),
    fstype: unescapeOctal(f[2]!),
    options: unescapeOctal(f[3] ?? 'defaults').split(','),
  };
  if (f[4] !== undefined) entry.freq = f[4];
  if (f[5] !== undefined) entry.passno = f[5];
  return { ...line, number, kind: 'entry', entry };
}

function normalisePath(p: string): string {
  const c = p.replace(/\/{2,}/g, '/');
  return c.length > 1 ? c.replace(/\/+$/, '') : c;
}

export type BootLineResult =
  | { ok: true; line: FstabLine; entry: FstabEntry; mountpoint: string }
  | { ok: false; error: string; hint: string };

/**
 * The one line that mounts the boot partition: at `mountpoint` when given,
 * else at /boot/firmware, else at /boot. Two active lines for the same mount
 * point, or none, are refused.
 */
export function findBootLine(lines: readonly FstabLine[], mountpoint?: string): BootLineResult {
  const candidates = mountpoint === undefined ? [...BOOT_MOUNTPOINTS] : [normalisePath(mountpoint)];
  for (const mp of candidates) {
    const hits = lines.filter((l) => l.kind === 'entry' && normalisePath(l.entry!.target) === mp);
    if (hits.length > 1) {
      return {
        ok: false,
        error: `/etc/fstab has ${hits.length} lines that mount ${mp} (lines ${hits.map((h) => h.number).join(', ')})`,
        hint: 'keep one of them (comment the others out) and run again',
      };
    }
    if (hits.length === 1) return { ok: true, line: hits[0]!, entry: hits[0]!.entry!, mountpoint: mp };
  }
  return {
    ok: false,
    error: `/etc/fstab has no line that mounts ${candidates.join(' or ')}`,
    hint: 'add the boot partition to /etc/fstab (or name its mount point) so pinet knows which line to replace',
  };
}

export interface NfsSource {
  host: string;
  /** Absolute path on the server, without a trailing slash (except `/`). */
  path: string;
}

/**
 * `server:/path` as used in fstab: a host name, IPv4 address or `[IPv6]`,
 * a colon, an absolute path. No whitespace, quotes, `#`, `;`, `$`, backticks
 * or control characters anywhere.
 */
export function parseNfsSource(spec: string): { ok: true; value: NfsSource } | { ok: false; error: string } {
  if (spec.length > 1024) return { ok: false, error: `NFS location is ${spec.length} characters long (at most 1024)` };
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\/[A-Za-z0-9._~+@%,=\/-]*)$/.exec(spec);
  if (!m) {
    return {
      ok: false,
      error: `NFS location ${showValue(spec)} is not server:/path (host name or address, a colon, an absolute path; no spaces or shell characters)`,
    };
  }
  const path = normalisePath(m[2]!);
  if (path.split('/').some((seg) => seg === '..' || seg === '.')) {
    return { ok: false, error: `NFS location ${showValue(spec)} has a '.' or '..' path segment` };
  }
  return { ok: true, value: { host: m[1]!, path } };
}

/** A TFTP directory name as used under the export: `bf9fed6f`, `dc-a6-32-01-36-c2`, `racks/r1`. */
function validateExportDir(dir: string): string | undefined {
  const r = checkTftpDirName(dir);
  return r.ok ? undefined : r.error;
}

/** Options for an fstab NFS line: a comma-separated list of plain options. */
export function validateMountOptions(options: string): string | undefined {
  if (options.length > 1024) return `mount options are ${options.length} characters long (at most 1024)`;
  if (!/^[A-Za-z0-9_.=:+\/@-]+(,[A-Za-z0-9_.=:+\/@-]+)*$/.test(options)) {
    return `mount options ${showValue(options)} are not a comma-separated list of plain options (no spaces, quotes or shell characters)`;
  }
  return undefined;
}

/** `nfs-host:/picluster-boot` + `bf9fed6f` → `nfs-host:/picluster-boot/bf9fed6f`. */
export function nfsSourceFor(nfs: NfsSource, dir: string): string {
  return `${nfs.host}:${nfs.path === '/' ? '' : nfs.path}/${dir}`;
}

export interface BootNfsTarget {
  /** How the Pi mounts the export: `nfs-host:/picluster-boot`. */
  nfs: string;
  /** The Pi's directory in the export: `bf9fed6f`. */
  dir: string;
  /** Default `defaults,timeo=900,_netdev`. */
  options?: string;
  /** The boot partition's mount point; default: found in the file (/boot/firmware, then /boot). */
  mountpoint?: string;
}

export type FstabEdit =
  | {
      ok: true;
      text: string;
      changed: boolean;
      mountpoint: string;
      /** 1-based number of the boot line in the input. */
      lineNumber: number;
      /** The boot line as it was, and pinet's line. */
      before: string;
      after: string;
      /** The original line kept in pinet's marker (the one a rollback restores). */
      original: string;
    }
  | { ok: false; error: string; hint?: string };

/**
 * Replace the boot partition's line with `<nfs>/<dir> <mountpoint> nfs <options> 0 0`,
 * keeping the original commented out above it. Idempotent: on its own output with
 * the same target nothing changes; with another target only pinet's line changes
 * and the marker keeps the ORIGINAL line.
 */
export function setBootNfs(text: string, target: BootNfsTarget): FstabEdit {
  const nfs = parseNfsSource(target.nfs);
  if (!nfs.ok) return { ok: false, error: nfs.error };
  const dirError = validateExportDir(target.dir);
  if (dirError) return { ok: false, error: dirError };
  const options = target.options ?? DEFAULT_NFS_OPTIONS;
  const optError = validateMountOptions(options);
  if (optError) return { ok: false, error: optError };
  if (target.mountpoint !== undefined && !/^\/[A-Za-z0-9._\/-]*$/.test(target.mountpoint)) {
    return { ok: false, error: `mount point ${showValue(target.mountpoint)} is not a plain absolute path` };
  }

  const lines = parseFstab(text);
  const boot = findBootLine(lines, target.mountpoint);
  if (!boot.ok) return { ok: false, error: boot.error, hint: boot.hint };

  const index = boot.line.number - 1;
  const newLine = [nfsSourceFor(nfs.value, target.dir), boot.mountpoint, 'nfs', options, '0', '0'].map(escapeOctal).join(' ');
  const above = index > 0 ? lines[index - 1] : undefined;
  const out: Line[] = lines.map(({ text: t, eol }) => ({ text: t, eol }));

  const wantedSource = nfsSourceFor(nfs.value, target.dir);
  const e = boot.entry;
  if (
    !(above !== undefined && above.text.startsWith(FSTAB_MARKER)) &&
    e.fstype === 'nfs' &&
    normaliseSource(e.source) === normaliseSource(wantedSource) &&
    e.options.join(',') === options &&
    (e.freq ?? '0') === '0' &&
    (e.passno ?? '0') === '0'
  ) {
    // Already mounted the way we want (set up by hand, as in the article): nothing to do.
    return { ok: true, text, changed: false, mountpoint: boot.mountpoint, lineNumber: boot.line.number, before: boot.line.text, after: boot.line.text, original: boot.line.text };
  }

  let original: string;
  if (above !== undefined && above.text.startsWith(FSTAB_MARKER)) {
    original = above.text.slice(FSTAB_MARKER.length);
    out[index] = { text: newLine, eol: boot.line.eol };
  } else {
    original = boot.line.text;
    const markerEol = boot.line.eol === '' ? dominantEol(lines) : boot.line.eol;
    out.splice(index, 1, { text: FSTAB_MARKER + boot.line.text, eol: markerEol }, { text: newLine, eol: boot.line.eol });
  }
  const result = joinLines(out);
  return {
    ok: true,
    text: result,
    changed: result !== text,
    mountpoint: boot.mountpoint,
    lineNumber: boot.line.number,
    before: boot.line.text,
    after: newLine,
    original,
  };
}

export type FstabRestore =
  | { ok: true; text: string; changed: boolean; restored: string[] }
  | { ok: false; error: string };

/**
 * Undo `setBootNfs`: every marker line becomes the original line again, and
 * pinet's NFS line right below it goes. A marker whose next line is not an
 * NFS mount (someone edited the file) is restored alone, the next line kept.
 */
export function restoreBootLine(text: string): FstabRestore {
  const lines = parseFstab(text);
  const out: Line[] = [];
  const restored: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (!l.text.startsWith(FSTAB_MARKER)) {
      out.push({ text: l.text, eol: l.eol });
      continue;
    }
    const original = l.text.slice(FSTAB_MARKER.length);
    restored.push(original);
    const next = lines[i + 1];
    if (next !== undefined && next.kind === 'entry' && /^nfs4?$/.test(next.entry!.fstype)) {
      out.push({ text: original, eol: next.eol });
      i++;
    } else {
      out.push({ text: original, eol: l.eol });
    }
  }
  const result = joinLines(out);
  return { ok: true, text: result, changed: result !== text, restored };
}

export interface BootNfsCheck {
  /** No `fail` finding. */
  ok: boolean;
  findings: Finding[];
}

/**
 * Does fstab mount the boot partition (`mountpoint`, default /boot/firmware
 * then /boot) from `<nfs>/<dir>` over NFS, with `_netdev`? Findings carry the
 * line and the fix.
 */
export function checkBootNfs(text: string, expect: { nfs: string; dir: string; mountpoint?: string }): BootNfsCheck {
  const findings: Finding[] = [];
  const lines = parseFstab(text);
  const boot = findBootLine(lines, expect.mountpoint);
  if (!boot.ok) {
    findings.push(finding('fail', 'fstab.no-boot-line', boot.error, boot.hint));
    return { ok: false, findings };
  }
  const { entry, line, mountpoint } = boot;
  const where = `/etc/fstab line ${line.number}: ${showValue(line.text, 160)}`;
  const nfs = parseNfsSource(expect.nfs);
  const dirError = validateExportDir(expect.dir);
  const wanted = nfs.ok && !dirError ? nfsSourceFor(nfs.value, expect.dir) : undefined;

  if (entry.fstype !== 'nfs' && entry.fstype !== 'nfs4') {
    findings.push(
      finding(
        'fail',
        'fstab.not-nfs',
        `${mountpoint} is mounted from ${entry.source} (${entry.fstype}), not over NFS (${where})`,
        wanted ? `replace the line with: ${wanted} ${mountpoint} nfs ${DEFAULT_NFS_OPTIONS} 0 0 (pinet enroll does this)` : 'run pinet enroll',
      ),
    );
  } else if (wanted === undefined) {
    findings.push(finding('warn', 'fstab.bad-expectation', `cannot compare: ${nfs.ok ? dirError : nfs.error}`));
  } else if (normaliseSource(entry.source) !== normaliseSource(wanted)) {
    findings.push(
      finding('fail', 'fstab.wrong-source', `${mountpoint} is mounted from ${entry.source}, expected ${wanted} (${where})`, `change the source to ${wanted}`),
    );
  } else {
    findings.push(finding('ok', 'fstab.nfs', `${mountpoint} is mounted from ${entry.source} over NFS (${where})`));
  }

  if (entry.fstype === 'nfs' || entry.fstype === 'nfs4') {
    if (entry.options.includes('_netdev')) findings.push(finding('ok', 'fstab.netdev', `the ${mountpoint} line has _netdev`));
    else {
      findings.push(
        finding('warn', 'fstab.no-netdev', `the ${mountpoint} line has no _netdev option (${where})`, `add _netdev to its options, e.g. ${DEFAULT_NFS_OPTIONS}`),
      );
    }
    if (entry.passno !== undefined && entry.passno !== '0') {
      findings.push(finding('warn', 'fstab.fsck-nfs', `the ${mountpoint} line asks fsck to check an NFS mount (pass ${entry.passno})`, 'set the last field to 0'));
    }
  }

  const above = line.number >= 2 ? lines[line.number - 2] : undefined;
  if (above?.text.startsWith(FSTAB_MARKER)) {
    findings.push(finding('info', 'fstab.pinet-marker', `pinet replaced line ${line.number}; the original is kept above it: ${above.text.slice(FSTAB_MARKER.length)}`));
  }
  return { ok: !findings.some((f) => f.level === 'fail'), findings };
}

function normaliseSource(source: string): string {
  const colon = source.indexOf(':');
  if (colon === -1) return source;
  return source.slice(0, colon + 1) + normalisePath(source.slice(colon + 1));
}

export interface NfsMountTarget {
  /** `nfs-host:/picluster-boot` */
  source: string;
  /** `/mnt/netboot` */
  mountpoint: string;
  /** Default `defaults,timeo=900,_netdev`. */
  options?: string;
}

export type NfsMountEdit =
  | { ok: true; text: string; changed: boolean; added: boolean; line: string }
  | { ok: false; error: string; hint?: string };

/**
 * The line that mounts `source` at `mountpoint` over NFS (the boot server's
 * own mount of the export): added at the end when the file has no line for
 * that mount point; otherwise the line is replaced and the old one kept as a
 * comment above it (as on a Pi). A line that already says the same is left
 * alone. Several lines for the mount point are refused.
 */
export function setNfsMount(text: string, target: NfsMountTarget): NfsMountEdit {
  const src = parseNfsSource(target.source);
  if (!src.ok) return { ok: false, error: src.error };
  const options = target.options ?? DEFAULT_NFS_OPTIONS;
  const optError = validateMountOptions(options);
  if (optError) return { ok: false, error: optError };
  if (!/^\/[A-Za-z0-9._\/-]*$/.test(target.mountpoint)) return { ok: false, error: `mount point ${showValue(target.mountpoint)} is not a plain absolute path` };
  const mp = normalisePath(target.mountpoint);
  const lines = parseFstab(text);
  const line = [target.source, mp, 'nfs', options, '0', '0'].map(escapeOctal).join(' ');
  const hits = lines.filter((l) => l.kind === 'entry' && normalisePath(l.entry!.target) === mp);
  if (hits.length > 1) return { ok: false, error: `/etc/fstab has ${hits.length} lines for ${mp} (lines ${hits.map((h) => h.number).join(', ')})`, hint: 'keep one, then run again' };
  if (hits.length === 0) {
    const eol = dominantEol(lines);
    const body = text === '' || text.endsWith('\n') ? text : `${text}${eol}`;
    return { ok: true, text: `${body}${line}${eol}`, changed: true, added: true, line };
  }
  const hit = hits[0]!;
  const e = hit.entry!;
  if (e.fstype === 'nfs' && normaliseSource(e.source) === normaliseSource(target.source) && e.options.join(',') === options) {
    return { ok: true, text, changed: false, added: false, line: hit.text };
  }
  const index = hit.number - 1;
  const above = index > 0 ? lines[index - 1] : undefined;
  const out: Line[] = lines.map(({ text: t, eol }) => ({ text: t, eol }));
  if (above !== undefined && above.text.startsWith(FSTAB_MARKER)) out[index] = { text: line, eol: hit.eol };
  else out.splice(index, 1, { text: FSTAB_MARKER + hit.text, eol: hit.eol === '' ? dominantEol(lines) : hit.eol }, { text: line, eol: hit.eol });
  return { ok: true, text: joinLines(out), changed: true, added: false, line };
}

/** Undoes setNfsMount: the commented original comes back, or an added line goes. */
export function removeNfsMount(text: string, target: { source: string; mountpoint: string }): { text: string; changed: boolean } {
  const mp = normalisePath(target.mountpoint);
  const lines = parseFstab(text);
  const out: Line[] = [];
  let changed = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const next = lines[i + 1];
    const ours = (x: FstabLine | undefined) => x?.kind === 'entry' && normalisePath(x.entry!.target) === mp && normaliseSource(x.entry!.source) === normaliseSource(target.source);
    if (l.text.startsWith(FSTAB_MARKER) && ours(next)) {
      out.push({ text: l.text.slice(FSTAB_MARKER.length), eol: next!.eol });
      i++;
      changed = true;
    } else if (ours(l)) {
      changed = true;
    } else out.push({ text: l.text, eol: l.eol });
  }
  return { text: changed ? joinLines(out) : text, changed };
}
