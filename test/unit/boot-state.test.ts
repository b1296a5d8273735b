import { describe, expect, it } from 'vitest';
import { fstabChangedSinceBoot, parseBootState, parseMedium } from '../../src/jobs/doctor/boot-state.js';

describe('parseBootState', () => {
  it('reads the boot time, the fstab time, the boot mounts and the attached disks', () => {
    const s = parseBootState(
      [
        'booted 1764000000.25',
        'fstab-mtime 1764000100.5',
        'dir 0:45:1234 /boot/firmware', // not a device:inode pair: ignored
        'dir 2049:12 /boot/firmware',
        'dir  /boot',
        'block mmcblk0 62333952 SD',
        'block mmcblk0boot0 8192 ', // an eMMC boot area: not a disk to boot from
        'block sda 0 ', // a card reader without a card
        'block sdb 125045424 0',
        'block nvme0n1 500118192 ',
        'blocks-read',
        '',
      ].join('\n'),
    );
    expect(s).toEqual({
      bootedAt: 1764000000.25,
      fstabChangedAt: 1764000100.5,
      dirs: { '/boot/firmware': '2049:12' },
      media: [
        { name: 'mmcblk0', kind: 'sd', bytes: 62333952 * 512 },
        { name: 'sdb', kind: 'usb', bytes: 125045424 * 512 },
        { name: 'nvme0n1', kind: 'nvme', bytes: 500118192 * 512 },
      ],
    });
    expect(fstabChangedSinceBoot(s)).toBe(true);
  });

  it('no disks is an empty list; a script that never reached /sys/block leaves the media unknown', () => {
    expect(parseBootState('booted 5\nblocks-read\n').media).toEqual([]);
    const cut = parseBootState('booted 5\nfstab-mtime 4\n');
    expect(cut.media).toBeUndefined();
    expect(fstabChangedSinceBoot(cut)).toBe(false);
    expect(parseBootState('garbage\n\r\n%%%\nblock\nblock  \n')).toEqual({ dirs: {} });
  });
});

describe('parseMedium', () => {
  it('tells an SD card from an eMMC by device/type', () => {
    expect(parseMedium('mmcblk0', '61071360', 'MMC')).toEqual({ name: 'mmcblk0', kind: 'emmc', bytes: 61071360 * 512 });
    expect(parseMedium('mmcblk1', '100', 'SD')).toMatchObject({ kind: 'sd' });
    expect(parseMedium('mmcblk0', undefined, undefined)).toEqual({ name: 'mmcblk0', kind: 'sd', bytes: 0 });
  });
  it('ignores what no BOOT_ORDER mode boots from', () => {
    for (const name of ['loop0', 'ram0', 'zram0', 'mmcblk0boot1', 'mmcblk0rpmb', 'nvme0', 'md0', 'dm-0']) expect(parseMedium(name, '100', undefined)).toBeUndefined();
    expect(parseMedium('sda', '0', undefined)).toBeUndefined();
  });
});
