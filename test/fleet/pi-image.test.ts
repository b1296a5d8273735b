/**
 * What a fake Pi is made of, checked without starting one: identities,
 * files per variant, overrides, and refusal of hostile names and paths.
 */
import { describe, expect, it } from 'vitest';
import { hidePlan } from './layers.js';
import { bootFileSizes, buildPiImage, checkPiName, renderAccounts, resolveIdentity } from './pi-image.js';
import type { ImageContext, PiImage, PiSpec } from './pi-image.js';
import { renderPiEnv } from './materialize.js';
import { nextKernelVersion } from './fake-pi.js';
import { fingerprint, renderKnownHosts, renderSshConfig } from './ssh-keys.js';
import { VARIANTS } from './variants.js';
import type { VariantName } from './variants.js';

const HOST_PASSWD = 'root:x:0:0:root:/root:/bin/bash\nsshd:x:102:65534::/run/sshd:/usr/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/bash\n';
const HOST_GROUP = 'root:x:0:\nadm:x:4:\nsudo:x:27:alice\nusers:x:100:\nalice:x:1000:\n';
const ctx: ImageContext = {
  clientPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC5ZsbcUxTdXnbbI8NOnTfbl0KGTcbmG3blpR0+sqrrG client',
  hostKey: { privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n', publicKey: 'ssh-ed25519 AAAA host' },
  accounts: { passwd: HOST_PASSWD, group: HOST_GROUP, skel: { '.profile': Buffer.from('# profile\n') } },
  bootFilesBytes: 7 * 1024 * 1024,
};

function image(spec: PiSpec): PiImage {
  return buildPiImage(resolveIdentity(spec, 0, new Set()), ctx, spec.files);
}
function text(tree: PiImage['root'], path: string): string {
  const f = tree.files.find((x) => x.path === path);
  if (!f) throw new Error(`no ${path}`);
  return f.data.toString('utf8');
}

describe('fake Pi identity', () => {
  it('gives each variant a serial, MAC and revision in its board\'s format', () => {
    const taken = new Set<string>();
    const id = (variant: VariantName, name: string) => resolveIdentity({ name, variant }, 0, taken);
    expect(id('ubuntu-2404-pi4', 'a').serial).toMatch(/^10000000[0-9a-f]{8}$/);
    expect(id('ubuntu-2404-pi4', 'b').mac).toMatch(/^dc:a6:32(:[0-9a-f]{2}){3}$/);
    const pi3 = id('pi3', 'c');
    expect(pi3.serial).toMatch(/^00000000[0-9a-f]{8}$/);
    // A Pi 3's MAC is derived from its serial.
    expect(pi3.mac.replaceAll(':', '')).toBe('b827eb' + pi3.serial.slice(-6));
    const pi5 = id('pi5', 'd');
    expect(pi5.serial).toMatch(/^[1-9a-f][0-9a-f]{15}$/);
    expect(pi5.model).toBe('Raspberry Pi 5 Model B Rev 1.0');
    expect(id('cm4', 'e').model).toBe('Raspberry Pi Compute Module 4 Rev 1.0');
    expect(id('rpios-bookworm-pi4', 'f').model).toBe('Raspberry Pi 4 Model B Rev 1.4');
  });

  it('is the same for the same name, and unique within a fleet', () => {
    const a = resolveIdentity({ name: 'pi-01', variant: 'ubuntu-2404-pi4' }, 0, new Set());
    const b = resolveIdentity({ name: 'pi-01', variant: 'ubuntu-2404-pi4' }, 0, new Set());
    expect(b.serial).toBe(a.serial);
    const taken = new Set<string>();
    const ids = Array.from({ length: 200 }, (_, i) => resolveIdentity({ name: `pi-${i}`, variant: 'ubuntu-2404-pi4' }, i, taken));
    expect(new Set(ids.map((i) => i.serial8)).size).toBe(200);
    expect(new Set(ids.map((i) => i.mac)).size).toBe(200);
  });

  it('takes overrides and derives the model from a given revision', () => {
    const id = resolveIdentity({ name: 'x', variant: 'rpios-bookworm-pi4', serial: '10000000bf9fed6f', mac: 'e4:5f:01:98:e0:82', revision: 'c03112' }, 0, new Set());
    expect(id.serial8).toBe('bf9fed6f');
    expect(id.mac).toBe('e4:5f:01:98:e0:82');
    expect(id.model).toBe('Raspberry Pi 4 Model B Rev 1.2');
  });

  it('refuses a serial or MAC used twice in a fleet', () => {
    const taken = new Set<string>();
    resolveIdentity({ name: 'a', variant: 'pi3', serial: '10000000bf9fed6f' }, 0, taken);
    expect(() => resolveIdentity({ name: 'b', variant: 'pi3', serial: '20000000bf9fed6f' }, 1, taken)).toThrow(/serial .* is used by another Pi/);
  });

  it.each([
    ['a b'],
    ["pi'1"],
    ['pi"1'],
    ['$(id)'],
    ['`id`'],
    ['pi;reboot'],
    ['pi\nx'],
    ['pi\0x'],
    ['pi\r'],
    ['-pi'],
    ['PI-01'],
    [''],
    ['x'.repeat(40)],
  ])('refuses the hostile Pi name %j', (name) => {
    expect(() => checkPiName(name)).toThrow(/not a valid host name/);
    expect(() => resolveIdentity({ name, variant: 'pi3' }, 0, new Set())).toThrow(/not a valid host name/);
  });

  it.each([
    ['serial', { serial: '10000000BF9FED6F' }, /serial/],
    ['serial', { serial: '1000000bf9fed6f' }, /serial/],
    ['serial', { serial: '10000000bf9fed6f; id' }, /serial/],
    ['mac', { mac: 'dc:a6:32:01:36' }, /MAC/],
    ['mac', { mac: 'dc-a6-32-01-36-c2' }, /MAC/],
    ['mac', { mac: '01:a6:32:01:36:c2' }, /multicast/],
    ['revision', { revision: 'zz3114' }, /revision/],
    ['bootloader config', { bootloaderConfig: 'x'.repeat(5000) }, /4076/],
    ['bootloader config', { bootloaderConfig: 'a\0b' }, /NUL/],
  ])('refuses a bad %s', (_what, over, re) => {
    expect(() => resolveIdentity({ name: 'p', variant: 'ubuntu-2404-pi4', ...over }, 0, new Set())).toThrow(re);
  });

  it('refuses a bootloader config for a Pi without an EEPROM', () => {
    expect(() => resolveIdentity({ name: 'p', variant: 'pi3', bootloaderConfig: '[all]\n' }, 0, new Set())).toThrow(/no EEPROM/);
  });
});

describe('fake Pi files', () => {
  it('has an Ubuntu 24.04 layout on ubuntu-2404-pi4', () => {
    const img = image({ name: 'u', variant: 'ubuntu-2404-pi4' });
    expect(text(img.root, '/etc/fstab')).toMatch(/^LABEL=system-boot\t\/boot\/firmware\tvfat\tdefaults\t0\t1$/m);
    expect(text(img.root, '/usr/lib/os-release')).toMatch(/^VERSION_ID="24\.04"$/m);
    expect(img.root.links).toContainEqual({ path: '/etc/os-release', target: '../usr/lib/os-release' });
    const vmlinuz = img.boot.generated.find((g) => g.path === '/vmlinuz');
    expect(vmlinuz?.mode).toBe(0o600);
    expect(text(img.boot, '/config.txt')).toMatch(/^initramfs initrd\.img followkernel$/m);
    expect(text(img.boot, '/cmdline.txt')).toMatch(/^[^\n]*root=LABEL=writable[^\n]*\n$/);
    expect(img.root.files.some((f) => f.path.startsWith('/etc/kernel/postinst.d/zz-flash-kernel'))).toBe(true);
  });

  it('has PARTUUID lines that match cmdline.txt on Raspberry Pi OS', () => {
    for (const variant of ['rpios-bookworm-pi4', 'rpios-bullseye-pi4'] as const) {
      const img = image({ name: 'r', variant });
      const mount = variant === 'rpios-bullseye-pi4' ? '/boot' : '/boot/firmware';
      const m = new RegExp(`^PARTUUID=([0-9a-f]{8})-01\\s+${mount.replace('/', '\\/')}\\s+vfat`, 'm').exec(text(img.root, '/etc/fstab'));
      expect(m, variant).not.toBeNull();
      expect(text(img.boot, '/cmdline.txt')).toContain(`root=PARTUUID=${m![1]}-02 `);
      expect(text(img.root, '/etc/rpi-issue')).toMatch(/^Raspberry Pi reference/);
    }
  });

  it('puts about bootFilesBytes into the boot partition', () => {
    for (const variant of Object.keys(VARIANTS) as VariantName[]) {
      const img = image({ name: 'b', variant });
      const total = img.boot.generated.reduce((n, g) => n + g.size, 0) + img.boot.files.reduce((n, f) => n + f.data.length, 0);
      expect(total / ctx.bootFilesBytes, variant).toBeGreaterThan(0.97);
      expect(total / ctx.bootFilesBytes, variant).toBeLessThan(1.03);
    }
    const sizes = bootFileSizes([{ path: 'k', weight: 1, mode: 0o644 }, { path: 't', weight: 0, text: 'abc', mode: 0o644 }], 100);
    expect(sizes.get('t')).toBe(3);
    expect(sizes.get('k')).toBe(4096); // never below 4 KiB
  });

  it('writes cpuinfo and the device tree like a real Pi 4', () => {
    const img = image({ name: 'c', variant: 'ubuntu-2404-pi4', serial: '10000000bf9fed6f' });
    expect(img.cpuinfo).toMatch(/^processor\t: 3$/m);
    expect(img.cpuinfo).toMatch(/^Serial\t\t: 10000000bf9fed6f$/m);
    expect(img.cpuinfo).toMatch(/^Revision\t: d03114$/m);
    expect(img.cpuinfo.endsWith('Model\t\t: Raspberry Pi 4 Model B Rev 1.4\n')).toBe(true);
    const sys = (p: string) => img.sysfw.files.find((f) => f.path === p)?.data;
    expect(sys('/devicetree/base/serial-number')?.toString('latin1')).toBe('10000000bf9fed6f\0');
    expect(sys('/devicetree/base/compatible')?.toString('latin1')).toBe('raspberrypi,4-model-b\0brcm,bcm2711\0');
    expect(sys('/devicetree/base/system/linux,revision')?.toString('hex')).toBe('00d03114');
    expect(sys('/fake-videocore/otp_dump')?.toString()).toMatch(/^28:bf9fed6f$/m);
  });

  it('applies overrides: replace, transform, remove, and files of the boot partition', () => {
    const img = image({
      name: 'o',
      variant: 'ubuntu-2404-pi4',
      files: {
        '/proc/cpuinfo': (t) => t.replace(/^Serial.*\n/m, ''),
        '/boot/firmware/config.txt': (t) => t + 'dtoverlay=disable-bt\n',
        '/boot/firmware/start4.elf': null,
        '/etc/motd': { content: 'hello\n', mode: 0o600 },
        '/usr/bin/python3': null,
      },
    });
    expect(img.cpuinfo).not.toMatch(/^Serial/m);
    expect(text(img.boot, '/config.txt')).toMatch(/dtoverlay=disable-bt\n$/);
    expect(img.boot.generated.some((g) => g.path === '/start4.elf')).toBe(false);
    expect(img.root.files.find((f) => f.path === '/etc/motd')?.mode).toBe(0o600);
    // A file of the host's / is hidden with an overlayfs whiteout.
    expect(img.root.whiteouts).toContain('/usr/bin/python3');
  });

  it.each([['relative/path'], ['/etc/../etc/passwd'], ['/etc/'], ['/etc/x\ny'], ['/dev/sda'], ['/run/x']])(
    'refuses the override path %j',
    (path) => {
      expect(() => image({ name: 'o', variant: 'ubuntu-2404-pi4', files: { [path]: 'x' } })).toThrow();
    },
  );

  it('lists the attached disks in /sys/block: an SD card by default, the eMMC on a CM4, none when asked', () => {
    const disks = (img: PiImage) => img.sysblock.files.map((f) => `${f.path}=${f.data.toString().trim()}`).sort();
    expect(disks(image({ name: 'a', variant: 'ubuntu-2404-pi4' }))).toEqual(['/mmcblk0/device/type=SD', '/mmcblk0/size=62333952']);
    expect(disks(image({ name: 'b', variant: 'cm4' }))).toEqual(['/mmcblk0/device/type=MMC', '/mmcblk0/size=61071360']);
    expect(disks(image({ name: 'c', variant: 'ubuntu-2404-pi4', storage: [] }))).toEqual([]);
    expect(disks(image({ name: 'd', variant: 'pi5', storage: ['nvme', 'usb'] }))).toEqual(['/nvme0n1/size=500118192', '/sda/size=125045424']);
    expect(disks(image({ name: 'e', variant: 'ubuntu-2404-pi4', files: { '/sys/block/mmcblk0/size': '0\n' } }))).toContain('/mmcblk0/size=0');
    expect(() => image({ name: 'f', variant: 'cm4', storage: ['sd', 'emmc'] })).toThrow(/both mmcblk0/);
    expect(() => image({ name: 'g', variant: 'cm4', storage: ['floppy' as never] })).toThrow(/unknown storage "floppy"/);
  });

  it('refuses to remove a boot file that does not exist', () => {
    expect(() => image({ name: 'o', variant: 'pi3', files: { '/boot/firmware/nope.bin': null } })).toThrow(/no such file/);
  });
});

describe('real-size boot partitions', () => {
  const real = (spec: Omit<PiSpec, 'bootImage'>) => image({ ...spec, bootImage: 'real' });
  const shared = (img: PiImage) => new Map(img.boot.generated.map((g) => [g.path, g]));

  it('shares every big file between two Pis of one image, by content label, and keeps today\'s small partition the default', () => {
    const a = real({ name: 'a', variant: 'ubuntu-2404-pi4' });
    const b = real({ name: 'b', variant: 'ubuntu-2404-pi4' });
    expect(a.boot.generated.every((g) => g.shared)).toBe(true);
    expect([...shared(a).values()].map((g) => [g.path, g.label, g.size, g.mode])).toEqual([...shared(b).values()].map((g) => [g.path, g.label, g.size, g.mode]));
    const mib = a.boot.generated.reduce((n, g) => n + g.size, 0) / 1024 / 1024;
    expect(mib).toBeGreaterThan(150);
    expect(mib).toBeLessThan(250);
    expect(text(a.boot, '/user-data')).toContain('hostname: a');
    expect(text(b.boot, '/user-data')).toContain('hostname: b');
    const small = image({ name: 'a', variant: 'ubuntu-2404-pi4' });
    expect(small.boot.generated.some((g) => g.shared)).toBe(false);
  });

  it('gives a newer-kernel Pi the image kernel as its .bak set, and its own initramfs when it built one', () => {
    const a = shared(real({ name: 'a', variant: 'ubuntu-2404-pi4' }));
    const n = shared(real({ name: 'n', variant: 'ubuntu-2404-pi4', kernelVersion: '6.8.0-1010-raspi' }));
    expect(n.get('/vmlinuz.bak')!.label).toBe(a.get('/vmlinuz')!.label);
    expect(n.get('/vmlinuz')!.label).not.toBe(a.get('/vmlinuz')!.label);
    expect(n.get('/start4.elf')!.label).toBe(a.get('/start4.elf')!.label);
    const own = shared(real({ name: 'o', variant: 'ubuntu-2404-pi4', ownInitramfs: true }));
    expect(own.get('/initrd.img')!.label).not.toBe(a.get('/initrd.img')!.label);
    expect(own.get('/vmlinuz')!.label).toBe(a.get('/vmlinuz')!.label);
  });

  it('lays out Bookworm arm64 with two kernels, the same on a Pi 4 and a Pi 5', () => {
    const p4 = real({ name: 'p4', variant: 'rpios-bookworm-pi4' });
    const p5 = real({ name: 'p5', variant: 'pi5' });
    expect([...shared(p4).keys()].filter((p) => /kernel|initramfs/.test(p)).sort()).toEqual(['/initramfs8', '/initramfs_2712', '/kernel8.img', '/kernel_2712.img']);
    expect([...shared(p4).values()].map((g) => g.label)).toEqual([...shared(p5).values()].map((g) => g.label));
    expect(text(p4.boot, '/cmdline.txt')).not.toBe(text(p5.boot, '/cmdline.txt'));
  });

  it('refuses a real partition for an OS without a real layout, and a bad kernel version', () => {
    expect(() => real({ name: 'x', variant: 'rpios-bullseye-pi4' })).toThrow(/no real boot partition for rpios-bullseye/);
    expect(() => real({ name: 'x', variant: 'ubuntu-2404-pi4', kernelVersion: '6.8; rm -rf /' })).toThrow(/not a package version/);
  });
});

describe('fake Pi accounts', () => {
  it('keeps the host\'s system accounts, drops its people, adds pi and locked', () => {
    const acc = renderAccounts(ctx.accounts);
    expect(acc.passwd).toMatch(/^root:x:0:0:/m);
    expect(acc.passwd).toMatch(/^sshd:/m);
    expect(acc.passwd).not.toMatch(/^alice:/m);
    expect(acc.passwd).toMatch(/^pi:x:1000:1000:/m);
    expect(acc.passwd).toMatch(/^locked:x:1001:1001:/m);
    expect(acc.group).toMatch(/^sudo:x:27:pi,locked$/m);
    // sshd refuses accounts whose password field starts with '!': none may.
    expect(acc.shadow).not.toMatch(/^[^:]+:!/m);
    expect(acc.shadow).toMatch(/^locked:\$6\$/m);
  });
});

describe('fleet helpers', () => {
  it('hides non-standard top-level entries and private paths', () => {
    const plan = hidePlan(['bin', 'etc', 'usr', 'work', 'farm', 'container_info.json', 'tmp'], ['/work/wt/x', '/srv/ci/pinet', '/var/lib/ci/pinet', '/tmp/a']);
    expect(plan.whiteouts).toEqual(['/container_info.json', '/farm', '/var/lib/ci/pinet', '/work']);
    expect(plan.opaque).toEqual(expect.arrayContaining(['/root', '/home', '/tmp', '/etc/ssh', '/srv']));
  });

  it('quotes pi.env values for the shell and refuses bad keys', () => {
    expect(renderPiEnv({ A: "it's $(id)" })).toBe("A='it'\\''s $(id)'\n");
    expect(() => renderPiEnv({ 'A;B': 'x' })).toThrow();
  });

  it('renders ssh config and known_hosts for 127.0.0.1 ports', () => {
    const hosts = [{ name: 'pi-01', port: 40001, hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC5ZsbcUxTdXnbbI8NOnTfbl0KGTcbmG3blpR0+sqrrG root@pi-01' }];
    const cfg = renderSshConfig(hosts, { identityFile: '/k', knownHostsFile: '/kh' });
    expect(cfg).toMatch(/^Host pi-01\n    HostName 127\.0\.0\.1\n    Port 40001\n    User root\n    IdentityFile \/k\n/m);
    expect(renderKnownHosts(hosts)).toBe('[127.0.0.1]:40001 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC5ZsbcUxTdXnbbI8NOnTfbl0KGTcbmG3blpR0+sqrrG\n');
    expect(fingerprint(hosts[0]!.hostKey)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('numbers simulated kernel versions in the OS\'s format', () => {
    expect(nextKernelVersion('6.8.0-1004-raspi', 1)).toBe('6.8.0-1005-raspi');
    expect(nextKernelVersion('6.6.51+rpt-rpi-v8', 2)).toBe('6.6.53+rpt-rpi-v8');
    expect(nextKernelVersion('6.6.51+rpt-rpi-2712', 1)).toBe('6.6.52+rpt-rpi-2712');
  });
});
