/**
 * Doctor checks of the export directory, offline: for every Pi in the
 * inventory and every directory in the export, is the directory named the
 * way that Pi's bootloader asks for it, is every file its bootloader will
 * request there, can the TFTP server's user read each one (real permission
 * rules, parents included), and is cmdline.txt sane?
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { bootFiles } from '../../pi/boot-files.js';
import { checkCmdline, parseCmdline } from '../../pi/cmdline.js';
import { effectiveValue, evaluateConfigTxt } from '../../pi/config-txt.js';
import { classifyTftpDirName, macToTftpDir } from '../../pi/eeprom-config.js';
import { decodeRevision, type Board } from '../../pi/revision.js';
import { canRead, octal, type UnixUser } from '../../server/perms.js';
import type { Inventory, InventoryEntry } from '../../server/state.js';
import { fail, ok, skip, warn, type Check, type CheckGroup } from './model.js';
import { servedByNfs, unreadableAs } from './served.js';

/** Checked when the inventory does not say which board owns a directory. */
const ASSUMED_BOARD = 'c03111';

export interface ExportTarget {
  dir: string;
  entry?: InventoryEntry;
  /** Files its bootloader requests that exist in the directory. */
  present: string[];
  /** Every file its bootloader requests, present or not (the live TFTP check asks for each, as a Pi would). */
  required: string[];
}

function boardOf(entry: InventoryEntry | undefined): { board?: Board; assumed: boolean } {
  const b = decodeRevision(entry?.revision ?? ASSUMED_BOARD);
  if (!b.ok) return { assumed: true };
  const { ok: _ok, ...board } = b;
  return { board, assumed: entry?.revision === undefined };
}

async function readTexts(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    if (n.endsWith('.txt')) {
      const t = await readFile(join(dir, n), 'utf8').catch(() => undefined);
      if (t !== undefined) out[n] = t;
    }
  }
  return out;
}

export async function checkExportDirs(
  exportDir: string,
  inv: Inventory,
  tftpUser: UnixUser,
  tftpUserNote: string,
): Promise<{ groups: CheckGroup[]; targets: ExportTarget[] }> {
  const groups: CheckGroup[] = [];
  const targets: ExportTarget[] = [];
  const names = new Set<string>();
  for (const n of await readdir(exportDir).catch(() => [] as string[])) {
    if (n.startsWith('.')) continue;
    const st = await stat(join(exportDir, n)).catch(() => undefined);
    if (st?.isDirectory() && n !== 'overlays') names.add(n);
  }
  const entries = Object.values(inv.pis).filter((e) => e.exportDir === exportDir);
  // Whose directory is it? The one enrolled under that name, else the Pi whose serial or MAC it is
  // (a directory renamed by hand, e.g. to the serial of a Pi that asks by MAC with TFTP_PREFIX=2).
  const owner = (dir: string): InventoryEntry | undefined =>
    entries.find((e) => e.dir === dir) ??
    entries.find((e) => (classifyTftpDirName(dir) === 'serial' ? e.serial.slice(-8).toLowerCase() === dir : e.mac !== undefined && macToTftpDir(e.mac) === dir));
  const owned = new Set([...names].map(owner));
  for (const e of entries) if (!owned.has(e)) names.add(e.dir);

  for (const dir of [...names].sort()) {
    const entry = owner(dir);
    const path = join(exportDir, dir);
    const checks: Check[] = [];
    const name = entry ? `${entry.host} (${path}/)` : `${path}/`;
    const group: CheckGroup = { name, about: entry ? `serial ${entry.serial}${entry.board ? `, ${entry.board}` : ''}` : 'not in the inventory', checks };
    groups.push(group);
    const target: ExportTarget = { dir, present: [], required: [] };
    if (entry) target.entry = entry;
    targets.push(target);

    // the directory name, as this Pi's bootloader asks for it
    const kind = classifyTftpDirName(dir);
    if (entry) {
      const want = entry.prefixMode === 'mac' ? (entry.mac ? macToTftpDir(entry.mac) : undefined) : entry.prefixMode === 'serial' ? entry.serial.slice(-8).toLowerCase() : dir;
      if (want !== undefined && want !== dir) {
        checks.push(fail('export.name', 'directory name', `${dir} is not what the bootloader asks for: with TFTP_PREFIX=${entry.prefixMode === 'mac' ? '2 (MAC)' : '0 (serial)'} it asks for ${want}/`, `rename ${path} to ${join(exportDir, want)} (or run pinet enroll ${entry.host})`));
      } else {
        checks.push(ok('export.name', 'directory name', `${dir} matches the ${entry.prefixMode === 'mac' ? 'MAC address (TFTP_PREFIX=2)' : entry.prefixMode === 'serial' ? 'serial number (TFTP_PREFIX=0)' : 'TFTP_PREFIX_STR (TFTP_PREFIX=1)'}`));
      }
    } else if (kind === 'other') {
      checks.push(warn('export.name', 'directory name', `${dir} is neither a serial (8 lowercase hex digits) nor a MAC (dc-a6-32-01-36-c2): no bootloader asks for it unless TFTP_PREFIX_STR says so`, 'rename it to the Pi\'s serial (cat /proc/cpuinfo) or enroll the Pi with pinet'));
    } else {
      checks.push(ok('export.name', 'directory name', `${dir} looks like a ${kind === 'serial' ? 'serial number' : 'MAC address'} (not enrolled by pinet)`));
    }

    const st = await stat(path).catch(() => undefined);
    if (!st?.isDirectory()) {
      checks.push(fail('export.files', 'boot files', `${path}/ does not exist`, entry ? `pinet enroll ${entry.host}` : 'create it'));
      continue;
    }

    const texts = await readTexts(path);
    const config = texts['config.txt'];
    if (config === undefined) {
      checks.push(fail('export.files', 'boot files', `${path}/config.txt is missing: the bootloader cannot boot from this directory`, entry ? `copy the boot files again: pinet enroll ${entry.host}` : 'copy the Pi\'s boot partition into it'));
      continue;
    }
    const { board, assumed } = boardOf(entry);
    if (!board) {
      checks.push(skip('export.files', 'boot files', 'the board is unknown, so the list of boot files is too'));
      continue;
    }
    const exists = new Set<string>();
    const listing = await listFiles(path);
    for (const f of listing) exists.add(f);
    const bf = bootFiles(config, board, { include: (n) => texts[n], exists: (p) => exists.has(p) });
    if (!bf.ok) {
      checks.push(fail('export.files', 'boot files', `config.txt: ${bf.error}`, 'fix config.txt'));
      continue;
    }
    const required = bf.files.filter((f) => f.required && !f.conditional);
    const missing = required.filter((f) => !exists.has(f.path));
    const assumption = assumed ? ` (board not in the inventory: checked as a ${board.name})` : '';
    if (missing.length) {
      checks.push(
        fail('export.files', 'boot files', `${missing.length} file${missing.length === 1 ? '' : 's'} the bootloader requests ${missing.length === 1 ? 'is' : 'are'} missing${assumption}`, entry ? `copy them from the Pi: pinet enroll ${entry.host}` : 'copy them from the Pi\'s boot partition', missing.map((f) => `${f.path}: ${f.why}`)),
      );
    } else {
      checks.push(ok('export.files', 'boot files', `all ${required.length} files the bootloader requests are there${assumption}`, [required.map((f) => f.path).join(', ')]));
    }
    if (bf.untested) checks.push(warn('export.pi5', 'Pi 5', 'the Pi 5 boot file list comes from documentation; pinet cannot vouch for it', 'check the Pi\'s boot with a serial console or the dnsmasq log (pinet doctor --log)'));
    target.present = required.filter((f) => exists.has(f.path)).map((f) => f.path);
    target.required = required.map((f) => f.path);

    // readable by the TFTP server's user
    // One line per cause: a directory without search permission blocks every file below it.
    const denied = new Map<string, number>();
    // On an NFS mount the NFS server decides: ask it, by opening each file as the TFTP user.
    const nfs = await servedByNfs(path);
    const real = nfs ? await unreadableAs(tftpUser, target.present.map((f) => join(path, f))).catch(() => undefined) : undefined;
    let allowedBySquash = 0;
    for (const f of target.present) {
      const a = await canRead(tftpUser, join(path, f));
      const refused = real ? real.has(join(path, f)) : !a.ok;
      if (refused) {
        const line = !a.ok ? `${a.path}: ${a.reason}` : `${join(path, f)}: the NFS server (${nfs!.source}) refuses it to ${tftpUser.name} although the mode bits allow it`;
        denied.set(line, (denied.get(line) ?? 0) + 1);
      } else if (!a.ok) allowedBySquash++;
    }
    const note = !allowedBySquash ? tftpUserNote : `${tftpUserNote}; ${allowedBySquash} of them the mode bits would refuse, but the NFS server (${nfs!.source}) lets ${tftpUser.name} open them (its squash maps it to their owner), and dnsmasq only needs to open them`;
    const blocked = [...denied.values()].reduce((n, c) => n + c, 0);
    if (blocked) {
      const causes = [...denied].map(([line, n]) => (n > 1 ? `${line} (${n} boot files below it)` : line));
      checks.push(
        fail('export.readable', 'readable by TFTP', `${blocked} boot file${blocked === 1 ? '' : 's'} cannot be read by "${tftpUser.name}", the TFTP server's user (it answers "Permission denied")`, `chmod -R a+rX ${path}; keep it so after kernel updates with pinet's hook (pinet enroll${entry ? ` ${entry.host}` : ''}) or an export that squashes to ${tftpUser.name}`, [...causes, note]),
      );
    } else if (target.present.length) {
      checks.push(ok('export.readable', 'readable by TFTP', `"${tftpUser.name}" can read every boot file and search every directory above them`, [note]));
    }

    // cmdline.txt
    const ev = evaluateConfigTxt(config, { board, include: (n) => texts[n] });
    const cmdName = effectiveValue(ev, 'cmdline').value || 'cmdline.txt';
    const cmd = texts[cmdName];
    if (cmd === undefined) {
      checks.push(fail('export.cmdline', 'cmdline.txt', `${cmdName} is missing`, 'copy it from the Pi'));
    } else {
      const parsed = parseCmdline(cmd);
      if (!parsed.ok) {
        checks.push(fail('export.cmdline', 'cmdline.txt', `${cmdName}: ${parsed.error}`, 'make it one line of kernel parameters'));
      } else {
        const findings = checkCmdline(parsed.words, entry?.root).filter((f) => f.level !== 'ok' && f.level !== 'info');
        const worst = findings.find((f) => f.level === 'fail') ?? findings[0];
        const words = parsed.words.filter((w) => /^(root|nfsroot|ip|boot|rbdroot)=/.test(w)).map((w) => w.replace(/^(rbdroot=[^:]*:[^:]*:)[^:]+/, '$1<key>'));
        if (!worst) checks.push(ok('export.cmdline', 'cmdline.txt', words.join(' ') || 'no root settings (local root)'));
        else {
          const make = worst.level === 'fail' ? fail : warn;
          checks.push(make('export.cmdline', 'cmdline.txt', findings.map((f) => f.message).join('; '), worst.fix ?? 'fix cmdline.txt', [`${join(path, cmdName)}: ${words.join(' ')}`]));
        }
      }
    }
  }
  if (groups.length === 0) {
    groups.push({ name: `${exportDir}/`, checks: [warn('export.empty', 'Pi directories', 'no Pi directory in the export and no Pi in the inventory', 'enroll a Pi: pinet enroll <host>')] });
  }
  return { groups, targets };
}

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const n of await readdir(rel ? join(root, rel) : root).catch(() => [] as string[])) {
      const r = rel ? `${rel}/${n}` : n;
      const st = await stat(join(root, r)).catch(() => undefined);
      if (st?.isDirectory()) await walk(r);
      else if (st) out.push(r);
    }
  }
  await walk('');
  return out;
}

export { octal };
