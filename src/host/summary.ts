/**
 * A detected Pi as people and machines read it: `pinet info`'s table rows
 * and its JSON. Unknown facts are shown as "unknown (reason)", never hidden.
 */
import { formatBootOrder } from '../pi/boot-order.js';
import { formatMemory } from '../pi/revision.js';
import { table } from '../ui/table.js';
import type { Detected } from './detect.js';

export interface PiSummary {
  host: string;
  hostname: string;
  login: { user: string; privilege: string };
  serial: string | null;
  tftpDirectory: string | null;
  tftpPrefix: string;
  board: string | null;
  revision: string | null;
  memory: string | null;
  model: string | null;
  eepromNetboot: boolean | null;
  mac: string | null;
  os: string | null;
  bootPartition: string | null;
  bootMount: string | null;
  bootOrder: string | null;
  bootOrderExplained: string;
  networkBootTried: boolean | null;
  updatePending: string;
  eepromUpdates: string;
  bootFiles: string[];
  optionalBootFiles: string[];
  cmdline: string | null;
  rootMethod: string | null;
  notes: string[];
}

const why = (r: { known: false; reason: string }) => `unknown (${r.reason})`;

/** "Ubuntu 24.04.1 LTS", "Raspberry Pi OS (Debian GNU/Linux 12 (bookworm))". */
export function osName(os: { kind: string; prettyName?: string }): string {
  const pretty = os.prettyName ?? os.kind;
  return os.kind === 'raspios' && !/raspberry|raspbian/i.test(pretty) ? `Raspberry Pi OS (${pretty})` : pretty;
}

export function summarize(d: Detected): PiSummary {
  const f = d.facts;
  const notes: string[] = [];
  const serial = f.serial.known ? f.serial.value : undefined;
  if (serial) notes.push(...serial.notes);
  const board = f.board.known ? f.board.value : undefined;
  const bl = f.bootloader.known ? f.bootloader.value : undefined;
  const bo = bl?.bootOrder;
  const tftp = bl?.tftp;
  if (tftp && tftp.ok) notes.push(...tftp.notes.filter((n) => !n.startsWith('the bootloader drops the prefix')));
  const bp = f.bootPartition.known ? f.bootPartition.value : undefined;
  const files = f.bootFiles.known ? f.bootFiles.value : undefined;
  if (files) notes.push(...files.notes, ...files.errors.map((e) => `config.txt: ${e}`));
  if (files?.untested) notes.push('Pi 5: the list of boot files comes from the documentation and is untested on hardware');
  if (board && !board.eepromNetboot) notes.push(board.eepromNetbootReason);
  const cl = f.cmdline.known ? f.cmdline.value : undefined;

  let mounted = '';
  if (bp?.mounted) mounted = `, mounted from ${bp.mounted.source} (${bp.mounted.fstype})`;
  else if (bp?.mounted === null) mounted = ', not mounted';

  return {
    host: d.label,
    hostname: d.hostname,
    login: { user: d.login.user, privilege: d.login.privilege },
    serial: serial?.full ?? null,
    tftpDirectory: tftp?.ok ? (tftp.dir ?? (tftp.prefix || '(none)')) : null,
    tftpPrefix: tftp ? (tftp.ok ? tftp.why : why(tftp)) : f.bootloader.known ? 'unknown' : why(f.bootloader),
    board: board ? `${board.name} rev ${board.boardRevision}` : null,
    revision: board?.code ?? null,
    memory: board ? formatMemory(board) : null,
    model: f.model ?? null,
    eepromNetboot: board?.eepromNetboot ?? null,
    mac: f.mac ?? null,
    os: f.os.known ? osName(f.os.value) : null,
    bootPartition: bp ? `${bp.mountpoint} (from ${bp.source}${bp.fstabSource ? `: ${bp.fstabSource}` : ''}${mounted})` : null,
    bootMount: bp?.mountpoint ?? null,
    bootOrder: bo?.ok ? formatBootOrder(bo.order) : null,
    bootOrderExplained: bo ? (bo.ok ? bo.explanation : `unknown (${bo.reason})`) : f.bootloader.known ? 'unknown' : why(f.bootloader),
    networkBootTried: bo?.ok ? bo.order.modes.includes(2) : null,
    updatePending: bl ? (bl.pending.known ? `${bl.pending.value.state}: ${bl.pending.value.reason}` : why(bl.pending)) : 'unknown',
    eepromUpdates: bl ? `${bl.updates.updatesEnabled === true ? 'enabled' : bl.updates.updatesEnabled === false ? 'disabled' : 'unknown'}: ${bl.updates.reason}` : 'unknown',
    bootFiles: files ? files.files.map((x) => x.path) : [],
    optionalBootFiles: files ? files.optional.map((x) => x.path) : [],
    cmdline: cl ? cl.words.join(' ') : null,
    rootMethod: cl ? cl.method : null,
    notes,
  };
}

export function formatSummary(s: PiSummary, d: Detected, c: { bold(x: string): string; dim(x: string): string; yellow(x: string): string }): string {
  const f = d.facts;
  const u = (v: string | null, r: { known: boolean; reason?: string }) => v ?? `unknown (${r.reason ?? 'not read'})`;
  const rows: [string, string][] = [
    ['serial', f.serial.known ? `${s.serial} (from ${f.serial.value.source})` : why(f.serial as { known: false; reason: string })],
    ['TFTP directory', s.tftpDirectory ? `${s.tftpDirectory} (${s.tftpPrefix})` : s.tftpPrefix],
    ['board', f.board.known ? `${s.board}, ${s.memory}, revision ${s.revision}${s.model ? ` — ${s.model}` : ''}` : why(f.board as { known: false; reason: string })],
    ['MAC', s.mac ?? 'unknown (no wired interface found)'],
    ['OS', u(s.os, f.os as { known: boolean; reason?: string })],
    ['boot partition', u(s.bootPartition, f.bootPartition as { known: boolean; reason?: string })],
    ['BOOT_ORDER', s.bootOrderExplained],
    ['update pending', s.updatePending],
    ['EEPROM updates', s.eepromUpdates],
    ['login', `${s.login.user} (${s.login.privilege})`],
    ['cmdline.txt', u(s.cmdline, f.cmdline as { known: boolean; reason?: string })],
    ['boot files', s.bootFiles.length ? s.bootFiles.join(', ') : u(null, f.bootFiles as { known: boolean; reason?: string })],
  ];
  const lines = [c.bold(`${s.host}${s.hostname ? ` [${s.hostname}]` : ''}`), table(rows, { indent: '  ' })];
  for (const n of s.notes) lines.push(`  ${c.yellow('note:')} ${n}`);
  return lines.join('\n');
}
