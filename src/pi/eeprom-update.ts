/**
 * rpi-eeprom-update: is it allowed to update this Pi's bootloader, and is an
 * update waiting for the next reboot?
 *
 * From raspberrypi/rpi-eeprom `rpi-eeprom-update` (the script sources
 * /etc/default/rpi-eeprom-update, a shell file):
 *
 * * On CM4 and CM4S (board types 0x14 and 0x15) the script prints
 *   "rpi-eeprom-update is not enabled by default on CM4(S)" and exits with
 *   status 0 WITHOUT staging anything, unless CM4_ENABLE_RPI_EEPROM_UPDATE=1.
 *   So `rpi-eeprom-config --apply` looks successful there and changes
 *   nothing. The recommended route is rpiboot (usbboot); the script's own
 *   hint for in-system updates is CM4_ENABLE_RPI_EEPROM_UPDATE=1 and
 *   RPI_EEPROM_IMMEDIATE_UPDATE=1 in /etc/default/rpi-eeprom-update, plus
 *   dtparam=spi=on, dtoverlay=audremap, dtoverlay=spi-gpio40-45 in the [cm4]
 *   section of config.txt ([cm4s]: dtparam=enable_eeprom=on).
 * * A staged update is `pieeprom.upd` + `pieeprom.sig` in the boot partition,
 *   plus `recovery.bin` unless self-update is used (and `vl805.bin` +
 *   `vl805.sig` on early Pi 4s). After flashing, recovery.bin renames itself
 *   to `recovery.000` (FAT is case-insensitive, so RECOVERY.000 too) so it
 *   does not run again. `rpi-eeprom-update -r` removes all of these.
 *   With self-update the bootloader applies pieeprom.upd only when it differs
 *   from the running image and renames nothing, so the file names alone
 *   cannot tell a pending self-update from an applied one.
 */

import type { Board } from './revision.js';
import { emptyRecord, showValue } from './text.js';

export interface DefaultsFile {
  /** Plain `KEY=value` assignments, quotes removed. */
  vars: Record<string, string>;
  /** Lines that are not plain assignments (shell code pinet does not evaluate). */
  complexLines: number[];
}

/** Parse /etc/default/rpi-eeprom-update (shell assignments; anything else is listed, not run). */
export function parseEepromUpdateDefaults(text: string): DefaultsFile {
  const vars = emptyRecord<string>();
  const complexLines: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) {
      complexLines.push(i + 1);
      return;
    }
    const value = plainShellValue(m[2]!);
    if (value === undefined) complexLines.push(i + 1);
    else vars[m[1]!] = value;
  });
  return { vars, complexLines };
}

/** A shell value without expansions: `x`, `"x"`, `'x'`, with an optional trailing `# comment`. */
function plainShellValue(v: string): string | undefined {
  const m = /^(?:"([^"$`\\]*)"|'([^']*)'|([^\s"'$`\\;&|<>()]*))\s*(#.*)?$/.exec(v);
  if (!m) return undefined;
  return m[1] ?? m[2] ?? m[3] ?? '';
}

export interface UpdatesEnabled {
  updatesEnabled: boolean | 'unknown';
  reason: string;
  /** For CM4/CM4S with updates disabled: how to change EEPROM settings instead. */
  hint?: string;
}

const CM4_HINT =
  'flash the bootloader config with rpiboot (usbboot, see raspberrypi/usbboot), or enable in-system updates: ' +
  'set CM4_ENABLE_RPI_EEPROM_UPDATE=1 and RPI_EEPROM_IMMEDIATE_UPDATE=1 in /etc/default/rpi-eeprom-update and add ' +
  'dtparam=spi=on, dtoverlay=audremap and dtoverlay=spi-gpio40-45 to the [cm4] section of config.txt ([cm4s]: dtparam=enable_eeprom=on), then reboot';

/**
 * Will rpi-eeprom-update (and so `rpi-eeprom-config --apply`) stage bootloader
 * changes on this board? `defaultsText` is /etc/default/rpi-eeprom-update, or
 * undefined when the file does not exist.
 */
export function eepromUpdatesEnabled(board: Pick<Board, 'name' | 'type' | 'eepromNetboot'> | undefined, defaultsText: string | undefined): UpdatesEnabled {
  if (board === undefined) return { updatesEnabled: 'unknown', reason: 'the board is unknown' };
  if (!board.eepromNetboot) return { updatesEnabled: false, reason: `${board.name} has no bootloader EEPROM that rpi-eeprom-update manages` };
  if (board.type !== 0x14 && board.type !== 0x15) {
    return { updatesEnabled: true, reason: `rpi-eeprom-update manages the ${board.name} bootloader` };
  }
  const defaults = parseEepromUpdateDefaults(defaultsText ?? '');
  const flag = defaults.vars.CM4_ENABLE_RPI_EEPROM_UPDATE;
  if (flag === '1') {
    return { updatesEnabled: true, reason: `CM4_ENABLE_RPI_EEPROM_UPDATE=1 in /etc/default/rpi-eeprom-update enables updates on ${board.name}` };
  }
  if (flag === undefined && defaults.complexLines.length > 0) {
    return {
      updatesEnabled: 'unknown',
      reason: `/etc/default/rpi-eeprom-update has shell code pinet does not evaluate (line${defaults.complexLines.length > 1 ? 's' : ''} ${defaults.complexLines.join(', ')}); on ${board.name} updates are off unless it sets CM4_ENABLE_RPI_EEPROM_UPDATE=1`,
      hint: CM4_HINT,
    };
  }
  const why = flag === undefined ? 'CM4_ENABLE_RPI_EEPROM_UPDATE is not set' : `CM4_ENABLE_RPI_EEPROM_UPDATE=${showValue(flag)}`;
  return {
    updatesEnabled: false,
    reason: `rpi-eeprom-update is disabled by default on ${board.name} (${why}): it exits successfully without staging anything, so rpi-eeprom-config --apply changes nothing`,
    hint: CM4_HINT,
  };
}

export type PendingState = 'pending' | 'not-pending' | 'unknown';

export interface PendingUpdate {
  state: PendingState;
  reason: string;
  /** The update-related files found (names as listed). */
  files: string[];
}

/**
 * Is a bootloader update staged for the next reboot? `names` are the file
 * names in the boot partition (top level; case does not matter on FAT).
 */
export function pendingUpdate(names: readonly string[]): PendingUpdate {
  const byLower = new Map<string, string>();
  for (const n of names) byLower.set(n.toLowerCase(), n);
  const has = (n: string): boolean => byLower.has(n);
  const renamed = [...byLower.keys()].filter((n) => /^recovery\.\d{3}$/.test(n));
  const related = [...byLower.entries()]
    .filter(([l]) => ['pieeprom.upd', 'pieeprom.sig', 'recovery.bin', 'vl805.bin', 'vl805.sig', 'pieeprom.bin'].includes(l) || /^recovery\.\d{3}$/.test(l))
    .map(([, n]) => n)
    .sort();

  const upd = has('pieeprom.upd');
  const sig = has('pieeprom.sig');
  const vl805 = has('vl805.bin') && has('vl805.sig');
  if (has('recovery.bin') && ((upd && sig) || vl805)) {
    return { state: 'pending', reason: 'recovery.bin and the update image are staged: the EEPROM is flashed at the next reboot', files: related };
  }
  if (has('recovery.bin')) {
    return { state: 'unknown', reason: 'recovery.bin is present without pieeprom.upd/pieeprom.sig: an incomplete or foreign update', files: related };
  }
  if (renamed.length > 0) {
    return {
      state: 'not-pending',
      reason: `${renamed.map((r) => byLower.get(r)).join(', ')} shows recovery.bin already ran (it renames itself after flashing)${upd ? '; pieeprom.upd is left over' : ''}`,
      files: related,
    };
  }
  if (upd && sig) {
    return {
      state: 'unknown',
      reason: 'pieeprom.upd and pieeprom.sig are staged for self-update: the bootloader applies them if they differ from the running image and renames nothing, so only comparing with the running bootloader tells',
      files: related,
    };
  }
  if (upd || sig) {
    return { state: 'unknown', reason: `${upd ? 'pieeprom.upd without pieeprom.sig' : 'pieeprom.sig without pieeprom.upd'}: an incomplete update`, files: related };
  }
  return { state: 'not-pending', reason: 'no update files in the boot partition', files: related };
}
