/**
 * How a Pi is named: its MAC address, its serial number, and the name of
 * its directory in the export (what its bootloader asks TFTP for). The one
 * validator of each, used wherever pinet takes one from a user, a config
 * file, a Pi or a log.
 */

export type IdCheck<T> = { ok: true; value: T } | { ok: false; error: string; hint?: string };

const show = (v: string): string => JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);

/** `dc:a6:32:01:02:03` (or with `-`, any case) → lower case with colons. */
export function checkMac(text: string): IdCheck<string> {
  const norm = text.toLowerCase().replace(/-/g, ':');
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(norm)) return { ok: false, error: `${show(text)} is not a MAC address`, hint: 'write it like dc:a6:32:01:02:03' };
  return { ok: true, value: norm };
}

/** A Pi's serial as /proc/cpuinfo prints it: 16 hex digits (`10000000bf9fed6f`), lower case. */
export function checkSerial(text: string): IdCheck<string> {
  const t = text.trim().toLowerCase();
  if (!/^[0-9a-f]{16}$/.test(t)) return { ok: false, error: `${show(text)} is not a Raspberry Pi serial number (16 hex digits, as in /proc/cpuinfo)` };
  return { ok: true, value: t };
}

/** The directory the bootloader asks for with TFTP_PREFIX=0: the serial's last 8 hex digits. */
export function serialDir(serial: string): string {
  return serial.slice(-8).toLowerCase();
}

/** The directory name for TFTP_PREFIX=2: the MAC as `dc-a6-32-01-36-c2` (also accepts 12 bare hex digits). */
export function macToTftpDir(mac: string): string | undefined {
  const t = mac.toLowerCase();
  if (/^[0-9a-f]{12}$/.test(t)) return t.match(/../g)!.join('-');
  const m = checkMac(t);
  return m.ok ? m.value.replace(/:/g, '-') : undefined;
}

/** What kind of name a directory in the export has. */
export function classifyTftpDirName(name: string): 'serial' | 'mac' | 'other' {
  if (/^[0-9a-f]{8}$/.test(name)) return 'serial';
  if (/^([0-9a-f]{2}-){5}[0-9a-f]{2}$/.test(name)) return 'mac';
  return 'other';
}

/** A directory name in the export: a plain relative path (TFTP_PREFIX_STR may hold a "/"). */
export function checkTftpDirName(dir: string): IdCheck<string> {
  if (dir.length > 255) return { ok: false, error: `directory name is ${dir.length} characters long (at most 255)` };
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(dir) || dir.split('/').some((s) => s === '.' || s === '..')) {
    return { ok: false, error: `directory name ${show(dir)} is not a plain relative path (letters, digits, '.', '_', '-', '/')` };
  }
  return { ok: true, value: dir };
}
