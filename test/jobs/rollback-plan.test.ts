/**
 * Rollback's planning (`planRollback`) on recorded enrolled Pis, without
 * root: /etc/fstab from pinet's marker or from the backup, cancelling a
 * still-pending bootloader update vs applying the backed-up config after
 * the reboot, the hooks, cmdline.txt in the export, --purge, and the
 * refusals (not enrolled, no serial, no privilege).
 */
import { describe, expect, it } from 'vitest';
import type { Detected } from '../../src/host/detect.js';
import { planPi } from '../../src/jobs/enroll/plan.js';
import { planRollback, type RollbackBackups, type RollbackPlan } from '../../src/jobs/rollback/plan.js';
import type { InventoryEntry } from '../../src/server/state.js';
import { bootloaderConfig, detected, enrollSettings, EXPORT_DIR, fstab, hookFiles, inventoryOf, noSerial, pendingUpdate, server, type EnrolledName } from './fixtures.js';

const INVENTORY = '/var/lib/pinet/inventory.json';
const HOOKS = ['/etc/kernel/postinst.d/zzz-pinet-bootfiles', '/etc/initramfs/post-update.d/zzz-pinet-bootfiles'];

interface Input {
  d: Detected;
  entry: InventoryEntry | undefined;
  backups: RollbackBackups;
  exportCmdline?: string;
  purge?: boolean;
}

const rollback = (i: Input) =>
  planRollback({ detected: i.d, entry: i.entry, purge: i.purge ?? false, inventoryPath: INVENTORY, backups: i.backups, ...(i.exportCmdline !== undefined && { exportCmdline: i.exportCmdline }) });

/** The recorded enrolled Pi with the boot server's records of it, after `edits`. */
function enrolled(name: EnrolledName, edits: Parameters<typeof detected>[1] = [], over: Partial<Input> = {}): Input {
  const sv = server(name);
  return { d: detected(name, edits, { dest: sv.entry.host }), entry: sv.entry, backups: sv.backups, ...(sv.exportCmdline !== null && { exportCmdline: sv.exportCmdline }), ...over };
}

const ids = (p: RollbackPlan) => p.target.changes.map((c) => c.id);
const summary = (p: RollbackPlan, id: string) => p.target.changes.find((c) => c.id === id)?.summary;

describe('rollback plan', () => {
  it('right after enroll (update still pending): fstab from the marker, the staged update cancelled, hooks removed', async () => {
    const i = enrolled('ubuntu-2404-pi4.enrolled');
    const p = await rollback(i);
    expect(ids(p)).toEqual(['fstab', 'bootloader', ...HOOKS.map((h) => `hook:${h}`), 'inventory']);
    // the original line comes back where it was: exactly the fstab enroll backed up
    expect(p.fstab!.after).toBe(i.backups.fstab);
    expect(p.eeprom).toEqual({ action: 'cancel' });
    expect(summary(p, 'bootloader')).toBe('cancel the pending bootloader update (BOOT_ORDER stays 0xf41)');
    expect(p.hooks).toEqual(HOOKS);
    expect(p.cmdline).toBeUndefined(); // the export's cmdline.txt is the Pi's own
    expect(p.target.notes).toEqual([`${EXPORT_DIR}/${i.entry!.dir}/ is kept (pass --purge to delete it)`]);
    expect(p.target.warnings).toEqual([]);
  });

  it('after the reboot (new order active): the backed-up bootloader config is applied, for the next reboot', async () => {
    const i = enrolled('ubuntu-2404-pi4.rebooted');
    const p = await rollback(i);
    expect(ids(p)).toEqual(['fstab', 'bootloader', ...HOOKS.map((h) => `hook:${h}`), 'inventory']);
    expect(p.eeprom).toEqual({ action: 'apply', text: i.backups.bootloader, order: '0xf41' });
    expect(summary(p, 'bootloader')).toBe('bootloader BOOT_ORDER 0xf241 → 0xf41; takes effect at the next reboot');
    expect(p.fstab!.after).toBe(i.backups.fstab);
  });

  it.each<[string, () => Input, (p: RollbackPlan, i: Input) => void]>([
    [
      'fstab: the marker comment is gone, the backup has the original',
      () => enrolled('ubuntu-2404-pi4.enrolled', [fstab((t) => t.replace(/^# pinet: replaced: .*\n/m, ''))]),
      (p, i) => expect(p.fstab!.after).toBe(i.backups.fstab),
    ],
    [
      'fstab: marker and backup are gone: left alone, with a warning',
      () => {
        const i = enrolled('ubuntu-2404-pi4.enrolled', [fstab((t) => t.replace(/^# pinet: replaced: .*\n/m, ''))]);
        return { ...i, backups: { ...i.backups, fstab: undefined } } as Input;
      },
      (p) => {
        expect(p.fstab).toBeUndefined();
        expect(p.target.warnings).toContain("/etc/fstab still mounts the boot partition over NFS, but pinet's marker and backup are gone: fix it by hand");
      },
    ],
    [
      'fstab: already the original: no change',
      () => {
        const i = enrolled('ubuntu-2404-pi4.enrolled');
        return { ...i, d: detected('ubuntu-2404-pi4.enrolled', [fstab(i.backups.fstab!)], { dest: i.entry!.host }) };
      },
      (p) => expect(p.fstab).toBeUndefined(),
    ],
    [
      'bootloader: no backup: left as it is, with a warning',
      () => {
        const i = enrolled('ubuntu-2404-pi4.rebooted');
        return { ...i, backups: { ...i.backups, bootloader: undefined } } as Input;
      },
      (p, i) => {
        expect(p.eeprom).toBeUndefined();
        expect(p.target.warnings).toContain(`no bootloader backup in ${i.entry!.backup!.local}: the bootloader config is left as it is`);
      },
    ],
    [
      'bootloader: active order already the original and nothing staged: no change',
      () => enrolled('ubuntu-2404-pi4.rebooted', [bootloaderConfig((t) => t.replace('BOOT_ORDER=0xf241', 'BOOT_ORDER=0xf41'))]),
      (p) => expect(p.eeprom).toBeUndefined(),
    ],
    [
      'bootloader: a staged update of another order after the reboot: the original is applied over it',
      () => enrolled('ubuntu-2404-pi4.rebooted', [pendingUpdate('[all]\nBOOT_ORDER=0xf21\n')]),
      (p, i) => expect(p.eeprom).toEqual({ action: 'apply', text: i.backups.bootloader, order: '0xf41' }),
    ],
    [
      'hooks: only the ones still installed are removed',
      () => enrolled('ubuntu-2404-pi4.enrolled', [hookFiles([HOOKS[1]!, '/etc/kernel/postinst.d/zz-flash-kernel'])]),
      (p) => expect(p.hooks).toEqual([HOOKS[1]]),
    ],
  ])('%s', async (_what, input, check) => {
    const i = input();
    check(await rollback(i), i);
  });

  it('--root nfs: the original cmdline.txt comes back in the export; --purge deletes the directory instead', async () => {
    const i = enrolled('rpios-bookworm-pi4.nfsroot');
    const p = await rollback(i);
    const path = `${EXPORT_DIR}/${i.entry!.dir}/cmdline.txt`;
    expect(p.cmdline).toEqual({ path, after: i.backups.cmdline });
    expect(p.target.changes.find((c) => c.id === 'cmdline')?.diff).toMatch(/^-.*root=\/dev\/nfs/m);
    const purged = await rollback({ ...i, purge: true });
    expect(purged.cmdline).toBeUndefined();
    expect(purged.purge).toBe(`${EXPORT_DIR}/${i.entry!.dir}`);
    expect(ids(purged)).toContain('purge');
    expect(purged.target.notes).toEqual([]);
  });

  it('a Pi mounted over NFS right now is warned about: after the reboot it uses its SD card again', async () => {
    const i = enrolled('ubuntu-2404-pi4.rebooted', [(s) => s.set('mounts', `${s.get('mounts')}nfs-host:/picluster-boot/${server('ubuntu-2404-pi4.rebooted').entry.dir} /boot/firmware nfs rw,vers=3 0 0\n`)]);
    const p = await rollback(i);
    expect(p.target.warnings.join('\n')).toMatch(/\/boot\/firmware is mounted over NFS right now: after the reboot the Pi uses the boot partition on its SD card again/);
  });
});

describe('rollback refuses', () => {
  it('a Pi that is not enrolled, naming the inventory', async () => {
    const d = detected('ubuntu-2404-pi4');
    const serial = d.facts.serial.known ? d.facts.serial.value.full : '';
    await expect(rollback({ d, entry: undefined, backups: {} })).rejects.toThrow(`pi-07: serial ${serial} is not enrolled (not in ${INVENTORY})`);
  });

  it('a Pi without a serial', async () => {
    const i = enrolled('ubuntu-2404-pi4.enrolled', [noSerial]);
    await expect(rollback(i)).rejects.toThrow(/: cannot read the serial number: /);
  });

  it('a login that cannot run privileged steps (sudo asks a password)', async () => {
    // enroll's own plan of this Pi gives its inventory entry
    const asPi = await planPi({ detected: detected('rpios-bookworm-pi4.as-pi'), settings: await enrollSettings(), inventory: inventoryOf(), local: new Map(), localCmdline: null });
    await expect(rollback({ d: detected('rpios-bookworm-pi4.as-locked'), entry: asPi.inventoryEntry, backups: {} })).rejects.toThrow(
      'pi-07: user locked cannot run privileged steps (sudo-needs-password)',
    );
  });
});
