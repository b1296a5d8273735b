/**
 * Rollback: undo what enroll did to a Pi, with a plan, --dry-run and
 * confirmation like enroll.
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
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PinetError } from '../errors.js';
import type { Detected } from '../host/detect.js';
import type { RemoteHost } from '../remote/index.js';
import type { Change, TargetPlan } from '../plan.js';
import { getKey, parseEepromConfig } from '../pi/eeprom-config.js';
import { restoreBootLine } from '../pi/fstab.js';
import type { InventoryEntry, StateStore } from '../server/state.js';
import { unifiedDiff } from '../util/diff.js';
import { writeFileAtomic } from '../util/fs.js';
import { HOOK_PATHS } from './hook.js';
import { cmdlineNameOf } from './plan.js';
import { REMOTE_PRELUDE } from './remote-sh.js';

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

async function readBackup(dir: string | undefined, name: string): Promise<string | undefined> {
  if (!dir) return undefined;
  return readFile(join(dir, name), 'utf8').catch(() => undefined);
}

export async function planRollback(d: Detected, entry: InventoryEntry | undefined, opts: { purge: boolean; inventoryPath: string }): Promise<RollbackPlan> {
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
      after = await readBackup(backupDir, 'fstab');
      if (after === undefined) warnings.push('/etc/fstab still mounts the boot partition over NFS, but pinet\'s marker and backup are gone: fix it by hand');
    }
    if (after !== undefined && after !== fstab) {
      plan.fstab = { before: fstab, after };
      changes.push({ id: 'fstab', kind: 'write-file', target, path: '/etc/fstab', summary: '/etc/fstab: the original boot partition line comes back', reason: 'undo enroll', diff: await unifiedDiff('/etc/fstab', fstab, after) });
    }
  }

  // bootloader
  const original = await readBackup(backupDir, 'bootloader.conf');
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
  const origCmd = await readBackup(backupDir, 'cmdline.txt');
  if (!opts.purge && origCmd !== undefined) {
    const cur = await readFile(join(localDir, name), 'utf8').catch(() => undefined);
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

const ROLLBACK_SCRIPT = `
B=$1 D=$2 NEW_FSTAB=$3 EEPROM_ACTION=$4 EEPROM_TEXT=$5
shift 5
${REMOTE_PRELUDE}
fail() { say "fail $1 $2"; undo_fstab; exit 1; }
if [ -n "$NEW_FSTAB" ]; then write_fstab "$NEW_FSTAB" "" || fail fstab "$ERR"; say "done fstab"; fi
for h in "$@"; do rm -f "$h" || fail hooks "cannot remove $h"; done
[ $# -gt 0 ] && say "done hooks"
case $EEPROM_ACTION in
  cancel) rpi-eeprom-update -r >/dev/null 2>&1 || fail bootloader "rpi-eeprom-update -r failed"; say "done bootloader" ;;
  apply) apply_eeprom "$EEPROM_TEXT" "$D" || fail bootloader "$ERR"; say "done bootloader" ;;
esac
say end
`;

export async function applyRollback(p: RollbackPlan, remote: RemoteHost, state: StateStore): Promise<string[]> {
  const done: string[] = [];
  const boundary = `@@pinet-${randomBytes(8).toString('hex')}@@`;
  if (p.fstab || p.eeprom || p.hooks.length) {
    const r = await remote.execScript(
      ROLLBACK_SCRIPT,
      [boundary, p.bootDir, p.fstab?.after ?? '', p.eeprom?.action ?? '', p.eeprom?.action === 'apply' ? p.eeprom.text : '', ...p.hooks],
      { sudo: true, reject: false, step: 'restoring /etc/fstab and the bootloader config', timeoutMs: 120_000 },
    );
    const lines = String(r.stdout).split('\n').filter((l) => l.startsWith(`${boundary} `)).map((l) => l.slice(boundary.length + 1));
    for (const l of lines) if (l.startsWith('done ')) done.push(l.slice(5));
    const failure = lines.find((l) => l.startsWith('fail '));
    if (failure || !lines.includes('end')) {
      throw new PinetError(`${p.label}: rollback failed: ${failure ? failure.slice(5) : `the script stopped (exit ${r.code})`} (done: ${done.join(', ') || 'nothing'})`, {
        hint: 'the Pi is enrolled as before; fix the cause and run pinet rollback again',
      });
    }
  }
  if (p.cmdline) {
    await writeFileAtomic(p.cmdline.path, p.cmdline.after);
    done.push('cmdline');
  }
  if (p.purge) {
    await rm(p.purge, { recursive: true, force: true });
    done.push('purge');
  }
  await state.updateInventory((inv) => {
    delete inv.pis[p.entry.serial];
    if (!p.purge) (inv.kept ??= {})[p.entry.serial] = { dir: p.entry.dir, exportDir: p.entry.exportDir };
    else if (inv.kept) delete inv.kept[p.entry.serial];
  });
  done.push('inventory');
  return done;
}
