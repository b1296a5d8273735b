/**
 * The real single-node Ceph of the tests (test/ceph): the cluster is up and
 * healthy, CephFS works, the admin host answers `ceph` over SSH, and an
 * export made with `ceph nfs export create` is served by NFS-Ganesha (FSAL
 * CEPH) to exactly the clients it names, with the squash it says, checked
 * with a real NFS client (libnfs) and against CephFS itself (libcephfs).
 * The cluster is shared by the run (shared.ts); every test uses names of
 * its own and removes what it made.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../helpers/env.js';
import { until } from './proc.js';
import type { CephCluster } from './shared.js';
import { START_TIMEOUT_MS, cephCluster } from './shared.js';

const ANONYMOUS = 4294967294; // NFS-Ganesha's default Anonymous_Uid/Gid (-2)

describeAsRoot('test Ceph cluster: real Ceph 16.2 with CephFS and NFS-Ganesha (FSAL CEPH)', () => {
  let c: CephCluster;
  const cleanups: Array<() => Promise<unknown>> = [];
  const tag = randomBytes(3).toString('hex');

  beforeAll(async () => {
    c = await cephCluster();
  }, START_TIMEOUT_MS + 10_000);

  afterAll(async () => {
    for (const fn of cleanups.reverse()) await fn();
  }, 120_000);

  async function ok(args: string[], input?: string): Promise<string> {
    const r = await c.ceph(args, input === undefined ? {} : { input });
    expect(r.code, `ceph ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  }

  /** A subvolume of this test (removed at the end); returns its CephFS path. */
  async function subvolume(name: string, flags: string[] = []): Promise<string> {
    await ok(['fs', 'subvolume', 'create', c.info.fsName, name, ...flags]);
    cleanups.push(() => c.ceph(['fs', 'subvolume', 'rm', c.info.fsName, name, '--force']));
    return (await ok(['fs', 'subvolume', 'getpath', c.info.fsName, name])).trim();
  }

  /** An export of this test (removed at the end). */
  async function exportCephfs(pseudo: string, path: string, flags: string[]): Promise<void> {
    await ok(['nfs', 'export', 'create', 'cephfs', '--cluster-id', c.info.nfsClusterId, '--pseudo-path', pseudo, '--fsname', c.info.fsName, '--path', path, ...flags]);
    cleanups.push(() => c.ceph(['nfs', 'export', 'rm', c.info.nfsClusterId, pseudo]));
  }

  it('is healthy: one monitor in quorum, an active manager, one OSD up and in, an active MDS for homenet-fs', async () => {
    await until('HEALTH_OK', async () => (await c.cephJson<{ status: string }>(['health'])).status === 'HEALTH_OK', 60_000, 500);
    const s = await c.cephJson<{
      fsid: string;
      quorum_names: string[];
      osdmap: { num_osds: number; num_up_osds: number; num_in_osds: number };
      mgrmap: { available: boolean };
      fsmap: { up: number; by_rank: Array<{ status: string }> };
    }>(['status']);
    expect(s.fsid).toBe(c.info.fsid);
    expect(s.quorum_names).toEqual(['a']);
    expect(s.osdmap).toMatchObject({ num_osds: 1, num_up_osds: 1, num_in_osds: 1 });
    expect(s.mgrmap.available).toBe(true);
    expect(s.fsmap.by_rank.map((r) => r.status)).toEqual(['up:active']);
    const fs = await c.cephJson<Array<{ name: string }>>(['fs', 'ls']);
    expect(fs.map((f) => f.name)).toEqual(['homenet-fs']);
    const versions = await c.cephJson<Record<string, Record<string, number>>>(['versions']);
    expect(Object.keys(versions.overall ?? {})).toEqual([expect.stringMatching(/^ceph version 16\.2\.\d+ .* pacific \(stable\)$/)]);
  });

  it('CephFS: a file written into a new subvolume is read back, and the subvolume is root-owned 0755', async () => {
    const name = `t-fs-${tag}`;
    const path = await subvolume(name);
    expect(path).toMatch(new RegExp(`^/volumes/_nogroup/${name}/[0-9a-f-]{36}$`));
    const info = await c.cephJson<{ uid: number; gid: number; mode: number }>(['fs', 'subvolume', 'info', c.info.fsName, name]);
    expect({ uid: info.uid, gid: info.gid, mode: info.mode.toString(8) }).toEqual({ uid: 0, gid: 0, mode: '40755' });
    await c.cephfsWrite(`${path}/hello.txt`, 'hello from the test\n', { uid: 0, gid: 0 }, 0o644);
    expect(await c.cephfsRead(`${path}/hello.txt`)).toBe('hello from the test\n');
    expect(await c.cephfsStat(`${path}/hello.txt`)).toMatchObject({ uid: 0, gid: 0, size: 20 });
  });

  it('the admin host answers `ceph` over SSH with its own /etc/ceph (host key checked)', async () => {
    const r = await c.adminSsh('ceph status --format json');
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { fsid: string }).fsid).toBe(c.info.fsid);
    const conf = await c.adminSsh('cat /etc/ceph/ceph.conf; ls /etc/ceph');
    expect(conf.stdout).toContain(`mon host = [v2:${c.info.layout.ceph.ip}:3300,v1:${c.info.layout.ceph.ip}:6789]`);
    expect(conf.stdout).toContain('ceph.client.admin.keyring');
    // Its root is an overlay: what it writes does not reach this machine.
    const probe = `/var/tmp/pinet-ceph-admin-probe-${tag}`;
    expect((await c.adminSsh(`touch ${probe} && test -f ${probe}`)).code).toBe(0);
    expect(existsSync(probe)).toBe(false);
  });

  it('an export made with `ceph nfs export create --client_addr ... --squash all` is served to the listed clients only, and every write becomes the anonymous uid', async () => {
    const name = `t-sq-${tag}`;
    const pseudo = `/t-squash-${tag}`;
    // A new subvolume is root-owned 0755: a squashed client could not write to it (see the next test).
    const path = await subvolume(name, ['--mode', '777']);
    await exportCephfs(pseudo, path, ['--client_addr', c.info.layout.piSubnet, '--client_addr', c.clientIp('boot'), '--squash', 'all']);
    const info = await c.cephJson<{ access_type: string; squash: string; protocols: number[]; clients: unknown[] }>(['nfs', 'export', 'info', c.info.nfsClusterId, pseudo]);
    expect(info).toMatchObject({
      access_type: 'none',
      squash: 'none',
      protocols: [4],
      clients: [{ addresses: [c.info.layout.piSubnet, c.clientIp('boot')], access_type: 'rw', squash: 'all' }],
    });

    // mgr/nfs notifies Ganesha, which reloads its exports: wait for the export to appear.
    await until('Ganesha to serve the new export', async () => (await c.nfs('pi', 'nfs-ls', [c.nfsUrl(pseudo, { version: 4 })])).code === 0, 30_000, 200);

    // Root on a Pi writes a kernel: CephFS records Ganesha's anonymous identity, not root.
    const scratch = await mkdtemp('/tmp/pinet-ceph-test-');
    cleanups.push(() => rm(scratch, { recursive: true, force: true }));
    await writeFile(`${scratch}/vmlinuz`, 'kernel bytes\n');
    const w = await c.nfs('pi', 'nfs-cp', [`${scratch}/vmlinuz`, c.nfsUrl(`${pseudo}/vmlinuz`, { version: 4 })]);
    expect(w.code, w.stderr).toBe(0);
    expect(await c.cephfsStat(`${path}/vmlinuz`)).toMatchObject({ uid: ANONYMOUS, gid: ANONYMOUS, size: 13 });

    // The boot server, as an unprivileged TFTP user would, reads it back through the same squash.
    const r = await c.nfs('boot', 'nfs-cat', [c.nfsUrl(`${pseudo}/vmlinuz`, { version: 4, uid: 65534, gid: 65534 })]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('kernel bytes\n');

    // A 0600 file that belongs to root (a kernel copied by root without the squash) is unreadable through it.
    await c.cephfsWrite(`${path}/root-0600`, 'private\n', { uid: 0, gid: 0 }, 0o600);
    const denied = await c.nfs('boot', 'nfs-cat', [c.nfsUrl(`${pseudo}/root-0600`, { version: 4, uid: 65534, gid: 65534 })]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('NFS4ERR_ACCESS');

    // A client in neither list does not even see the export (the export itself has access_type none).
    const far = await c.nfs('far', 'nfs-ls', [c.nfsUrl(pseudo, { version: 4 })]);
    expect(far.code).not.toBe(0);
    expect(far.stderr).toContain('NFS4ERR_NOENT');
    expect(await c.cephfsStat(`${path}/far.txt`)).toBeNull();
  });

  it('squash all into a new (root-owned 0755) subvolume: a Pi cannot create anything', async () => {
    const name = `t-ro-${tag}`;
    const pseudo = `/t-rootowned-${tag}`;
    const path = await subvolume(name);
    await exportCephfs(pseudo, path, ['--client_addr', c.info.layout.piSubnet, '--squash', 'all']);
    await until('Ganesha to serve the new export', async () => (await c.nfs('pi', 'nfs-ls', [c.nfsUrl(pseudo, { version: 4 })])).code === 0, 30_000, 200);
    const w = await c.nfs('pi', 'nfs-cp', ['/etc/hostname', c.nfsUrl(`${pseudo}/serial-dir-probe`, { version: 4 })]);
    expect(w.code).not.toBe(0);
    expect(w.stderr).toContain('NFS4ERR_ACCESS');
    expect(await c.cephfsStat(`${path}/serial-dir-probe`)).toBeNull();
  });

  it('squash none: root on a client writes root-owned files', async () => {
    const name = `t-ns-${tag}`;
    const pseudo = `/t-nosquash-${tag}`;
    const path = await subvolume(name);
    await exportCephfs(pseudo, path, ['--client_addr', c.info.layout.piSubnet, '--squash', 'none']);
    await until('Ganesha to serve the new export', async () => (await c.nfs('pi', 'nfs-ls', [c.nfsUrl(pseudo, { version: 4 })])).code === 0, 30_000, 200);
    const w = await c.nfs('pi', 'nfs-cp', ['/etc/hostname', c.nfsUrl(`${pseudo}/as-root`, { version: 4 })]);
    expect(w.code, w.stderr).toBe(0);
    expect(await c.cephfsStat(`${path}/as-root`)).toMatchObject({ uid: 0, gid: 0 });
  });

  it('NFSv3: refused while the export has protocols [4] (mgr/nfs default); after `export apply` with [3, 4] served at the CephFS path, not at the pseudo path', async () => {
    const name = `t-v3-${tag}`;
    const pseudo = `/t-v3-${tag}`;
    const path = await subvolume(name, ['--mode', '777']);
    await exportCephfs(pseudo, path, ['--client_addr', c.info.layout.piSubnet, '--squash', 'all']);
    await until('Ganesha to serve the new export', async () => (await c.nfs('pi', 'nfs-ls', [c.nfsUrl(pseudo, { version: 4 })])).code === 0, 30_000, 200);
    const before = await c.nfs('pi', 'nfs-ls', [c.nfsUrl(path)]);
    expect(before.code).not.toBe(0);
    expect(before.stderr).toContain('MNT3ERR_ACCES');

    const info = JSON.parse(await ok(['nfs', 'export', 'info', c.info.nfsClusterId, pseudo])) as Record<string, unknown>;
    const out = await ok(['nfs', 'export', 'apply', c.info.nfsClusterId, '-i', '-'], JSON.stringify({ ...info, protocols: [3, 4] }));
    expect(out.trim()).toBe(`Updated export ${pseudo}`);
    await until('Ganesha to serve the export over NFSv3', async () => (await c.nfs('pi', 'nfs-ls', [c.nfsUrl(path)])).code === 0, 30_000, 200);
    const viaPseudo = await c.nfs('pi', 'nfs-ls', [c.nfsUrl(pseudo)]);
    expect(viaPseudo.code).not.toBe(0);
    expect(viaPseudo.stderr).toContain('MNT3ERR_ACCES');
  });
});
