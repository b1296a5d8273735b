/**
 * Who dnsmasq's TFTP server reads files as. dnsmasq opens each file as the
 * user it dropped to: `user=` in its config, else `-u` on its command line
 * (Debian's service passes `-u dnsmasq`), else its compiled-in default
 * (Debian's build: `nobody`, group `dip`), so a dnsmasq started by hand
 * reads as nobody while the service reads as dnsmasq. The running process
 * that reads the configuration being checked says it for sure (its
 * effective uid and gid in /proc); without one, the service's user is
 * assumed (dnsmasq when that user exists, else nobody).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseGroup, parsePasswd, type Accounts } from './perms.js';

export interface RunningDnsmasq {
  pid: number;
  uid: number;
  gid: number;
}

/** The configuration files and directories a dnsmasq command line reads (`-C`/`--conf-file`, `-7`/`--conf-dir`; /etc/dnsmasq.conf without -C). */
export function configOf(argv: readonly string[]): string[] {
  const files: string[] = [];
  const dirs: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    const take = (short: string, long: string, into: string[]): boolean => {
      if (a === short || a === long) {
        if (argv[i + 1] !== undefined) into.push(argv[++i]!);
        return true;
      }
      if (a.startsWith(`${long}=`)) return into.push(a.slice(long.length + 1)) > 0;
      if (a.startsWith(short) && a.length > short.length && !a.startsWith('--')) return into.push(a.slice(short.length)) > 0;
      return false;
    };
    if (!take('-C', '--conf-file', files)) take('-7', '--conf-dir', dirs);
  }
  // --conf-dir=<dir>,<ext>,<ext>: the directory is the first part
  return [...(files.length ? files : ['/etc/dnsmasq.conf']), ...dirs.map((d) => d.split(',')[0]!)];
}

/** The effective uid and gid of a /proc/<pid>/status text. */
export function idsOf(status: string): { uid: number; gid: number } | undefined {
  const uid = /^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1];
  const gid = /^Gid:\s+\d+\s+(\d+)/m.exec(status)?.[1];
  return uid !== undefined && gid !== undefined ? { uid: Number(uid), gid: Number(gid) } : undefined;
}

/** A running dnsmasq that reads one of `confPaths`, if any (the first by PID). */
export async function runningDnsmasq(confPaths: readonly string[], proc = '/proc'): Promise<RunningDnsmasq | undefined> {
  const wanted = new Set(confPaths.map((p) => resolve(p)));
  const pids = (await readdir(proc).catch(() => [] as string[])).filter((d) => /^\d+$/.test(d)).map(Number).sort((a, b) => a - b);
  for (const pid of pids) {
    const dir = join(proc, String(pid));
    const comm = await readFile(join(dir, 'comm'), 'utf8').catch(() => '');
    if (comm.trim() !== 'dnsmasq') continue;
    const argv = (await readFile(join(dir, 'cmdline'), 'utf8').catch(() => '')).split('\0').filter((x, i, all) => x !== '' || i < all.length - 1);
    if (!configOf(argv).some((c) => wanted.has(resolve(c)))) continue;
    const ids = idsOf(await readFile(join(dir, 'status'), 'utf8').catch(() => ''));
    if (ids) return { pid, ...ids };
  }
  return undefined;
}

/** The user (and group) dnsmasq reads TFTP files as when its config has no user=/group=. */
export function defaultTftpIdentity(accounts: Accounts, running: RunningDnsmasq | undefined): { user: string; group?: string; why: string } {
  if (running) {
    const user = [...parsePasswd(accounts.passwd).entries()].find(([, e]) => e.uid === running.uid)?.[0] ?? String(running.uid);
    const group = parseGroup(accounts.group).find((g) => g.gid === running.gid)?.name ?? String(running.gid);
    return { user, group, why: `the running dnsmasq (PID ${running.pid})` };
  }
  return /^dnsmasq:/m.test(accounts.passwd)
    ? { user: 'dnsmasq', why: "Debian's dnsmasq service (-u dnsmasq); no dnsmasq runs with this configuration" }
    : { user: 'nobody', why: "dnsmasq's default; no dnsmasq runs with this configuration" };
}

/** The group dnsmasq reads as: group= of its config, else the running dnsmasq's while the config names no other user. */
export function tftpGroupOf(facts: { user: string; group?: string }, who: { user: string; group?: string }): string | undefined {
  return facts.group ?? (facts.user === who.user ? who.group : undefined);
}
