/**
 * BOOT_ORDER, the bootloader EEPROM setting that decides which boot modes a
 * Pi 4/Pi 5 tries: parse, validate, explain and edit it.
 *
 * BOOT_ORDER is a 32-bit number whose hex digits (nibbles) are boot modes,
 * tried from the RIGHTMOST nibble to the left, at most 8 of them: `0xf241` is
 * SD (1) → USB (4) → NETWORK (2) → RESTART (f). Modes (raspberrypi/documentation,
 * computers/raspberry-pi/eeprom-bootloader.adoc): 0 SD CARD DETECT (deprecated),
 * 1 SD CARD (eMMC on Compute Modules), 2 NETWORK, 3 RPIBOOT, 4 USB-MSD,
 * 5 BCM-USB-MSD (Pi 4 family only, not Pi 5), 6 NVME (CM4 and Pi 5), 7 HTTP,
 * e STOP, f RESTART (start again from the right).
 *
 * Here an order is the list of modes in the order they are tried, so
 * `0xf241` is `[1, 4, 2, 15]`. Leading zero nibbles carry no mode (0xf241 and
 * 0x0000f241 are the same number).
 *
 * The bootloader maps undocumented modes to SD (rpi-eeprom release notes,
 * 2020-05-28). On the Pi 5, `set_reboot_order` in config.txt can override
 * BOOT_ORDER for one reboot.
 *
 * Values must be written with `0x`: pinet refuses `f241`, because a number
 * without the prefix may be read as decimal by the bootloader's config parser
 * (its documentation only ever shows 0x values).
 */

import { PRESET_NAMES, type PresetName } from './names.js';
import { lookup, showValue } from './text.js';

export { PRESET_NAMES };

export const NETWORK = 0x2;
/** What a Pi 4 uses when its config has no BOOT_ORDER line ("default if BOOT_ORDER is empty"). */
export const PI4_DEFAULT_BOOT_ORDER = '0xf41';
export const STOP = 0xe;
export const RESTART = 0xf;

export interface ModeInfo {
  /** The documentation's name: `SD CARD`, `NETWORK`, ... */
  name: string;
  /** The word used in explanations: `SD`, `USB`, `NETWORK`, `RESTART`. */
  short: string;
  /** Boots from storage attached to the Pi (a way back when netboot is broken). */
  local: boolean;
  description: string;
}

export const MODES: Readonly<Record<number, ModeInfo>> = {
  0x0: { name: 'SD CARD DETECT', short: 'SD (card detect)', local: true, description: 'try SD, then wait for a card change (deprecated since RESTART exists)' },
  0x1: { name: 'SD CARD', short: 'SD', local: true, description: 'SD card, or eMMC on a Compute Module' },
  0x2: { name: 'NETWORK', short: 'NETWORK', local: false, description: 'network boot: DHCP, then TFTP' },
  0x3: { name: 'RPIBOOT', short: 'RPIBOOT', local: false, description: 'USB device boot from a host running usbboot; no timeout, so it belongs last' },
  0x4: { name: 'USB-MSD', short: 'USB', local: true, description: 'USB mass storage' },
  0x5: { name: 'BCM-USB-MSD', short: 'BCM-USB', local: true, description: 'USB 2.0 boot from the USB-C socket (CM4: type A on the IO board); not on Pi 5' },
  0x6: { name: 'NVME', short: 'NVME', local: true, description: 'NVMe SSD on PCIe (CM4 and Pi 5)' },
  0x7: { name: 'HTTP', short: 'HTTP', local: false, description: 'HTTP boot over Ethernet' },
  0xe: { name: 'STOP', short: 'STOP', local: false, description: 'stop and show the error pattern until power-cycled' },
  0xf: { name: 'RESTART', short: 'RESTART', local: false, description: 'start again from the first (rightmost) mode' },
};

export interface BootOrder {
  /** Modes in the order they are tried (rightmost nibble first). */
  modes: number[];
}

export type BootOrderResult = { ok: true; order: BootOrder } | { ok: false; error: string; hint?: string };

/** Parse `0xf241` / `0XF241` (1 to 8 hex digits after `0x`). */
export function parseBootOrder(text: string): BootOrderResult {
  const t = text.trim();
  if (/^[0-9a-fA-F]{1,8}$/.test(t)) {
    return {
      ok: false,
      error: `BOOT_ORDER ${showValue(t)} has no 0x prefix`,
      hint: `write it as 0x${t.toLowerCase()}: without 0x the bootloader may read the number as decimal`,
    };
  }
  const m = /^0[xX]([0-9a-fA-F]+)$/.exec(t);
  if (!m) return { ok: false, error: `BOOT_ORDER ${showValue(t)} is not a hex number like 0xf241` };
  const digits = m[1]!.replace(/^0+(?=.)/, '');
  if (digits.length > 8) return { ok: false, error: `BOOT_ORDER ${showValue(t)} has more than 8 boot modes` };
  const modes = [...digits.toLowerCase()].reverse().map((d) => parseInt(d, 16));
  return { ok: true, order: { modes } };
}

/** `[1, 4, 2, 15]` → `0xf241`. */
export function formatBootOrder(order: BootOrder): string {
  if (order.modes.length === 0) return '0x0';
  return '0x' + [...order.modes].reverse().map((m) => m.toString(16)).join('');
}

/** Modes the bootloader can reach: those up to and including the first RESTART or STOP. */
export function reachableModes(order: BootOrder): number[] {
  const end = order.modes.findIndex((m) => m === RESTART || m === STOP);
  return end === -1 ? [...order.modes] : order.modes.slice(0, end + 1);
}

/** A mode's short name: `SD`, `NETWORK`, ... (`SD/eMMC` on a Compute Module). */
export function modeName(m: number, opts: { computeModule?: boolean } = {}): string {
  if (m === 0x1 && opts.computeModule) return 'SD/eMMC';
  return MODES[m]?.short ?? `unknown mode 0x${m.toString(16)}`;
}

/** `0xf241: SD → USB → NETWORK → RESTART, tried right to left`. */
export function explainBootOrder(order: BootOrder, opts: { computeModule?: boolean } = {}): string {
  const names = order.modes.map((m) => modeName(m, opts));
  const reach = reachableModes(order).length;
  const shown = names.slice(0, reach).join(' → ');
  const dead = names.length > reach ? ` (never reached: ${names.slice(reach).join(', ')})` : '';
  return `${formatBootOrder(order)}: ${shown}${dead}, tried right to left`;
}

/** Where NETWORK sits: its 0-based position in the order tried, and the reachable modes before it. */
export function networkPosition(order: BootOrder): { index: number; before: number[]; reachable: boolean } {
  const index = order.modes.indexOf(NETWORK);
  const reach = reachableModes(order);
  return { index, before: index === -1 ? [] : order.modes.slice(0, index), reachable: index !== -1 && index < reach.length };
}

export type EnsureResult = { ok: true; order: BootOrder; changed: boolean; explanation: string } | { ok: false; error: string; hint?: string };

/**
 * Make sure NETWORK is tried: insert 2 just before the first RESTART/STOP
 * (`0xf41` → `0xf241`), append it when there is neither, leave an order that
 * already has 2 alone.
 */
export function ensureNetwork(order: BootOrder): EnsureResult {
  if (order.modes.includes(NETWORK)) {
    const pos = networkPosition(order);
    if (!pos.reachable) {
      return {
        ok: false,
        error: `${formatBootOrder(order)} has NETWORK after RESTART/STOP, where it is never tried`,
        hint: 'set the order explicitly with --boot-order (e.g. the preset sd-usb-net, 0xf241)',
      };
    }
    return { ok: true, order: { modes: [...order.modes] }, changed: false, explanation: `${formatBootOrder(order)} already tries NETWORK` };
  }
  if (order.modes.length >= 8) {
    return { ok: false, error: `${formatBootOrder(order)} already has 8 boot modes: there is no room for NETWORK`, hint: 'set the order explicitly with --boot-order' };
  }
  const modes = [...order.modes];
  const end = modes.findIndex((m) => m === RESTART || m === STOP);
  if (end === -1) modes.push(NETWORK);
  else modes.splice(end, 0, NETWORK);
  const next = { modes };
  return {
    ok: true,
    order: next,
    changed: true,
    explanation: `${formatBootOrder(order)} → ${formatBootOrder(next)}: NETWORK ${end === -1 ? 'added last' : `added before ${MODES[modes[end + 1]!]!.short}`}`,
  };
}

/**
 * Can a Pi with this order still boot when its netboot breaks? True when any
 * local mode (SD, USB, NVMe, eMMC) is reachable. `0xf21` has one (SD, tried
 * even BEFORE the network: a bootable card always wins); `0x2` and `0xf2` do not.
 */
export function hasLocalFallback(order: BootOrder): { ok: boolean; modes: number[]; explanation: string } {
  const local = reachableModes(order).filter((m) => MODES[m]?.local === true);
  if (local.length > 0) {
    return { ok: true, modes: local, explanation: `${formatBootOrder(order)} can still boot from ${[...new Set(local.map((m) => MODES[m]!.short))].join(', ')}` };
  }
  return {
    ok: false,
    modes: [],
    explanation:
      `${formatBootOrder(order)} has no local boot mode: if network boot fails this Pi cannot boot. ` +
      'Recovering it needs an SD card with the bootloader recovery image (Raspberry Pi Imager → Misc utility images → Bootloader), or rpiboot on a Compute Module',
  };
}

/** Local modes tried before NETWORK: with a bootable card or eMMC present, they always win. */
export function localBeforeNetwork(order: BootOrder): number[] {
  const pos = networkPosition(order);
  if (pos.index === -1) return [];
  return pos.before.filter((m) => MODES[m]?.local === true);
}

export interface BoardHint {
  family?: 'pi4' | 'pi5' | 'older';
  /** Board type from the revision code (0x11 Pi 4B, 0x14 CM4, ...). */
  type?: number;
}


export interface Preset {
  name: string;
  order: BootOrder;
  description: string;
  /** True when the preset leaves the Pi no way to boot without the network. */
  noLocalFallback: boolean;
}

function preset(name: string, modes: number[], description: string): Preset {
  const order = { modes };
  return { name, order, description, noLocalFallback: !hasLocalFallback(order).ok };
}

/** Orders a user can name instead of a hex value (`--boot-order net-first`). */
export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  'sd-usb-net': preset('sd-usb-net', [0x1, 0x4, NETWORK, RESTART], "0xf241, the article's order: SD, then USB, then NETWORK, then start again. A bootable SD card or USB stick always wins, which is the way back when netboot breaks; an enrolled Pi netboots only once its card is removed or blank"),
  article: preset('article', [0x1, 0x4, NETWORK, RESTART], 'alias of sd-usb-net (0xf241)'),
  'net-first': preset('net-first', [NETWORK, 0x1, 0x4, RESTART], '0xf412: NETWORK first, then SD, then USB, then start again. An enrolled Pi netboots even while its SD card still holds the old system, and falls back to SD or USB when the boot server does not answer (after DHCP_TIMEOUT, 45 s by default)'),
  'sd-net': preset('sd-net', [0x1, NETWORK, RESTART], "0xf21, Raspberry Pi's own network-boot order (rpi-eeprom imager/2711-config/boot-conf-network.txt): SD, then NETWORK, then start again"),
  'net-usb-sd': preset('net-usb-sd', [NETWORK, 0x4, 0x1, RESTART], '0xf142: NETWORK, then USB, then SD/eMMC, then start again: for Compute Modules with eMMC, where mode 1 is the eMMC and would otherwise always win'),
  'net-only': preset('net-only', [NETWORK, RESTART], '0xf2: NETWORK only, retried forever. NO LOCAL FALLBACK: when the boot server is down the Pi cannot boot at all'),
};


export type ResolvedOrder = { ok: true; order: BootOrder; preset?: Preset } | { ok: false; error: string; hint?: string };

/** A `--boot-order` value: a preset name or a hex order like 0xf241. */
export function resolveBootOrder(input: string): ResolvedOrder {
  const key = input.trim().toLowerCase();
  const p = lookup(PRESETS, key);
  if (p !== undefined) return { ok: true, order: { modes: [...p.order.modes] }, preset: p };
  const parsed = parseBootOrder(input);
  if (parsed.ok) return parsed;
  return { ok: false, error: parsed.error, hint: parsed.hint ?? `use a hex order like 0xf241 or a preset: ${Object.keys(PRESETS).join(', ')}` };
}
