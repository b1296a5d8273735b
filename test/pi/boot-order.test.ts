import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MODES,
  PRESETS,
  ensureNetwork,
  explainBootOrder,
  formatBootOrder,
  hasLocalFallback,
  localBeforeNetwork,
  networkPosition,
  parseBootOrder,
  resolveBootOrder,
  type BootOrder,
} from '../../src/pi/boot-order.js';

function order(text: string): BootOrder {
  const r = parseBootOrder(text);
  if (!r.ok) throw new Error(r.error);
  return r.order;
}

function ensured(text: string): string {
  const r = ensureNetwork(order(text));
  if (!r.ok) throw new Error(r.error);
  return formatBootOrder(r.order);
}

describe('parseBootOrder', () => {
  it('reads right to left: 0xf241 is SD, USB, NETWORK, RESTART', () => {
    expect(order('0xf241').modes).toEqual([0x1, 0x4, 0x2, 0xf]);
    expect(order(' 0XF241 ').modes).toEqual([0x1, 0x4, 0x2, 0xf]);
  });

  it('drops leading zero nibbles, which carry no mode', () => {
    expect(formatBootOrder(order('0x0000f241'))).toBe('0xf241');
    expect(order('0x0').modes).toEqual([0]);
  });

  it('refuses a value without 0x, with the fix', () => {
    const r = parseBootOrder('f241');
    expect(r).toEqual({ ok: false, error: 'BOOT_ORDER "f241" has no 0x prefix', hint: 'write it as 0xf241: without 0x the bootloader may read the number as decimal' });
  });

  it.each(['', '0x', '0x123456789', 'xf241', '0xf24g', '0xf241;reboot', '$(id)', '0x f241', '-0x1', '0x1.0'])('refuses %j', (t) => {
    expect(parseBootOrder(t).ok).toBe(false);
  });
});

describe('explainBootOrder', () => {
  it('says what the article says', () => {
    expect(explainBootOrder(order('0xf241'))).toBe('0xf241: SD → USB → NETWORK → RESTART, tried right to left');
  });

  it('names eMMC on Compute Modules and shows modes that are never reached', () => {
    expect(explainBootOrder(order('0x1f21'), { computeModule: true })).toBe('0x1f21: SD/eMMC → NETWORK → RESTART (never reached: SD/eMMC), tried right to left');
  });

  it('names unknown modes', () => {
    expect(explainBootOrder(order('0xf9'))).toBe('0xf9: unknown mode 0x9 → RESTART, tried right to left');
  });
});

describe('ensureNetwork', () => {
  it("turns the Pi 4 default 0xf41 into the article's 0xf241 exactly", () => {
    expect(ensured('0xf41')).toBe('0xf241');
  });

  it('inserts before STOP too, appends when there is no RESTART/STOP, leaves 2 alone', () => {
    expect(ensured('0xe41')).toBe('0xe241');
    expect(ensured('0x41')).toBe('0x241');
    expect(ensured('0x1')).toBe('0x21');
    expect(ensured('0xf21')).toBe('0xf21');
    expect(ensured('0xf412')).toBe('0xf412');
    expect(ensureNetwork(order('0xf21'))).toMatchObject({ changed: false, explanation: '0xf21 already tries NETWORK' });
    expect(ensureNetwork(order('0xf41'))).toMatchObject({ changed: true, explanation: '0xf41 → 0xf241: NETWORK added before RESTART' });
  });

  it('refuses when there is no room or NETWORK is never reached', () => {
    expect(ensureNetwork(order('0x14614614'))).toMatchObject({ ok: false, error: '0x14614614 already has 8 boot modes: there is no room for NETWORK' });
    expect(ensureNetwork(order('0x2f41')).ok).toBe(false);
  });
});

describe('hasLocalFallback', () => {
  it.each([
    ['0x2', false],
    ['0xf2', false],
    ['0xe2', false],
    ['0x1e2', false],
    ['0xf21', true],
    ['0xf241', true],
    ['0xf412', true],
    ['0xf62', true],
  ])('%s → %s', (t, ok) => {
    expect(hasLocalFallback(order(t)).ok).toBe(ok);
  });

  it('explains how a Pi without fallback is recovered', () => {
    expect(hasLocalFallback(order('0xf2')).explanation).toMatch(/recovery image/);
    expect(hasLocalFallback(order('0xf241')).explanation).toBe('0xf241 can still boot from SD, USB');
  });
});

describe('where NETWORK sits', () => {
  it('0xf241: third, after SD and USB, which win when bootable', () => {
    expect(networkPosition(order('0xf241'))).toEqual({ index: 2, before: [1, 4], reachable: true });
    expect(localBeforeNetwork(order('0xf241'))).toEqual([1, 4]);
    expect(localBeforeNetwork(order('0xf412'))).toEqual([]);
    expect(networkPosition(order('0xf41')).index).toBe(-1);
  });
});

describe('presets', () => {
  it.each([
    ['article', '0xf241', false],
    ['sd-usb-net', '0xf241', false],
    ['net-first', '0xf412', false],
    ['sd-net', '0xf21', false],
    ['net-usb-sd', '0xf142', false],
    ['net-only', '0xf2', true],
  ])('%s is %s', (name, hex, noFallback) => {
    const r = resolveBootOrder(name);
    expect(r.ok && formatBootOrder(r.order)).toBe(hex);
    expect(r.ok && r.preset?.noLocalFallback).toBe(noFallback);
  });

  it('net-first tries NETWORK first and keeps SD and USB as fallbacks', () => {
    const p = PRESETS['net-first']!;
    expect(explainBootOrder(p.order)).toBe('0xf412: NETWORK → SD → USB → RESTART, tried right to left');
    expect(p.description).toMatch(/falls back to SD or USB/);
  });

  it('net-only says it has no local fallback', () => {
    expect(PRESETS['net-only']!.description).toMatch(/NO LOCAL FALLBACK/);
  });

  it('hex values and unknown names', () => {
    const r = resolveBootOrder('0xF14');
    expect(r.ok && formatBootOrder(r.order)).toBe('0xf14');
    expect(resolveBootOrder('fastest')).toMatchObject({ ok: false, hint: expect.stringContaining('net-first') });
  });
});

describe('properties', () => {
  const mode = fc.constantFrom(...Object.keys(MODES).map(Number));
  /** Canonical orders: 1–8 known modes, the last (most significant) one not 0 unless it is alone. */
  const anOrder = fc
    .array(mode, { minLength: 1, maxLength: 8 })
    .filter((m) => m.length === 1 || m[m.length - 1] !== 0)
    .map((modes): BootOrder => ({ modes }));

  it('parse(format(x)) = x', () => {
    fc.assert(fc.property(anOrder, (o) => JSON.stringify(order(formatBootOrder(o)).modes) === JSON.stringify(o.modes)));
  });

  it('format(parse(s)) normalises case and leading zeros only', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-fA-F]{1,8}$/), (hex) => {
        const o = order(`0x${hex}`);
        return parseInt(formatBootOrder(o), 16) === parseInt(hex, 16);
      }),
    );
  });

  it('ensureNetwork: idempotent, never removes a mode, always yields a reachable NETWORK', () => {
    fc.assert(
      fc.property(anOrder, (o) => {
        const once = ensureNetwork(o);
        if (!once.ok) return o.modes.length >= 8 || !networkPosition(o).reachable;
        const twice = ensureNetwork(once.order);
        const removedNothing = o.modes.every((m, i, all) => once.order.modes.filter((x) => x === m).length >= all.filter((x) => x === m).length);
        return (
          twice.ok &&
          !twice.changed &&
          formatBootOrder(twice.order) === formatBootOrder(once.order) &&
          removedNothing &&
          once.order.modes.includes(2) &&
          networkPosition(once.order).reachable &&
          once.order.modes.length <= 8 &&
          (once.changed ? once.order.modes.length === o.modes.length + 1 : formatBootOrder(once.order) === formatBootOrder(o))
        );
      }),
    );
  });

  it('ensureNetwork keeps the relative order of the other modes', () => {
    fc.assert(
      fc.property(anOrder, (o) => {
        const r = ensureNetwork(o);
        if (!r.ok || !r.changed) return true;
        return JSON.stringify(r.order.modes.filter((m, i) => i !== r.order.modes.indexOf(2))) === JSON.stringify(o.modes);
      }),
    );
  });

  it('an order that has a local fallback keeps it through ensureNetwork', () => {
    fc.assert(
      fc.property(anOrder, (o) => {
        const r = ensureNetwork(o);
        return !r.ok || !hasLocalFallback(o).ok || hasLocalFallback(r.order).ok;
      }),
    );
  });

  it('every reachable local mode counts as a fallback, and nothing else does', () => {
    fc.assert(
      fc.property(anOrder, (o) => {
        const end = o.modes.findIndex((m) => m === 0xe || m === 0xf);
        const reach = end === -1 ? o.modes : o.modes.slice(0, end + 1);
        return hasLocalFallback(o).ok === reach.some((m) => [0x0, 0x1, 0x4, 0x5, 0x6].includes(m));
      }),
    );
  });
});
