import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkCmdline,
  describeCmdline,
  klibcRejects,
  parseCmdline,
  parseRbdRoot,
  rootMethod,
  serializeCmdline,
  setNfsRoot,
  setRbdRoot,
} from '../../src/pi/cmdline.js';
import { HOSTILE_CASES, fixture } from './fixtures.js';

function words(text: string): string[] {
  const r = parseCmdline(text);
  if (!r.ok) throw new Error(r.error);
  return r.words;
}

function line(ws: readonly string[]): string {
  const r = serializeCmdline(ws);
  if (!r.ok) throw new Error(r.error);
  return r.text;
}

const ubuntu = fixture('ubuntu-2404-pi4b', 'cmdline.txt');
const bookworm = fixture('raspios-bookworm-pi4b', 'cmdline.txt');

describe('parseCmdline / serializeCmdline', () => {
  it('round-trips the real command lines', () => {
    expect(line(words(ubuntu))).toBe(ubuntu);
    expect(line(words(bookworm))).toBe(bookworm);
  });

  it('understands the Ubuntu line', () => {
    const info = describeCmdline(words(ubuntu));
    expect(info).toMatchObject({ root: 'LABEL=writable', rootfstype: 'ext4', consoles: ['serial0,115200', 'tty1'] });
    expect(rootMethod(info)).toBe('local');
  });

  it('keeps a double-quoted value with spaces as one word', () => {
    const ws = words('dyndbg="file a.c +p" quiet\r\n');
    expect(ws).toEqual(['dyndbg="file a.c +p"', 'quiet']);
    expect(line(ws)).toBe('dyndbg="file a.c +p" quiet\n');
  });

  it('reads only the first line and says so', () => {
    const r = parseCmdline('root=/dev/sda2 quiet\nsplash\n');
    expect(r).toEqual({ ok: true, words: ['root=/dev/sda2', 'quiet'], warnings: ['cmdline.txt has more than one line: the firmware reads only the first'] });
  });

  it('handles tabs, repeated spaces, no trailing newline and an empty file', () => {
    expect(words('  a\t\tb   c')).toEqual(['a', 'b', 'c']);
    expect(words('')).toEqual([]);
  });

  it.each([
    ['nul\0', /NUL/],
    ['a "unclosed', /unclosed double quote/],
    ['a\rb', /carriage return/],
  ])('refuses %j', (text, why) => {
    const r = parseCmdline(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(why);
  });

  it.each(HOSTILE_CASES.filter(([, h]) => /[\s\0]/.test(h) || h === '' || h.length > 4096))('serialize refuses the word %s', (_name, bad) => {
    expect(serializeCmdline(['quiet', bad]).ok).toBe(false);
  });
});

describe('setNfsRoot', () => {
  it('turns the Ubuntu line into an NFS root, keeping every other word in place', () => {
    const r = setNfsRoot(words(ubuntu), '10.86.5.152', '/picluster-root/bf9fed6f');
    expect(r.ok && line(r.words)).toBe(
      'console=serial0,115200 multipath=off dwc_otg.lpm_enable=0 console=tty1 root=/dev/nfs nfsroot=10.86.5.152:/picluster-root/bf9fed6f,vers=3,noacl ip=dhcp rw rootwait fixrtc quiet splash\n',
    );
  });

  it('turns the Raspberry Pi OS line into an NFS root', () => {
    const r = setNfsRoot(words(bookworm), '10.0.0.5', '/srv/root');
    expect(r.ok && r.words).toEqual([
      'console=serial0,115200', 'console=tty1', 'root=/dev/nfs', 'nfsroot=10.0.0.5:/srv/root,vers=3,noacl', 'ip=dhcp', 'rw',
      'fsck.repair=yes', 'rootwait', 'quiet', 'splash', 'plymouth.ignore-serial-consoles', 'cfg80211.ieee80211_regdom=GB',
    ]);
  });

  it('replaces an old nfsroot with vers=4.1/proto, ip= and ro, and never writes them back', () => {
    const r = setNfsRoot(words('ro console=tty1 ip=10.0.0.9::10.0.0.1:255.255.255.0 root=/dev/nfs nfsroot=nas:/x,vers=4.1,proto=tcp rw'), '10.0.0.5', '/y');
    expect(r.ok).toBe(true);
    if (r.ok) {
      const text = line(r.words);
      expect(text).toBe('console=tty1 root=/dev/nfs nfsroot=10.0.0.5:/y,vers=3,noacl ip=dhcp rw\n');
      expect(text).not.toMatch(/vers=4|proto=|\bro\b/);
      expect(checkCmdline(r.words).filter((f) => f.level === 'fail')).toEqual([]);
    }
  });

  it('switches an RBD root back to NFS', () => {
    const r = setNfsRoot(words('boot=rbd rbdroot=10.0.0.1:pi:KEY==:pool:img quiet'), '10.0.0.5', '/y');
    expect(r.ok && line(r.words)).toBe('root=/dev/nfs nfsroot=10.0.0.5:/y,vers=3,noacl ip=dhcp rw quiet\n');
  });

  it('is idempotent', () => {
    const once = setNfsRoot(words(ubuntu), '10.0.0.5', '/y');
    const twice = once.ok ? setNfsRoot(once.words, '10.0.0.5', '/y') : once;
    expect(twice).toEqual(once);
  });

  it('refuses a host name: klibc nfsmount cannot resolve it', () => {
    const r = setNfsRoot(words(ubuntu), 'nfs-host', '/y');
    expect(r).toMatchObject({ ok: false, error: 'NFS root server "nfs-host" is not an IPv4 address' });
    if (!r.ok) expect(r.hint).toMatch(/klibc/);
  });

  it.each(HOSTILE_CASES)('refuses the hostile path /%s', (_name, bad) => {
    const ok = setNfsRoot(words(ubuntu), '10.0.0.5', `/${bad}`).ok;
    expect(ok).toBe(bad === '' || bad === '='.repeat(10));
  });

  it.each(['10.0.0.256', '10.0.0', '010.0.0.1', '$(id)', '10.0.0.1;reboot', '::1'])('refuses the server %j', (server) => {
    expect(setNfsRoot([], server, '/x').ok).toBe(false);
  });
});

describe('setRbdRoot', () => {
  const t = { mons: ['10.0.0.1', '10.0.0.2'], user: 'pi-07', key: 'AQBzZ2Nl1Xb2JhRAAk4wYq8Zb1ZxYcQ1mQ8ZbA==', pool: 'rbd', image: 'pi-07-root' };

  it('puts boot=rbd rbdroot=… where root= was', () => {
    const r = setRbdRoot(words(ubuntu), t);
    expect(r.ok && line(r.words)).toBe(
      'console=serial0,115200 multipath=off dwc_otg.lpm_enable=0 console=tty1 boot=rbd rbdroot=10.0.0.1,10.0.0.2:pi-07:AQBzZ2Nl1Xb2JhRAAk4wYq8Zb1ZxYcQ1mQ8ZbA==:rbd:pi-07-root rootwait fixrtc quiet splash\n',
    );
  });

  it('reads back what it wrote, and doctor warns about the key', () => {
    const r = setRbdRoot(words(bookworm), { ...t, mons: '10.0.0.1', image: 'img@snap' });
    expect(r.ok).toBe(true);
    if (r.ok) {
      const info = describeCmdline(r.words);
      expect(info.rbdroot).toEqual({ mons: ['10.0.0.1'], user: 'pi-07', key: t.key, pool: 'rbd', image: 'img', snapshot: 'snap' });
      expect(rootMethod(info)).toBe('rbd');
      expect(checkCmdline(r.words, 'rbd').map((f) => `${f.level} ${f.code}`)).toEqual(['warn cmdline.ceph-key']);
    }
  });

  it.each(HOSTILE_CASES)('refuses the hostile value %s in every field', (_name, bad) => {
    for (const field of ['user', 'key', 'pool', 'image'] as const) {
      expect(setRbdRoot([], { ...t, [field]: bad }).ok).toBe(false);
    }
    expect(setRbdRoot([], { ...t, mons: [bad] }).ok).toBe(false);
  });

  it('refuses monitors with ports (the fields are colon-separated)', () => {
    expect(setRbdRoot([], { ...t, mons: ['10.0.0.1:6789'] }).ok).toBe(false);
  });

  it('parses the optional partition and mount options', () => {
    expect(parseRbdRoot('m:u:k:p:i:2:noatime')).toEqual({ ok: true, value: { mons: ['m'], user: 'u', key: 'k', pool: 'p', image: 'i', partition: '2', mountOptions: 'noatime' } });
    expect(parseRbdRoot('m:u:k:p').ok).toBe(false);
    expect(parseRbdRoot('m::k:p:i').ok).toBe(false);
  });
});

describe('klibc nfsmount options', () => {
  it.each(['vers=3', 'nfsvers=2', 'vers=0x3', 'tcp', 'udp', 'nolock', 'timeo=600', 'rsize=32768', 'hard', 'ro', 'rw'])('accepts %s', (o) => {
    expect(klibcRejects(o)).toBeUndefined();
  });

  it.each([
    ['vers=4.1', /whole number/],
    ['vers=4', /only NFS versions 2 and 3/],
    ['nfsvers=4', /only NFS versions 2 and 3/],
    ['proto=tcp', /proto=.*tcp or udp/],
    ['sec=sys', /does not know the option 'sec='/],
    ['_netdev', /does not know the option '_netdev'/],
    ['timeo=abc', /whole number/],
  ])('rejects %s', (o, why) => {
    expect(klibcRejects(o)).toMatch(why);
  });
});

describe('checkCmdline', () => {
  const codes = (ws: string[], expected?: Parameters<typeof checkCmdline>[1]) => checkCmdline(ws, expected).map((f) => `${f.level} ${f.code}`);

  it('a good NFS root passes', () => {
    expect(codes(words('console=tty1 root=/dev/nfs nfsroot=10.0.0.5:/srv/pi,vers=3,tcp ip=dhcp rw'), 'nfs')).toEqual(['ok cmdline.nfs-options']);
  });

  it('fails vers=4.1 and proto= with the reason', () => {
    const f = checkCmdline(words('root=/dev/nfs nfsroot=10.0.0.5:/srv/pi,vers=4.1,proto=tcp ip=dhcp'));
    expect(f.filter((x) => x.level === 'fail').map((x) => x.message)).toEqual([
      "nfsroot: klibc nfsmount needs a whole number in 'vers=4.1'; the initramfs will not mount the root",
      "nfsroot: klibc nfsmount does not know the option 'proto=' (use the flag tcp or udp instead); the initramfs will not mount the root",
    ]);
  });

  it('fails a host name in nfsroot and an nfsroot without root=/dev/nfs', () => {
    expect(codes(words('root=PARTUUID=x-02 nfsroot=nas:/srv'))).toEqual(['fail cmdline.root-not-nfs', 'fail cmdline.nfsroot-hostname', 'ok cmdline.nfs-options']);
  });

  it('fails a root that does not match the boot method', () => {
    expect(codes(words(bookworm), 'nfs')).toEqual(['fail cmdline.method']);
  });

  it('RBD: boot=rbd without rbdroot, rbdroot without boot=rbd', () => {
    expect(codes(words('boot=rbd quiet'))).toEqual(['fail cmdline.rbdroot-missing']);
    expect(codes(words('rbdroot=m:u:k:p:i'))).toEqual(['fail cmdline.rbd-no-boot', 'warn cmdline.ceph-key']);
    expect(codes(words('boot=rbd rbdroot=garbage'))).toEqual(['fail cmdline.rbdroot-bad']);
  });

  it('notes ro and rw together, and root=/dev/nfs without nfsroot', () => {
    expect(codes(words('root=/dev/nfs ro rw'))).toEqual(['warn cmdline.nfsroot-missing', 'info cmdline.ro-rw']);
  });
});

describe('properties', () => {
  const plainWord = fc.stringMatching(/^[A-Za-z0-9=.,:_\/-]{1,20}$/);

  it('setNfsRoot keeps every word it does not own, in order, and always yields one valid line', () => {
    fc.assert(
      fc.property(fc.array(plainWord, { maxLength: 15 }), (ws) => {
        const r = setNfsRoot(ws, '10.0.0.5', '/srv/x');
        if (!r.ok) return false;
        const owned = /^(root|rootfstype|nfsroot|ip|boot|rbdroot)=|^(ro|rw)$/;
        const kept = ws.filter((w) => !owned.test(w));
        const text = serializeCmdline(r.words);
        return (
          JSON.stringify(r.words.filter((w) => !owned.test(w))) === JSON.stringify(kept) &&
          text.ok &&
          text.text.split('\n').length === 2 &&
          !/vers=4|proto=/.test(text.text)
        );
      }),
    );
  });

  it('parse(serialize(words)) = words for plain words', () => {
    fc.assert(
      fc.property(fc.array(plainWord, { maxLength: 15 }), (ws) => {
        const text = serializeCmdline(ws);
        const back = text.ok ? parseCmdline(text.text) : text;
        return back.ok && JSON.stringify(back.words) === JSON.stringify(ws);
      }),
    );
  });
});
