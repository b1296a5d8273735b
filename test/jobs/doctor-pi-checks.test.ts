/**
 * Doctor's verdicts on one Pi (`checkPi`) from recorded Pis and plain
 * export views, without root: a fresh Pi, the enrolled Pi before and after
 * its reboot, and one fault per row (renamed directory, stale copy, hook
 * order, squashing export, fstab without _netdev, failed NFS mount, …).
 * `readExportView`, the I/O that feeds checkPi, is checked on a temporary
 * export directory.
 */
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Detected } from '../../src/host/detect.js';
import type { BootState } from '../../src/jobs/doctor/boot-state.js';
import type { Check } from '../../src/jobs/doctor/model.js';
import { checkPi, readExportView, type ExportView, type PiCheckContext } from '../../src/jobs/doctor/pi-checks.js';
import { bootloaderConfig, bootState, detected, eepromDefaults, EXPORT_DIR, fstab, hookFiles, NFS, server, type EnrolledName } from './fixtures.js';

const HOOKS = ['/etc/kernel/postinst.d/zzz-pinet-bootfiles', '/etc/initramfs/post-update.d/zzz-pinet-bootfiles'];
const EMPTY: ExportView = { listing: new Map(), withStart4: [] };

/** id → "status: finding" of every check, for whole-report assertions. */
function verdicts(checks: Check[]): Record<string, string> {
  return Object.fromEntries(checks.map((c) => [c.id, `${c.status}: ${c.finding}`]));
}
function check(checks: Check[], id: string): Check {
  const c = checks.find((x) => x.id === id);
  if (!c) throw new Error(`no ${id} in ${checks.map((x) => x.id).join(', ')}`);
  return c;
}

/** The enrolled Pi as doctor sees it: inventory entry, boot state and export view as recorded, after edits. */
function enrolled(name: EnrolledName, over: { d?: Detected; ctx?: Partial<PiCheckContext> } = {}): Check[] {
  const sv = server(name);
  const d = over.d ?? detected(name, [], { dest: sv.entry.host });
  return checkPi(d, { exportDir: EXPORT_DIR, entry: sv.entry, bootState: bootState(name), view: sv.view, ...over.ctx });
}

describe('doctor on recorded Pis', () => {
  it('a Pi never enrolled: no NETWORK in BOOT_ORDER, no directory, local boot partition, no hook', () => {
    const d = detected('ubuntu-2404-pi4');
    const dir = d.facts.serial.known ? d.facts.serial.value.tftpDir : '';
    const v = verdicts(checkPi(d, { exportDir: EXPORT_DIR, bootState: bootState('ubuntu-2404-pi4'), view: EMPTY }));
    expect(v).toEqual({
      'pi.boot-order': 'fail: 0xf41: SD → USB → RESTART, tried right to left: NETWORK is never tried',
      'pi.pending': 'ok: none pending',
      'pi.export-dir': `fail: ${EXPORT_DIR}/${dir}/start4.elf is missing: the bootloader asks for ${dir}/ (TFTP_PREFIX=0 (default): the serial number) and falls back to no prefix`,
      'pi.fstab': 'skip: the Pi is not in the inventory and no --nfs was given, so the expected NFS source is unknown',
      'pi.mounted': 'fail: /boot/firmware is the local partition (pinet-fleet, tmpfs): kernel updates do not reach the TFTP server',
      'pi.hook': "warn: the hook that keeps boot files readable is not installed: the next kernel update writes a 0600 kernel and breaks this Pi's netboot",
    });
    const withNfs = checkPi(d, { exportDir: EXPORT_DIR, nfs: NFS, view: EMPTY });
    expect(check(withNfs, 'pi.fstab')).toMatchObject({ status: 'fail', fix: expect.stringMatching(/pinet enroll pi-07|nfs-host:\/picluster-boot/) });
  });

  it('enrolled, not rebooted yet: the pending update and the pending NFS mount are warnings that say "reboot"', () => {
    const sv = server('ubuntu-2404-pi4.enrolled');
    const checks = enrolled('ubuntu-2404-pi4.enrolled');
    const v = verdicts(checks);
    expect(v['pi.boot-order']).toBe('warn: 0xf41: SD → USB → RESTART, tried right to left: no NETWORK yet; the pending update sets 0xf241: SD → USB → NETWORK → RESTART, tried right to left');
    expect(v['pi.pending']).toBe('warn: an update is pending (BOOT_ORDER 0xf241); the bootloader uses it only after a reboot');
    expect(v['pi.export-dir']).toBe(`ok: ${EXPORT_DIR}/${sv.entry.dir}/ holds this Pi's boot files (enrolled)`);
    expect(v['pi.fstab']).toMatch(/^ok: \/boot\/firmware is mounted from nfs-host:\/picluster-boot\/[0-9a-f]{8} over NFS .*; the \/boot\/firmware line has _netdev$/);
    expect(v['pi.mounted']).toBe('warn: /boot/firmware is not mounted from NFS yet (pinet-fleet, tmpfs): /etc/fstab says NFS and /etc/fstab changed after the last boot, so a reboot is pending');
    expect(v['pi.in-sync']).toBe('ok: /boot/firmware on the Pi has the same files as the export');
    expect(v['pi.hook']).toMatch(/^ok: .* installed, run after the distribution's hooks$/);
    expect(checks.filter((c) => c.status === 'warn').map((c) => c.fix)).toEqual([`reboot ${sv.entry.host} to apply it`, `reboot ${sv.entry.host}`, `reboot ${sv.entry.host}`]);
  });

  it('enrolled and rebooted: the boot partition is the export directory itself (same device:inode); the SD card before NETWORK is the one warning', () => {
    const checks = enrolled('ubuntu-2404-pi4.rebooted');
    const sv = server('ubuntu-2404-pi4.rebooted');
    expect(bootState('ubuntu-2404-pi4.rebooted').dirs['/boot/firmware']).toBe(sv.view.dirId); // recorded on both sides
    expect(check(checks, 'pi.mounted')).toMatchObject({ status: 'ok', finding: expect.stringMatching(new RegExp(`^/boot/firmware is ${EXPORT_DIR}/${sv.entry.dir} of this machine itself \\(.*: same device and inode`)) });
    expect(checks.filter((c) => c.status !== 'ok').map((c) => c.id)).toEqual(['pi.boot-order']);
    expect(check(checks, 'pi.boot-order').finding).toMatch(/SD card mmcblk0 \(31\.9 GB\) is attached: while it holds a boot partition, the Pi boots from it, never from the network$/);
  });

  it.each<[string, () => Check[], string, Check['status'], RegExp, RegExp?]>([
    [
      'no local medium attached: an SD-first order is fine',
      () => enrolled('ubuntu-2404-pi4.rebooted', { ctx: { bootState: { ...bootState('ubuntu-2404-pi4.rebooted'), media: [] } } }),
      'pi.boot-order',
      'ok',
      /; SD\/USB come first, but no SD card or USB disk is attached \(\/sys\/block\), so the Pi goes on to NETWORK$/,
    ],
    [
      'media unknown: warned about, with both fixes',
      () => enrolled('ubuntu-2404-pi4.rebooted', { ctx: { bootState: { ...bootState('ubuntu-2404-pi4.rebooted'), media: undefined } as BootState } }),
      'pi.boot-order',
      'warn',
      /a bootable SD card or USB disk wins over the network \(which media are attached could not be read\)$/,
      /remove the SD card, or pinet enroll ubuntu-2404-pi4 --boot-order net-first/,
    ],
    [
      'booted after fstab changed, but not from the export: the NFS mount failed',
      () => enrolled('ubuntu-2404-pi4.rebooted', { ctx: { view: { ...server('ubuntu-2404-pi4.rebooted').view, dirId: '1:2' } } }),
      'pi.mounted',
      'fail',
      /not NFS, although the Pi booted after \/etc\/fstab was changed to NFS: the NFS mount failed at boot$/,
      /mount -v \/boot\/firmware/,
    ],
    [
      'boot time unknown: a pending reboot cannot be told from a failed mount',
      () => enrolled('ubuntu-2404-pi4.rebooted', { ctx: { bootState: undefined } }),
      'pi.mounted',
      'warn',
      /pinet could not read when the Pi booted, so it cannot tell a pending reboot from a failed mount$/,
    ],
    [
      'fstab without _netdev',
      () => enrolled('ubuntu-2404-pi4.enrolled', { d: detected('ubuntu-2404-pi4.enrolled', [fstab((t) => t.replace(',_netdev', ''))], { dest: 'ubuntu-2404-pi4' }) }),
      'pi.fstab',
      'warn',
      /^the \/boot\/firmware line has no _netdev option /,
      /add _netdev to its options/,
    ],
    [
      'a boot file changed on the Pi since the copy',
      () => {
        const view = server('ubuntu-2404-pi4.enrolled').view;
        const listing = new Map(view.listing);
        listing.set('vmlinuz', { ...listing.get('vmlinuz')!, size: 1 });
        return enrolled('ubuntu-2404-pi4.enrolled', { ctx: { view: { ...view, listing } } });
      },
      'pi.in-sync',
      'warn',
      /^1 file in the Pi's \/boot\/firmware differ from the export: updates on the Pi do not reach TFTP$/,
      /pinet enroll ubuntu-2404-pi4 copies them again/,
    ],
    [
      "a distribution hook that sorts after pinet's",
      () => enrolled('ubuntu-2404-pi4.enrolled', { d: detected('ubuntu-2404-pi4.enrolled', [hookFiles([...HOOKS, '/etc/kernel/postinst.d/zzzz-late'], Object.fromEntries(HOOKS.map((h) => [h, '#!/bin/sh\n'])))], { dest: 'ubuntu-2404-pi4' }) }),
      'pi.hook',
      'warn',
      /^pinet's hook does not run last: zzzz-late run after it$/,
    ],
    [
      "no hook, but an export that squashes every file to the TFTP server's user",
      () => {
        const view = server('ubuntu-2404-pi4.enrolled').view;
        const listing = new Map([...view.listing].map(([k, e]) => [k, { ...e, uid: 107 }]));
        return enrolled('ubuntu-2404-pi4.enrolled', { d: detected('ubuntu-2404-pi4.enrolled', [hookFiles([])], { dest: 'ubuntu-2404-pi4' }), ctx: { tftpUid: 107, view: { ...view, listing } } });
      },
      'pi.hook',
      'ok',
      /^no pinet hook, but the export squashes every file to the TFTP server's user$/,
    ],
    [
      'no hook and files owned by root: the next kernel update breaks it',
      () => enrolled('ubuntu-2404-pi4.enrolled', { d: detected('ubuntu-2404-pi4.enrolled', [hookFiles([])], { dest: 'ubuntu-2404-pi4' }), ctx: { tftpUid: 107 } }),
      'pi.hook',
      'warn',
      /the next kernel update writes a 0600 kernel/,
    ],
    [
      'TFTP_PREFIX=2 while the files are under the serial: a rename fixes it',
      () => {
        const sv = server('ubuntu-2404-pi4.enrolled');
        return enrolled('ubuntu-2404-pi4.enrolled', { d: detected('ubuntu-2404-pi4.enrolled', [bootloaderConfig((t) => `${t}TFTP_PREFIX=2\n`)], { dest: sv.entry.host }), ctx: { view: { listing: new Map(), withStart4: [sv.entry.dir] } } });
      },
      'pi.export-dir',
      'fail',
      /^\/mnt\/netboot\/dc-a6-32(-[0-9a-f]{2}){3}\/start4\.elf is missing: the bootloader asks for dc-a6-32(-[0-9a-f]{2}){3}\/ \(TFTP_PREFIX=2.*\) and falls back to no prefix; its files are in \/mnt\/netboot\/[0-9a-f]{8}\/$/,
      /^mv \/mnt\/netboot\/[0-9a-f]{8} \/mnt\/netboot\/dc-a6-32(-[0-9a-f]{2}){3}$/,
    ],
    ['a Pi 3: the board is the only finding', () => checkPi(detected('pi3'), { exportDir: EXPORT_DIR, view: EMPTY }), 'pi.board', 'fail', /^Pi 3B has no bootloader EEPROM/],
    ['a Pi 5: netboot untested', () => checkPi(detected('pi5'), { exportDir: EXPORT_DIR, view: EMPTY }), 'pi.pi5', 'warn', /pinet cannot vouch for it$/],
    ['a CM4 with updates disabled', () => checkPi(detected('cm4'), { exportDir: EXPORT_DIR, view: EMPTY }), 'pi.cm4', 'warn', /^rpi-eeprom-update is disabled by default on CM4/, /rpiboot/],
    [
      'a bootloader config that cannot be read',
      () => checkPi(detected('ubuntu-2404-pi4', [(s) => s.set('eeprom', 'vcgencmd: failed to open /dev/vcio\nrc=1\n')]), { exportDir: EXPORT_DIR, view: EMPTY }),
      'pi.boot-order',
      'fail',
      /^cannot read the bootloader config: vcgencmd: failed to open \/dev\/vcio$/,
    ],
  ])('%s', (_what, run, id, status, finding, fix) => {
    const c = check(run(), id);
    expect(c.status).toBe(status);
    expect(c.finding).toMatch(finding);
    if (fix) expect(c.fix).toMatch(fix);
  });

  // The cmdline.txt in the export differs on purpose (--root nfs, recorded in the inventory); warning about it
  // would send the user to "pinet enroll", which rightly says up to date.
  it('enrolled with --root nfs: the managed cmdline.txt does not count as out of sync', () => {
    expect(check(enrolled('rpios-bookworm-pi4.nfsroot'), 'pi.in-sync').status).toBe('ok');
  });

  it('a Pi 3 gets no other check; a CM4 with updates enabled no CM4 warning', () => {
    expect(checkPi(detected('pi3'), { exportDir: EXPORT_DIR, view: EMPTY }).map((c) => c.id)).toEqual(['pi.board']);
    const enabled = checkPi(detected('cm4', [eepromDefaults('CM4_ENABLE_RPI_EEPROM_UPDATE=1\n')]), { exportDir: EXPORT_DIR, view: EMPTY });
    expect(enabled.map((c) => c.id)).not.toContain('pi.cm4');
  });
});

describe('readExportView: what checkPi needs from the export', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'pinet-view-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("lists the Pi's directory, its device:inode, and which candidate names hold start4.elf", async () => {
    const d = detected('ubuntu-2404-pi4');
    const dir = d.facts.serial.known ? d.facts.serial.value.tftpDir : '';
    const macDir = d.facts.mac!.replace(/:/g, '-');
    const exportDir = join(root, 'a');
    await mkdir(join(exportDir, dir, 'overlays'), { recursive: true });
    await writeFile(join(exportDir, dir, 'start4.elf'), 'x'.repeat(10));
    await mkdir(join(exportDir, macDir));
    await writeFile(join(exportDir, macDir, 'start4.elf'), 'y');
    const v = await readExportView(exportDir, d, undefined);
    const st = await stat(join(exportDir, dir));
    expect(v.dirId).toBe(`${st.dev}:${st.ino}`);
    expect(v.withStart4).toEqual([dir, macDir]);
    expect([...v.listing.keys()].sort()).toEqual(['overlays', 'start4.elf']);
    expect(v.listing.get('start4.elf')).toMatchObject({ type: 'file', size: 10 });
  });

  it('an export without the directory: nothing found, no device:inode', async () => {
    const v = await readExportView(join(root, 'empty'), detected('ubuntu-2404-pi4'), undefined);
    expect(v).toEqual({ listing: new Map(), withStart4: [] });
  });

  it('a Pi whose directory is unknown (a Pi 3) reads nothing', async () => {
    expect(await readExportView('/nonexistent-export', detected('pi3'), 0)).toEqual({ listing: new Map(), withStart4: [] });
  });

  it('the same export read through readExportView gives checkPi the same verdicts as the recorded view', async () => {
    const sv = server('ubuntu-2404-pi4.enrolled');
    const exportDir = join(root, 'b');
    const base = join(exportDir, sv.entry.dir);
    await mkdir(base, { recursive: true });
    for (const [rel, e] of sv.exportListing) {
      if (e.type === 'dir') await mkdir(join(base, rel), { recursive: true });
    }
    for (const [rel, e] of sv.exportListing) {
      if (e.type !== 'file') continue;
      await writeFile(join(base, rel), Buffer.alloc(e.size));
      await utimes(join(base, rel), e.mtimeMs / 1000, e.mtimeMs / 1000);
    }
    const d = detected('ubuntu-2404-pi4.enrolled', [], { dest: sv.entry.host });
    const view = await readExportView(exportDir, d, undefined);
    const recorded = checkPi(d, { exportDir: EXPORT_DIR, entry: sv.entry, bootState: bootState('ubuntu-2404-pi4.enrolled'), view: sv.view });
    const live = checkPi(d, { exportDir: EXPORT_DIR, entry: sv.entry, bootState: bootState('ubuntu-2404-pi4.enrolled'), view });
    expect(verdicts(live)).toEqual(verdicts(recorded));
    expect(check(live, 'pi.in-sync').status).toBe('ok');
  });
});
