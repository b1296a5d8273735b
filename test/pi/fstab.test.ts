import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FSTAB_MARKER, checkBootNfs, findBootLine, parseFstab, parseNfsSource, restoreBootLine, setBootNfs } from '../../src/pi/fstab.js';
import { HOSTILE_CASES, fixture } from './fixtures.js';

const target = { nfs: 'nfs-host:/picluster-boot', dir: 'bf9fed6f' };
const articleLine = 'nfs-host:/picluster-boot/bf9fed6f /boot/firmware nfs defaults,timeo=900,_netdev 0 0';

function edit(text: string, t: Parameters<typeof setBootNfs>[1] = target) {
  const r = setBootNfs(text, t);
  if (!r.ok) throw new Error(r.error);
  return r;
}

describe('setBootNfs on real fstabs', () => {
  it("Ubuntu 24.04: the system-boot line becomes the article's NFS line, the old one commented above it", () => {
    const before = fixture('ubuntu-2404-pi4b', 'fstab');
    const r = edit(before);
    expect(r.text).toBe(
      'LABEL=writable\t/\text4\tdiscard,commit=30,errors=remount-ro\t0\t1\n' +
        '# pinet: replaced: LABEL=system-boot\t/boot/firmware\tvfat\tdefaults\t0\t1\n' +
        articleLine +
        '\n',
    );
    expect(r).toMatchObject({ changed: true, mountpoint: '/boot/firmware', lineNumber: 2, after: articleLine });
  });

  it('Raspberry Pi OS Bookworm: the PARTUUID line is replaced, comments and spacing kept', () => {
    const before = fixture('raspios-bookworm-pi4b', 'fstab');
    const r = edit(before);
    const lines = r.text.split('\n');
    expect(lines[0]).toBe('proc            /proc           proc    defaults          0       0');
    expect(lines[1]).toBe('# pinet: replaced: PARTUUID=4e639091-01  /boot/firmware  vfat    defaults          0       2');
    expect(lines[2]).toBe(articleLine);
    expect(lines.slice(3).join('\n')).toBe(before.split('\n').slice(2).join('\n'));
  });

  it('Raspberry Pi OS Bullseye: the boot partition is at /boot', () => {
    const r = edit(fixture('raspios-bullseye-pi4b', 'fstab'));
    expect(r.mountpoint).toBe('/boot');
    expect(r.after).toBe('nfs-host:/picluster-boot/bf9fed6f /boot nfs defaults,timeo=900,_netdev 0 0');
  });

  it('keeps CRLF endings, and a missing final newline', () => {
    const crlf = 'LABEL=writable / ext4 defaults 0 1\r\nLABEL=system-boot /boot/firmware vfat defaults 0 1';
    const r = edit(crlf);
    expect(r.text).toBe('LABEL=writable / ext4 defaults 0 1\r\n# pinet: replaced: LABEL=system-boot /boot/firmware vfat defaults 0 1\r\n' + articleLine);
  });

  it('honours --mount-options and a named mount point', () => {
    const r = edit(fixture('ubuntu-2404-pi4b', 'fstab'), { ...target, options: 'defaults,_netdev,nofail', mountpoint: '/boot/firmware/' });
    expect(r.after).toBe('nfs-host:/picluster-boot/bf9fed6f /boot/firmware nfs defaults,_netdev,nofail 0 0');
  });

  it('joins a server path with a trailing slash cleanly', () => {
    expect(edit(fixture('ubuntu-2404-pi4b', 'fstab'), { nfs: '10.0.0.5:/exports/pis/', dir: 'dc-a6-32-01-36-c2' }).after).toMatch(
      /^10\.0\.0\.5:\/exports\/pis\/dc-a6-32-01-36-c2 /,
    );
  });
});

describe('setBootNfs is idempotent and keeps the original', () => {
  const before = fixture('raspios-bookworm-pi4b', 'fstab');

  it('a second run with the same target changes nothing', () => {
    const once = edit(before);
    const twice = edit(once.text);
    expect(twice.changed).toBe(false);
    expect(twice.text).toBe(once.text);
  });

  it('a run with another target changes only pinet\'s line and keeps the ORIGINAL in the marker', () => {
    const once = edit(before);
    const other = edit(once.text, { nfs: 'other:/boot', dir: 'bf9fed6f' });
    expect(other.changed).toBe(true);
    expect(other.original).toBe('PARTUUID=4e639091-01  /boot/firmware  vfat    defaults          0       2');
    expect(other.text.split('\n').filter((l) => l.startsWith(FSTAB_MARKER))).toHaveLength(1);
    expect(other.text).toContain('other:/boot/bf9fed6f /boot/firmware nfs');
    expect(other.text).not.toContain('picluster-boot');
  });

  it('rollback gives the original file back byte for byte, also after a retarget', () => {
    for (const sys of ['ubuntu-2404-pi4b', 'raspios-bookworm-pi4b', 'raspios-bullseye-pi4b'] as const) {
      const original = fixture(sys, 'fstab');
      const edited = edit(edit(original).text, { nfs: 'x:/y', dir: 'z' }).text;
      const back = restoreBootLine(edited);
      expect(back.ok && back.text).toBe(original);
    }
    const crlf = 'a / ext4 defaults 0 1\r\nLABEL=system-boot /boot/firmware vfat defaults 0 1';
    const back = restoreBootLine(edit(crlf).text);
    expect(back.ok && back.text).toBe(crlf);
  });

  it("an fstab already set up by hand the article's way is left alone", () => {
    const manual = `LABEL=writable / ext4 defaults 0 1\n${articleLine}\n`;
    expect(edit(manual)).toMatchObject({ changed: false, text: manual });
    const other = edit(manual, { ...target, dir: 'deadbeef' });
    expect(other.changed).toBe(true);
    expect(other.original).toBe(articleLine);
  });

  it('rollback of a file pinet never touched is a no-op', () => {
    const r = restoreBootLine(before);
    expect(r).toEqual({ ok: true, text: before, changed: false, restored: [] });
  });

  it('rollback keeps a line someone put below the marker that is not pinet\'s NFS line', () => {
    const text = `${FSTAB_MARKER}LABEL=system-boot /boot/firmware vfat defaults 0 1\nLABEL=other /boot/firmware ext4 defaults 0 2\n`;
    const r = restoreBootLine(text);
    expect(r.ok && r.text).toBe('LABEL=system-boot /boot/firmware vfat defaults 0 1\nLABEL=other /boot/firmware ext4 defaults 0 2\n');
  });

  it('property: any fstab with one boot line round-trips through set + restore', () => {
    const field = fc.stringMatching(/^[A-Za-z0-9=_.\/-]{1,12}$/);
    const sep = fc.constantFrom(' ', '\t', '  ', ' \t');
    const other = fc.oneof(
      fc.tuple(field, sep, field.map((f) => `/data/${f}`), sep, fc.constantFrom('ext4', 'xfs', 'tmpfs')).map((p) => p.join('')),
      fc.stringMatching(/^#[ -~]{0,30}$/),
      fc.constantFrom('', '   '),
    );
    const eol = fc.constantFrom('\n', '\r\n');
    fc.assert(
      fc.property(fc.array(other, { maxLength: 6 }), fc.array(other, { maxLength: 6 }), field, sep, eol, fc.boolean(), (pre, post, src, s, nl, finalNl) => {
        const lines = [...pre, `${src}${s}/boot/firmware${s}vfat${s}defaults${s}0${s}2`, ...post];
        const text = lines.join(nl) + (finalNl ? nl : '');
        const r = setBootNfs(text, target);
        if (!r.ok) return false;
        const again = setBootNfs(r.text, target);
        const back = restoreBootLine(r.text);
        return again.ok && !again.changed && back.ok && back.text === text;
      }),
    );
  });
});

describe('setBootNfs refuses clearly', () => {
  it('when there is no boot line', () => {
    const r = setBootNfs('LABEL=writable / ext4 defaults 0 1\n', target);
    expect(r).toMatchObject({ ok: false, error: '/etc/fstab has no line that mounts /boot/firmware or /boot' });
  });

  it('when two lines mount the boot partition', () => {
    const r = setBootNfs('a /boot/firmware vfat defaults 0 1\n# x\nb /boot/firmware/ vfat defaults 0 1\n', target);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBe('/etc/fstab has 2 lines that mount /boot/firmware (lines 1, 3)');
  });

  it('ignores commented-out boot lines', () => {
    expect(findBootLine(parseFstab('#LABEL=x /boot/firmware vfat defaults 0 1\nLABEL=y /boot vfat defaults 0 1\n'))).toMatchObject({ ok: true, mountpoint: '/boot' });
  });

  it.each(HOSTILE_CASES)('refuses the hostile NFS location host:/%s unless it is a plain path', (_name, bad) => {
    const ok = setBootNfs(fixture('ubuntu-2404-pi4b', 'fstab'), { nfs: `host:/${bad}`, dir: 'bf9fed6f' }).ok;
    expect(ok).toBe(bad === '' || bad === '='.repeat(10));
  });

  it.each(HOSTILE_CASES)('refuses the hostile directory %s', (_name, bad) => {
    expect(setBootNfs(fixture('ubuntu-2404-pi4b', 'fstab'), { ...target, dir: bad }).ok).toBe(false);
  });

  it.each(HOSTILE_CASES.filter(([, h]) => h !== '='.repeat(10) && h !== '../../etc/passwd'))('refuses the hostile mount options %s', (_name, bad) => {
    expect(setBootNfs(fixture('ubuntu-2404-pi4b', 'fstab'), { ...target, options: bad }).ok).toBe(false);
  });

  it.each(['nfs-host', 'nfs-host:relative', ':/path', 'a b:/x', 'host:/a/../b', 'host:/$(id)'])('refuses the NFS location %j', (nfs) => {
    const r = parseNfsSource(nfs);
    expect(r.ok).toBe(false);
  });

  it('accepts IPv4, IPv6 and host names', () => {
    expect(parseNfsSource('10.0.0.5:/x')).toEqual({ ok: true, value: { host: '10.0.0.5', path: '/x' } });
    expect(parseNfsSource('[fd00::5]:/x/')).toEqual({ ok: true, value: { host: '[fd00::5]', path: '/x' } });
    expect(parseNfsSource('nfs-host.lan:/')).toEqual({ ok: true, value: { host: 'nfs-host.lan', path: '/' } });
  });
});

describe('checkBootNfs', () => {
  const enrolled = edit(fixture('ubuntu-2404-pi4b', 'fstab')).text;

  it('passes an enrolled fstab and mentions the marker', () => {
    const c = checkBootNfs(enrolled, target);
    expect(c.ok).toBe(true);
    expect(c.findings.map((f) => `${f.level} ${f.code}`)).toEqual(['ok fstab.nfs', 'ok fstab.netdev', 'info fstab.pinet-marker']);
  });

  it('fails a Pi that still mounts its SD card, with the line as evidence and the fix', () => {
    const c = checkBootNfs(fixture('ubuntu-2404-pi4b', 'fstab'), target);
    expect(c.ok).toBe(false);
    const f = c.findings[0]!;
    expect(f.code).toBe('fstab.not-nfs');
    expect(f.message).toMatch(/LABEL=system-boot \(vfat\).*line 2/);
    expect(f.fix).toContain(articleLine);
  });

  it('fails the wrong directory', () => {
    const c = checkBootNfs(enrolled, { ...target, dir: 'deadbeef' });
    expect(c.findings[0]).toMatchObject({ level: 'fail', code: 'fstab.wrong-source' });
  });

  it('warns about a missing _netdev and an fsck pass on NFS', () => {
    const c = checkBootNfs('nfs-host:/picluster-boot/bf9fed6f /boot/firmware nfs defaults 0 2\n', target);
    expect(c.ok).toBe(true);
    expect(c.findings.map((f) => `${f.level} ${f.code}`)).toEqual(['ok fstab.nfs', 'warn fstab.no-netdev', 'warn fstab.fsck-nfs']);
  });

  it('fails without a boot line', () => {
    expect(checkBootNfs('', target).findings[0]).toMatchObject({ level: 'fail', code: 'fstab.no-boot-line' });
  });
});

describe('parseFstab', () => {
  it('keeps every byte and classifies lines', () => {
    const text = '# c\n\n\tLABEL=a\\040b /mnt/with\\040space ext4 defaults 0 2\r\nbroken\nlast / ext4';
    const lines = parseFstab(text);
    expect(lines.map((l) => l.kind)).toEqual(['comment', 'blank', 'entry', 'invalid', 'entry']);
    expect(lines[2]!.entry).toMatchObject({ source: 'LABEL=a b', target: '/mnt/with space', passno: '2' });
    expect(lines[4]!.entry!.options).toEqual(['defaults']);
    expect(lines.map((l) => l.text + l.eol).join('')).toBe(text);
  });
});
