import { describe, expect, it } from 'vitest';
import { detectSerial, normaliseSerial, parseCpuinfo, parseOtpDump } from '../../src/pi/cpuinfo.js';
import { fixture } from './fixtures.js';

describe('parseCpuinfo', () => {
  it('reads Serial, Revision, Model and Hardware from an Ubuntu Pi 4B', () => {
    const c = parseCpuinfo(fixture('ubuntu-2404-pi4b', 'cpuinfo'));
    expect(c.serial).toBe('10000000bf9fed6f');
    expect(c.revision).toBe('c03114');
    expect(c.model).toBe('Raspberry Pi 4 Model B Rev 1.4');
    expect(c.hardware).toBe('BCM2835');
  });

  it('has no Hardware line on 64-bit Raspberry Pi OS and says so by leaving it out', () => {
    const c = parseCpuinfo(fixture('raspios-bookworm-pi4b', 'cpuinfo'));
    expect(c.hardware).toBeUndefined();
    expect(c.serial).toBe('100000007c3a91e2');
    expect(c.revision).toBe('d03115');
  });

  it('accepts CRLF and keeps the last value of repeated keys', () => {
    const c = parseCpuinfo('processor\t: 0\r\nprocessor\t: 3\r\nSerial\t\t: 10000000BF9FED6F\r\n');
    expect(c.fields.processor).toBe('3');
    expect(c.serial).toBe('10000000BF9FED6F');
  });

  it('treats an empty Serial value as missing', () => {
    expect(parseCpuinfo('Serial\t\t: \n').serial).toBeUndefined();
  });
});

describe('normaliseSerial', () => {
  it('gives the article example: 10000000bf9fed6f → bf9fed6f', () => {
    expect(normaliseSerial('10000000bf9fed6f')).toEqual({ ok: true, full: '10000000bf9fed6f', tftpDir: 'bf9fed6f' });
  });

  it('left-pads short serials and lowercases', () => {
    expect(normaliseSerial(' 0x12345678 ')).toEqual({ ok: true, full: '0000000012345678', tftpDir: '12345678' });
    expect(normaliseSerial('ABCDEF01')).toMatchObject({ ok: true, tftpDir: 'abcdef01' });
  });

  it('strips the NUL terminator of the devicetree file', () => {
    expect(normaliseSerial(fixture('raspios-bookworm-pi4b', 'serial-number'))).toMatchObject({ ok: true, tftpDir: '7c3a91e2' });
  });

  it.each([
    ['', /empty/],
    ['0000000000000000', /all zeros/],
    ['1000000000000000', /ends in 00000000/],
    ['10000000bf9fed6g', /not hexadecimal/],
    ['10000000bf9fed6f0', /more than 16/],
    ['$(id)', /not hexadecimal/],
    ['bf9f ed6f', /not hexadecimal/],
  ])('refuses %j', (raw, why) => {
    const r = normaliseSerial(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(why);
  });
});

describe('detectSerial', () => {
  const cpuinfo = fixture('raspios-bookworm-pi4b', 'cpuinfo');
  const serialNumber = fixture('raspios-bookworm-pi4b', 'serial-number');
  const otpDump = fixture('raspios-bookworm-pi4b', 'otp_dump');

  it('prefers /proc/cpuinfo and reports agreement silently', () => {
    const r = detectSerial({ cpuinfo, serialNumber, otpDump });
    expect(r).toEqual({ ok: true, full: '100000007c3a91e2', tftpDir: '7c3a91e2', source: 'cpuinfo', notes: [] });
  });

  it('falls back to the devicetree file when cpuinfo has no Serial line', () => {
    const r = detectSerial({ cpuinfo: 'processor\t: 0\n', serialNumber, otpDump });
    expect(r).toMatchObject({ ok: true, source: 'devicetree', tftpDir: '7c3a91e2' });
  });

  it('falls back to OTP row 28 and says only the low 32 bits are known', () => {
    const r = detectSerial({ cpuinfo: 'Serial\t: 0000000000000000\n', otpDump });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.source).toBe('otp');
      expect(r.tftpDir).toBe('7c3a91e2');
      expect(r.notes.join()).toMatch(/low 32 bits/);
    }
  });

  it('notes when sources disagree', () => {
    const r = detectSerial({ cpuinfo, serialNumber: '10000000deadbeef\0' });
    expect(r.ok && r.notes.join()).toMatch(/devicetree says 10000000deadbeef/);
  });

  it('is "unknown" with every reason when nothing is usable', () => {
    const r = detectSerial({ cpuinfo: 'garbage', serialNumber: '\0', otpDump: '28:zzzz' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.known).toBe(false);
      expect(r.reason).toMatch(/no Serial line/);
      expect(r.reason).toMatch(/serial-number: serial number is empty/);
      expect(r.reason).toMatch(/no row 28/);
    }
  });
});

describe('parseOtpDump', () => {
  it('reads rows 28 (serial) and 30 (revision)', () => {
    const rows = parseOtpDump(fixture('raspios-bookworm-pi4b', 'otp_dump'));
    expect(rows.get(28)).toBe('7c3a91e2');
    expect(rows.get(30)).toBe('00d03115');
  });
});
