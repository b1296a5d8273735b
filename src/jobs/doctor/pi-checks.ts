/**
 * Doctor checks of one Pi, from what detect read in one round trip: does
 * its bootloader try NETWORK (and is an update pending), is its directory in
 * the export, does /etc/fstab mount the boot partition from it with
 * _netdev, is it mounted from there now, is the Pi's boot content the one
 * TFTP serves, does the kernel hook keep files readable, and the CM4 / Pi 5
 * specifics.
 *
 * `checkPi` is pure: what it needs from the export (the Pi's directory
 * listing, that directory's device:inode, which candidate directories hold
 * start4.elf) comes as plain data, an `ExportView` that `readExportView`
 * gathers here (test/jobs/ builds views by hand).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Detected } from '../../host/detect.js';
import { runsLast } from '../../host/kernel-hook.js';
import { HOOK_PATHS } from '../../host/pi-layout.js';
import { ensureNetwork, formatBootOrder, localBeforeNetwork, modeName, networkPosition } from '../../pi/boot-order.js';
import { currentBootOrder } from '../../pi/boot-order-edit.js';
import { macToTftpDir } from '../../pi/eeprom-config.js';
import { checkBootNfs } from '../../pi/fstab.js';
import { isExcluded, listTree, type TreeEntry } from '../../server/export.js';
import type { InventoryEntry } from '../../server/state.js';
import { cmdlineNameOf } from '../enroll/plan.js';
import { fstabChangedSinceBoot, type BootState, type LocalMedium } from './boot-state.js';
import { fail, ok, skip, warn, type Check } from './model.js';

export interface PiCheckContext {
  exportDir: string;
  /** How the Pi should mount the export (inventory, --nfs or the config). */
  nfs?: string;
  entry?: InventoryEntry;
  /** The TFTP server's user id: files it owns mean the export squashes to it. */
  tftpUid?: number;
  /** Boot time, fstab change time and mounted directories (undefined when they could not be read). */
  bootState?: BootState;
  /** What the export holds for this Pi (see `readExportView`). */
  view: ExportView;
}

/** What doctor reads in the export for one Pi: plain data, so `checkPi` needs no I/O. */
export interface ExportView {
  /** Every entry below the directory the bootloader asks for (empty when it does not exist or was not read). */
  listing: Map<string, TreeEntry>;
  /** "device:inode" of that directory, when it exists. */
  dirId?: string;
  /** Which candidate directory names (see `candidateDirs`) hold a start4.elf. */
  withStart4: string[];
}

/** The directory the bootloader asks for, and the names its files may have been copied under instead (serial ↔ MAC). */
export function candidateDirs(d: Detected): { dir?: string; others: string[] } {
  const f = d.facts;
  const tftp = f.bootloader.known ? f.bootloader.value.tftp : undefined;
  const dir = tftp?.ok ? tftp.dir : undefined;
  if (!dir) return { others: [] };
  const others = [f.serial.known ? f.serial.value.tftpDir : undefined, f.mac ? macToTftpDir(f.mac) : undefined].filter((n): n is string => n !== undefined && n !== dir);
  return { dir, others };
}

/**
 * Reads the export for `checkPi`. The listing is read only when a check
 * uses it: the Pi's boot directory is known (in sync?) or the TFTP server's
 * user is (squashed?).
 */
export async function readExportView(exportDir: string, d: Detected, tftpUid: number | undefined): Promise<ExportView> {
  const { dir, others } = candidateDirs(d);
  if (!dir) return { listing: new Map(), withStart4: [] };
  const withStart4: string[] = [];
  for (const n of [dir, ...others]) if (await stat(join(exportDir, n, 'start4.elf')).catch(() => undefined)) withStart4.push(n);
  const st = await stat(join(exportDir, dir)).catch(() => undefined);
  const listing = d.bootDir !== undefined || tftpUid !== undefined ? await listTree(join(exportDir, dir)) : new Map<string, TreeEntry>();
  return { listing, ...(st ? { dirId: `${st.dev}:${st.ino}` } : {}), withStart4 };
}

export function checkPi(d: Detected, ctx: PiCheckContext): Check[] {
  const checks: Check[] = [];
  const f = d.facts;
  const host = d.dest;
  const board = f.board.known ? f.board.value : undefined;
  const isCm = board?.filters.some((x) => x.startsWith('cm')) ?? false;

  if (board && !board.eepromNetboot) {
    checks.push(fail('pi.board', 'board', board.eepromNetbootReason, 'pinet manages the EEPROM network boot of Pi 4/400/CM4/Pi 5 boards'));
    return checks;
  }

  // BOOT_ORDER: active, and pending
  if (!f.bootloader.known) {
    checks.push(fail('pi.boot-order', 'BOOT_ORDER', `cannot read the bootloader config: ${d.eeprom.error ?? f.bootloader.reason}`, 'check that rpi-eeprom-config works on the Pi (as root)'));
  } else {
    const bo = f.bootloader.value.bootOrder;
    const pending = d.eeprom.pendingConfig !== undefined ? currentBootOrder(d.eeprom.pendingConfig, board?.family, { computeModule: isCm }) : undefined;
    if (!bo.ok) {
      checks.push(fail('pi.boot-order', 'BOOT_ORDER', bo.reason, bo.hint ?? `set it with pinet enroll ${host}`));
    } else {
      const pos = networkPosition(bo.order);
      if (pos.index === -1 || !pos.reachable) {
        const soon = pending?.ok && networkPosition(pending.order).reachable;
        if (soon) checks.push(warn('pi.boot-order', 'BOOT_ORDER', `${bo.explanation}: no NETWORK yet; the pending update sets ${pending.explanation}`, `reboot ${host} to apply it`));
        else {
          const next = ensureNetwork(bo.order);
          checks.push(fail('pi.boot-order', 'BOOT_ORDER', `${bo.explanation}: NETWORK is never tried`, `pinet enroll ${host}${next.ok ? ` (${next.explanation})` : ` --boot-order <order> (${next.error})`}`));
        }
      } else {
        const where = `NETWORK is mode ${pos.index + 1} of ${bo.order.modes.length}`;
        checks.push(localFirstCheck(`${bo.explanation}; ${where}`, localBeforeNetwork(bo.order), isCm, host, ctx.bootState?.media));
      }
    }
    if (d.eeprom.pendingConfig !== undefined) {
      checks.push(warn('pi.pending', 'bootloader update', `an update is pending${pending?.ok ? ` (BOOT_ORDER ${formatBootOrder(pending.order)})` : ''}; the bootloader uses it only after a reboot`, `reboot ${host}`));
    } else if (f.bootloader.value.pending.known && f.bootloader.value.pending.value.state === 'pending') {
      checks.push(warn('pi.pending', 'bootloader update', f.bootloader.value.pending.value.reason, `reboot ${host}`));
    } else {
      checks.push(ok('pi.pending', 'bootloader update', 'none pending'));
    }
    const upd = f.bootloader.value.updates;
    if (isCm && upd.updatesEnabled !== true) {
      checks.push(warn('pi.cm4', 'CM4 EEPROM updates', upd.reason, upd.hint ?? 'use rpiboot (usbboot) to change the bootloader config'));
    }
  }
  if (board?.family === 'pi5') checks.push(warn('pi.pi5', 'Pi 5', 'Pi 5 network boot differs in places (file names, BOOT_ORDER defaults); pinet cannot vouch for it', 'verify a boot with pinet doctor --log and a serial console'));

  // the directory the bootloader asks for
  const tftp = f.bootloader.known ? f.bootloader.value.tftp : undefined;
  const { dir, others } = candidateDirs(d);
  const view = ctx.view;
  if (!dir) {
    checks.push(fail('pi.export-dir', 'export directory', `cannot tell which directory the bootloader asks for: ${tftp && !tftp.ok ? tftp.reason : 'bootloader config unknown'}`, 'fix TFTP_PREFIX / the serial number'));
  } else {
    const path = join(ctx.exportDir, dir);
    const has = view.withStart4.includes(dir);
    const mine = ctx.entry && f.serial.known && ctx.entry.serial === f.serial.value.full;
    // Its files under the other name (serial instead of MAC, or the reverse) only need a rename.
    const found = others.find((n) => view.withStart4.includes(n));
    const renamed = found === undefined ? undefined : join(ctx.exportDir, found);
    if (!has) {
      checks.push(
        fail(
          'pi.export-dir',
          'export directory',
          `${path}/start4.elf is missing: the bootloader asks for ${dir}/ (${tftp!.ok ? tftp!.why : ''}) and falls back to no prefix${renamed ? `; its files are in ${renamed}/` : ''}`,
          renamed ? `mv ${renamed} ${path}` : `pinet enroll ${host}`,
        ),
      );
    } else checks.push(ok('pi.export-dir', 'export directory', `${path}/ holds this Pi's boot files${mine ? ' (enrolled)' : ''}`));
  }

  // fstab
  const mountpoint = f.bootPartition.known ? f.bootPartition.value.mountpoint : undefined;
  const nfs = ctx.entry?.nfs ?? ctx.nfs;
  if (d.raw.fstab === undefined) checks.push(fail('pi.fstab', '/etc/fstab', 'cannot read /etc/fstab', 'check the login'));
  else if (!dir) checks.push(skip('pi.fstab', '/etc/fstab', 'the directory name is unknown'));
  else if (!nfs) checks.push(skip('pi.fstab', '/etc/fstab', 'the Pi is not in the inventory and no --nfs was given, so the expected NFS source is unknown'));
  else {
    const c = checkBootNfs(d.raw.fstab, { nfs, dir, ...(mountpoint ? { mountpoint } : {}) });
    const bad = c.findings.filter((x) => x.level === 'fail' || x.level === 'warn');
    const good = c.findings.filter((x) => x.level === 'ok').map((x) => x.message);
    if (bad.length === 0) checks.push(ok('pi.fstab', '/etc/fstab', good.join('; ')));
    else {
      const worst = bad.find((x) => x.level === 'fail') ?? bad[0]!;
      checks.push((worst.level === 'fail' ? fail : warn)('pi.fstab', '/etc/fstab', bad.map((x) => x.message).join('; '), worst.fix ?? `pinet enroll ${host}`, good));
    }
  }

  // mounted from NFS right now? If not: is a reboot still pending, or did the mount fail at boot?
  const bp = f.bootPartition.known ? f.bootPartition.value : undefined;
  const mp = bp?.mountpoint ?? '/boot/firmware';
  const fstabNfs = d.raw.fstab !== undefined && dir !== undefined && new RegExp(`^\\S+:\\S*/${dir}\\s+\\S+\\s+nfs4?\\s`, 'm').test(d.raw.fstab);
  const now = bp?.mounted ? `${bp.mounted.source}, ${bp.mounted.fstype}` : 'nothing mounted';
  // The same directory (device and inode) as the export here: a bind mount on this very machine (a container), not NFS.
  const sameDir = dir !== undefined && view.dirId !== undefined && ctx.bootState?.dirs[mp] === view.dirId;
  const fstabNewer = fstabChangedSinceBoot(ctx.bootState);
  if (bp?.mounted?.nfs) checks.push(ok('pi.mounted', 'boot partition now', `${mp} is mounted from ${bp.mounted.source} over NFS`));
  else if (sameDir) {
    checks.push(ok('pi.mounted', 'boot partition now', `${mp} is ${join(ctx.exportDir, dir!)} of this machine itself (${now}: same device and inode, e.g. a bind mount into a container), not NFS; updates on the Pi land in the export`));
  } else if (fstabNfs && (fstabNewer === true || d.eeprom.pendingConfig !== undefined)) {
    const why = fstabNewer === true ? '/etc/fstab changed after the last boot' : 'a bootloader update is pending too';
    checks.push(warn('pi.mounted', 'boot partition now', `${mp} is not mounted from NFS yet (${now}): /etc/fstab says NFS and ${why}, so a reboot is pending`, `reboot ${host}`));
  } else if (fstabNfs && fstabNewer === false) {
    checks.push(
      fail(
        'pi.mounted',
        'boot partition now',
        `${mp} is ${now}, not NFS, although the Pi booted after /etc/fstab was changed to NFS: the NFS mount failed at boot`,
        `on ${host}, \`mount -v ${mp}\` says why (the NFS server's name must resolve, the export must allow this Pi, the NFS client must be installed); then reboot`,
      ),
    );
  } else if (fstabNfs) {
    checks.push(warn('pi.mounted', 'boot partition now', `${mp} is not mounted from NFS (${now}); /etc/fstab says NFS, and pinet could not read when the Pi booted, so it cannot tell a pending reboot from a failed mount`, `reboot ${host}; if it stays so, \`mount -v ${mp}\` on the Pi says why`));
  } else checks.push(fail('pi.mounted', 'boot partition now', `${mp} is the local partition (${now}): kernel updates do not reach the TFTP server`, `pinet enroll ${host}`));

  // does the Pi's boot content equal what TFTP serves?
  if (dir && d.bootDir) {
    const local = view.listing;
    const differ: string[] = [];
    // A Pi enrolled with --root nfs/rbd netboots with the cmdline.txt enroll wrote in the export, on purpose not its own.
    const managed = ctx.entry?.root ? cmdlineNameOf(d) : undefined;
    for (const e of d.bootList) {
      if (e.type !== 'file' || isExcluded(e.path) || e.path === managed) continue;
      const l = local.get(e.path);
      if (!l || l.size !== e.size || l.mtimeMs !== Math.floor(e.mtimeMs / 1000) * 1000) differ.push(e.path);
    }
    if (local.size === 0) {
      // reported by pi.export-dir
    } else if (differ.length) {
      checks.push(warn('pi.in-sync', 'boot files in sync', `${differ.length} file${differ.length === 1 ? '' : 's'} in the Pi's ${d.bootDir} differ from the export: updates on the Pi do not reach TFTP`, `pinet enroll ${host} copies them again; after its reboot ${d.bootDir} is the export itself`, differ.slice(0, 10)));
    } else checks.push(ok('pi.in-sync', 'boot files in sync', `${d.bootDir} on the Pi has the same files as the export`));
  }

  // the hook that keeps files readable after kernel updates
  const hooksOk = HOOK_PATHS.every((p) => d.hookContents[p] !== undefined);
  const order = HOOK_PATHS.map((p) => runsLast(d.hooks, p.slice(0, p.lastIndexOf('/'))));
  let squashed = false;
  if (dir && ctx.tftpUid !== undefined) {
    const files = [...view.listing.values()].filter((e) => e.type === 'file');
    squashed = files.length > 0 && files.every((e) => e.uid === ctx.tftpUid);
  }
  if (hooksOk && order.every((o) => o.last)) {
    checks.push(ok('pi.hook', 'kernel update hook', `${HOOK_PATHS.join(' and ')} installed, run after the distribution's hooks`));
  } else if (hooksOk) {
    checks.push(warn('pi.hook', 'kernel update hook', `pinet's hook does not run last: ${order.flatMap((o) => o.after).join(', ')} run after it`, `rename those hooks, or pinet enroll ${host} after removing them`));
  } else if (squashed) {
    checks.push(ok('pi.hook', 'kernel update hook', "no pinet hook, but the export squashes every file to the TFTP server's user"));
  } else {
    checks.push(warn('pi.hook', 'kernel update hook', 'the hook that keeps boot files readable is not installed: the next kernel update writes a 0600 kernel and breaks this Pi\'s netboot', `pinet enroll ${host} installs it (or export with all_squash to the TFTP server's user)`));
  }
  return checks;
}

/** The media each local boot mode boots from. */
const MEDIA_OF_MODE: Readonly<Record<number, readonly LocalMedium['kind'][]>> = { 0x0: ['emmc', 'sd'], 0x1: ['emmc', 'sd'], 0x4: ['usb'], 0x5: ['usb'], 0x6: ['nvme'] };
const MEDIUM_NAME: Readonly<Record<LocalMedium['kind'], string>> = { sd: 'SD card', emmc: 'eMMC', usb: 'USB disk', nvme: 'NVMe SSD' };

/**
 * BOOT_ORDER tries local modes before NETWORK: that only matters when such a
 * medium is attached, since a bootable one always wins over the network.
 * `media` is what /sys/block lists (undefined when it could not be read).
 */
function localFirstCheck(order: string, local: number[], isCm: boolean, host: string, media: LocalMedium[] | undefined): Check {
  if (!local.length) return ok('pi.boot-order', 'BOOT_ORDER', order);
  const kinds = new Set(local.flatMap((m) => MEDIA_OF_MODE[m] ?? []));
  const before = [...new Set(local.map((m) => modeName(m, { computeModule: isCm })))].join('/');
  if (media === undefined) {
    return warn(
      'pi.boot-order',
      'BOOT_ORDER',
      `${order}, after ${before}: ${isCm ? 'a CM4 whose eMMC holds an image always boots from it' : 'a bootable SD card or USB disk wins over the network'} (which media are attached could not be read)`,
      isCm ? `pinet enroll ${host} --boot-order net-usb-sd (eMMC last)` : `remove the SD card, or pinet enroll ${host} --boot-order net-first`,
    );
  }
  const found = media.filter((m) => kinds.has(m.kind));
  if (!found.length) {
    const names = [...new Set(local.flatMap((m) => (MEDIA_OF_MODE[m] ?? []).filter((k) => isCm || k !== 'emmc').map((k) => MEDIUM_NAME[k])))];
    const none = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names[0];
    return ok('pi.boot-order', 'BOOT_ORDER', `${order}; ${before} come${local.length > 1 ? '' : 's'} first, but no ${none} is attached (/sys/block), so the Pi goes on to NETWORK`);
  }
  const list = found.map((m) => `${MEDIUM_NAME[m.kind]} ${m.name}${m.bytes ? ` (${(m.bytes / 1e9).toFixed(1)} GB)` : ''}`).join(', ');
  const emmc = found.some((m) => m.kind === 'emmc');
  return warn(
    'pi.boot-order',
    'BOOT_ORDER',
    `${order}, after ${before}: ${list} ${found.length > 1 ? 'are attached: while one of them holds' : 'is attached: while it holds'} a boot partition, the Pi boots from it, never from the network${emmc ? ' (an eMMC cannot be removed)' : ''}`,
    emmc
      ? `pinet enroll ${host} --boot-order net-usb-sd (eMMC last)`
      : `${found.length > 1 ? 'remove them (or wipe their boot partitions)' : `remove the ${MEDIUM_NAME[found[0]!.kind]} (or wipe its boot partition)`}, or pinet enroll ${host} --boot-order net-first (NETWORK first, local media as the fallback)`,
  );
}
