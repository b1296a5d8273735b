/**
 * What `pinet server setup` records in the state directory (server.json):
 * how the export is served and squashed (enroll and doctor read it: on a
 * squashing export the Pis' directories and files must belong to the
 * anonymous identity), and where the originals of every file it replaced
 * were kept, for `pinet server rollback`.
 */
import type { Anon, Squash } from '../../server/nfs-export.js';
import type { Backend } from './plan.js';
import type { CephExport } from './ceph.js';

export interface ServerRecord {
  version: 1;
  backend: Backend;
  on?: string;
  nfs: string;
  path: string;
  clients: string[];
  squash: Squash;
  anon: Anon;
  exportDir: string;
  dnsmasqConf: string;
  updatedAt: string;
  backups: {
    /** On the NFS server: the backup directory and the files backed up there; files pinet created (rollback deletes them). */
    nfs?: { host: string; dir: string; files: string[]; created: string[] };
    /** Here: /etc/fstab before pinet's line. */
    fstab?: string;
    /** Here: pinet's dnsmasq config file before this setup, or it did not exist. */
    dnsmasq?: string;
    dnsmasqCreated?: boolean;
    /** --export ceph: the export pinet created (rollback removes it) or the one it changed (rollback applies it again). */
    ceph?: { cluster: string; pseudo: string; created?: boolean; before?: CephExport };
  };
}

export function isServerRecord(x: unknown): x is ServerRecord {
  const r = x as ServerRecord | null;
  return r !== null && typeof r === 'object' && r.version === 1 && typeof r.nfs === 'string' && typeof r.exportDir === 'string';
}

/**
 * Who must own the Pis' boot files in the export, when pinet server setup
 * recorded a squashing export mounted at `exportDir`: the Pis write as the
 * anonymous identity there, so their next kernel update can only replace
 * files that identity owns.
 */
export function exportOwner(record: unknown, exportDir: string): { uid: number; gid: number; why: string } | undefined {
  if (!isServerRecord(record) || record.exportDir !== exportDir || record.squash === 'none') return undefined;
  return ownerFor(record.squash, record.anon, 'recorded by pinet server setup');
}

/** The owner a squash mode needs, `source` saying who said so ("--squash"). */
export function ownerFor(squash: Squash, anon: Anon, source: string): { uid: number; gid: number; why: string } | undefined {
  if (squash === 'none') return undefined;
  return {
    uid: anon.uid,
    gid: anon.gid,
    why: `the export squashes the Pis (${squash === 'root' ? 'root' : 'all access'} to ${anon.uid}:${anon.gid}, ${source}): their kernel updates can only replace files that identity owns`,
  };
}
