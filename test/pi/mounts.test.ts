import { describe, expect, it } from 'vitest';
import { findMountAt, isNfs, normaliseMountPath, parseMountinfo, parseMounts, parseProcMounts } from '../../src/pi/mounts.js';
import { fixture } from './fixtures.js';

describe('/proc/mounts', () => {
  const { entries, badLines } = parseProcMounts(fixture('ubuntu-2404-pi4b', 'mounts'));

  it('finds the boot partition and decodes octal escapes', () => {
    expect(badLines).toEqual([]);
    expect(findMountAt(entries, '/boot/firmware')).toMatchObject({ source: '/dev/mmcblk0p1', fstype: 'vfat' });
    expect(findMountAt(entries, '/media/usb stick')?.source).toBe('/dev/sda1');
  });

  it('ignores trailing slashes and reports nothing mounted as undefined', () => {
    expect(findMountAt(entries, '/boot/firmware/')?.fstype).toBe('vfat');
    expect(findMountAt(entries, '/boot')).toBeUndefined();
  });

  it('takes the topmost of stacked mounts', () => {
    const m = parseProcMounts('/dev/mmcblk0p1 /boot/firmware vfat rw 0 0\nnfs-host:/picluster-boot/bf9fed6f /boot/firmware nfs rw,vers=3 0 0\n');
    const top = findMountAt(m.entries, '/boot/firmware')!;
    expect(top.source).toBe('nfs-host:/picluster-boot/bf9fed6f');
    expect(isNfs(top)).toBe(true);
  });

  it('lists malformed lines instead of failing', () => {
    expect(parseProcMounts('only two\n\n/dev/x /y ext4 rw 0 0\n').badLines).toEqual([1]);
  });
});

describe('/proc/self/mountinfo', () => {
  it('reads source, type and options past the optional fields', () => {
    const { entries } = parseMountinfo(fixture('ubuntu-2404-pi4b', 'mountinfo'));
    const boot = findMountAt(entries, '/boot/firmware')!;
    expect(boot).toMatchObject({ source: '/dev/mmcblk0p1', fstype: 'vfat', root: '/' });
    expect(boot.options).toContain('relatime');
    expect(boot.superOptions).toContain('fmask=0022');
  });

  it('handles NFS mounts with several optional fields and escapes', () => {
    const line = '99 24 0:52 / /boot/my\\040fw rw,relatime shared:40 master:2 - nfs 10.0.0.5:/export/bf9fed6f rw,vers=3,proto=tcp';
    const { entries } = parseMountinfo(line);
    expect(entries[0]).toMatchObject({ target: '/boot/my fw', fstype: 'nfs', source: '10.0.0.5:/export/bf9fed6f' });
  });

  it('parseMounts picks the format itself', () => {
    expect(parseMounts(fixture('ubuntu-2404-pi4b', 'mountinfo')).entries[0]!.root).toBe('/');
    expect(parseMounts(fixture('ubuntu-2404-pi4b', 'mounts')).entries[0]!.root).toBeUndefined();
  });

  it('reports lines without the separator', () => {
    expect(parseMountinfo('24 1 179:2 / / rw,relatime shared:1 ext4 /dev/mmcblk0p2 rw').badLines).toEqual([1]);
  });
});

describe('normaliseMountPath', () => {
  it.each([
    ['/boot/firmware/', '/boot/firmware'],
    ['//boot//firmware', '/boot/firmware'],
    ['/', '/'],
  ])('%s → %s', (a, b) => expect(normaliseMountPath(a)).toBe(b));
});
