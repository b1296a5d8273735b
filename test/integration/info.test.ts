/**
 * `pinet info` through the real OpenSSH sshd of the fake fleet: every
 * variant, as root and as a sudo user, with -F and known_hosts checking.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pinet } from '../helpers/cli.js';
import { describeAsRoot } from '../helpers/env.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';

interface InfoDoc {
  pis: { host: string; ok: boolean; error?: string; info?: Record<string, unknown> & { notes: string[]; bootFiles: string[] } }[];
}

describeAsRoot('pinet info on the fake fleet', () => {
  let fleet: Fleet;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinet-info-'));
    fleet = await startFleet({
      pis: [
        { name: 'ubuntu', variant: 'ubuntu-2404-pi4' },
        { name: 'bookworm', variant: 'rpios-bookworm-pi4', bootloaderConfig: '[all]\nBOOT_ORDER=0xf41\nTFTP_PREFIX=2\n' },
        { name: 'bullseye', variant: 'rpios-bullseye-pi4' },
        { name: 'cm4', variant: 'cm4' },
        { name: 'noorder', variant: 'no-boot-order' },
        { name: 'pi3', variant: 'pi3' },
        { name: 'pi5', variant: 'pi5' },
        { name: 'otponly', variant: 'ubuntu-2404-pi4', files: { '/proc/cpuinfo': (t: string) => t.replace(/^Serial.*\n/m, ''), '/sys/firmware/devicetree/base/serial-number': null } },
        {
          name: 'noserial',
          variant: 'ubuntu-2404-pi4',
          files: { '/proc/cpuinfo': (t: string) => t.replace(/^Serial.*\n/m, ''), '/sys/firmware/devicetree/base/serial-number': null, '/usr/bin/vcgencmd': null },
        },
      ],
      bootFilesMB: 1,
    });
  });
  afterAll(async () => {
    await fleet?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const info = async (args: string[]) => {
    const r = await pinet(['info', '--json', '-F', fleet.sshConfig, ...args]);
    return { ...r, doc: JSON.parse(r.stdout) as InfoDoc };
  };

  it('reports every variant correctly, concurrently', async () => {
    const { code, doc } = await info(['ubuntu', 'bookworm', 'bullseye', 'cm4', 'noorder', 'pi3']);
    const by = Object.fromEntries(doc.pis.map((p) => [p.host, p]));
    expect(code).toBe(0);
    const u = by.ubuntu!.info!;
    expect(u).toMatchObject({
      serial: fleet.pi('ubuntu').serial,
      tftpDirectory: fleet.pi('ubuntu').serial8,
      mac: fleet.pi('ubuntu').mac,
      board: expect.stringMatching(/^Pi 4B/),
      os: expect.stringMatching(/Ubuntu 24\.04/),
      bootMount: '/boot/firmware',
      bootOrder: '0xf41',
      networkBootTried: false,
      eepromNetboot: true,
    });
    expect(u.bootOrderExplained).toBe('0xf41: SD → USB → RESTART, tried right to left');
    expect(u.bootFiles).toEqual(expect.arrayContaining(['start4.elf', 'fixup4.dat', 'config.txt', 'bcm2711-rpi-4-b.dtb', 'cmdline.txt', 'vmlinuz', 'initrd.img']));

    const b = by.bookworm!.info!;
    expect(b.tftpDirectory).toBe(fleet.pi('bookworm').mac.replace(/:/g, '-'));
    expect(b.os).toMatch(/Raspberry Pi OS/);
    expect(b.bootFiles).toContain('kernel8.img');
    expect(by.bullseye!.info!.bootMount).toBe('/boot');
    expect(by.cm4!.info!.eepromUpdates).toMatch(/^disabled: .*CM4/);
    expect(by.noorder!.info!.bootOrderExplained).toMatch(/no BOOT_ORDER line: the default/);
    expect(by.pi3!.info!).toMatchObject({ eepromNetboot: false, bootOrder: null });
    expect(by.pi3!.info!.notes.join(' ')).toMatch(/no bootloader EEPROM/);
  });

  it('reports a Pi 5 with its own kernel and says its boot files are untested', async () => {
    const { code, doc } = await info(['pi5']);
    expect(code).toBe(0);
    expect(doc.pis[0]!.info).toMatchObject({ board: expect.stringMatching(/^Pi 5/), eepromNetboot: true });
    expect(doc.pis[0]!.info!.bootFiles).toContain('kernel_2712.img');
    expect(doc.pis[0]!.info!.notes.join(' ')).toMatch(/Pi 5.*untested/);
  });

  it('prints a readable report, one block per Pi', async () => {
    const r = await pinet(['info', '-F', fleet.sshConfig, 'ubuntu']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/serial\s+1000000/);
    expect(r.stdout).toMatch(/BOOT_ORDER\s+0xf41: SD → USB → RESTART, tried right to left/);
  });

  it('falls back to the OTP serial (vcgencmd otp_dump row 28) when cpuinfo has none', async () => {
    const { code, doc } = await info(['otponly']);
    expect(code).toBe(0);
    expect(doc.pis[0]!.info).toMatchObject({ tftpDirectory: fleet.pi('otponly').serial8 });
    const text = await pinet(['info', '-F', fleet.sshConfig, 'otponly']);
    expect(text.stdout).toMatch(/serial\s+\S+ \(from otp/);
  });

  it('says "unknown" with the reason for a Pi without any serial, and does not crash', async () => {
    const { code, doc } = await info(['noserial']);
    expect(code).toBe(0);
    expect(doc.pis[0]!.info).toMatchObject({ serial: null, tftpDirectory: null });
    const text = await pinet(['info', '-F', fleet.sshConfig, 'noserial']);
    expect(text.stdout).toMatch(/serial\s+unknown \(.+\)/);
  });

  it('works as a sudo user, and explains a user whose sudo needs a password', async () => {
    const asPi = await info(['pi@ubuntu']);
    expect(asPi.doc.pis[0]!.info).toMatchObject({ login: { user: 'pi', privilege: 'sudo' }, bootOrder: '0xf41' });
    const locked = await info(['locked@ubuntu']);
    expect(locked.doc.pis[0]!.info).toMatchObject({ login: { user: 'locked', privilege: 'sudo-needs-password' } });
  });

  it('reports an unreachable host and still reads the others (exit 1)', async () => {
    const cfg = join(dir, 'with-dead');
    await writeFile(cfg, `Host dead\n  HostName 127.0.0.1\n  Port 9\n  ConnectTimeout 3\n`);
    const combined = join(dir, 'combined');
    await writeFile(combined, `Include ${cfg}\nInclude ${fleet.sshConfig}\n`);
    const r = await pinet(['info', '--json', '-F', combined, 'dead', 'ubuntu']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as InfoDoc;
    expect(doc.pis.find((p) => p.host === 'dead')).toMatchObject({ ok: false, error: expect.stringMatching(/dead .*refused/i) });
    expect(doc.pis.find((p) => p.host === 'ubuntu')).toMatchObject({ ok: true });
  });

  it('refuses an unknown host key with its fingerprint, and records it with --accept-new', async () => {
    const kh = join(dir, 'known_hosts_empty');
    await fleet.writeKnownHosts(kh, []);
    const cfg = join(dir, 'strict');
    await fleet.writeSshConfig(cfg, { knownHostsFile: kh, strictHostKeyChecking: 'yes' });
    const refused = await pinet(['info', '-F', cfg, 'ubuntu']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(fleet.pi('ubuntu').hostKeyFingerprint);
    expect(refused.stderr).toMatch(/--accept-new/);
    const accepted = await pinet(['info', '-F', cfg, '--accept-new', 'ubuntu']);
    expect(accepted.code).toBe(0);
    expect((await pinet(['info', '-F', cfg, 'ubuntu'])).code).toBe(0);
  });

  it('refuses a changed host key loudly', async () => {
    const kh = join(dir, 'known_hosts_changed');
    await fleet.writeKnownHosts(kh);
    const cfg = join(dir, 'changed');
    await fleet.writeSshConfig(cfg, { knownHostsFile: kh, strictHostKeyChecking: 'yes' });
    await fleet.pi('bullseye').regenerateHostKey();
    const r = await pinet(['info', '-F', cfg, '--accept-new', 'bullseye']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/changed/i);
    expect(r.stderr).toMatch(/ssh-keygen -R/);
  });

  it('refuses hostile destinations with exit 2, before connecting', async () => {
    for (const dest of ['a b', '-oProxyCommand=id', '$(id)', '`id`', 'x;id', 'x\nid', "it's"]) {
      const r = await pinet(['info', '-F', fleet.sshConfig, dest]);
      expect(r.code, dest).toBe(2);
      expect(r.stderr.trim().split('\n'), dest).toHaveLength(1);
    }
  });
});
