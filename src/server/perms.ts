/**
 * Can a given user read a file? Judged the way the kernel does it: owner,
 * then group (primary and supplementary), then other mode bits, plus search
 * (x) permission on every parent directory. Used to prove that the TFTP
 * server's user (dnsmasq runs TFTP as `dnsmasq` or `nobody`) can read every
 * boot file, not just that "mode has o+r". ACLs are not evaluated (a file
 * with an ACL is reported so the caller can say so).
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
  /** All group ids: primary and supplementary. */
  groups: number[];
}

export function parsePasswd(text: string): Map<string, { uid: number; gid: number }> {
  const out = new Map<string, { uid: number; gid: number }>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (f[0] && Number.isInteger(uid) && Number.isInteger(gid)) out.set(f[0], { uid, gid });
  }
  return out;
}

export function parseGroup(text: string): { name: string; gid: number; members: string[] }[] {
  const out: { name: string; gid: number; members: string[] }[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) continue;
    const gid = Number(f[2]);
    if (!f[0] || !Number.isInteger(gid)) continue;
    out.push({ name: f[0], gid, members: (f[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean) });
  }
  return out;
}


export interface StatLike {
  mode: number;
  uid: number;
  gid: number;
}

/** The permission bits (r=4, w=2, x=1) that apply to `user` for this inode. */
export function bitsFor(user: UnixUser, st: StatLike): { bits: number; as: 'root' | 'owner' | 'group' | 'other' } {
  if (user.uid === 0) return { bits: 7, as: 'root' };
  if (st.uid === user.uid) return { bits: (st.mode >> 6) & 7, as: 'owner' };
  if (user.groups.includes(st.gid)) return { bits: (st.mode >> 3) & 7, as: 'group' };
  return { bits: st.mode & 7, as: 'other' };
}

export type Access = { ok: true } | { ok: false; path: string; reason: string };

/**
 * Can `user` read `file`? Checks search permission on every directory from
 * `/` down, then read permission on the file.
 */
export async function canRead(
  user: UnixUser,
  file: string,
  statFn: (p: string) => Promise<StatLike & { isDirectory(): boolean }> = stat,
): Promise<Access> {
  const abs = resolve(file);
  const dirs: string[] = [];
  for (let d = dirname(abs); ; d = dirname(d)) {
    dirs.unshift(d);
    if (d === dirname(d)) break;
  }
  for (const d of dirs) {
    let st;
    try {
      st = await statFn(d);
    } catch (err) {
      return { ok: false, path: d, reason: `cannot stat (${(err as NodeJS.ErrnoException).code ?? err})` };
    }
    const { bits, as } = bitsFor(user, st);
    if ((bits & 1) === 0) {
      return { ok: false, path: d, reason: `directory mode ${octal(st.mode)} owner ${st.uid}:${st.gid} gives ${user.name} (as ${as}) no search (x) permission` };
    }
  }
  let st;
  try {
    st = await statFn(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, path: abs, reason: code === 'ENOENT' ? 'missing' : `cannot stat (${code ?? err})` };
  }
  const { bits, as } = bitsFor(user, st);
  if ((bits & 4) === 0) {
    return { ok: false, path: abs, reason: `mode ${octal(st.mode)} owner ${st.uid}:${st.gid} gives ${user.name} (as ${as}) no read permission` };
  }
  return { ok: true };
}

export function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

export interface Accounts {
  /** /etc/passwd and /etc/group as text. */
  passwd: string;
  group: string;
}

/**
 * Who dnsmasq's TFTP server reads files as, by dnsmasq's own rules
 * (dnsmasq.c): the `user=` user (else the default); the `group=` group, else
 * "dip" when that group exists, else the user's primary group; and no
 * supplementary groups, which dnsmasq drops (setgroups(0)) before it serves.
 * Group membership in /etc/group therefore does not help it read a file.
 * `user` is undefined when the user is not in /etc/passwd here.
 */
export function tftpIdentity(userName: string, groupName: string | undefined, accounts: Accounts): { user?: UnixUser; groupName?: string; note: string } {
  const pw = parsePasswd(accounts.passwd).get(userName);
  if (!pw) return { note: `TFTP user ${userName} is not in /etc/passwd here: judged by the "other" permission bits` };
  const groups = parseGroup(accounts.group);
  const g = groupName !== undefined ? groups.find((x) => x.name === groupName) : (groups.find((x) => x.name === 'dip') ?? groups.find((x) => x.gid === pw.gid));
  const gid = g?.gid ?? (groupName === undefined ? pw.gid : -1);
  const shown = g?.name ?? groupName ?? String(pw.gid);
  const why = groupName !== undefined ? 'group=' : g?.name === 'dip' ? 'dnsmasq\'s default group "dip"' : 'the user\'s primary group';
  return {
    user: { name: userName, uid: pw.uid, gid, groups: gid >= 0 ? [gid] : [] },
    groupName: shown,
    note: `TFTP user ${userName}: uid ${pw.uid}, group ${shown} (gid ${gid >= 0 ? gid : 'unknown'}, ${why}); dnsmasq drops supplementary groups, so no other group counts`,
  };
}
