import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ensureNetwork, formatBootOrder, parseBootOrder, PI4_DEFAULT_BOOT_ORDER } from '../../src/pi/boot-order.js';
import {
  EEPROM_CONFIG_MAX_BYTES,
  getKey,
  macToTftpDir,
  parseEepromConfig,
  serializeEepromConfig,
  setKey,
  tftpDirectory,
  unconditionalSettings,
} from '../../src/pi/eeprom-config.js';
import { HOSTILE_CASES, fixture } from './fixtures.js';

function set(text: string, key: string, value: string) {
  const r = setKey(parseEepromConfig(text), key, value);
  if (!r.ok) throw new Error(r.error);
  return r;
}

const article = '[all]\nBOOT_UART=0\nWAKE_ON_GPIO=1\nPOWER_OFF_ON_HALT=0\nBOOT_ORDER=0xf241\n';

describe('parse and serialise', () => {
  it('round-trips real configs byte for byte', () => {
    for (const sys of ['ubuntu-2404-pi4b', 'raspios-bookworm-pi4b', 'cm4-raspios-bookworm', 'pi5-raspios-bookworm'] as const) {
      const text = fixture(sys, 'eeprom-config');
      expect(serializeEepromConfig(parseEepromConfig(text))).toBe(text);
    }
  });

  it('reads sections, comments and whitespace quirks', () => {
    const c = parseEepromConfig('# top\r\n BOOT_UART = 1 \r\n[pi4]\r\nBOOT_ORDER=0xf14\r\n[gpio7=0]\r\nNETCONSOLE=6665@169.254.1.1/,6666@/\r\n[ALL]\r\nTFTP_IP=10.0.0.5\r\nnot a setting');
    expect(c.lines.map((l) => l.kind)).toEqual(['comment', 'setting', 'section', 'setting', 'section', 'setting', 'section', 'setting', 'invalid']);
    expect(c.lines[1]).toMatchObject({ key: 'BOOT_UART', value: '1', unconditional: true, section: '' });
    expect(c.lines[3]).toMatchObject({ key: 'BOOT_ORDER', unconditional: false, section: 'pi4' });
    expect(c.lines[7]).toMatchObject({ key: 'TFTP_IP', unconditional: true });
    expect(unconditionalSettings(c)).toEqual({ BOOT_UART: '1', TFTP_IP: '10.0.0.5' });
  });

  it('getKey separates the value for every boot from conditional overrides', () => {
    const k = getKey(parseEepromConfig('[all]\nBOOT_ORDER=0xf41\n[gpio7=0]\nBOOT_ORDER=0xf3\n'), 'BOOT_ORDER');
    expect(k).toEqual({ value: '0xf41', line: 2, conditional: [{ section: 'gpio7=0', value: '0xf3', line: 4 }] });
  });
});

describe('setKey', () => {
  it('changes BOOT_ORDER in place, touching nothing else', () => {
    const text = fixture('raspios-bookworm-pi4b', 'eeprom-config');
    const r = set(text, 'BOOT_ORDER', '0xf241');
    expect(r.text).toBe(text.replace('BOOT_ORDER=0xf41', 'BOOT_ORDER=0xf241'));
    expect(r).toMatchObject({ changed: true, added: false, line: 7 });
  });

  it("adds a missing BOOT_ORDER at the end of [all]: the article's config", () => {
    const r = set(fixture('ubuntu-2404-pi4b', 'eeprom-config'), 'BOOT_ORDER', '0xf241');
    expect(r.text).toBe(article);
    expect(r).toMatchObject({ added: true, line: 5 });
  });

  it('adds into [all], not into a later [pi4] or [gpio] section at the end of the file', () => {
    const text = '[all]\nBOOT_UART=0\n\n[gpio7=0]\nNETCONSOLE=6665@169.254.1.1/,6666@/\n';
    expect(set(text, 'BOOT_ORDER', '0xf241').text).toBe('[all]\nBOOT_UART=0\nBOOT_ORDER=0xf241\n\n[gpio7=0]\nNETCONSOLE=6665@169.254.1.1/,6666@/\n');
  });

  it('uses the last [all] section, keeping its trailing comments after the new line', () => {
    const text = '[all]\nA=1\n[pi4]\nB=2\n[all]\nC=3\n# end\n';
    expect(set(text, 'BOOT_ORDER', '0xf241').text).toBe('[all]\nA=1\n[pi4]\nB=2\n[all]\nC=3\nBOOT_ORDER=0xf241\n# end\n');
  });

  it('uses the settings before any section when there is no [all]', () => {
    expect(set('BOOT_UART=0\n[pi4]\nX=1\n', 'BOOT_ORDER', '0xf241').text).toBe('BOOT_UART=0\nBOOT_ORDER=0xf241\n[pi4]\nX=1\n');
  });

  it('appends a new [all] section when everything is conditional, or the config is empty', () => {
    expect(set('[pi4]\nX=1\n', 'BOOT_ORDER', '0xf241').text).toBe('[pi4]\nX=1\n[all]\nBOOT_ORDER=0xf241\n');
    expect(set('', 'BOOT_ORDER', '0xf241').text).toBe('[all]\nBOOT_ORDER=0xf241\n');
  });

  it('keeps CRLF, spacing around =, and a missing final newline', () => {
    expect(set('[all]\r\nBOOT_ORDER = 0xf41\r\n', 'BOOT_ORDER', '0xf241').text).toBe('[all]\r\nBOOT_ORDER = 0xf241\r\n');
    expect(set('[all]\r\nBOOT_UART=0', 'BOOT_ORDER', '0xf241').text).toBe('[all]\r\nBOOT_UART=0\r\nBOOT_ORDER=0xf241');
  });

  it('updates every unconditional duplicate and warns about conditional ones', () => {
    const r = set('[all]\nBOOT_ORDER=0xf1\nBOOT_ORDER=0xf41\n[gpio7=0]\nBOOT_ORDER=0xf3\n', 'BOOT_ORDER', '0xf241');
    expect(r.text).toBe('[all]\nBOOT_ORDER=0xf241\nBOOT_ORDER=0xf241\n[gpio7=0]\nBOOT_ORDER=0xf3\n');
    expect(r.warnings).toEqual(['BOOT_ORDER=0xf3 in [gpio7=0] (line 5) still overrides it when that condition holds']);
  });

  it('setting the same value again changes nothing', () => {
    const r = set(article, 'BOOT_ORDER', '0xf241');
    expect(r.changed).toBe(false);
    expect(r.text).toBe(article);
  });

  it('refuses a config larger than rpi-eeprom-config accepts', () => {
    const big = '[all]\n' + '# padding\n'.repeat(EEPROM_CONFIG_MAX_BYTES / 10);
    expect(setKey(parseEepromConfig(big), 'BOOT_ORDER', '0xf241')).toMatchObject({ ok: false, error: expect.stringMatching(/at most 4076/) });
  });

  it.each(HOSTILE_CASES)('a hostile value %s is refused or stays one inert line', (_name, bad) => {
    // The config goes to rpi-eeprom-config --apply as a file, never through a shell:
    // only line breaks, control characters and size can do harm.
    const r = setKey(parseEepromConfig(article), 'TFTP_PREFIX_STR', bad);
    const harmful = /[\0-\x1f\x7f-\uffff]/.test(bad) || bad !== bad.trim() || bad.length > 4000;
    expect(r.ok).toBe(!harmful);
    if (r.ok) {
      expect(r.text).toBe(article + `TFTP_PREFIX_STR=${bad}\n`);
      expect(getKey(parseEepromConfig(r.text), 'TFTP_PREFIX_STR').value).toBe(bad);
    }
  });

  it.each(HOSTILE_CASES)('refuses the hostile key %s', (_name, bad) => {
    expect(setKey(parseEepromConfig(article), bad, '1').ok).toBe(false);
  });

  it('the enroll flow: default 0xf41 when the line is missing, NETWORK ensured, line added', () => {
    const c = parseEepromConfig(fixture('ubuntu-2404-pi4b', 'eeprom-config'));
    const current = getKey(c, 'BOOT_ORDER').value ?? PI4_DEFAULT_BOOT_ORDER;
    const parsed = parseBootOrder(current);
    const next = parsed.ok ? ensureNetwork(parsed.order) : parsed;
    expect(next.ok).toBe(true);
    if (next.ok) expect(set(fixture('ubuntu-2404-pi4b', 'eeprom-config'), 'BOOT_ORDER', formatBootOrder(next.order)).text).toBe(article);
  });

  it('property: setting a key never loses another line and is idempotent', () => {
    const line = fc.oneof(
      fc.stringMatching(/^[A-Z_]{1,10}=[0-9a-z]{0,6}$/),
      fc.constantFrom('[all]', '[pi4]', '[gpio7=0]', '[none]', '', '# comment', '  '),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.constantFrom('\n', '\r\n'), fc.boolean(), (ls, nl, final) => {
        const text = ls.join(nl) + (final && ls.length > 0 ? nl : '');
        const r = setKey(parseEepromConfig(text), 'BOOT_ORDER', '0xf241');
        if (!r.ok) return false;
        const again = setKey(r.config, 'BOOT_ORDER', '0xf241');
        const before = parseEepromConfig(text).lines.filter((l) => !(l.kind === 'setting' && l.key === 'BOOT_ORDER' && l.unconditional)).map((l) => l.text);
        const after = r.config.lines.map((l) => l.text);
        let i = 0;
        for (const t of after) if (i < before.length && t === before[i]) i++;
        return again.ok && !again.changed && i === before.length && getKey(r.config, 'BOOT_ORDER').value === '0xf241';
      }),
    );
  });
});

describe('tftpDirectory', () => {
  const cfg = (text: string) => parseEepromConfig(text);

  it('TFTP_PREFIX unset: the serial, as in the article', () => {
    const r = tftpDirectory({ config: cfg(article), serialDir: 'bf9fed6f', mac: 'dc:a6:32:01:36:c2' });
    expect(r).toMatchObject({ ok: true, mode: 0, prefix: 'bf9fed6f/', dir: 'bf9fed6f', why: 'TFTP_PREFIX=0 (default): the serial number' });
  });

  it('TFTP_PREFIX=2: the MAC address with dashes', () => {
    const r = tftpDirectory({ config: cfg('[all]\nTFTP_PREFIX=2\n'), serialDir: 'bf9fed6f', mac: 'DC:A6:32:01:36:C2' });
    expect(r).toMatchObject({ ok: true, mode: 2, prefix: 'dc-a6-32-01-36-c2/', dir: 'dc-a6-32-01-36-c2' });
  });

  it('TFTP_PREFIX=1: TFTP_PREFIX_STR, a directory only with a trailing slash', () => {
    expect(tftpDirectory({ config: cfg('[all]\nTFTP_PREFIX=1\nTFTP_PREFIX_STR=tftp_test/\n') })).toMatchObject({ ok: true, prefix: 'tftp_test/', dir: 'tftp_test' });
    const bare = tftpDirectory({ config: cfg('[all]\nTFTP_PREFIX=1\nTFTP_PREFIX_STR=pi-\n') });
    expect(bare).toMatchObject({ ok: true, prefix: 'pi-' });
    expect(bare.ok && bare.dir).toBeUndefined();
    expect(bare.ok && bare.notes.join()).toMatch(/prefixes file names \(pi-start4.elf\)/);
    expect(tftpDirectory({ config: cfg('[all]\nTFTP_PREFIX=1\n') })).toMatchObject({ ok: true, prefix: '' });
  });

  it('notes a conditional TFTP_PREFIX', () => {
    const r = tftpDirectory({ config: cfg('[all]\nTFTP_PREFIX=0\n[gpio7=0]\nTFTP_PREFIX=2\n'), serialDir: 'bf9fed6f' });
    expect(r.ok && r.notes[0]).toMatch(/\[gpio7=0\] \(line 4\)/);
  });

  it.each([
    ['[all]\nTFTP_PREFIX=2\n', { serialDir: 'bf9fed6f' }, /MAC address, which is unknown/],
    ['[all]\nTFTP_PREFIX=2\n', { mac: 'not-a-mac' }, /not six hex bytes/],
    ['[all]\n', {}, /serial number, which is unknown/],
    ['[all]\n', { serialDir: '$(id)' }, /not 8 lowercase hex/],
    ['[all]\nTFTP_PREFIX=7\n', {}, /not 0, 1 or 2/],
    ['[all]\nTFTP_PREFIX=two\n', {}, /not 0, 1 or 2/],
    ['[all]\nTFTP_PREFIX=1\nTFTP_PREFIX_STR=../x/\n', {}, /not a plain relative prefix/],
    ['[all]\nTFTP_PREFIX=1\nTFTP_PREFIX_STR=a b/\n', {}, /not a plain relative prefix/],
  ])('is "unknown" with a reason: %j', (text, extra, why) => {
    const r = tftpDirectory({ config: cfg(text), ...extra });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(why);
  });

  it('macToTftpDir', () => {
    expect(macToTftpDir('e4:5f:01:98:e0:82')).toBe('e4-5f-01-98-e0-82');
    expect(macToTftpDir('E4-5F-01-98-E0-82')).toBe('e4-5f-01-98-e0-82');
    expect(macToTftpDir('e45f0198e082')).toBe('e4-5f-01-98-e0-82');
    expect(macToTftpDir('e4:5f:01:98:e0')).toBeUndefined();
    expect(macToTftpDir('e4:5f:01:98:e0:8g')).toBeUndefined();
  });
});
