/**
 * The BOOT_ORDER line of a bootloader config: what order a Pi uses now, and
 * the edit enroll makes to it.
 *
 * A config without a BOOT_ORDER line boots with the documented default,
 * 0xf41 on the Pi 4 family ("default if BOOT_ORDER is empty"); for the Pi 5
 * family pinet knows no documented default and says so. The edit either makes
 * sure NETWORK is tried (inserting 2 before the trailing RESTART: 0xf41 →
 * 0xf241) or sets an order the user asked for (hex or preset), and refuses an
 * order that leaves the Pi no local way to boot unless forced. Every other key,
 * comment and section stays as it was.
 */

import {
  PI4_DEFAULT_BOOT_ORDER,
  ensureNetwork,
  explainBootOrder,
  formatBootOrder,
  hasLocalFallback,
  parseBootOrder,
  resolveBootOrder,
  type BootOrder,
} from './boot-order.js';
import { getKey, parseEepromConfig, setKey } from './eeprom-config.js';

export type CurrentBootOrder =
  | {
      ok: true;
      order: BootOrder;
      /** `config` (a BOOT_ORDER line, at `line`) or `default` (no line: the documented default). */
      source: 'config' | 'default';
      line?: number;
      explanation: string;
      /** Conditional BOOT_ORDER lines that may win on some boots. */
      conditional: { section: string; value: string; line: number }[];
    }
  | { ok: false; known: false; reason: string; hint?: string };

/** The order this config gives a board of `family` on a normal boot. */
export function currentBootOrder(configText: string, family: 'pi4' | 'pi5' | 'older' | undefined, opts: { computeModule?: boolean } = {}): CurrentBootOrder {
  const k = getKey(parseEepromConfig(configText), 'BOOT_ORDER');
  if (k.value === undefined) {
    if (family !== 'pi4') {
      return { ok: false, known: false, reason: 'the bootloader config has no BOOT_ORDER line and pinet knows no documented default for this board' };
    }
    const order = (parseBootOrder(PI4_DEFAULT_BOOT_ORDER) as { ok: true; order: BootOrder }).order;
    return { ok: true, order, source: 'default', explanation: `${explainBootOrder(order, opts)} (no BOOT_ORDER line: the default)`, conditional: k.conditional };
  }
  const parsed = parseBootOrder(k.value);
  if (!parsed.ok) {
    return { ok: false, known: false, reason: `BOOT_ORDER=${k.value} (line ${k.line}): ${parsed.error}`, ...(parsed.hint ? { hint: parsed.hint } : {}) };
  }
  return { ok: true, order: parsed.order, source: 'config', line: k.line!, explanation: explainBootOrder(parsed.order, opts), conditional: k.conditional };
}

export interface BootOrderRequest {
  /** A hex order (`0xf241`) or a preset name (`net-first`); absent: make sure NETWORK is tried. */
  order?: string;
  /** Accept an order without a local fallback (`--force`). */
  force?: boolean;
  /** Name eMMC in explanations. */
  computeModule?: boolean;
}

export type BootOrderEdit =
  | {
      ok: true;
      text: string;
      changed: boolean;
      before: string;
      after: string;
      /** `0xf41 → 0xf241: …`, for the plan. */
      explanation: string;
      warnings: string[];
    }
  | { ok: false; error: string; hint?: string };

/** Plan enroll's BOOT_ORDER change on a bootloader config text. */
export function editBootOrder(configText: string, family: 'pi4' | 'pi5' | 'older' | undefined, request: BootOrderRequest = {}): BootOrderEdit {
  const opts = request.computeModule ? { computeModule: true } : {};
  const current = currentBootOrder(configText, family, opts);
  const warnings: string[] = [];
  let next: BootOrder;
  if (request.order !== undefined) {
    const r = resolveBootOrder(request.order);
    if (!r.ok) return { ok: false, error: r.error, ...(r.hint ? { hint: r.hint } : {}) };
    next = r.order;
  } else {
    if (!current.ok) return { ok: false, error: `cannot make sure NETWORK is tried: ${current.reason}`, hint: current.hint ?? 'name the order with --boot-order (e.g. sd-usb-net for 0xf241)' };
    const e = ensureNetwork(current.order);
    if (!e.ok) return { ok: false, error: e.error, ...(e.hint ? { hint: e.hint } : {}) };
    next = e.order;
  }

  const fallback = hasLocalFallback(next);
  const unchanged = current.ok && formatBootOrder(current.order) === formatBootOrder(next);
  if (!fallback.ok) {
    if (!request.force && !unchanged) return { ok: false, error: `refusing BOOT_ORDER ${formatBootOrder(next)}: ${fallback.explanation}`, hint: 'keep a local boot mode (e.g. 0xf241 or the preset net-first), or pass --force' };
    warnings.push(fallback.explanation);
  }
  if (current.ok) {
    for (const c of current.conditional) warnings.push(`BOOT_ORDER=${c.value} in [${c.section}] (line ${c.line}) still applies when that condition holds`);
  }

  const before = current.ok ? formatBootOrder(current.order) : '(unknown)';
  const after = formatBootOrder(next);
  const set = setKey(parseEepromConfig(configText), 'BOOT_ORDER', after);
  if (!set.ok) return { ok: false, error: set.error, ...(set.hint ? { hint: set.hint } : {}) };
  const explanation =
    before === after && current.ok && current.source === 'config'
      ? `${explainBootOrder(next, opts)}: unchanged`
      : `${before} → ${explainBootOrder(next, opts)}${set.added ? ' (BOOT_ORDER line added)' : ''}; takes effect at the next reboot`;
  return { ok: true, text: set.text, changed: set.changed, before, after, explanation, warnings };
}
