import { describe, expect, it } from 'vitest';
import { classifyOs, expectedBootMount, parseOsRelease } from '../../src/pi/os-release.js';
import { fixture } from './fixtures.js';

describe('parseOsRelease', () => {
  it('reads Ubuntu 24.04', () => {
    const r = parseOsRelease(fixture('ubuntu-2404-pi4b', 'os-release'));
    expect(r).toMatchObject({ id: 'ubuntu', versionId: '24.04', codename: 'noble', prettyName: 'Ubuntu 24.04.1 LTS', idLike: ['debian'], badLines: [] });
  });

  it('reads Raspberry Pi OS Bookworm (which says ID=debian)', () => {
    const r = parseOsRelease(fixture('raspios-bookworm-pi4b', 'os-release'));
    expect(r).toMatchObject({ id: 'debian', versionId: '12', codename: 'bookworm' });
  });

  it('follows the quoting rules of os-release(5)', () => {
    const r = parseOsRelease(
      [
        '# comment',
        'A="double \\"quoted\\" \\$HOME \\`x\\` \\\\ done"',
        "B='single $HOME \\n'",
        'C=plain',
        'D=""',
        'E="unterminated',
        'F=\'bad\' trailing',
        'not an assignment',
        '  G="spaced"  ',
      ].join('\r\n'),
    );
    expect(r.fields.A).toBe('double "quoted" $HOME `x` \\ done');
    expect(r.fields.B).toBe('single $HOME \\n');
    expect(r.fields.C).toBe('plain');
    expect(r.fields.D).toBe('');
    expect(r.fields.G).toBe('spaced');
    expect(r.fields.E).toBeUndefined();
    expect(r.fields.F).toBeUndefined();
    expect(r.badLines).toEqual([6, 7, 8]);
  });

  it('takes the codename from VERSION when VERSION_CODENAME is missing', () => {
    expect(parseOsRelease('ID=debian\nVERSION="11 (bullseye)"\n').codename).toBe('bullseye');
  });
});

describe('classifyOs', () => {
  it('Ubuntu is Ubuntu', () => {
    expect(classifyOs(parseOsRelease(fixture('ubuntu-2404-pi4b', 'os-release')))).toMatchObject({ kind: 'ubuntu', certain: true, name: 'Ubuntu 24.04 (noble)' });
  });

  it('tells Raspberry Pi OS 64-bit from Debian by /etc/rpi-issue', () => {
    const rel = parseOsRelease(fixture('raspios-bookworm-pi4b', 'os-release'));
    expect(classifyOs(rel, { rpiIssue: true })).toMatchObject({ kind: 'raspios', certain: true, name: 'Raspberry Pi OS 12 (bookworm)' });
    expect(classifyOs(rel, { rpiIssue: false })).toMatchObject({ kind: 'debian', certain: true });
    const unsure = classifyOs(rel);
    expect(unsure).toMatchObject({ kind: 'debian', certain: false });
    expect(unsure.reason).toMatch(/rpi-issue was not checked/);
  });

  it('32-bit Raspberry Pi OS says ID=raspbian', () => {
    expect(classifyOs(parseOsRelease(fixture('raspios-bullseye-pi4b', 'os-release')))).toMatchObject({ kind: 'raspios', certain: true });
  });

  it('anything else is unknown, clearly', () => {
    expect(classifyOs(parseOsRelease('ID=fedora\nPRETTY_NAME="Fedora Linux 40"\n'))).toMatchObject({ kind: 'unknown', name: 'Fedora Linux 40' });
    expect(classifyOs(parseOsRelease('\0\0garbage'))).toMatchObject({ kind: 'unknown', certain: false, reason: 'os-release has no ID' });
  });
});

describe('expectedBootMount', () => {
  it('Bookworm and Ubuntu use /boot/firmware, Bullseye /boot', () => {
    expect(expectedBootMount('ubuntu', '24.04')).toBe('/boot/firmware');
    expect(expectedBootMount('raspios', '12')).toBe('/boot/firmware');
    expect(expectedBootMount('raspios', '11')).toBe('/boot');
    expect(expectedBootMount('debian', undefined)).toBeUndefined();
    expect(expectedBootMount('unknown', '12')).toBeUndefined();
  });
});
