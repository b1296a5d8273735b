/**
 * Whether the TFTP server's user can really open the boot files, when the
 * export is an NFS mount: there the NFS server decides (a squash may map
 * dnsmasq's user to the files' owner, or refuse what the mode bits allow),
 * and dnsmasq only needs open() to succeed as its user. Doctor asks by
 * opening each file as that user (scripts/remote/open-as.sh, run with its
 * uid and gid and no other group), which needs root; the mode-bit verdict
 * (src/server/perms.ts) is what remains otherwise.
 */
import { readFile } from 'node:fs/promises';
import { LocalHost } from '../../remote/local-host.js';
import { startScript } from '../../remote/script.js';
import type { UnixUser } from '../../server/perms.js';

/** The NFS mount `path` is on (the deepest mount point above it), from /proc/self/mounts. */
export function nfsMountOf(mounts: string, path: string): { mountpoint: string; source: string } | undefined {
  let best: { mountpoint: string; source: string; fstype: string } | undefined;
  for (const line of mounts.split('\n')) {
    const [source, mp, fstype] = line.split(' ').map((f) => f.replace(/\\040/g, ' '));
    if (!source || !mp || !fstype) continue;
    const inside = path === mp || path.startsWith(mp === '/' ? '/' : `${mp}/`);
    if (inside && (!best || mp.length >= best.mountpoint.length)) best = { mountpoint: mp, source, fstype };
  }
  return best && /^nfs4?$/.test(best.fstype) ? { mountpoint: best.mountpoint, source: best.source } : undefined;
}

let mountsText: Promise<string> | undefined;

/** The NFS mount of `path`, when doctor can open files there as another user (it runs as root). */
export async function servedByNfs(path: string): Promise<{ mountpoint: string; source: string } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  mountsText ??= readFile('/proc/self/mounts', 'utf8').catch(() => '');
  return nfsMountOf(await mountsText, path);
}

/** The files `user` cannot open for reading, tried for real as that user. */
export async function unreadableAs(user: UnixUser, files: readonly string[]): Promise<Set<string>> {
  if (files.length === 0) return new Set();
  const host = new LocalHost({ as: { uid: user.uid, gid: user.gid, name: user.name } });
  const started = await startScript(host, 'open-as', files, { step: `opening the boot files as ${user.name}`, timeoutMs: 60_000 });
  const chunks: Buffer[] = [];
  started.stdout.on('data', (d: Buffer) => chunks.push(d));
  const r = await started.done;
  if (r.code !== 0) throw new Error(`cannot open the boot files as ${user.name}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return new Set(Buffer.concat(chunks).toString('utf8').split('\0').filter(Boolean));
}
