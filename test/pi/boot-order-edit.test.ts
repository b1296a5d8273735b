import { describe, expect, it } from 'vitest';
import { currentBootOrder, editBootOrder } from '../../src/pi/boot-order-edit.js';
import { classifyTftpDirName } from '../../src/pi/eeprom-config.js';
import { fixture } from './fixtures.js';

const article = '[all]\nBOOT_UART=0\nWAKE_ON_GPIO=1\nPOWER_OFF_ON_HALT=0\nBOOT_ORDER=0xf241\n';

describe('currentBootOrder', () => {
  it('a Pi 4 without a BOOT_ORDER line uses the default 0xf41', () => {
    expect(currentBootOrder(fixture('ubuntu-2404-pi4b', 'eeprom-config'), 'pi4')).toMatchObject({
      ok: true,
      source: 'default',
      explanation: '0xf41: SD → USB → RESTART, tried right to left (no BOOT_ORDER line: the default)',
    });
  });

  it('reads the line, names eMMC on a CM4, and lists conditional overrides', () => {
    expect(currentBootOrder(fixture('cm4-raspios-bookworm', 'eeprom-config'), 'pi4', { computeModule: true })).toMatchObject({
      ok: true,
      source: 'config',
      line: 5,
      explanation: '0xf25641: SD/eMMC → USB → NVME → BCM-USB → NETWORK → RESTART, tried right to left',
    });
    expect(currentBootOrder('[all]\nBOOT_ORDER=0xf41\n[gpio8=0]\nBOOT_ORDER=0xf2\n', 'pi4')).toMatchObject({ conditional: [{ section: 'gpio8=0', value: '0xf2', line: 4 }] });
  });

  it('is unknown for a Pi 5 without the line, and for a bad value', () => {
    expect(currentBootOrder('[all]\n', 'pi5')).toMatchObject({ ok: false, known: false });
    expect(currentBootOrder('[all]\nBOOT_ORDER=f41\n', 'pi4')).toMatchObject({ ok: false, reason: 'BOOT_ORDER=f41 (line 2): BOOT_ORDER "f41" has no 0x prefix', hint: expect.stringMatching(/0xf41/) });
  });
});

describe('editBootOrder', () => {
  it("a fresh Pi 4 config becomes the article's", () => {
    const r = editBootOrder(fixture('ubuntu-2404-pi4b', 'eeprom-config'), 'pi4');
    expect(r).toEqual({
      ok: true,
      text: article,
      changed: true,
      before: '0xf41',
      after: '0xf241',
      explanation: '0xf41 → 0xf241: SD → USB → NETWORK → RESTART, tried right to left (BOOT_ORDER line added); takes effect at the next reboot',
      warnings: [],
    });
  });

  it('Raspberry Pi OS: 0xf41 changed in place', () => {
    const text = fixture('raspios-bookworm-pi4b', 'eeprom-config');
    const r = editBootOrder(text, 'pi4');
    expect(r.ok && r.text).toBe(text.replace('0xf41', '0xf241'));
  });

  it('an enrolled config is up to date', () => {
    expect(editBootOrder(article, 'pi4')).toMatchObject({ ok: true, changed: false, text: article, explanation: '0xf241: SD → USB → NETWORK → RESTART, tried right to left: unchanged' });
  });

  it('sets a preset or a hex order', () => {
    expect(editBootOrder(article, 'pi4', { order: 'net-first' })).toMatchObject({ ok: true, after: '0xf412', text: article.replace('0xf241', '0xf412') });
    expect(editBootOrder(article, 'pi4', { order: '0xF21' })).toMatchObject({ ok: true, after: '0xf21' });
  });

  it('refuses an order without a local fallback unless forced, explaining recovery', () => {
    const r = editBootOrder(article, 'pi4', { order: 'net-only' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatch(/^refusing BOOT_ORDER 0xf2: .*cannot boot.*recovery image/);
      expect(r.hint).toMatch(/--force/);
    }
    const forced = editBootOrder(article, 'pi4', { order: '0x2', force: true });
    expect(forced).toMatchObject({ ok: true, after: '0x2', warnings: [expect.stringMatching(/no local boot mode/)] });
  });

  it('does not refuse to leave an existing no-fallback order alone', () => {
    expect(editBootOrder('[all]\nBOOT_ORDER=0xf2\n', 'pi4')).toMatchObject({ ok: true, changed: false });
  });

  it('refuses bad input and unknowable defaults with a hint', () => {
    expect(editBootOrder(article, 'pi4', { order: 'f241' })).toMatchObject({ ok: false, hint: expect.stringMatching(/0xf241/) });
    expect(editBootOrder('[all]\n', 'pi5')).toMatchObject({ ok: false, hint: expect.stringMatching(/--boot-order/) });
    expect(editBootOrder('[all]\n', 'pi5', { order: '0xf241' })).toMatchObject({ ok: true, after: '0xf241' });
  });

  it('warns about conditional BOOT_ORDER lines it keeps', () => {
    const r = editBootOrder('[all]\nBOOT_ORDER=0xf41\n[gpio8=0]\nBOOT_ORDER=0xf1\n', 'pi4');
    expect(r.ok && r.warnings).toEqual(['BOOT_ORDER=0xf1 in [gpio8=0] (line 4) still applies when that condition holds']);
  });
});

describe('classifyTftpDirName', () => {
  it.each([
    ['bf9fed6f', 'serial'],
    ['dc-a6-32-01-36-c2', 'mac'],
    ['BF9FED6F', 'other'],
    ['dc:a6:32:01:36:c2', 'other'],
    ['tftp_test', 'other'],
  ])('%s is %s', (n, kind) => expect(classifyTftpDirName(n)).toBe(kind));
});
