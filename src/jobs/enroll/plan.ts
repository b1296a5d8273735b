/**
 * Enroll's plan for one Pi: pure decisions from plain data.
 *
 * Given what detect read from the Pi, the settings, the inventory, and what
 * the export already holds for it (its listing and cmdline.txt), decide
 * every change enroll would make, each with before/after and a reason, or
 * refuse with a clear reason before anything changes. An enrolled,
 * unchanged Pi yields an empty plan. No I/O here: test/jobs/ runs this on
 * fixture Pis without root.
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
import { PinetError } from '../../errors.js';
import type { Detected } from '../../host/detect.js';
import { HOOK_PATHS, PI_BACKUP_DIR } from '../../host/pi-layout.js';
import { osName } from '../../host/summary.js';
import type { Change, TargetPlan } from '../../plan/model.js';
import { editBootOrder } from '../../pi/boot-order-edit.js';
import { localBeforeNetwork, parseBootOrder } from '../../pi/boot-order.js';
import { parseCmdline, serializeCmdline, setNfsRoot, setRbdRoot } from '../../pi/cmdline.js';
import { effectiveValue } from '../../pi/config-txt.js';
import { findBootLine, nfsSourceFor, parseFstab, setBootNfs, type NfsSource } from '../../pi/fstab.js';
import { isExcluded, mb } from '../../server/export.js';
import type { Inventory, InventoryEntry } from '../../server/state.js';
import { unifiedDiff } from '../../util/diff.js';

export interface RootSetting {
  kind: 'keep' | 'nfs' | 'rbd';
  /** keep only: --root keep (or enroll.root) was given, rather than the default. */
  explicit?: boolean;
  /** nfs: server IPv4 and path ({serial} allowed; replaced per Pi). */
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
  /**
   * The export squashes the Pis' root (recorded by pinet server setup): the Pi's directory and every file
   * in it belong to this identity, or the Pi's next kernel update cannot replace them.
   */
  owner?: { uid: number; gid: number; why: string };
}

/** What the export holds for a Pi: its directory's listing (empty when there is none). */
export type ExportListing = Map<string, { type: string; size: number; mtimeMs: number; mode: number; uid?: number; gid?: number }>;

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
  /** Local files/dirs that must change owner (a squashing export). */
  ownerFixes: string[];
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

export interface PlanInput {
  detected: Detected;
  settings: EnrollSettings;
  inventory: Inventory;
  /** The Pi's directory in the export as it is now (see `exportDirOf`). */
  local: ExportListing;
  /**
   * Its cmdline.txt there, or null when there is none. Its text is read only
   * when enroll manages it (--root nfs/rbd, or a root a previous --root
   * recorded in the inventory); otherwise '' says only that it is there.
   */
  localCmdline: string | null;
  /** For the inventory's timestamps. */
  now?: Date;
}

/** The file config.txt names with `cmdline=` (default cmdline.txt). */
export function cmdlineNameOf(d: Detected): string {
  const evaluation = d.facts.bootFiles.known ? d.facts.bootFiles.value.evaluation : undefined;
  return (evaluation && effectiveValue(evaluation, 'cmdline').value) || 'cmdline.txt';
}

/** The directory the Pi's bootloader will ask TFTP for, when it can be told (before planning). */
export function exportDirOf(d: Detected): string | undefined {
  const tftp = d.facts.bootloader.known ? d.facts.bootloader.value.tftp : undefined;
  return tftp?.ok && tftp.dir ? tftp.dir : undefined;
}

function refuse(label: string, message: string, hint?: string): PinetError {
  return new PinetError(`${label}: ${message}`, hint ? { hint } : {});
}

/** Preflight: refuse clearly, changing nothing, what enroll cannot do on this Pi. */
function preflight(d: Detected) {
  const f = d.facts;
  const L = d.label;
  if (!f.board.known) throw refuse(L, `cannot tell which board this is: ${f.board.reason}`, 'is this a Raspberry Pi?');
  const board = f.board.value;
  if (!board.eepromNetboot) throw refuse(L, `${board.name} cannot network boot from its bootloader EEPROM: ${board.eepromNetbootReason}`);
  if (!f.serial.known) throw refuse(L, `cannot read the serial number: ${f.serial.reason}`, "pinet names the Pi's directory after it");
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
  if (!f.bootPartition.known) throw refuse(L, f.bootPartition.reason, 'pinet needs the boot partition mounted at /boot/firmware or /boot');
  const bootMount = f.bootPartition.value.mountpoint;
  if (d.raw.fstab !== undefined) {
    const line = findBootLine(parseFstab(d.raw.fstab), bootMount);
    if (!line.ok) throw refuse(L, `/etc/fstab: ${line.error}`, 'pinet replaces the line that mounts the boot partition; add it (e.g. LABEL=system-boot /boot/firmware vfat defaults 0 1) and run again');
  }
  if (!d.bootDir) throw refuse(L, 'no config.txt in /boot/firmware or /boot: the boot partition is not mounted', 'mount the boot partition and run again');
  if (d.bootDir !== bootMount) throw refuse(L, `/etc/fstab mounts the boot partition at ${bootMount}, but the boot files are in ${d.bootDir}`, 'fix the boot partition mount first');
  if (d.raw.fstab === undefined) throw refuse(L, 'cannot read /etc/fstab');
  const prefixMode: InventoryEntry['prefixMode'] = bl.tftp.mode === 2 ? 'mac' : bl.tftp.mode === 1 ? 'string' : 'serial';
  return { board, bl, serial: f.serial.value.full, dir: bl.tftp.dir, prefixMode, bootMount, bootDir: d.bootDir, fstab: d.raw.fstab, tftpWhy: bl.tftp.why };
}

/** The Pi's directory may be used: it is new, or pinet made it for this Pi, or --force. */
function checkOwnership(d: Detected, s: EnrollSettings, inv: Inventory, serial: string, dir: string, dirExists: boolean): void {
  const localDir = join(s.exportDir, dir);
  const mine = inv.pis[serial];
  const owner = Object.values(inv.pis).find((e) => e.dir === dir && e.exportDir === s.exportDir && e.serial !== serial);
  if (owner && !s.force) throw refuse(d.label, `${localDir} belongs to another enrolled Pi (serial ${owner.serial}, ${owner.host})`, 'pass --force to take it over');
  const kept = inv.kept?.[serial];
  const ours = (mine && mine.dir === dir && mine.exportDir === s.exportDir) || (kept && kept.dir === dir && kept.exportDir === s.exportDir);
  if (dirExists && !ours && !s.force) throw refuse(d.label, `${localDir} already exists and was not created by pinet for this Pi`, 'move it away, or pass --force to copy over it');
}

/** Which files to copy: new or changed (size, mtime to the second) since the last copy; modes to fix. */
function planCopy(d: Detected, local: ExportListing, dirExists: boolean, skip: string | undefined, owner: EnrollSettings['owner']): CopyPlan {
  const copy: CopyPlan = { create: !dirExists, files: [], bytes: 0, unreadableOnPi: [], modeFixes: [], ownerFixes: [] };
  for (const e of d.bootList) {
    if (e.type !== 'file' || isExcluded(e.path) || e.path === skip) continue;
    const mtimeMs = Math.floor(e.mtimeMs / 1000) * 1000;
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
    if (owner && (l.type === 'file' || l.type === 'dir') && l.uid !== undefined && (l.uid !== owner.uid || l.gid !== owner.gid)) copy.ownerFixes.push(rel);
  }
  return copy;
}

/** cmdline.txt in the export, for --root nfs/rbd (or kept as a previous --root wrote it). */
function planCmdline(
  d: Detected,
  s: EnrollSettings,
  p: { dir: string; localDir: string; cmdlineName: string; keptRoot: 'nfs' | 'rbd' | undefined; localCmdline: string | null },
  notes: string[],
  warnings: string[],
): PiPlan['cmdline'] {
  const L = d.label;
  if (p.keptRoot) {
    notes.push(`${p.cmdlineName} in the export keeps its ${p.keptRoot === 'nfs' ? 'NFS' : 'Ceph RBD'} root (enrolled with --root ${p.keptRoot}); pass --root keep to netboot with the Pi's own ${p.cmdlineName} again`);
    if (p.localCmdline === null) {
      throw refuse(L, `${join(p.localDir, p.cmdlineName)} is missing, and this Pi was enrolled with --root ${p.keptRoot}`, `pass --root ${p.keptRoot} with its settings again to write it, or --root keep to use the Pi's own`);
    }
    return undefined;
  }
  if (s.root.kind === 'keep') return undefined;
  const piText = d.texts[p.cmdlineName];
  if (piText === undefined) throw refuse(L, `${d.bootDir}/${p.cmdlineName} not found`, 'the Pi needs a cmdline.txt to netboot with');
  const parsed = parseCmdline(piText);
  if (!parsed.ok) throw refuse(L, `${p.cmdlineName}: ${parsed.error}`);
  let edit;
  if (s.root.kind === 'nfs') {
    const r = s.root.nfs!;
    edit = setNfsRoot(parsed.words, r.server, r.path.split('{serial}').join(p.dir));
  } else {
    const r = s.root.rbd!;
    edit = setRbdRoot(parsed.words, { mons: r.mons, user: r.user, key: r.key, pool: r.pool, image: r.image.split('{serial}').join(p.dir) });
    warnings.push(`the Ceph key is written into ${p.cmdlineName}, which the TFTP server serves to anyone on the LAN`);
  }
  if (!edit.ok) throw refuse(L, edit.error, edit.hint);
  const ser = serializeCmdline(edit.words);
  if (!ser.ok) throw refuse(L, ser.error);
  notes.push(`moving the root file system is not part of enroll: copy it to the ${s.root.kind === 'nfs' ? 'NFS root' : 'RBD image'} before the Pi boots with the new ${p.cmdlineName}${s.root.kind === 'nfs' ? ", and in the copy's /etc/fstab remove the line that mounts / from the SD card (systemd's remount of / fails on it at every boot)" : ''}`);
  return p.localCmdline !== ser.text ? { path: join(p.localDir, p.cmdlineName), before: p.localCmdline, after: ser.text } : undefined;
}

/** The bootloader config edit (BOOT_ORDER), with its warnings. */
function planBootloader(d: Detected, s: EnrollSettings, pre: ReturnType<typeof preflight>, warnings: string[]) {
  const eepromText = d.eeprom.pendingConfig ?? d.eeprom.config!;
  const isCm = pre.board.filters.some((x) => x.startsWith('cm'));
  const edit = editBootOrder(eepromText, pre.board.family, { ...(s.bootOrder ? { order: s.bootOrder } : {}), force: s.force, computeModule: isCm });
  if (!edit.ok) throw refuse(d.label, edit.error, edit.hint);
  warnings.push(...edit.warnings);
  let eeprom: PiPlan['eeprom'];
  if (edit.changed) {
    if (pre.bl.updates.updatesEnabled === false) {
      throw refuse(d.label, `the bootloader config must change (BOOT_ORDER ${edit.before} → ${edit.after}), but ${pre.bl.updates.reason}`, pre.bl.updates.hint);
    }
    eeprom = { before: eepromText, after: edit.text, beforeOrder: edit.before, afterOrder: edit.after, explanation: edit.explanation };
  }
  const order = parseBootOrder(edit.after);
  if (order.ok && localBeforeNetwork(order.order).length > 0) {
    warnings.push(
      isCm
        ? `BOOT_ORDER ${edit.after} tries eMMC/SD before NETWORK: a CM4 whose eMMC holds a bootable image never netboots (use --boot-order net-usb-sd)`
        : `BOOT_ORDER ${edit.after} tries the SD card (or USB) before NETWORK: as long as a bootable SD card is inserted, the Pi boots from it, not from the network (remove it, or use --boot-order net-first)`,
    );
  }
  return { eepromText, eeprom, before: edit.before, after: edit.after };
}

/** The inventory entry this Pi will have, and whether it differs from the one it has. */
function planInventory(d: Detected, s: EnrollSettings, pre: ReturnType<typeof preflight>, mine: InventoryEntry | undefined, boot: { before: string; after: string }, root: 'nfs' | 'rbd' | undefined, now: string) {
  const f = d.facts;
  const entry: InventoryEntry = {
    serial: pre.serial,
    dir: pre.dir,
    prefixMode: pre.prefixMode,
    host: d.dest,
    address: d.label,
    ...(d.port !== undefined && d.port !== 22 ? { port: d.port } : {}),
    board: pre.board.name,
    revision: pre.board.code,
    ...(f.model ? { model: f.model } : {}),
    ...(f.mac ? { mac: f.mac } : {}),
    ...(f.os.known ? { os: osName(f.os.value) } : {}),
    bootMount: pre.bootMount,
    exportDir: s.exportDir,
    nfs: s.nfs,
    enrolledAt: mine?.enrolledAt ?? now,
    updatedAt: now,
    changes: mine?.changes ?? [],
    ...(mine?.backup ? { backup: mine.backup } : {}),
    hooks: [...HOOK_PATHS],
    bootOrder: { before: mine?.bootOrder?.before ?? boot.before, after: boot.after },
    ...(root ? { root } : {}),
  };
  const stable = (e: InventoryEntry | undefined) => e && JSON.stringify([e.dir, e.host, e.port, e.mac, e.exportDir, e.nfs, e.bootMount, e.prefixMode, e.bootOrder?.after, e.root]);
  return { entry, changed: !mine || mine.partial === true || stable(mine) !== stable(entry) };
}

/** Preflight and plan for one Pi (see the module comment). */
export async function planPi(input: PlanInput): Promise<PiPlan> {
  const { detected: d, settings: s, inventory: inv, local, localCmdline } = input;
  const pre = preflight(d);
  const { serial, dir, bootMount, bootDir } = pre;
  const localDir = join(s.exportDir, dir);
  const mine = inv.pis[serial];
  const dirExists = local.size > 0 || localCmdline !== null;
  checkOwnership(d, s, inv, serial, dir, dirExists);

  const cmdlineName = cmdlineNameOf(d);
  // A Pi enrolled with --root nfs/rbd keeps that cmdline.txt in the export when a later run does not
  // say --root: the Pi's own (local root) must not silently replace it.
  const keptRoot = s.root.kind === 'keep' && !s.root.explicit ? mine?.root : undefined;
  const managedCmdline = s.root.kind !== 'keep' || keptRoot !== undefined;
  const root = s.root.kind === 'keep' ? keptRoot : s.root.kind;
  const notes: string[] = [];
  const warnings: string[] = [];

  const copy = planCopy(d, local, dirExists, managedCmdline ? cmdlineName : undefined, s.owner);
  const cmdline = planCmdline(d, s, { dir, localDir, cmdlineName, keptRoot, localCmdline }, notes, warnings);
  const fe = setBootNfs(pre.fstab, { nfs: s.nfs, dir, mountpoint: bootMount, ...(s.mountOptions ? { options: s.mountOptions } : {}) });
  if (!fe.ok) throw refuse(d.label, `/etc/fstab: ${fe.error}`, fe.hint);
  const fstab = fe.changed ? { before: pre.fstab, after: fe.text } : undefined;
  const hookScript = s.hookScripts[bootMount];
  if (hookScript === undefined) throw new Error(`internal error: no hook script for ${bootMount}`);
  const hooks = HOOK_PATHS.filter((p) => d.hookContents[p] !== hookScript).map((path) => ({ path, content: hookScript }));
  const boot = planBootloader(d, s, pre, warnings);

  if (d.facts.bootFiles.known) {
    const have = new Set(d.bootList.map((e) => e.path));
    const absent = d.facts.bootFiles.value.files.filter((x) => x.required && !x.conditional && !have.has(x.path) && !(managedCmdline && x.path === cmdlineName));
    for (const x of absent) warnings.push(`${x.path} is requested by the bootloader (${x.why}) but is not in ${bootDir}: the netboot will stop there unless you add it`);
  }
  if (pre.board.family === 'pi5') warnings.push('Pi 5: network boot differs in places and is untested with pinet');
  if (d.eeprom.pendingConfig !== undefined) notes.push('a bootloader update is already pending; it is the base of this plan and takes effect at the next reboot');

  const inventory = planInventory(d, s, pre, mine, boot, root, (input.now ?? new Date()).toISOString());
  const plan: PiPlan = {
    host: d.dest,
    label: d.label,
    detected: d,
    serial,
    dir,
    prefixMode: pre.prefixMode,
    localDir,
    bootDir,
    bootMount,
    cmdlineName,
    copy,
    hooks,
    eepromText: boot.eepromText,
    firstEnroll: !mine,
    inventoryEntry: inventory.entry,
    inventoryChanged: inventory.changed,
    target: { target: d.dest, about: '', changes: [], warnings, notes },
  };
  if (cmdline) plan.cmdline = cmdline;
  if (fstab) plan.fstab = fstab;
  if (boot.eeprom) plan.eeprom = boot.eeprom;
  plan.target = { target: d.dest, about: describePi(plan), changes: await describeChanges(plan, s, pre.tftpWhy), warnings, notes };
  plan.inventoryChanged ||= plan.target.changes.some((c) => c.id !== 'inventory');
  return plan;
}

function describePi(p: PiPlan): string {
  const f = p.detected.facts;
  return `serial ${p.serial}, ${f.board.known ? f.board.value.name : 'unknown board'}, ${f.os.known ? osName(f.os.value) : 'unknown OS'}, directory ${p.dir}`;
}

/** The plan as users read it: one change per thing that changes, with a reason. */
async function describeChanges(p: PiPlan, s: EnrollSettings, tftpWhy: string): Promise<Change[]> {
  const changes: Change[] = [];
  const target = p.host;
  const { copy, localDir } = p;
  if (copy.create) {
    changes.push({ id: 'export-dir', kind: 'create-dir', target, path: localDir, summary: `create ${localDir}/`, reason: `the bootloader asks TFTP for ${p.dir}/ (${tftpWhy})` });
  }
  if (copy.files.length > 0) {
    const copied = new Set(copy.files);
    const fix = copy.unreadableOnPi.filter((x) => copied.has(x));
    changes.push({
      id: 'copy',
      kind: 'copy-files',
      target,
      path: localDir,
      summary: `copy ${copy.files.length} file${copy.files.length === 1 ? '' : 's'} (${mb(copy.bytes)}) from ${p.bootDir} to ${localDir}/${fix.length ? `, making ${fix.join(', ')} readable (0644 instead of the Pi's mode)` : ''}`,
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
  if (copy.ownerFixes.length > 0) {
    changes.push({
      id: 'owners',
      kind: 'write-file',
      target,
      path: localDir,
      summary: `give ${copy.ownerFixes.length} entr${copy.ownerFixes.length === 1 ? 'y' : 'ies'} in ${localDir}/ to ${s.owner!.uid}:${s.owner!.gid}`,
      reason: s.owner!.why,
      detail: { paths: [...copy.ownerFixes].sort() },
    });
  }
  if (p.cmdline) {
    changes.push({
      id: 'cmdline',
      kind: 'write-file',
      target,
      path: p.cmdline.path,
      summary: `${p.cmdline.path}: root file system from ${s.root.kind === 'nfs' ? 'NFS' : 'Ceph RBD'}`,
      reason: `--root ${s.root.kind}`,
      diff: await unifiedDiff(p.cmdline.path, p.cmdline.before, p.cmdline.after.replace(/rbdroot=([^:\s]*:[^:\s]*:)[^:\s]+/, 'rbdroot=$1<key>')),
    });
  }
  if (p.fstab) {
    changes.push({
      id: 'fstab',
      kind: 'write-file',
      target,
      path: '/etc/fstab',
      summary: `/etc/fstab: ${p.bootMount} from ${nfsSourceFor(s.nfsSource, p.dir)} over NFS (the old line kept as a comment)`,
      reason: "kernel updates on the Pi must reach the files TFTP serves, so the boot partition becomes the Pi's directory in the export",
      diff: await unifiedDiff('/etc/fstab', p.fstab.before, p.fstab.after),
    });
  }
  for (const h of p.hooks) {
    changes.push({
      id: `hook:${h.path}`,
      kind: 'install-hook',
      target,
      path: h.path,
      summary: `install ${h.path}`,
      reason: `kernel and initramfs updates write the kernel with mode 0600; this hook makes ${p.bootMount} readable again for the TFTP server`,
    });
  }
  if (p.eeprom) {
    changes.push({
      id: 'bootloader',
      kind: 'bootloader-config',
      target,
      summary: `bootloader BOOT_ORDER ${p.eeprom.explanation}`,
      reason: s.bootOrder ? `--boot-order ${s.bootOrder}` : 'the bootloader must try NETWORK; applied with rpi-eeprom-config --apply',
      diff: await unifiedDiff('bootloader.conf', p.eeprom.before, p.eeprom.after),
      detail: { before: p.eeprom.beforeOrder, after: p.eeprom.afterOrder },
    });
  }
  if (p.inventoryChanged || changes.length > 0) {
    changes.push({ id: 'inventory', kind: 'inventory', target, summary: `record ${p.dir} (serial ${p.serial}) in the inventory`, reason: 'render-dnsmasq --enrolled-only, list, doctor and rollback read it' });
  }
  if (p.firstEnroll && (p.fstab || p.eeprom || p.cmdline)) {
    changes.unshift({
      id: 'backup',
      kind: 'backup',
      target,
      summary: `back up /etc/fstab, cmdline.txt and the bootloader config (on the Pi in ${PI_BACKUP_DIR}/ and on this machine)`,
      reason: 'pinet rollback restores them',
    });
  }
  return changes;
}
