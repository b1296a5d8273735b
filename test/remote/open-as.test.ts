/**
 * doctor's real read check (src/jobs/doctor/served.ts): which NFS mount a
 * path is on (pure), and opening files for real as another user (root only:
 * it runs scripts/remote/open-as.sh with that uid and gid and no other group).
 */
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nfsMountOf, unreadableAs } from '../../src/jobs/doctor/served.js';
import { describeAsRoot } from '../helpers/env.js';

describe('nfsMountOf', () => {
  const mounts = [
    '/dev/vda1 / ext4 rw 0 0',
    '10.86.5.3:/srv/picluster-boot /mnt/netboot nfs4 rw,vers=4.2 0 0',
    'tmpfs /mnt/netboot/scratch tmpfs rw 0 0',
    'nas:/with\\040space /mnt/with\\040space nfs rw 0 0',
  ].join('\n');

  it('finds the deepest mount above a path, and says whether it is NFS', () => {
    expect(nfsMountOf(mounts, '/mnt/netboot/bf9fed6f')).toEqual({ mountpoint: '/mnt/netboot', source: '10.86.5.3:/srv/picluster-boot' });
    expect(nfsMountOf(mounts, '/mnt/netboot')).toEqual({ mountpoint: '/mnt/netboot', source: '10.86.5.3:/srv/picluster-boot' });
    expect(nfsMountOf(mounts, '/mnt/netboot/scratch/x')).toBeUndefined();
    expect(nfsMountOf(mounts, '/mnt/netboot2')).toBeUndefined();
    expect(nfsMountOf(mounts, '/srv')).toBeUndefined();
    expect(nfsMountOf(mounts, '/mnt/with space/pi')).toEqual({ mountpoint: '/mnt/with space', source: 'nas:/with space' });
  });
});

describeAsRoot('opening files as another user', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinet-open-as-'));
    await chmod(dir, 0o755);
    await writeFile(join(dir, 'public'), 'x');
    await chmod(join(dir, 'public'), 0o644);
    await writeFile(join(dir, 'kernel 0600'), 'x');
    await chmod(join(dir, 'kernel 0600'), 0o600);
    await writeFile(join(dir, "nobody's"), 'x');
    await chmod(join(dir, "nobody's"), 0o600);
    await chown(join(dir, "nobody's"), 65534, 65534);
    await writeFile(join(dir, 'group-only'), 'x');
    await chown(join(dir, 'group-only'), 0, 0);
    await chmod(join(dir, 'group-only'), 0o640);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reports what nobody cannot open, and nothing it can, whatever the names hold', async () => {
    const files = ['public', 'kernel 0600', "nobody's", 'missing'].map((f) => join(dir, f));
    const refused = await unreadableAs({ name: 'nobody', uid: 65534, gid: 65534, groups: [65534] }, files);
    expect([...refused].sort()).toEqual([join(dir, 'kernel 0600'), join(dir, 'missing')]);
  });

  it('drops supplementary groups, as dnsmasq does: group 0 of root does not count for a user whose gid is not 0', async () => {
    const refused = await unreadableAs({ name: 'nobody', uid: 65534, gid: 65534, groups: [65534, 0] }, [join(dir, 'group-only')]);
    expect([...refused]).toEqual([join(dir, 'group-only')]);
    const asGroup0 = await unreadableAs({ name: 'nobody-in-root', uid: 65534, gid: 0, groups: [0] }, [join(dir, 'group-only')]);
    expect([...asGroup0]).toEqual([]);
  });
});
