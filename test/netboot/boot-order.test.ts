/**
 * The BOOT_ORDER walk and the EEPROM settings, without a network (no root):
 * modes right to left, retries, RESTART with a bound, STOP, undefined modes
 * as SD, a reset starting over from the right; the bootloader config text
 * read with its sections; the TFTP prefix for TFTP_PREFIX 0, 1 and 2.
 */
import { describe, expect, it } from 'vitest';
import { boardOf } from './board.js';
import { bootModes, describeBootOrder, walkBootOrder, type AttemptVerdict, type WalkStep } from './boot-order.js';
import { parseEepromConfig, resolveEeprom, tftpPrefixFor } from './eeprom.js';
import { machineId } from './pi-dhcp.js';

/** A walk whose modes answer from a table; records what was tried. */
async function walk(order: number, answers: Record<number, AttemptVerdict | AttemptVerdict[]>, maxRounds = 3, retries: (m: number) => number = () => 0) {
  const tried: string[] = [];
  const count = new Map<number, number>();
  const result = await walkBootOrder({
    order,
    maxRounds,
    retries,
    attempt: async (s: WalkStep) => {
      tried.push(`${s.round}:${s.effectiveMode.toString(16)}${s.try > 1 ? `#${s.try}` : ''}`);
      const a = answers[s.effectiveMode] ?? 'absent';
      const n = count.get(s.effectiveMode) ?? 0;
      count.set(s.effectiveMode, n + 1);
      return Array.isArray(a) ? (a[n] ?? a[a.length - 1]!) : a;
    },
  });
  return { ...result, tried };
}

describe('BOOT_ORDER', () => {
  it('reads the nibbles right to left until the rest is zero', () => {
    expect(bootModes(0xf241)).toEqual([1, 4, 2, 0xf]);
    expect(bootModes(0xf21)).toEqual([1, 2, 0xf]);
    expect(bootModes(0x1)).toEqual([1]);
    expect(bootModes(0)).toEqual([1]);
    expect(describeBootOrder(0xf241)).toBe('0xf241: SD → USB-MSD → NETWORK → RESTART');
  });

  it('0xf21 with a bootable SD card: SD boots, NETWORK is never tried', async () => {
    const r = await walk(0xf21, { 1: 'booted', 2: 'booted' });
    expect(r).toMatchObject({ outcome: 'booted', last: { effectiveMode: 1 }, rounds: 1 });
    expect(r.tried).toEqual(['1:1']);
  });

  it('0xf21 without SD card: NETWORK next', async () => {
    const r = await walk(0xf21, { 1: 'absent', 2: 'booted' });
    expect(r).toMatchObject({ outcome: 'booted', last: { effectiveMode: 2 } });
    expect(r.tried).toEqual(['1:1', '1:2']);
  });

  it('nothing boots: RESTART loops, and the walk gives up after maxRounds with the reason', async () => {
    const r = await walk(0xf21, { 1: 'absent', 2: 'failed' }, 3);
    expect(r.outcome).toBe('gave-up');
    expect(r.tried).toEqual(['1:1', '1:2', '2:1', '2:2', '3:1', '3:2']);
    expect(r.reason).toMatch(/no mode booted in 3 passes over BOOT_ORDER 0xf21: SD → NETWORK → RESTART/);
  });

  it('without RESTART the bootloader stops after its last mode', async () => {
    const r = await walk(0x21, { 1: 'absent', 2: 'failed' });
    expect(r).toMatchObject({ outcome: 'stopped', reason: expect.stringMatching(/no RESTART/) });
    expect(r.tried).toEqual(['1:1', '1:2']);
  });

  it('STOP (e) stops the walk where it stands', async () => {
    const r = await walk(0xfe21, { 1: 'absent', 2: 'failed' });
    expect(r).toMatchObject({ outcome: 'stopped', reason: expect.stringMatching(/STOP/) });
    expect(r.tried).toEqual(['1:1', '1:2', '1:e']);
  });

  it('retries a failed mode before the next one, but not an absent medium', async () => {
    const r = await walk(0xf12, { 2: ['failed', 'failed', 'booted'], 1: 'absent' }, 3, (m) => (m === 2 ? 2 : 5));
    expect(r.tried).toEqual(['1:2', '1:2#2', '1:2#3']);
    expect(r.outcome).toBe('booted');
    const absent = await walk(0xf1, { 1: 'absent' }, 1, () => 5);
    expect(absent.tried).toEqual(['1:1']);
  });

  it('a halted firmware ends the walk; a reset starts over from the right', async () => {
    expect(await walk(0xf12, { 2: 'halted', 1: 'booted' })).toMatchObject({ outcome: 'halted', last: { effectiveMode: 2 } });
    const reset = await walk(0xf12, { 2: ['reset', 'booted'], 1: 'booted' });
    expect(reset.tried).toEqual(['1:2', '2:2']);
    expect(reset).toMatchObject({ outcome: 'booted', rounds: 2 });
  });

  it('undefined modes (8-d) count as SD; RPIBOOT that waits forever stops the walk', async () => {
    const r = await walk(0xf9, { 1: 'booted' });
    expect(r).toMatchObject({ outcome: 'booted', last: { mode: 9, effectiveMode: 1 } });
    expect(await walk(0xf32, { 2: 'failed', 3: 'stopped' })).toMatchObject({ outcome: 'stopped', last: { effectiveMode: 3 } });
  });
});

describe('EEPROM settings', () => {
  const pi4 = boardOf('d03114');
  const cm4 = boardOf('a03140');

  it('reads the config text as rpi-eeprom-config prints it, with sections and defaults', async () => {
    const text = '[all]\nBOOT_UART=0\nWAKE_ON_GPIO=1\nPOWER_OFF_ON_HALT=0\nBOOT_ORDER=0xf241\n[cm4]\nBOOT_ORDER=0xf25\n';
    const p = await parseEepromConfig(text, pi4, 'bf9fed6f');
    const e = resolveEeprom(p.settings, p.notes);
    expect(e).toMatchObject({ bootOrder: 0xf241, bootOrderText: '0xf241', tftpPrefix: 0, pxeOption43: 'Raspberry Pi Boot', dhcpTimeoutMs: 45000, dhcpReqTimeoutMs: 4000, tftpFileTimeoutMs: 30000, enableSelfUpdate: true });
    expect(e.notes.join('\n')).toMatch(/BOOT_UART is not emulated/);
    const c = await parseEepromConfig(text, cm4, 'bf9fed6f');
    expect(resolveEeprom(c.settings).bootOrder).toBe(0xf25);
  });

  it('an empty or missing BOOT_ORDER is the default 0xf41; a bad number falls back with a note', () => {
    expect(resolveEeprom({})).toMatchObject({ bootOrder: 0xf41, bootOrderText: '0xf41 (default)' });
    expect(resolveEeprom({ BOOT_ORDER: '' }).bootOrder).toBe(0xf41);
    const bad = resolveEeprom({ DHCP_TIMEOUT: 'soon' });
    expect(bad.dhcpTimeoutMs).toBe(45000);
    expect(bad.notes).toEqual(['DHCP_TIMEOUT=soon is not a number; the default 45000 is used']);
  });

  it('TFTP_PREFIX: 0 the serial, 1 TFTP_PREFIX_STR as written, 2 the MAC with dashes', () => {
    const mac = 'DC:A6:32:01:36:C2';
    expect(tftpPrefixFor(resolveEeprom({}), 'bf9fed6f', mac)).toBe('bf9fed6f/');
    expect(tftpPrefixFor(resolveEeprom({ TFTP_PREFIX: 1, TFTP_PREFIX_STR: 'tftp_test/' }), 'bf9fed6f', mac)).toBe('tftp_test/');
    expect(tftpPrefixFor(resolveEeprom({ TFTP_PREFIX: '2' }), 'bf9fed6f', mac)).toBe('dc-a6-32-01-36-c2/');
  });

  it('option 97: RPi4 + revision + MAC low bytes + serial by default (the seed log shows exactly these bytes); the serial ×4 with DHCP_OPTION97=0', () => {
    const id = machineId('e4:5f:01:98:e0:82', 'bf9fed6f', 0xd03115, undefined);
    expect(id.toString('hex').replace(/(..)(?!$)/g, '$1:')).toMatch(/^00:34:69:50:52:15:31:d0:00:01:98:e0:82:6f/);
    expect(machineId('e4:5f:01:98:e0:82', 'bf9fed6f', 0xd03115, 0).toString('hex')).toBe(`00${'6fed9fbf'.repeat(4)}`);
  });
});
