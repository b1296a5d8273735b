/**
 * Enroll, step 2 and 3: preflight and plan for one detected Pi.
 *
 * Given what detect read (one round trip) and the boot server's state (the
 * export directory, the inventory), decide every change enroll would make,
 * each with before/after and a reason, or refuse with a clear reason before
 * anything changes. An enrolled, unchanged Pi yields an empty plan.
 *
 * What enroll changes, per Pi (the seed article's manual steps):
 *  * `<export-dir>/<dir>/`: a copy of the Pi's boot partition, every file
 *    0644 and directory 0755 so the TFTP server can read them;
 *  * `cmdline.txt` in that directory, per --root;
 *  * the Pi's /etc/fstab: the boot partition comes from `<nfs>/<dir>`;
 *  * a hook that keeps boot files readable after kernel updates;
 *  * the bootloader config: BOOT_ORDER tries NETWORK;
 *  * the inventory on the boot server.
 */
import { join } from 'node:path';
import { PinetError } from '../errors.js';
import type { Detected } from '../host/detect.js';
import type { Change, TargetPlan } from '../plan.js';
import { localBeforeNetwork, parseBootOrder } from '../pi/bootorder.js';
import { editBootOrder } from '../pi/boot-order-config.js';
import { parseCmdline, serializeCmdline, setNfsRoot, setRbdRoot } from '../pi/cmdline.js';
import { effectiveValue } from '../pi/config-txt.js';
import { findBootLine, nfsSourceFor, parseFstab, setBootNfs, type NfsSource } from '../pi/fstab.js';
import { mb, isExcluded, type TreeEntry } from '../server/export.js';
import type { Inventory, InventoryEntry } from '../server/state.js';
import { unifiedDiff } from '../util/diff.js';
import { osName } from '../host/summary.js';
import { HOOK_PATHS } from './hook.js';

export interface RootSetting {
  kind: 'keep' | 'nfs' | 'rbd';
  /** keep only: --root keep (or enroll.root) was given, rather than the default. */
  explicit?: boolean;
  /** nfs: server IPv4 and path ({serial} already allowed; replaced per Pi). */
  nfs?: { server: string; path: string };
  /** rbd: monitors, user, pool, image and the key. */
  rbd?: { mons: string[]; user: string; pool: string; image: string; key: string };
}

export interface EnrollSettings {
  exportDir: string;
  /** How Pis mount the export, as given (`nfs-host:/picluster-boot`). */
  nfs: string;
  nfsSource: NfsSource;
  mountOptions?: string;
  bootOrder?: string;
  force: boolean;
  root: RootSetting;
  /** The hook script for each boot mount point. */
  hookScripts: Record<string, string>;
}

export interface CopyPlan {
  /** The Pi's directory does not exist yet in the export. */
  create: boolean;
  /** Relative paths of files to copy (new or changed since the last copy). */
  files: string[];
  bytes: number;
  /** Files the Pi has with a mode the TFTP server could not read (0600 kernel). */
  unreadableOnPi: string[];
  /** Local files/dirs whose mode must become 0644/0755. */
  modeFixes: string[];
}

export interface PiPlan {
  host: string;
  label: string;
  detected: Detected;
  serial: string;
  dir: string;
  prefixMode: InventoryEntry['prefixMode'];
  localDir: string;
  bootDir: string;
  bootMount: string;
  cmdlineName: string;
  copy: CopyPlan;
  /** Every remote file in the boot partition (for the manifest), excluded ones removed. */
  remoteFiles: Map<string, { size: number; mtimeMs: number }>;
  cmdline?: { path: string; before: string | null; after: string };
  fstab?: { before: string; after: string };
  hooks: { path: string; content: string }[];
  eeprom?: { before: string; after: string; beforeOrder: string; afterOrder: string; explanation: string };
  /** The original bootloader config (active, or staged when an update is pending). */
  eepromText: string;
  /** This Pi is not in the inventory yet: back up its originals first. */
  firstEnroll: boolean;
  inventoryEntry: InventoryEntry;
  inventoryChanged: boolean;
  target: TargetPlan;
}

/** The file config.txt names with `cmdline=` (default cmdline.txt). */
export function cmdlineNameOf(d: Detected): string {
  const evaluation = d.facts.bootFiles.known ? d.facts.bootFiles.value.evaluation : undefined;
  return (evaluation && effectiveValue(evaluation, 'cmdline').value) || 'cmdline.txt';
}

function refuse(label: string, message: string, hint?: string): PinetError {
  return new PinetError(`${label}: ${message}`, hint ? { hint } : {});
}

/** Preflight and plan for one Pi. `local` is the listing of its directory in the export (empty if none). */
export async function planPi(
  d: Detected,
  s: EnrollSettings,
  inv: Inventory,
  local: Map<string, { type: string; size: number; mtimeMs: number; mode: number }>,
  localCmdline: string | null,
): Promise<PiPlan> {
  const f = d.facts;
  const L = d.label;

  // --- preflight: refuse clearly, change nothing -------------------------
  if (!f.board.known) throw refuse(L, `cannot tell which board this is: ${f.board.reason}`, 'is this a Raspberry Pi?');
  const board = f.board.value;
  if (!board.eepromNetboot) throw refuse(L, `${board.name} cannot network boot from its bootloader EEPROM: ${board.eepromNetbootReason}`);
  if (!f.serial.known) throw refuse(L, `cannot read the serial number: ${f.serial.reason}`, 'pinet names the Pi\'s directory after it');
  const serial = f.serial.value.full;
  if (d.login.privilege === 'sudo-needs-password') {
    throw refuse(L, `user ${d.login.user} needs a password for sudo, and enroll must change /etc/fstab and the bootloader config`, `log in as root, or allow passwordless sudo for ${d.login.user}`);
  }
  if (d.login.privilege === 'no-sudo') throw refuse(L, `user ${d.login.user} is not root and has no sudo`, 'log in as root or as a user with passwordless sudo');
  if (!d.eeprom.tool) throw refuse(L, 'rpi-eeprom-config is not installed, so the bootloader config cannot be read or changed', 'install the rpi-eeprom package on the Pi');
  if (d.eeprom.config === undefined || !f.bootloader.known) {
    throw refuse(L, `cannot read the bootloader config: ${d.eeprom.error ?? (f.bootloader.known ? '' : f.bootloader.reason)}`, 'check that `sudo rpi-eeprom-config` works on the Pi');
  }
  const bl = f.bootloader.value;
  if (!bl.tftp.ok) throw refuse(L, `cannot tell which TFTP directory the bootloader will ask for: ${bl.tftp.reason}`);
  if (bl.tftp.dir === undefined) {
    throw refuse(L, `the bootloader uses TFTP prefix ${JSON.stringify(bl.tftp.prefix)}, which is not a directory (${bl.tftp.why})`, 'set TFTP_PREFIX to 0 (serial) or 2 (MAC), or end TFTP_PREFIX_STR with "/"');
  }
  const dir = bl.tftp.dir;
  const prefixMode = bl.tftp.mode === 2 ? 'mac' : bl.tftp.mode === 1 ? 'string' : 'serial';
  if (!f.bootPartition.known) throw refuse(L, f.bootPartition.reason, 'pinet needs the boot partition mounted at /boot/firmware or /boot');
  const bootMount = f.bootPartition.value.mountpoint;
  if (d.raw.fstab !== undefined) {
    const line = findBootLine(parseFstab(d.raw.fstab), bootMount);
    if (!line.ok) throw refuse(L, `/etc/fstab: ${line.error}`, 'pinet replaces the line that mounts the boot partition; add it (e.g. LABEL=system-boot /boot/firmware vfat defaults 0 1) and run again');
  }
  if (!d.bootDir) throw refuse(L, `no config.txt in /boot/firmware or /boot: the boot partition is not mounted`, 'mount the boot partition and run again');
  if (d.bootDir !== bootMount) throw refuse(L, `/etc/fstab mounts the boot partition at ${bootMount}, but the boot files are in ${d.bootDir}`, 'fix the boot partition mount first');
  if (d.raw.fstab === undefined) throw refuse(L, 'cannot read /etc/fstab');

  // --- the Pi's directory in the export ----------------------------------
  const localDir = join(s.exportDir, dir);
  const mine = inv.pis[serial];
  const owner = Object.values(inv.pis).find((e) => e.dir === dir && e.exportDir === s.exportDir && e.serial !== serial);
  if (owner && !s.force) {
    throw refuse(L, `${localDir} belongs to another enrolled Pi (serial ${owner.serial}, ${owner.host})`, 'pass --force to take it over');
  }
  const dirExists = local.size > 0 || localCmdline !== null;
  const kept = inv.kept?.[serial];
  const ours = (mine && mine.dir === dir && mine.exportDir === s.exportDir) || (kept && kept.dir === dir && kept.exportDir === s.exportDir);
  if (dirExists && !ours && !s.force) {
    throw refuse(L, `${localDir} already exists and was not created by pinet for this Pi`, 'move it away, or pass --force to copy over it');
  }

  const cmdlineName = cmdlineNameOf(d);
  // A Pi enrolled with --root nfs/rbd keeps that cmdline.txt in the export
  // when a later run does not say --root: the Pi's own (local root) must not
  // silently replace it.
  const keptRoot = s.root.kind === 'keep' && !s.root.explicit ? mine?.root : undefined;
  const managedCmdline = s.root.kind !== 'keep' || keptRoot !== undefined;
  const root = s.root.kind === 'keep' ? keptRoot : s.root.kind;

  // --- copy ---------------------------------------------------------------
  const remoteFiles = new Map<string, { size: number; mtimeMs: number }>();
  const copy: CopyPlan = { create: !dirExists, files: [], bytes: 0, unreadableOnPi: [], modeFixes: [] };
  for (const e of d.bootList) {
    if (e.type !== 'file' || isExcluded(e.path)) continue;
    if (managedCmdline && e.path === cmdlineName) continue;
    const mtimeMs = Math.floor(e.mtimeMs / 1000) * 1000;
    remoteFiles.set(e.path, { size: e.size, mtimeMs });
    if ((e.mode & 0o004) === 0) copy.unreadableOnPi.push(e.path);
    const l = local.get(e.path);
    if (!l || l.type !== 'file' || l.size !== e.size || l.mtimeMs !== mtimeMs) {
      copy.files.push(e.path);
      copy.bytes += e.size;
    }
  }
  const copied = new Set(copy.files);
  for (const [rel, l] of local) {
    if (copied.has(rel)) continue;
    if ((l.type === 'file' && l.mode !== 0o644) || (l.type === 'dir' && l.mode !== 0o755)) copy.modeFixes.push(rel);
  }

  // --- cmdline.txt in the export -------------------------------------------
  let cmdline: PiPlan['cmdline'];
  const notes: string[] = [];
  const warnings: string[] = [];
  if (keptRoot) {
    notes.push(`${cmdlineName} in the export keeps its ${keptRoot === 'nfs' ? 'NFS' : 'Ceph RBD'} root (enrolled with --root ${keptRoot}); pass --root keep to netboot with the Pi's own ${cmdlineName} again`);
    if (localCmdline === null) throw refuse(L, `${join(localDir, cmdlineName)} is missing, and this Pi was enrolled with --root ${keptRoot}`, `pass --root ${keptRoot} with its settings again to write it, or --root keep to use the Pi's own`);
  } else if (managedCmdline) {
    const piText = d.texts[cmdlineName];
    if (piText === undefined) throw refuse(L, `${d.bootDir}/${cmdlineName} not found`, 'the Pi needs a cmdline.txt to netboot with');
    const parsed = parseCmdline(piText);
    if (!parsed.ok) throw refuse(L, `${cmdlineName}: ${parsed.error}`);
    let edit;
    if (s.root.kind === 'nfs') {
      const r = s.root.nfs!;
      edit = setNfsRoot(parsed.words, r.server, r.path.split('{serial}').join(dir));
    } else {
      const r = s.root.rbd!;
      edit = setRbdRoot(parsed.words, { mons: r.mons, user: r.user, key: r.key, pool: r.pool, image: r.image.split('{serial}').join(dir) });
      warnings.push(`the Ceph key is written into ${cmdlineName}, which the TFTP server serves to anyone on the LAN`);
    }
    if (!edit.ok) throw refuse(L, edit.error, edit.hint);
    const ser = serializeCmdline(edit.words);
    if (!ser.ok) throw refuse(L, ser.error);
    if (localCmdline !== ser.text) cmdline = { path: join(localDir, cmdlineName), before: localCmdline, after: ser.text };
    notes.push(`moving the root file system is not part of enroll: copy it to the ${s.root.kind === 'nfs' ? 'NFS root' : 'RBD image'} before the Pi boots with the new ${cmdlineName}`);
  }

  // --- /etc/fstab ------------------------------------------------------------
  const fe = setBootNfs(d.raw.fstab, { nfs: s.nfs, dir, mountpoint: bootMount, ...(s.mountOptions ? { options: s.mountOptions } : {}) });
  if (!fe.ok) throw refuse(L, `/etc/fstab: ${fe.error}`, fe.hint);
  const fstab = fe.changed ? { before: d.raw.fstab, after: fe.text } : undefined;

  // --- kernel hook ------------------------------------------------------------
  const hookScript = s.hookScripts[bootMount];
  if (hookScript === undefined) throw new Error(`internal error: no hook script for ${bootMount}`);
  const hooks = HOOK_PATHS.filter((p) => d.hookContents[p] !== hookScript).map((path) => ({ path, content: hookScript }));

  // --- bootloader config -------------------------------------------------------
  const eepromText = d.eeprom.pendingConfig ?? d.eeprom.config;
  const isCm = board.filters.some((x) => x.startsWith('cm'));
  const edit = editBootOrder(eepromText, board.family, { ...(s.bootOrder ? { order: s.bootOrder } : {}), force: s.force, computeModule: isCm });
  if (!edit.ok) throw refuse(L, edit.error, edit.hint);
  warnings.push(...edit.warnings);
  let eeprom: PiPlan['eeprom'];
  if (edit.changed) {
    if (bl.updates.updatesEnabled === false) {
      throw refuse(L, `the bootloader config must change (BOOT_ORDER ${edit.before} → ${edit.after}), but ${bl.updates.reason}`, bl.updates.hint);
    }
    eeprom = { before: eepromText, after: edit.text, beforeOrder: edit.before, afterOrder: edit.after, explanation: edit.explanation };
  }
  const order = parseBootOrder(edit.after);
  if (order.ok) {
    const local = localBeforeNetwork(order.order);
    if (local.length > 0) {
      warnings.push(
        isCm
          ? `BOOT_ORDER ${edit.after} tries eMMC/SD before NETWORK: a CM4 whose eMMC holds a bootable image never netboots (use --boot-order net-usb-sd)`
          : `BOOT_ORDER ${edit.after} tries the SD card (or USB) before NETWORK: as long as a bootable SD card is inserted, the Pi boots from it, not from the network (remove it, or use --boot-order net-first)`,
      );
    }
  }
  if (f.bootFiles.known) {
    const have = new Set(d.bootList.map((e) => e.path));
    const absent = f.bootFiles.value.files.filter((x) => x.required && !x.conditional && !have.has(x.path) && !(managedCmdline && x.path === cmdlineName));
    for (const x of absent) warnings.push(`${x.path} is requested by the bootloader (${x.why}) but is not in ${d.bootDir}: the netboot will stop there unless you add it`);
  }
  if (board.family === 'pi5') warnings.push('Pi 5: network boot differs in places and is untested with pinet');
  if (d.eeprom.pendingConfig !== undefined) notes.push('a bootloader update is already pending; it is the base of this plan and takes effect at the next reboot');

  // --- inventory -----------------------------------------------------------------
  const now = new Date().toISOString();
  const entry: InventoryEntry = {
    serial,
    dir,
    prefixMode,
    host: d.dest,
    address: d.label,
    board: board.name,
    revision: board.code,
    ...(f.model ? { model: f.model } : {}),
    ...(f.mac ? { mac: f.mac } : {}),
    ...(f.os.known ? { os: osName(f.os.value) } : {}),
    bootMount,
    exportDir: s.exportDir,
    nfs: s.nfs,
    enrolledAt: mine?.enrolledAt ?? now,
    updatedAt: now,
    changes: mine?.changes ?? [],
    ...(mine?.backup ? { backup: mine.backup } : {}),
    hooks: [...HOOK_PATHS],
    bootOrder: { before: mine?.bootOrder?.before ?? edit.before, after: edit.after },
    ...(root ? { root } : {}),
  };
  const stable = (e: InventoryEntry | undefined) =>
    e && JSON.stringify([e.dir, e.host, e.mac, e.exportDir, e.nfs, e.bootMount, e.prefixMode, e.bootOrder?.after, e.root]);
  const inventoryChanged = !mine || mine.partial === true || stable(mine) !== stable(entry);

  // --- the plan, as users read it --------------------------------------------------
  const changes: Change[] = [];
  const target = d.dest;
  if (copy.create) {
    changes.push({ id: 'export-dir', kind: 'create-dir', target, path: localDir, summary: `create ${localDir}/`, reason: `the bootloader asks TFTP for ${dir}/ (${bl.tftp.why})` });
  }
  if (copy.files.length > 0) {
    const fix = copy.unreadableOnPi.filter((p) => copied.has(p));
    changes.push({
      id: 'copy',
      kind: 'copy-files',
      target,
      path: localDir,
      summary: `copy ${copy.files.length} file${copy.files.length === 1 ? '' : 's'} (${mb(copy.bytes)}) from ${d.bootDir} to ${localDir}/${fix.length ? `, making ${fix.join(', ')} readable (0644 instead of the Pi's mode)` : ''}`,
      reason: copy.create ? 'the Pi netboots from these files, served by TFTP' : 'these boot files changed on the Pi since the last copy',
      detail: { files: [...copy.files].sort(), bytes: copy.bytes, madeReadable: fix.sort() },
    });
  }
  if (copy.modeFixes.length > 0) {
    changes.push({
      id: 'modes',
      kind: 'write-file',
      target,
      path: localDir,
      summary: `make ${copy.modeFixes.length} entr${copy.modeFixes.length === 1 ? 'y' : 'ies'} in ${localDir}/ readable again (0644 files, 0755 directories)`,
      reason: 'the TFTP server runs unprivileged and must read every file',
      detail: { paths: [...copy.modeFixes].sort() },
    });
  }
  if (cmdline) {
    changes.push({
      id: 'cmdline',
      kind: 'write-file',
      target,
      path: cmdline.path,
      summary: `${cmdline.path}: root file system from ${s.root.kind === 'nfs' ? 'NFS' : 'Ceph RBD'}`,
      reason: `--root ${s.root.kind}`,
      diff: await unifiedDiff(cmdline.path, cmdline.before, cmdline.after.replace(/rbdroot=([^:\s]*:[^:\s]*:)[^:\s]+/, '$1<key>')),
    });
  }
  if (fstab) {
    changes.push({
      id: 'fstab',
      kind: 'write-file',
      target,
      path: '/etc/fstab',
      summary: `/etc/fstab: ${bootMount} from ${nfsSourceFor(s.nfsSource, dir)} over NFS (the old line kept as a comment)`,
      reason: "kernel updates on the Pi must reach the files TFTP serves, so the boot partition becomes the Pi's directory in the export",
      diff: await unifiedDiff('/etc/fstab', fstab.before, fstab.after),
    });
  }
  for (const h of hooks) {
    changes.push({
      id: `hook:${h.path}`,
      kind: 'install-hook',
      target,
      path: h.path,
      summary: `install ${h.path}`,
      reason: `kernel and initramfs updates write the kernel with mode 0600; this hook makes ${bootMount} readable again for the TFTP server`,
    });
  }
  if (eeprom) {
    changes.push({
      id: 'bootloader',
      kind: 'bootloader-config',
      target,
      summary: `bootloader BOOT_ORDER ${eeprom.explanation}`,
      reason: s.bootOrder ? `--boot-order ${s.bootOrder}` : 'the bootloader must try NETWORK; applied with rpi-eeprom-config --apply',
      diff: await unifiedDiff('bootloader.conf', eeprom.before, eeprom.after),
      detail: { before: eeprom.beforeOrder, after: eeprom.afterOrder },
    });
  }
  const piChanges = changes.length > 0;
  if (inventoryChanged || piChanges) {
    changes.push({
      id: 'inventory',
      kind: 'inventory',
      target,
      summary: `record ${dir} (serial ${serial}) in the inventory`,
      reason: 'render-dnsmasq --enrolled-only, list, doctor and rollback read it',
    });
  }
  if (!mine && (fstab || eeprom || cmdline)) {
    changes.unshift({
      id: 'backup',
      kind: 'backup',
      target,
      summary: 'back up /etc/fstab, cmdline.txt and the bootloader config (on the Pi in /var/lib/pinet/backup/ and on this machine)',
      reason: 'pinet rollback restores them',
    });
  }

  const about = `serial ${serial}, ${board.name}, ${f.os.known ? osName(f.os.value) : 'unknown OS'}, directory ${dir}`;
  const targetPlan: TargetPlan = { target, about, changes, warnings, notes };
  const plan: PiPlan = {
    host: d.dest,
    label: L,
    detected: d,
    serial,
    dir,
    prefixMode,
    localDir,
    bootDir: d.bootDir,
    bootMount,
    cmdlineName,
    copy,
    remoteFiles,
    hooks,
    eepromText,
    firstEnroll: !mine,
    inventoryEntry: entry,
    inventoryChanged: inventoryChanged || piChanges,
    target: targetPlan,
  };
  if (cmdline) plan.cmdline = cmdline;
  if (fstab) plan.fstab = fstab;
  if (eeprom) plan.eeprom = eeprom;
  return plan;
}

export type { TreeEntry };
