/**
 * What `pinet server setup` reads before it plans, as plain data: the NFS
 * server (scripts/remote/nfs-detect.sh, run there over SSH or here) and the
 * boot server itself (its fstab and mounts, dnsmasq, the TFTP user, its
 * resolver and addresses). The parsing is pure; the reading is in tasks.ts.
 */
import type { ScriptOutput } from '../../remote/script.js';
import { sectionText } from '../../remote/script.js';

export interface NfsServerFacts {
  /** "this machine" or "nfs-host (10.0.0.2)". */
  label: string;
  local: boolean;
  user: string;
  privilege: 'root' | 'sudo' | 'sudo-needs-password' | 'no-sudo';
  systemd: boolean;
  /** Interface and address/prefix, e.g. ["eth0", "10.86.5.3/24"]. */
  addresses: [string, string][];
  path: { kind: 'missing' | 'directory' | 'other'; mode?: number; uid?: number; gid?: number };
  /** What is inside the exported directory, by owner: "uid:gid" → how many files and directories. */
  owners: Record<string, number>;
  parentExists: boolean;
  kernel: { exportfs: boolean; active?: string; file?: string; etcExports: string; otherFiles: string; exportfsV: string };
  ganesha: { binary: boolean; running?: string; conf?: string; block?: string };
}

export function parseNfsFacts(out: ScriptOutput, label: string, local: boolean): NfsServerFacts {
  const t = (name: string) => sectionText(out, name) ?? '';
  const id = t('id').split('\n');
  const priv = id[2]?.trim();
  const path = t('path').trim();
  const pm = /^(.*) ([0-7]+) (\d+) (\d+)$/.exec(path);
  const facts: NfsServerFacts = {
    label,
    local,
    user: id[1]?.trim() ?? '?',
    privilege: priv === 'root' ? 'root' : priv === 'ok' ? 'sudo' : priv === 'password' ? 'sudo-needs-password' : 'no-sudo',
    systemd: t('systemd').trim() === 'yes',
    addresses: t('addresses')
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((p): p is [string, string] => p.length === 2 && p[0] !== 'lo'),
    path:
      path === 'missing'
        ? { kind: 'missing' }
        : pm
          ? { kind: pm[1] === 'directory' ? 'directory' : 'other', mode: parseInt(pm[2]!, 8), uid: Number(pm[3]), gid: Number(pm[4]) }
          : { kind: 'other' },
    owners: Object.fromEntries(
      t('path-owners')
        .split('\n')
        .map((l) => /^\s*(\d+) (\d+:\d+)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[2]!, Number(m[1])]),
    ),
    parentExists: t('path-parent').trim() === 'dir',
    kernel: {
      exportfs: t('exportfs').trim() !== '',
      etcExports: t('etc-exports'),
      otherFiles: t('exports-d'),
      exportfsV: t('exportfs-v'),
    },
    ganesha: { binary: t('ganesha').trim() !== '' },
  };
  const active = t('nfs-service').trim();
  if (active) facts.kernel.active = active.split('\n')[0]!;
  if (out.sections.has('exports-file') && t('exports-file') !== '') facts.kernel.file = t('exports-file');
  const running = t('ganesha-running').trim();
  if (running) facts.ganesha.running = running;
  if (t('ganesha-conf') !== '') facts.ganesha.conf = t('ganesha-conf');
  if (t('ganesha-block') !== '') facts.ganesha.block = t('ganesha-block');
  return facts;
}

export interface BootServerFacts {
  fstab: string;
  /** /proc/self/mounts. */
  mounts: string;
  /** The dnsmasq binary, when installed. */
  dnsmasq?: string;
  /** systemd runs here and knows dnsmasq.service. */
  dnsmasqUnit: boolean;
  /** pinet's dnsmasq config file as it is now (null: none). */
  dnsmasqConf: string | null;
  /** The user and group dnsmasq's TFTP server reads files as. */
  tftpUser: { name: string; uid: number; gid: number; group: string };
  resolvConf: string;
  /** This machine's IPv4 addresses with their prefix: ["10.86.5.2", 24]. */
  addresses: [string, number][];
}
