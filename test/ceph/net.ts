/**
 * The test Ceph cluster's network: a LAN namespace with a bridge, and one
 * namespace per host (cluster, admin host, NFS clients) whose eth0 is a veth
 * plugged into that bridge. Nothing is added to the host's own namespace.
 */
import { execFileSync } from 'node:child_process';
import type { HostNet, Layout } from './layout.js';
import { namespaces } from './layout.js';
import { must, run } from './proc.js';

function batch(args: string[], lines: string[]): Promise<string> {
  return must('ip', [...args, '-batch', '-'], { input: lines.join('\n') + '\n' });
}

/** Create every namespace of the layout; `owner` goes into the bridge's alias (for stale cleanup). */
export async function createNetwork(l: Layout, owner: string): Promise<void> {
  if (!/^[\w:=.-]+$/.test(owner)) throw new Error(`bad owner tag ${owner}`);
  const hosts: HostNet[] = [l.ceph, l.admin, ...Object.values(l.clients)];
  await batch([], [`netns add ${l.lan.netns}`, ...hosts.map((h) => `netns add ${h.netns}`)]);
  await batch(['-n', l.lan.netns], [
    'link set lo up',
    `link add ${l.lan.bridge} address 02:63:65:70:${(200 + l.slot).toString(16)}:01 type bridge`,
    `link set ${l.lan.bridge} alias ${owner}`,
    `addr add ${l.lan.ip}/${l.prefixLength} dev ${l.lan.bridge}`,
    `link set ${l.lan.bridge} up`,
  ]);
  await batch([], hosts.map((h) => `link add ${h.port} netns ${l.lan.netns} type veth peer name eth0 netns ${h.netns}`));
  await batch(['-n', l.lan.netns], hosts.flatMap((h) => [`link set ${h.port} master ${l.lan.bridge}`, `link set ${h.port} up`]));
  await Promise.all(
    hosts.map((h) =>
      batch(['-n', h.netns], ['link set lo up', `addr add ${h.ip}/${l.prefixLength} dev eth0`, 'link set eth0 up', `route add default via ${l.lan.ip}`]),
    ),
  );
}

/** Delete the layout's namespaces (missing ones are fine). */
export async function deleteNetwork(l: Layout): Promise<void> {
  await run('ip', ['-force', '-batch', '-'], { input: namespaces(l).map((n) => `netns del ${n}`).join('\n') + '\n' });
}

export function deleteNetworkSync(l: Layout): void {
  try {
    execFileSync('ip', ['-force', '-batch', '-'], { input: namespaces(l).map((n) => `netns del ${n}`).join('\n') + '\n', stdio: ['pipe', 'ignore', 'ignore'] });
  } catch {
    // Best effort at exit.
  }
}

/** Names of the namespaces that exist now. */
export async function listNamespaces(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list']);
  return r.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((n) => n !== '');
}

/** The owner tag in a LAN bridge's alias, or null when there is no such LAN. */
export async function lanOwner(lanNetns: string): Promise<string | null> {
  const r = await run('ip', ['-n', lanNetns, '-o', 'link', 'show', 'br0']);
  if (r.code !== 0) return null;
  const m = /alias (\S+)/.exec(r.stdout);
  return m ? m[1]! : null;
}
