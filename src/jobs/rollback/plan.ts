/**
 * Rollback's plan for one Pi: pure decisions from plain data (what detect
 * read, the inventory entry, the backups enroll kept, the export's
 * cmdline.txt), with a plan, --dry-run and confirmation like enroll.
 *
 *  * /etc/fstab: pinet's NFS line goes, the original boot line (kept in
 *    pinet's marker comment, else the backup) comes back;
 *  * the bootloader: a still-pending update that enroll staged is cancelled
 *    (`rpi-eeprom-update -r`); an applied one is reverted by applying the
 *    backed-up config (takes effect at the next reboot);
 *  * pinet's kernel hooks are removed;
 *  * cmdline.txt in the export gets its original content back;
 *  * the Pi leaves the inventory; its export directory stays unless --purge.
 */
import { join } from 'node:path';
import { PinetError } from '../../errors.js';
import type { Detected } from '../../host/detect.js';
import { HOOK_PATHS } from '../../host/pi-layout.js';
import type { Change, TargetPlan } from '../../plan/model.js';
import { getKey, parseEepromConfig } from '../../pi/eeprom-config.js';
import { restoreBootLine } from '../../pi/fstab.js';
import type { InventoryEntry } from '../../server/state.js';
import { unifiedDiff } from '../../util/diff.js';
import { cmdlineNameOf } from '../enroll/plan.js';

/** The files enroll backed up on this machine (undefined: not there). */
export interface RollbackBackups {
  fstab?: string;
  bootloader?: string;
  cmdline?: string;
}

export interface RollbackInput {
  detected: Detected;
  entry: InventoryEntry | undefined;
  purge: boolean;
  inventoryPath: string;
  backups: RollbackBackups;
  /** The export's cmdline.txt for this Pi as it is now, when it exists. */
  exportCmdline?: string;
}

export interface RollbackPlan {
  host: string;
  label: string;
  entry: InventoryEntry;
  bootDir: string;
  fstab?: { before: string; after: string };
  eeprom?: { action: 'cancel' } | { action: 'apply'; text: string; order?: string };
  hooks: string[];
  cmdline?: { path: string; after: string };
  purge?: string;
  target: TargetPlan;
}

export async function planRollback(input: RollbackInput): Promise<RollbackPlan> {
  const { detected: d, entry, backups } = input;
  const opts = input;
  const L = d.label;
  if (!d.facts.serial.known) throw new PinetError(`${L}: cannot read the serial number: ${d.facts.serial.reason}`);
  if (!entry) {
    throw new PinetError(`${L}: serial ${d.facts.serial.value.full} is not enrolled (not in ${opts.inventoryPath})`, { hint: 'pinet list shows the enrolled Pis; pass --state-dir if pinet kept its state elsewhere' });
  }
  if (d.login.privilege === 'sudo-needs-password' || d.login.privilege === 'no-sudo') {
    throw new PinetError(`${L}: user ${d.login.user} cannot run privileged steps (${d.login.privilege})`, { hint: `log in as root, or allow passwordless sudo for ${d.login.user}` });
  }
  const bootDir = d.bootDir ?? entry.bootMount;
  const backupDir = entry.backup?.local;
  const changes: Change[] = [];
  const warnings: string[] = [];
  const target = d.dest;
  const plan: RollbackPlan = { host: d.dest, label: L, entry, bootDir, hooks: [], target: { target, about: `serial ${entry.serial}, directory ${entry.dir}`, changes, warnings, notes: [] } };

  // fstab
  const fstab = d.raw.fstab;
  if (fstab !== undefined) {
    const r = restoreBootLine(fstab);
    let after: string | undefined = r.ok && r.changed ? r.text : undefined;
    if (after === undefined && fstab.includes(`${entry.nfs}/${entry.dir} `)) {
      after = backups.fstab;
      if (after === undefined) warnings.push('/etc/fstab still mounts the boot partition over NFS, but pinet\'s marker and backup are gone: fix it by hand');
    }
    if (after !== undefined && after !== fstab) {
      plan.fstab = { before: fstab, after };
      changes.push({ id: 'fstab', kind: 'write-file', target, path: '/etc/fstab', summary: '/etc/fstab: the original boot partition line comes back', reason: 'undo enroll', diff: await unifiedDiff('/etc/fstab', fstab, after) });
    }
  }

  // bootloader
  const original = backups.bootloader;
  const pendingFiles = d.bootList.some((e) => e.path === 'pieeprom.upd');
  const orderOf = (t: string | undefined) => (t === undefined ? undefined : getKey(parseEepromConfig(t), 'BOOT_ORDER').value ?? '(none)');
  const active = orderOf(d.eeprom.config);
  const wanted = orderOf(original);
  if (original === undefined) {
    warnings.push(`no bootloader backup in ${backupDir ?? 'the state directory'}: the bootloader config is left as it is`);
  } else if (active === wanted && pendingFiles) {
    plan.eeprom = { action: 'cancel' };
    changes.push({ id: 'bootloader', kind: 'cancel-bootloader-update', target, summary: `cancel the pending bootloader update (BOOT_ORDER stays ${active})`, reason: 'enroll staged it; it has not been applied yet' });
  } else if (active !== wanted) {
    plan.eeprom = { action: 'apply', text: original, ...(wanted ? { order: wanted } : {}) };
    changes.push({
      id: 'bootloader',
      kind: 'bootloader-config',
      target,
      summary: `bootloader BOOT_ORDER ${active ?? 'unknown'} → ${wanted}; takes effect at the next reboot`,
      reason: 'restore the bootloader config saved before enroll',
      diff: await unifiedDiff('bootloader.conf', d.eeprom.config ?? '', original),
    });
  }

  // hooks
  plan.hooks = HOOK_PATHS.filter((p) => d.hooks.includes(p));
  for (const h of plan.hooks) changes.push({ id: `hook:${h}`, kind: 'remove-hook', target, path: h, summary: `remove ${h}`, reason: 'installed by enroll' });

  // cmdline.txt in the export
  const localDir = join(entry.exportDir, entry.dir);
  const name = cmdlineNameOf(d);
  const origCmd = backups.cmdline;
  if (!opts.purge && origCmd !== undefined) {
    const cur = input.exportCmdline;
    if (cur !== undefined && cur !== origCmd) {
      plan.cmdline = { path: join(localDir, name), after: origCmd };
      changes.push({ id: 'cmdline', kind: 'write-file', target, path: plan.cmdline.path, summary: `${plan.cmdline.path}: the original command line`, reason: 'undo --root', diff: await unifiedDiff(plan.cmdline.path, cur, origCmd) });
    }
  }
  if (opts.purge) {
    plan.purge = localDir;
    changes.push({ id: 'purge', kind: 'delete-file', target, path: localDir, summary: `delete ${localDir}/`, reason: '--purge' });
  } else {
    plan.target.notes.push(`${localDir}/ is kept (pass --purge to delete it)`);
  }
  const mountedNfs = d.facts.bootPartition.known && d.facts.bootPartition.value.mounted?.nfs;
  if (mountedNfs) warnings.push(`${bootDir} is mounted over NFS right now: after the reboot the Pi uses the boot partition on its SD card again, which misses kernel updates made since enroll`);
  changes.push({ id: 'inventory', kind: 'inventory', target, summary: `remove ${entry.dir} (serial ${entry.serial}) from the inventory`, reason: 'the Pi is no longer enrolled' });
  return plan;
}

