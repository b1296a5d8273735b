import { describe, expect, it } from 'vitest';
import { allValues, effectiveValue, evaluateConfigTxt, isSafeBootPath, parseConfigTxt, type BoardFacts } from '../../src/pi/config-txt.js';
import { fixture } from './fixtures.js';

const pi4b: BoardFacts = { filters: ['pi4'], type: 0x11 };
const pi400: BoardFacts = { filters: ['pi4', 'pi400'], type: 0x13 };
const cm4: BoardFacts = { filters: ['pi4', 'cm4'], type: 0x14 };
const cm5: BoardFacts = { filters: ['pi5', 'cm5'], type: 0x18 };

function value(text: string, key: string, board: BoardFacts = pi4b, extra: { serial?: string } = {}) {
  return effectiveValue(evaluateConfigTxt(text, { board, ...extra }), key);
}

describe('parseConfigTxt', () => {
  it('classifies every kind of line and keeps them verbatim', () => {
    const text = '# c\n\n[pi4]\nkernel=vmlinuz\ninitramfs initrd.img followkernel\ninitramfs a.img,b.img 0x00800000\ninclude extra.txt\n hdmi_group:0=2\nnonsense line\r\n';
    const lines = parseConfigTxt(text);
    expect(lines.map((l) => l.kind)).toEqual(['comment', 'blank', 'section', 'setting', 'initramfs', 'initramfs', 'include', 'setting', 'invalid']);
    expect(lines[4]!.initramfs).toEqual({ files: ['initrd.img'], address: 'followkernel' });
    expect(lines[5]!.initramfs).toEqual({ files: ['a.img', 'b.img'], address: '0x00800000' });
    expect(lines[6]!.include).toBe('extra.txt');
    expect(lines[7]).toMatchObject({ key: 'hdmi_group:0', value: '2' });
    expect(lines.map((l) => l.text + l.eol).join('')).toBe(text);
  });
});

describe('conditional filters', () => {
  const text = ['kernel=all.img', '[pi4]', 'kernel=pi4.img', '[pi400]', 'kernel=pi400.img', '[all]', 'cmdline=c.txt'].join('\n');

  it('a Pi 400 reads [pi4] and [pi400]; a Pi 4B only [pi4]', () => {
    expect(value(text, 'kernel', pi400).value).toBe('pi400.img');
    expect(value(text, 'kernel', pi4b).value).toBe('pi4.img');
    expect(value(text, 'kernel', cm5).value).toBe('all.img');
    expect(value(text, 'cmdline', cm5).value).toBe('c.txt');
  });

  it('filters of the same type replace each other: [pi4] then [cm4] is only [cm4]', () => {
    const t = '[pi4]\n[cm4]\nkernel=cm4.img\n';
    expect(value(t, 'kernel', pi4b).value).toBeUndefined();
    expect(value(t, 'kernel', cm4).value).toBe('cm4.img');
  });

  it('[board-type=0x11] matches only a Pi 4B', () => {
    const t = '[board-type=0x11]\nkernel=b.img\n[board-type=17]\ncmdline=d.txt\n';
    expect(value(t, 'kernel', pi4b).value).toBe('b.img');
    expect(value(t, 'cmdline', pi4b).value).toBe('d.txt');
    expect(value(t, 'kernel', pi400).value).toBeUndefined();
  });

  it('[none] switches everything off until [all], whatever comes between', () => {
    const t = '[none]\nkernel=a.img\n[pi4]\nkernel=b.img\n[all]\ncmdline=c.txt\n';
    expect(value(t, 'kernel').value).toBeUndefined();
    expect(value(t, 'cmdline').value).toBe('c.txt');
  });

  it('the serial filter matches the low 32 bits or the full serial', () => {
    const t = '[0xbf9fed6f]\nkernel=mine.img\n[all]\n';
    expect(value(t, 'kernel', pi4b, { serial: '10000000bf9fed6f' }).value).toBe('mine.img');
    expect(value(t, 'kernel', pi4b, { serial: 'bf9fed6f' }).value).toBe('mine.img');
    expect(value(t, 'kernel', pi4b, { serial: '10000000deadbeef' }).value).toBeUndefined();
  });

  it('filters pinet cannot decide make a value "maybe" and are reported', () => {
    const t = 'kernel=a.img\n[gpio4=1]\nkernel=b.img\n[all]\n[EDID=VSC-TD2220]\ncmdline=x.txt\n[all]\n[partition=2]\ninitramfs p2.img followkernel\n[all]\n[0x12345678]\ndtoverlay=serial-only\n';
    const ev = evaluateConfigTxt(t, { board: pi4b });
    expect(effectiveValue(ev, 'kernel')).toEqual({ value: 'a.img', from: { file: 'config.txt', line: 1 }, maybe: [{ value: 'b.img', file: 'config.txt', line: 3, conditions: ['gpio4=1'] }] });
    expect(ev.undecided).toEqual(['gpio4=1', 'EDID=VSC-TD2220', 'partition=2', '0x12345678']);
    expect(allValues(ev, 'dtoverlay')[0]!.applies).toBe('maybe');
  });

  it('[HDMI:1] is a port selector and [tryboot] is false on a normal boot', () => {
    expect(value('[HDMI:1]\nkernel=h.img\n', 'kernel').value).toBe('h.img');
    expect(value('[tryboot]\nkernel=t.img\n', 'kernel').value).toBeUndefined();
  });

  it('filters of different types combine', () => {
    const t = '[gpio4=1]\n[pi400]\nkernel=x.img\n';
    expect(value(t, 'kernel', pi4b)).toEqual({ maybe: [] });
    expect(value(t, 'kernel', pi400).maybe[0]!.conditions).toEqual(['gpio4=1', 'pi400']);
  });

  it('the last applicable line wins, also across a later certain value', () => {
    expect(value('[gpio4=1]\nkernel=b.img\n[all]\nkernel=c.img\n', 'kernel')).toEqual({ value: 'c.img', from: { file: 'config.txt', line: 4 }, maybe: [] });
  });
});

describe('include', () => {
  it('reads included files in place, under the filters in force, and reports missing ones', () => {
    const files: Record<string, string> = { 'syscfg.txt': 'dtparam=spi=on\n[pi4]\nkernel=from-syscfg.img\n' };
    const ev = evaluateConfigTxt('[all]\ninclude syscfg.txt\ninclude usercfg.txt\ncmdline=after.txt\n', { board: pi4b, include: (n) => files[n] });
    expect(ev.includes).toEqual([
      { name: 'syscfg.txt', found: true, applies: 'yes', from: 'config.txt', line: 2 },
      { name: 'usercfg.txt', found: false, applies: 'yes', from: 'config.txt', line: 3 },
    ]);
    expect(effectiveValue(ev, 'kernel')).toMatchObject({ value: 'from-syscfg.img', from: { file: 'syscfg.txt', line: 3 } });
    // The [pi4] filter set in syscfg.txt is still in force after it.
    expect(effectiveValue(ev, 'cmdline').value).toBe('after.txt');
    expect(evaluateConfigTxt('[pi5]\ninclude x.txt\n', { board: pi4b, include: () => 'kernel=x\n' }).includes).toEqual([]);
  });

  it('stops include cycles and unsafe names', () => {
    const ev = evaluateConfigTxt('include a.txt\ninclude ../../etc/shadow\n', { board: pi4b, include: (n) => (n === 'a.txt' ? 'include b.txt\n' : 'include a.txt\n') });
    expect(ev.errors).toEqual([
      'b.txt line 1: include a.txt includes itself (through config.txt → a.txt → b.txt)',
      'config.txt line 2: include "../../etc/shadow" is not a plain file name in the boot partition',
    ]);
  });
});

describe('the real files', () => {
  it('Ubuntu: kernel, initramfs and cmdline from [all]; dwc2 for every board, dwc2 host mode only on CM4', () => {
    const text = fixture('ubuntu-2404-pi4b', 'config.txt');
    const ev = evaluateConfigTxt(text, { board: pi4b });
    expect(effectiveValue(ev, 'kernel').value).toBe('vmlinuz');
    expect(allValues(ev, 'dtoverlay').map((l) => l.line.value)).toEqual(['dwc2', 'disable-bt', 'disable-wifi']);
    expect(allValues(evaluateConfigTxt(text, { board: cm4 }), 'dtoverlay').map((l) => l.line.value)).toEqual(['dwc2', 'dwc2,dr_mode=host', 'disable-bt', 'disable-wifi']);
    expect(ev.undecided).toEqual([]);
  });

  it('Raspberry Pi OS Bookworm: [cm4] otg_mode only on CM4, [cm5] dwc2 only on CM5', () => {
    const text = fixture('raspios-bookworm-pi4b', 'config.txt');
    expect(value(text, 'otg_mode', pi4b).value).toBeUndefined();
    expect(value(text, 'otg_mode', cm4).value).toBe('1');
    expect(allValues(evaluateConfigTxt(text, { board: cm5 }), 'dtoverlay').map((l) => l.line.value)).toEqual(['vc4-kms-v3d', 'dwc2,dr_mode=host']);
  });

  it('reports lines longer than the firmware reads', () => {
    expect(evaluateConfigTxt(`cmdline=${'a'.repeat(100)}\n# ${'b'.repeat(200)}\n`, { board: pi4b }).longLines).toEqual([{ file: 'config.txt', line: 1 }]);
  });
});

describe('isSafeBootPath', () => {
  it.each([
    ['kernel8.img', true],
    ['overlays/dwc2.dtbo', true],
    ['/abs/kernel.img', true],
    ['../x', false],
    ['a/../../x', false],
    ['a//b', false],
    ['dir/', false],
    ['', false],
    ['a\nb', false],
    ['a\\b', false],
  ])('%j → %s', (p, ok) => expect(isSafeBootPath(p)).toBe(ok));
});
