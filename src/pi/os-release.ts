/**
 * /etc/os-release: which operating system runs on a Pi, and where that OS
 * keeps its boot partition.
 *
 * Quoting follows os-release(5): shell-style `KEY=value` lines, values in
 * double quotes (with `\"`, `\\`, `` \` `` and `\$` escapes), single quotes
 * (literal) or unquoted; `#` starts a comment line.
 *
 * Raspberry Pi OS is not named as such in os-release: the 64-bit image says
 * `ID=debian`, the 32-bit one `ID=raspbian`. Telling Raspberry Pi OS (64-bit)
 * from plain Debian needs other evidence, e.g. the presence of /etc/rpi-issue,
 * which only Raspberry Pi OS images carry.
 */

import { emptyRecord } from './text.js';

export interface OsRelease {
  fields: Record<string, string>;
  id?: string;
  idLike: string[];
  versionId?: string;
  codename?: string;
  prettyName?: string;
  /** Lines that are neither comments, blanks nor valid assignments (1-based line numbers). */
  badLines: number[];
}

/** Parse os-release text. Never throws; malformed lines are listed in `badLines`. */
export function parseOsRelease(text: string): OsRelease {
  const fields = emptyRecord<string>();
  const badLines: number[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) {
      badLines.push(i + 1);
      return;
    }
    const value = unquote(m[2]!);
    if (value === undefined) badLines.push(i + 1);
    else fields[m[1]!] = value;
  });

  const out: OsRelease = { fields, idLike: (fields.ID_LIKE ?? '').split(/\s+/).filter(Boolean), badLines };
  if (fields.ID) out.id = fields.ID.toLowerCase();
  if (fields.VERSION_ID) out.versionId = fields.VERSION_ID;
  if (fields.PRETTY_NAME) out.prettyName = fields.PRETTY_NAME;
  const codename = fields.VERSION_CODENAME || fields.UBUNTU_CODENAME || /\(([a-z]+)\)/i.exec(fields.VERSION ?? '')?.[1];
  if (codename) out.codename = codename.toLowerCase();
  return out;
}

/** Undo os-release quoting; undefined when the quotes do not close. */
function unquote(value: string): string | undefined {
  if (value.startsWith('"')) {
    let out = '';
    for (let i = 1; i < value.length; i++) {
      const c = value[i]!;
      if (c === '\\' && i + 1 < value.length && '"\\`$'.includes(value[i + 1]!)) {
        out += value[++i];
      } else if (c === '"') {
        return value.slice(i + 1).trim() === '' ? out : undefined;
      } else out += c;
    }
    return undefined;
  }
  if (value.startsWith("'")) {
    const end = value.indexOf("'", 1);
    if (end === -1 || value.slice(end + 1).trim() !== '') return undefined;
    return value.slice(1, end);
  }
  return value.trim();
}

export type OsKind = 'ubuntu' | 'raspios' | 'debian' | 'unknown';

export interface OsEvidence {
  /** Does /etc/rpi-issue exist (only Raspberry Pi OS images have it)? undefined = not checked. */
  rpiIssue?: boolean;
}

export interface OsClass {
  kind: OsKind;
  /** False when the kind is a best guess that other evidence could change. */
  certain: boolean;
  /** A short human name: `Ubuntu 24.04`, `Raspberry Pi OS 12 (bookworm)`. */
  name: string;
  reason: string;
}

/** Classify an OS from its os-release and the evidence the caller gathered. */
export function classifyOs(release: OsRelease, evidence: OsEvidence = {}): OsClass {
  const version = release.versionId ?? '';
  const suffix = [version, release.codename ? `(${release.codename})` : ''].filter(Boolean).join(' ');
  const named = (base: string): string => (suffix ? `${base} ${suffix}` : base);
  const id = release.id;
  if (id === 'ubuntu') return { kind: 'ubuntu', certain: true, name: named('Ubuntu'), reason: 'ID=ubuntu' };
  if (id === 'raspbian') {
    return { kind: 'raspios', certain: true, name: named('Raspberry Pi OS'), reason: 'ID=raspbian (32-bit Raspberry Pi OS)' };
  }
  if (id === 'debian') {
    if (evidence.rpiIssue === true) {
      return { kind: 'raspios', certain: true, name: named('Raspberry Pi OS'), reason: 'ID=debian and /etc/rpi-issue exists' };
    }
    if (evidence.rpiIssue === false) {
      return { kind: 'debian', certain: true, name: named('Debian'), reason: 'ID=debian and no /etc/rpi-issue' };
    }
    return {
      kind: 'debian',
      certain: false,
      name: named('Debian'),
      reason: 'ID=debian: Raspberry Pi OS (64-bit) says the same; /etc/rpi-issue was not checked',
    };
  }
  if (id === undefined) return { kind: 'unknown', certain: false, name: 'unknown', reason: 'os-release has no ID' };
  return { kind: 'unknown', certain: true, name: release.prettyName ?? id, reason: `ID=${id} is not an OS pinet knows` };
}

/**
 * Where this OS mounts its boot (firmware) partition by default: Ubuntu and
 * Debian 12 (Bookworm) and later use /boot/firmware, Raspberry Pi OS Bullseye
 * and older /boot. The fstab and live mounts are the real answer; this is
 * the expectation to compare them with.
 */
export function expectedBootMount(kind: OsKind, versionId: string | undefined): '/boot/firmware' | '/boot' | undefined {
  if (kind === 'ubuntu') return '/boot/firmware';
  if (kind === 'raspios' || kind === 'debian') {
    const major = Number.parseInt(versionId ?? '', 10);
    if (!Number.isFinite(major)) return undefined;
    return major >= 12 ? '/boot/firmware' : '/boot';
  }
  return undefined;
}
