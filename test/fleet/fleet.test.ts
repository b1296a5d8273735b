/**
 * The fake-Pi fleet as pinet will meet it: one Pi of every variant, reached
 * with the real OpenSSH client through the fleet's ssh config, checked the
 * way a user would check a real Pi.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAsRoot } from '../helpers/env.js';
import { startFleet } from './fleet.js';
import type { Fleet } from './fleet.js';
import { ssh } from './openssh.js';
import { until } from './wait.js';
import type { VariantName } from './variants.js';

interface Expect {
  variant: VariantName;
  osId: string;
  versionId: string;
  bootMount: string;
  fstabBoot: RegExp;
  kernel: string;
  kernelMode: string;
  initramfs: string | null;
  config: RegExp;
  cmdlineRoot: RegExp;
  model: RegExp;
  compatible: string;
  eeprom: 'yes' | 'cm4-disabled' | 'none';
  bootOrder: string | null;
}

const PI4 = { model: /^Raspberry Pi 4 Model B Rev 1\.\d$/, compatible: 'raspberrypi,4-model-b\0brcm,bcm2711\0' };
const BOOKWORM = {
  osId: 'debian',
  versionId: '12',
  bootMount: '/boot/firmware',
  fstabBoot: /^PARTUUID=[0-9a-f]{8}-01\s+\/boot\/firmware\s+vfat\s+defaults\s+0\s+2$/m,
  config: /^auto_initramfs=1$/m,
  cmdlineRoot: /root=PARTUUID=[0-9a-f]{8}-02 rootfstype=ext4/,
  kernelMode: '755',
};
const CASES: Expect[] = [
  {
    variant: 'ubuntu-2404-pi4',
    osId: 'ubuntu',
    versionId: '24.04',
    bootMount: '/boot/firmware',
    fstabBoot: /^LABEL=system-boot\s+\/boot\/firmware\s+vfat\s+defaults\s+0\s+1$/m,
    kernel: 'vmlinuz',
    kernelMode: '600',
    initramfs: 'initrd.img',
    config: /^kernel=vmlinuz$/m,
    cmdlineRoot: /root=LABEL=writable rootfstype=ext4/,
    ...PI4,
    eeprom: 'yes',
    bootOrder: '0xf41',
  },
  { variant: 'rpios-bookworm-pi4', ...BOOKWORM, kernel: 'kernel8.img', initramfs: 'initramfs8', ...PI4, eeprom: 'yes', bootOrder: '0xf41' },
  {
    variant: 'rpios-bullseye-pi4',
    ...BOOKWORM,
    versionId: '11',
    bootMount: '/boot',
    fstabBoot: /^PARTUUID=[0-9a-f]{8}-01\s+\/boot\s+vfat\s+defaults\s+0\s+2$/m,
    config: /^arm_64bit=1$/m,
    kernel: 'kernel8.img',
    initramfs: null,
    ...PI4,
    eeprom: 'yes',
    bootOrder: '0xf41',
  },
  {
    variant: 'cm4',
    ...BOOKWORM,
    kernel: 'kernel8.img',
    initramfs: 'initramfs8',
    model: /^Raspberry Pi Compute Module 4 Rev 1\.0$/,
    compatible: 'raspberrypi,4-compute-module\0brcm,bcm2711\0',
    eeprom: 'cm4-disabled',
    bootOrder: '0xf41',
  },
  { variant: 'no-boot-order', ...BOOKWORM, kernel: 'kernel8.img', initramfs: 'initramfs8', ...PI4, eeprom: 'yes', bootOrder: null },
  {
    variant: 'pi5',
    ...BOOKWORM,
    kernel: 'kernel_2712.img',
    initramfs: 'initramfs_2712',
    model: /^Raspberry Pi 5 Model B Rev 1\.0$/,
    compatible: 'raspberrypi,5-model-b\0brcm,bcm2712\0',
    eeprom: 'yes',
    bootOrder: '0xf461',
  },
  {
    variant: 'pi3',
    ...BOOKWORM,
    kernel: 'kernel8.img',
    initramfs: 'initramfs8',
    model: /^Raspberry Pi 3 Model B Rev 1\.2$/,
    compatible: 'raspberrypi,3-model-b\0brcm,bcm2837\0',
    eeprom: 'none',
    bootOrder: null,
  },
];

const NEW_CONFIG = '[all]\nBOOT_UART=0\nWAKE_ON_GPIO=1\nPOWER_OFF_ON_HALT=0\nBOOT_ORDER=0xf241\n';
const HOST_FILES = ['/etc/fstab', '/etc/passwd', '/etc/shadow', '/etc/group', '/etc/hostname', '/usr/lib/os-release', '/etc/sudoers'];
const sha = (path: string) => {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return 'missing';
  }
};

describeAsRoot('fake-Pi fleet: one Pi of every variant through OpenSSH', () => {
  let fleet: Fleet;
  let exportDir: string;
  const hostBefore: Record<string, string> = {};
  const run = (dest: string, cmd: string, input?: string) => ssh(fleet.sshConfig, dest, cmd, { input });
  const ok = async (dest: string, cmd: string, input?: string) => {
    const r = await run(dest, cmd, input);
    if (r.code !== 0) throw new Error(`ssh ${dest} ${cmd}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    for (const f of HOST_FILES) hostBefore[f] = sha(f);
    exportDir = await mkdtemp(join(tmpdir(), 'pinet-fleet-export-'));
    fleet = await startFleet({
      pis: [
        ...CASES.map((c) => ({ name: c.variant, variant: c.variant })),
        { name: 'nfs', variant: 'ubuntu-2404-pi4' as const },
        {
          name: 'custom',
          variant: 'rpios-bookworm-pi4' as const,
          serial: '10000000bf9fed6f',
          mac: 'e4:5f:01:98:e0:82',
          revision: 'c03112',
          bootloaderConfig: '[all]\nBOOT_UART=0\nBOOT_ORDER=0xf241\nTFTP_PREFIX=2\n',
          files: {
            '/proc/cpuinfo': (t: string) => t.replace(/^Serial.*\n/m, ''),
            '/boot/firmware/config.txt': (t: string) => t + 'dtoverlay=disable-bt\n',
            '/boot/firmware/initramfs8': null,
            '/etc/motd': 'custom Pi\n',
          },
        },
        {
          name: 'cm4-enabled',
          variant: 'cm4' as const,
          files: { '/etc/default/rpi-eeprom-update': 'FIRMWARE_RELEASE_STATUS="default"\nCM4_ENABLE_RPI_EEPROM_UPDATE=1\n' },
        },
      ],
      bootFilesMB: 2,
      exports: { 'nfs-host:/picluster-boot': exportDir },
    });
  });

  afterAll(async () => {
    await fleet?.stop();
    if (exportDir) await rm(exportDir, { recursive: true, force: true });
  });

  describe.each(CASES)('$variant', (c) => {
    const name = c.variant;

    it('lets root and pi log in with the fleet key; pi has passwordless sudo, locked does not', async () => {
      expect((await ok(name, 'id -un; hostname')).split('\n')).toEqual(['root', name, '']);
      expect(await ok(`pi@${name}`, 'id -un; sudo -n id -u')).toBe('pi\n0\n');
      const locked = await run(`locked@${name}`, 'sudo -n true');
      expect(locked.code).toBe(1);
      expect(locked.stderr).toMatch(/a password is required/);
    });

    it('shows its identity: cpuinfo, device tree, eth0 MAC', async () => {
      const pi = fleet.pi(name);
      const cpuinfo = await ok(name, 'cat /proc/cpuinfo');
      expect(cpuinfo).toMatch(new RegExp(`^Serial\\t\\t: ${pi.serial}$`, 'm'));
      expect(cpuinfo).toMatch(new RegExp(`^Revision\\t: ${pi.revision}$`, 'm'));
      expect(/^Model\t\t: (.*)$/m.exec(cpuinfo)?.[1]).toMatch(c.model);
      const dt = await ok(name, 'cd /sys/firmware/devicetree/base && od -An -c model serial-number compatible | tr -d " \\n"');
      const model = /^Model\t\t: (.*)$/m.exec(cpuinfo)![1]!;
      expect(dt).toBe(`${model}\\0${pi.serial}\\0${c.compatible.replaceAll('\0', '\\0')}`.replaceAll(' ', ''));
      expect(await ok(name, 'cat /sys/class/net/eth0/address')).toBe(`${pi.mac}\n`);
      expect(pi.mac).toMatch(/^(dc:a6:32|2c:cf:67|b8:27:eb):/);
    });

    it("has the OS's files: os-release, fstab, cmdline.txt, config.txt, kernel", async () => {
      const osRelease = await ok(name, '. /etc/os-release; echo "$ID $VERSION_ID"');
      expect(osRelease).toBe(`${c.osId} ${c.versionId}\n`);
      expect(await ok(name, 'cat /etc/fstab')).toMatch(c.fstabBoot);
      const boot = c.bootMount;
      expect(await ok(name, `cat ${boot}/config.txt`)).toMatch(c.config);
      const cmdline = await ok(name, `cat ${boot}/cmdline.txt`);
      expect(cmdline).toMatch(c.cmdlineRoot);
      expect(cmdline.split('\n').length).toBe(2); // one line
      expect(await ok(name, `stat -c '%a %U %G' ${boot}/${c.kernel}`)).toBe(`${c.kernelMode} root root\n`);
      if (c.initramfs) expect(await ok(name, `test -s ${boot}/${c.initramfs} && echo yes`)).toBe('yes\n');
      for (const f of ['overlays/overlay_map.dtb', 'fixup4.dat', 'bootcode.bin']) {
        expect(await ok(name, `test -s ${boot}/${f} && echo yes`), f).toBe('yes\n');
      }
      // About bootFilesMB of boot files, distinct per Pi.
      const bytes = Number(await ok(name, `du -sb --apparent-size ${boot} | cut -f1`));
      expect(bytes).toBeGreaterThan(1.9 * 1024 * 1024);
      expect(bytes).toBeLessThan(2.3 * 1024 * 1024);
      if (c.osId === 'debian') expect(await ok(name, 'head -n 1 /etc/rpi-issue')).toMatch(/^Raspberry Pi reference/);
      expect(await ok(name, `mountpoint -q ${boot} && echo mounted`)).toBe('mounted\n');
    });

    it('prints its bootloader config with rpi-eeprom-config (or has none)', async () => {
      const r = await run(name, 'rpi-eeprom-config');
      if (c.eeprom === 'none') {
        expect(r.code).toBe(127);
        expect(r.stderr).toMatch(/rpi-eeprom-config: command not found/);
        return;
      }
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^\[all\]\n/);
      if (c.bootOrder) expect(r.stdout).toMatch(new RegExp(`^BOOT_ORDER=${c.bootOrder}$`, 'm'));
      else expect(r.stdout).not.toMatch(/BOOT_ORDER/);
      expect(await fleet.pi(name).eepromConfig()).toBe(r.stdout);
      const otp = await ok(name, 'vcgencmd otp_dump');
      expect(otp).toMatch(new RegExp(`^28:${fleet.pi(name).serial8}$`, 'm'));
    });

    it('applies a bootloader config only as root, and only after a reboot', async () => {
      const pi = fleet.pi(name);
      if (c.eeprom === 'none') return;
      await ok(`pi@${name}`, 'cat > /tmp/boot.conf', NEW_CONFIG);
      const asPi = await run(`pi@${name}`, 'rpi-eeprom-config --apply /tmp/boot.conf');
      expect(asPi.code).toBe(1);
      expect(asPi.stderr).toBe('ERROR: --edit/--apply must be run as root\n');
      const edit = await run(`pi@${name}`, 'sudo rpi-eeprom-config --edit');
      expect(edit.code).toBe(1);
      expect(edit.stderr).toMatch(/Error opening terminal|Aborting update/);

      const before = await ok(name, 'rpi-eeprom-config');
      const applied = await run(`pi@${name}`, 'sudo rpi-eeprom-config --apply /tmp/boot.conf');
      if (c.eeprom === 'cm4-disabled') {
        // rpi-eeprom-update stops early on a CM4; rpi-eeprom-config then finds no image.
        expect(applied.code).toBe(1);
        expect(applied.stderr).toMatch(/rpi-eeprom-update is not enabled by default on CM4/);
        expect(await pi.pendingEepromConfig()).toBeNull();
        return;
      }
      expect(applied.code).toBe(0);
      expect(applied.stdout).toMatch(/EEPROM updates pending\. Please reboot to apply the update\./);
      const staged = await ok(name, `ls ${c.bootMount} | grep -E '^(pieeprom\\.(upd|sig)|recovery\\.bin)$'`);
      expect(staged).toBe('pieeprom.sig\npieeprom.upd\nrecovery.bin\n');
      expect(await ok(name, 'rpi-eeprom-config')).toBe(before);
      expect(await pi.pendingEepromConfig()).toBe(NEW_CONFIG);
      expect(await pi.eepromConfig()).toBe(before);

      const { boot } = await pi.status();
      const r = await run(`pi@${name}`, 'sudo reboot');
      expect([0, 255]).toContain(r.code);
      await pi.waitForBoot({ after: boot });
      expect(await ok(name, 'rpi-eeprom-config')).toBe(NEW_CONFIG);
      expect(await pi.pendingEepromConfig()).toBeNull();
      expect(await ok(name, `ls ${c.bootMount} | grep -ciE '^(pieeprom|recovery)' || true`)).toBe('0\n');
      expect(await pi.bootLog()).toMatch(/bootloader: EEPROM updated/);
    });
  });

  it('takes per-Pi overrides: serial, MAC, revision, bootloader config, files', async () => {
    const pi = fleet.pi('custom');
    expect(pi.serial8).toBe('bf9fed6f');
    const out = await ok('custom', [
      'grep -c ^Serial /proc/cpuinfo || true',
      "sed -n 's/^Model[[:space:]]*: //p' /proc/cpuinfo",
      'cat /sys/class/net/eth0/address',
      'tr -d "\\0" < /sys/firmware/devicetree/base/serial-number; echo',
      'rpi-eeprom-config | grep TFTP_PREFIX',
      'tail -n 1 /boot/firmware/config.txt',
      'test -e /boot/firmware/initramfs8 || echo no initramfs8',
      'cat /etc/motd',
      "vcgencmd otp_dump | grep '^28:'",
    ].join('; '));
    expect(out).toBe(
      '0\nRaspberry Pi 4 Model B Rev 1.2\ne4:5f:01:98:e0:82\n10000000bf9fed6f\nTFTP_PREFIX=2\ndtoverlay=disable-bt\nno initramfs8\ncustom Pi\n28:bf9fed6f\n',
    );
  });

  it('runs the rpi-eeprom tools like the real ones: --out, images, status, -l', async () => {
    const name = 'rpios-bookworm-pi4';
    const image = (await ok(name, 'rpi-eeprom-update -l')).trim();
    expect(image).toMatch(/^\/usr\/lib\/firmware\/raspberrypi\/bootloader-2711\/default\/pieeprom-\d{4}-\d\d-\d\d\.bin$/);
    expect(await ok(name, `rpi-eeprom-config --out /tmp/current.conf && cat /tmp/current.conf`)).toBe(await ok(name, 'rpi-eeprom-config'));
    expect(await ok(name, `rpi-eeprom-config ${image}`)).toMatch(/^\[all\]\nBOOT_UART=0\n/);
    await ok(name, `printf '[all]\\nBOOT_ORDER=0xf21\\n' > /tmp/x.conf && rpi-eeprom-config --config /tmp/x.conf --out /tmp/new.bin ${image}`);
    expect(await ok(name, 'rpi-eeprom-config /tmp/new.bin; stat -c %s /tmp/new.bin')).toBe('[all]\nBOOT_ORDER=0xf21\n524288\n');
    const status = await run(name, 'rpi-eeprom-update');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^BOOTLOADER: up to date\n   CURRENT: .* \(\d+\)\n    LATEST: /);
    expect(await ok(name, 'vcgencmd bootloader_version | sed -n "s/^timestamp //p"')).toMatch(/^\d{10}\n$/);
    // On a CM4, updates are off unless /etc/default/rpi-eeprom-update enables them.
    expect(await ok('cm4', 'rpi-eeprom-update')).toMatch(/^rpi-eeprom-update is not enabled by default on CM4\(S\)\./);
  });

  it('updates a CM4 whose rpi-eeprom-update is enabled (self-update on)', async () => {
    const pi = fleet.pi('cm4-enabled');
    await ok('cm4-enabled', `printf '${NEW_CONFIG.replaceAll('\n', '\\n')}ENABLE_SELF_UPDATE=1\\n' > /tmp/c.conf && rpi-eeprom-config --apply /tmp/c.conf`);
    expect(await pi.pendingEepromConfig()).toMatch(/BOOT_ORDER=0xf241/);
    await pi.reboot();
    expect(await pi.eepromConfig()).toMatch(/BOOT_ORDER=0xf241/);
    expect(await pi.pendingEepromConfig()).toBeNull();
  });

  it('shares a LAN with the Pis where a boot server can listen', async () => {
    const { serverIp, namespace } = fleet.lan;
    const server = spawn('ip', [
      'netns', 'exec', namespace, 'python3', '-c',
      `import socket\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('${serverIp}', 6969)); s.listen(); print('ready', flush=True)\nc,a=s.accept(); c.sendall(('hello '+a[0]+'\\n').encode()); c.close()`,
    ], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
      const pi = fleet.pi('pi3');
      expect(await ok('pi3', `cat < /dev/tcp/${serverIp}/6969`)).toBe(`hello ${pi.ip}\n`);
      expect(fleet.lan.freeIps).not.toContain(pi.ip);
      expect(fleet.lan.freeIps).not.toContain(serverIp);
    } finally {
      server.kill();
    }
  });

  it('cancels a staged update with rpi-eeprom-update -r', async () => {
    const name = 'rpios-bookworm-pi4';
    await ok(name, 'rpi-eeprom-config > /tmp/c.conf && sed -i "s/^BOOT_UART=.*/BOOT_UART=1/" /tmp/c.conf && rpi-eeprom-config --apply /tmp/c.conf');
    expect(await fleet.pi(name).pendingEepromConfig()).toMatch(/BOOT_UART=1/);
    expect((await run(`pi@${name}`, 'rpi-eeprom-update -r')).stderr).toMatch(/Must be run as root/);
    expect(await ok(name, 'rpi-eeprom-update -r')).toMatch(/Removing temporary files/);
    expect(await fleet.pi(name).pendingEepromConfig()).toBeNull();
    await fleet.pi(name).reboot();
    expect(await ok(name, 'rpi-eeprom-config')).not.toMatch(/BOOT_UART=1/);
  });

  it('boots its boot partition from the NFS export named in /etc/fstab', async () => {
    const pi = fleet.pi('nfs');
    const dir = join(exportDir, pi.serial8);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir);
    await writeFile(join(dir, 'marker'), 'from the export\n');
    const line = `nfs-host:/picluster-boot/${pi.serial8} /boot/firmware nfs defaults,timeo=900,_netdev 0 0`;
    await ok('nfs', `sed -i 's|^LABEL=system-boot.*|${line}|' /etc/fstab`);
    // Nothing changes before the reboot.
    expect(await ok('nfs', 'test -e /boot/firmware/marker || echo absent')).toBe('absent\n');
    await pi.reboot();
    expect(await ok('nfs', 'cat /boot/firmware/marker')).toBe('from the export\n');
    await ok('nfs', 'echo written > /boot/firmware/by-the-pi');
    expect(await readFile(join(dir, 'by-the-pi'), 'utf8')).toBe('written\n');
    expect(await pi.bootLog()).toMatch(/mounted nfs-host:\/picluster-boot\/[0-9a-f]{8} on \/boot\/firmware \(nfs/);
    // The Pi's changed files survived the reboot.
    expect(await ok('nfs', 'grep -c nfs-host /etc/fstab')).toBe('1\n');

    // An export directory that does not exist: the mount fails, the Pi still boots.
    await ok('nfs', `sed -i 's|picluster-boot/${pi.serial8}|picluster-boot/0000dead|' /etc/fstab`);
    await pi.reboot();
    expect(await ok('nfs', 'ls -A /boot/firmware | wc -l')).toBe('0\n');
    expect(await pi.bootLog()).toMatch(/mount\.nfs: mounting nfs-host:\/picluster-boot\/0000dead failed/);

    // Paths that leave the export are refused, also through a symlink the Pi planted.
    await rm(join(dir, 'escape'), { force: true });
    await symlink('/etc', join(dir, 'escape'));
    for (const evil of ['nfs-host:/picluster-boot/../../etc', `nfs-host:/picluster-boot/${pi.serial8}/escape`]) {
      await ok('nfs', `sed -i 's|^nfs-host:[^ ]*|${evil}|' /etc/fstab`);
      await pi.reboot();
      expect(await ok('nfs', 'ls -A /boot/firmware | wc -l'), evil).toBe('0\n');
    }

    // Back to the SD card.
    await ok('nfs', "sed -i 's|^nfs-host:.*|LABEL=system-boot\\t/boot/firmware\\tvfat\\tdefaults\\t0\\t1|' /etc/fstab");
    await pi.reboot();
    expect(await ok('nfs', 'test -e /boot/firmware/marker || cat /boot/firmware/config.txt | head -n 1')).toBe('[all]\n');
  });

  it('keeps the host apart: its files unchanged, its private trees hidden, capabilities dropped', async () => {
    const name = 'ubuntu-2404-pi4';
    await ok(name, [
      "echo 'tmpfs /mnt tmpfs defaults 0 0' >> /etc/fstab",
      "echo 'intruder:x:0:0::/root:/bin/sh' >> /etc/passwd",
      'echo changed > /etc/hostname',
      "echo 'intruder:*:20000:0:99999:7:::' >> /etc/shadow",
      'echo pi-wrote-this > /usr/lib/os-release',
      'touch /usr/bin/pinet-fleet-test-file /root/x /tmp/x',
    ].join(' && '));
    for (const f of HOST_FILES) expect(sha(f), f).toBe(hostBefore[f]);
    expect(sha('/usr/bin/pinet-fleet-test-file')).toBe('missing');
    expect(await ok(name, 'grep -c intruder /etc/passwd')).toBe('1\n');

    const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
    const hidden = await ok(name, [
      `for p in ${projectRoot} /work /etc/ssh/ssh_host_rsa_key /root/.npmrc /root/.gitconfig; do test -e "$p" && echo "visible: $p"; done`,
      'ls -A /home | tr "\\n" " "',
      'true',
    ].join('; '));
    expect(hidden).toBe('locked pi ');
    expect(await ok(name, 'ls /etc/ssh | tr "\\n" " "')).toBe('ssh_config ssh_host_ed25519_key ssh_host_ed25519_key.pub sshd_config ');
    // Its own processes only, with sshd as PID 1.
    const ps = await ok(name, 'ps -e -o pid=,comm=');
    expect(ps).toMatch(/^\s*1 sshd$/m);
    expect(ps.trim().split('\n').length).toBeLessThan(10);
    // Capabilities that reach the host are gone from the bounding set.
    const capBnd = BigInt('0x' + (/^CapBnd:\s*([0-9a-f]+)$/m.exec(await ok(name, 'cat /proc/self/status'))?.[1] ?? '0'));
    for (const [cap, bit] of [['sys_module', 16n], ['sys_admin', 21n], ['sys_boot', 22n], ['sys_time', 25n]] as const) {
      expect((capBnd >> bit) & 1n, cap).toBe(0n);
    }
    expect((await run(name, 'date -s @0')).stderr).toMatch(/Operation not permitted/);
    expect((await run(name, 'mount -t tmpfs none /mnt')).code).not.toBe(0);
    expect((await run(name, 'echo 1 > /proc/sys/kernel/sysrq')).code).not.toBe(0);
    expect((await run(name, 'echo x > /sys/firmware/devicetree/base/model')).code).not.toBe(0);
  });

  it('reads and writes the Pi\'s files from the test, hostile names included', async () => {
    const pi = fleet.pi('rpios-bookworm-pi4');
    for (const bad of ['/tmp/a b', "/tmp/it's", '/tmp/$(id)', '/tmp/`id`', '/tmp/a;b', '/tmp/new\nline', '/tmp/"q"']) {
      await pi.writeFile(bad, `content of ${bad}\n`, 0o640);
      expect((await pi.readFile(bad)).toString()).toBe(`content of ${bad}\n`);
      const st = await pi.stat(bad);
      expect(st).toMatchObject({ type: 'file', mode: 0o640, uid: 0 });
    }
    expect(await pi.exists('/tmp/$(id)')).toBe(true);
    expect(await pi.exists('/tmp/uid=0(root)')).toBe(false);
    const r = await pi.exec(['id', '-un'], { user: 'pi' });
    expect(r).toEqual({ code: 0, stdout: 'pi\n', stderr: '' });
    await expect(pi.readFile('/nonexistent')).rejects.toThrow(/cannot read \/nonexistent/);
  });

  it('serves many parallel connections to one Pi', async () => {
    const before = await fleet.pi('pi5').connectionStats();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => run('pi5', `echo ${i}`)));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `${i}\n`));
    expect((await fleet.pi('pi5').connectionStats()).accepted - before.accepted).toBe(20);
    // The relay sees the last connections close a moment after ssh exits.
    await until('the connections to close', async () => (await fleet.pi('pi5').connectionStats()).active === 0, 5_000);
  });

  it('leaves the host files as they were', () => {
    for (const f of HOST_FILES) expect(sha(f), f).toBe(hostBefore[f]);
  });
});
