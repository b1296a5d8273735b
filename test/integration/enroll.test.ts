/**
 * `pinet enroll` / `rollback` / `list` end to end on the fake fleet, through
 * real sshd, with the real dnsmasq serving the result over TFTP.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pinet } from '../helpers/cli.js';
import { describeAsRoot } from '../helpers/env.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { Lab, buildNetRunner, renderDnsmasqConfig, runIn, startDnsmasq } from '../net/helpers/netns.js';
import { parseJson, piSnapshot, treeSnapshot } from './helpers.js';

const NFS = 'nfs-host:/picluster-boot';

interface EnrollDoc {
  dryRun: boolean;
  plan: { upToDate: boolean; targets: { target: string; changes: { id: string; detail?: { files?: string[] } }[]; warnings: string[]; notes: string[] }[] };
  results: { host: string; serial?: string; dir?: string; result: string; error?: string; reboot?: { ok: boolean; detail: string; bootOrder?: string } }[];
}

describeAsRoot('pinet enroll on the fake fleet', () => {
  let fleet: Fleet;
  let exportDir: string;
  let stateDir: string;
  const lab = new Lab('enroll');

  beforeAll(async () => {
    exportDir = await mkdtemp(join(tmpdir(), 'pinet-export-'));
    await chmod(exportDir, 0o755);
    stateDir = await mkdtemp(join(tmpdir(), 'pinet-state-'));
    fleet = await startFleet({
      pis: [
        { name: 'ubuntu', variant: 'ubuntu-2404-pi4' },
        { name: 'bookworm', variant: 'rpios-bookworm-pi4' },
        { name: 'bullseye', variant: 'rpios-bullseye-pi4' },
        { name: 'noorder', variant: 'no-boot-order' },
        { name: 'rebooter', variant: 'ubuntu-2404-pi4' },
        { name: 'cm4', variant: 'cm4', files: { '/etc/default/rpi-eeprom-update': 'FIRMWARE_RELEASE_STATUS="default"\nCM4_ENABLE_RPI_EEPROM_UPDATE=1\n' } },
        { name: 'pi5', variant: 'pi5' },
      ],
      bootFilesMB: 2,
      exports: { [NFS]: exportDir },
    });
  });
  afterAll(async () => {
    await lab.cleanup().catch(() => undefined);
    await fleet?.stop();
    for (const d of [exportDir, stateDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  const enroll = (args: string[]) =>
    pinet(['enroll', '-F', fleet.sshConfig, '--nfs', NFS, '--export-dir', exportDir, '--state-dir', stateDir, ...args]);
  const inventory = async () => readFile(join(stateDir, 'inventory.json'), 'utf8').catch(() => '');

  it('--dry-run shows the plan and changes nothing anywhere; the JSON plan is stable', async () => {
    const pi = fleet.pi('ubuntu');
    const before = [await piSnapshot(pi), await treeSnapshot(exportDir), await inventory()];
    const a = await enroll(['ubuntu', '--dry-run', '--json']);
    const b = await enroll(['ubuntu', '--dry-run', '--json']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout); // stable: sorted, no timestamps
    const doc = parseJson<EnrollDoc>(a.stdout);
    expect(doc.plan.targets[0]!.changes.map((c) => c.id)).toEqual([
      'backup',
      'export-dir',
      'copy',
      'fstab',
      'hook:/etc/kernel/postinst.d/zzz-pinet-bootfiles',
      'hook:/etc/initramfs/post-update.d/zzz-pinet-bootfiles',
      'bootloader',
      'inventory',
    ]);
    expect(doc.results[0]).toMatchObject({ result: 'planned', dir: pi.serial8 });
    const text = await enroll(['ubuntu', '--dry-run']);
    expect(text.stdout).toMatch(/BOOT_ORDER 0xf41 → 0xf241: SD → USB → NETWORK → RESTART/);
    expect(text.stdout).toMatch(/\+nfs-host:\/picluster-boot\/[0-9a-f]{8} \/boot\/firmware nfs defaults,timeo=900,_netdev 0 0/);
    expect(text.stdout).toMatch(/making vmlinuz readable/);
    expect([await piSnapshot(pi), await treeSnapshot(exportDir), await inventory()]).toEqual(before);
  });

  it('refuses to change anything without a terminal unless --yes (exit 2)', async () => {
    const before = await piSnapshot(fleet.pi('ubuntu'));
    const r = await enroll(['ubuntu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/without confirmation.*--yes/);
    expect(await piSnapshot(fleet.pi('ubuntu'))).toBe(before);
  });

  it('enrolls an Ubuntu Pi: export copy readable by TFTP, fstab, hooks, BOOT_ORDER, inventory, backups', async () => {
    const pi = fleet.pi('ubuntu');
    const fstabBefore = await pi.readText('/etc/fstab');
    const r = await enroll(['ubuntu', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ubuntu\s+\S+\s+enrolled/);
    const dir = join(exportDir, pi.serial8);
    // the Pi's 0600 kernel is 0644 in the export, same bytes
    expect((await stat(join(dir, 'vmlinuz'))).mode & 0o777).toBe(0o644);
    expect(await readFile(join(dir, 'vmlinuz'))).toEqual(await pi.readFile('/boot/firmware/vmlinuz'));
    expect((await stat(dir)).mode & 0o777).toBe(0o755);
    const fstab = await pi.readText('/etc/fstab');
    expect(fstab).toContain(`${NFS}/${pi.serial8} /boot/firmware nfs defaults,timeo=900,_netdev 0 0`);
    expect(fstab).toContain('# pinet: replaced: LABEL=system-boot');
    // every other line kept byte for byte
    for (const line of fstabBefore.split('\n').filter((l) => l && !l.includes('system-boot'))) expect(fstab).toContain(line);
    expect(await pi.pendingEepromConfig()).toMatch(/^BOOT_ORDER=0xf241$/m);
    expect(await pi.eepromConfig()).toMatch(/^BOOT_ORDER=0xf41$/m); // until the reboot
    expect((await pi.stat('/etc/kernel/postinst.d/zzz-pinet-bootfiles'))?.mode! & 0o777).toBe(0o755);
    expect(await pi.exists('/etc/initramfs/post-update.d/zzz-pinet-bootfiles')).toBe(true);
    expect(await pi.sh('ls /var/lib/pinet/backup/*/')).toMatch(/bootloader\.conf\s+cmdline\.txt\s+fstab/);
    const inv = JSON.parse(await inventory()) as { pis: Record<string, { dir: string; mac: string; host: string; backup: { local: string } }> };
    // Where pinet connected, with the SSH port (the ssh_config's Port: pinet watch checks SSH there).
    expect(inv.pis[pi.serial]).toMatchObject({ dir: pi.serial8, mac: pi.mac, host: 'ubuntu', address: 'ubuntu (127.0.0.1)', port: pi.port });
    expect(await readFile(join(inv.pis[pi.serial]!.backup.local, 'fstab'), 'utf8')).toBe(fstabBefore);
    const list = await pinet(['list', '--state-dir', stateDir]);
    expect(list.stdout).toMatch(new RegExp(`${pi.serial8}\\s+${pi.serial}\\s+ubuntu`));
  });

  it('render-dnsmasq --enrolled-only offers the boot menu to the enrolled Pi\'s MAC only', async () => {
    const r = await pinet(['render-dnsmasq', '--subnet', fleet.lan.subnet, '--enrolled-only', '--state-dir', stateDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('dhcp-mac='))).toEqual([`dhcp-mac=set:rpi,${fleet.pi('ubuntu').mac}`]);
    expect(r.stdout).toContain(`--enrolled-only --state-dir ${stateDir}`);
  });

  it('is a no-op the second time: up to date, no file copied, nothing touched', async () => {
    const pi = fleet.pi('ubuntu');
    const before = [await piSnapshot(pi), await treeSnapshot(exportDir), await inventory()];
    const r = await enroll(['ubuntu', '--yes', '--json']);
    expect(r.code).toBe(0);
    const doc = parseJson<EnrollDoc>(r.stdout);
    expect(doc.plan.upToDate).toBe(true);
    expect(doc.results[0]!.result).toBe('up to date');
    expect([await piSnapshot(pi), await treeSnapshot(exportDir), await inventory()]).toEqual(before);
  });

  it('a re-run starts no rpi-eeprom-config on the Pi: the current config as it reads it, the staged update known by its SHA-256', async () => {
    const pi = fleet.pi('ubuntu');
    const staged = JSON.parse(await readFile(join(stateDir, 'staged-updates.json'), 'utf8')) as { configs: Record<string, string> };
    const sum = (await pi.sh('sha256sum /boot/firmware/pieeprom.upd')).split(' ')[0]!;
    expect(staged.configs[sum]).toMatch(/^BOOT_ORDER=0xf241$/m); // recorded when enroll staged it
    // rpi-eeprom-config is Python: on a fleet its start-up was most of a re-run's work on each Pi.
    await pi.sh('mv /usr/bin/rpi-eeprom-config /usr/bin/rpi-eeprom-config.real');
    await pi.writeFile('/usr/bin/rpi-eeprom-config', '#!/bin/sh\necho ran >> /tmp/rpi-eeprom-config.ran\nexec /usr/bin/rpi-eeprom-config.real "$@"\n', 0o755);
    try {
      const r = await enroll(['ubuntu', '--yes', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const doc = parseJson<EnrollDoc>(r.stdout);
      expect(doc.plan.upToDate).toBe(true);
      expect(doc.plan.targets[0]!.notes.join('\n')).toMatch(/bootloader update is already pending/);
      expect(await pi.exists('/tmp/rpi-eeprom-config.ran')).toBe(false);
      // pinet info knows no hashes: it runs the tool, and reads the same
      const info = await pinet(['info', '-F', fleet.sshConfig, 'ubuntu', '--json']);
      expect(info.code, info.stderr).toBe(0);
      expect(await pi.exists('/tmp/rpi-eeprom-config.ran')).toBe(true);
    } finally {
      await pi.sh('mv /usr/bin/rpi-eeprom-config.real /usr/bin/rpi-eeprom-config; rm -f /tmp/rpi-eeprom-config.ran');
    }
  });

  it('copies only the boot files that changed on the Pi since', async () => {
    const pi = fleet.pi('ubuntu');
    await pi.writeFile('/boot/firmware/config.txt', `${await pi.readText('/boot/firmware/config.txt')}# changed\n`);
    const r = await enroll(['ubuntu', '--yes', '--json']);
    expect(r.code).toBe(0);
    const changes = parseJson<EnrollDoc>(r.stdout).plan.targets[0]!.changes;
    expect(changes.map((c) => c.id)).toEqual(['copy', 'inventory']);
    expect(changes[0]!.detail!.files).toEqual(['config.txt']);
    // An enrolled Pi: only the changed file is read, in a step of its own (a first enroll hashes all while detecting).
    expect(r.stderr).toMatch(/^ubuntu: hashing the 1 file to copy/m);
    expect(await readFile(join(exportDir, pi.serial8, 'config.txt'), 'utf8')).toMatch(/# changed\n$/);
  });

  it('--squash root gives the Pi\'s directory and files to nobody (the squashed Pi must replace them), once', async () => {
    const pi = fleet.pi('ubuntu');
    const dir = join(exportDir, pi.serial8);
    const r = await enroll(['ubuntu', '--squash', 'root', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const change = parseJson<EnrollDoc>(r.stdout).plan.targets[0]!.changes.find((c) => c.id === 'owners');
    expect(change, r.stdout).toBeDefined();
    for (const f of [dir, join(dir, 'vmlinuz'), join(dir, 'config.txt')]) expect((await stat(f)).uid, f).toBe(65534);
    const again = await enroll(['ubuntu', '--squash', 'root', '--yes', '--json']);
    expect(parseJson<EnrollDoc>(again.stdout).plan.upToDate).toBe(true);
    // Back to root's, as the tests below expect.
    await execa('chown', ['-R', '0:0', dir]);
  });

  it('the real dnsmasq serves the Pi\'s kernel from <export>/<serial>/ over TFTP, to the Pi\'s LAN', async () => {
    const pi = fleet.pi('ubuntu');
    const config = await renderDnsmasqConfig({ subnet: fleet.lan.subnet, tftpRoot: exportDir });
    await startDnsmasq(lab, fleet.lan.namespace, config);
    const runner = await buildNetRunner(lab);
    const kernel = await pi.readFile('/boot/firmware/vmlinuz');
    const { createHash } = await import('node:crypto');
    const got = await runIn<{ ok: boolean; size: number; sha256: string; error?: unknown }>(pi.netns, runner, {
      cmd: 'tftp-get',
      server: fleet.lan.serverIp,
      file: `${pi.serial8}/vmlinuz`,
      timeoutMs: 2000,
    });
    expect(got, JSON.stringify(got.error)).toMatchObject({ ok: true, size: kernel.length, sha256: createHash('sha256').update(kernel).digest('hex') });
  });

  it('enrolls Raspberry Pi OS Bookworm as a sudo user', async () => {
    const pi = fleet.pi('bookworm');
    const r = await enroll(['pi@bookworm', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(await pi.readText('/etc/fstab')).toMatch(new RegExp(`^${NFS}/${pi.serial8} /boot/firmware nfs `, 'm'));
    expect(await pi.readText('/etc/fstab')).toMatch(/^# pinet: replaced: PARTUUID=/m);
    expect(await pi.pendingEepromConfig()).toMatch(/^BOOT_ORDER=0xf241$/m);
    expect(await readFile(join(exportDir, pi.serial8, 'kernel8.img'))).toEqual(await pi.readFile('/boot/firmware/kernel8.img'));
    expect((await stat(join(exportDir, pi.serial8, 'kernel8.img'))).mode & 0o777).toBe(0o644);
  });

  it('enrolls Raspberry Pi OS Bullseye, whose boot partition is /boot', async () => {
    const pi = fleet.pi('bullseye');
    const r = await enroll(['bullseye', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(await pi.readText('/etc/fstab')).toMatch(new RegExp(`^${NFS}/${pi.serial8} /boot nfs defaults,timeo=900,_netdev 0 0$`, 'm'));
    expect(await pi.readText('/etc/kernel/postinst.d/zzz-pinet-bootfiles')).toContain('chmod -R a+rX /boot ');
  });

  it('adds a BOOT_ORDER line when there is none, and can set the root file system to NFS', async () => {
    const pi = fleet.pi('noorder');
    const piCmdline = await pi.readText('/boot/firmware/cmdline.txt');
    const r = await enroll(['noorder', '--yes', '--root', 'nfs', '--nfs-root', '10.251.0.5:/srv/nfsroot/{serial}']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/moving the root file system is not part of enroll/);
    const pending = await pi.pendingEepromConfig();
    expect(pending).toMatch(/^BOOT_ORDER=0xf241$/m);
    const cmdline = await readFile(join(exportDir, pi.serial8, 'cmdline.txt'), 'utf8');
    expect(cmdline).toMatch(new RegExp(`root=/dev/nfs nfsroot=10\\.251\\.0\\.5:/srv/nfsroot/${pi.serial8},vers=3,noacl ip=dhcp rw`));
    expect(cmdline).not.toMatch(/root=PARTUUID|vers=4|proto=/);
    expect(cmdline.split('\n')).toHaveLength(2); // one line + newline
    expect(await pi.readText('/boot/firmware/cmdline.txt')).toBe(piCmdline); // the Pi's own is untouched
    const again = await enroll(['noorder', '--yes', '--root', 'nfs', '--nfs-root', '10.251.0.5:/srv/nfsroot/{serial}']);
    expect(again.stderr).toMatch(/up to date/);
    expect(JSON.parse(await inventory()).pis[pi.serial]).toMatchObject({ root: 'nfs' });

    // A later run without --root (say, to refresh boot files) keeps the NFS root: the Pi's own
    // cmdline.txt (a local root) must not silently replace it.
    const plain = await enroll(['noorder', '--dry-run', '--json']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain("cmdline.txt in the export keeps its NFS root (enrolled with --root nfs); pass --root keep to netboot with the Pi's own cmdline.txt again");
    expect((await enroll(['noorder', '--yes'])).stderr).toMatch(/up to date/);
    expect(await readFile(join(exportDir, pi.serial8, 'cmdline.txt'), 'utf8')).toBe(cmdline);

    // doctor knows the method enroll wrote: a cmdline.txt put back to a local root fails
    const cmdlineCheck = async () => {
      const r = await pinet(['doctor', '--export-dir', exportDir, '--state-dir', stateDir, '--dnsmasq-conf', '/dev/null', '--json']);
      const g = (JSON.parse(r.stdout) as { groups: { name: string; checks: { id: string; status: string; finding: string }[] }[] }).groups.find((x) => x.name.includes(`${pi.serial8}/`))!;
      return g.checks.find((c) => c.id === 'export.cmdline')!;
    };
    expect(await cmdlineCheck()).toMatchObject({ status: 'ok' });
    await writeFile(join(exportDir, pi.serial8, 'cmdline.txt'), piCmdline);
    expect(await cmdlineCheck()).toMatchObject({ status: 'fail', finding: expect.stringMatching(/^cmdline\.txt mounts a local root \(root=PARTUUID=\S+\), expected nfs/) });
    await writeFile(join(exportDir, pi.serial8, 'cmdline.txt'), cmdline);

    // --root keep, said explicitly, goes back to the Pi's own cmdline.txt
    const keep = await enroll(['noorder', '--yes', '--root', 'keep']);
    expect(keep.code, keep.stderr).toBe(0);
    expect(await readFile(join(exportDir, pi.serial8, 'cmdline.txt'), 'utf8')).toBe(piCmdline);
    expect(JSON.parse(await inventory()).pis[pi.serial].root).toBeUndefined();
    expect(await cmdlineCheck()).toMatchObject({ status: 'ok' });
  });

  it('enrolls a CM4 whose EEPROM updates are enabled, warning that eMMC comes before NETWORK', async () => {
    const pi = fleet.pi('cm4');
    const r = await enroll(['cm4', '--yes']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/eMMC\/SD before NETWORK: a CM4 whose eMMC holds a bootable image never netboots \(use --boot-order net-usb-sd\)/);
    expect(await pi.pendingEepromConfig()).toMatch(/^BOOT_ORDER=0xf241$/m);
    const eMmcLast = await enroll(['cm4', '--yes', '--boot-order', 'net-usb-sd']);
    expect(eMmcLast.code).toBe(0);
    expect(await pi.pendingEepromConfig()).toMatch(/^BOOT_ORDER=0xf142$/m);
    expect(eMmcLast.stdout).not.toMatch(/never netboots/);
  });

  it('enrolls a Pi 5 (kernel_2712.img), saying that Pi 5 netboot is untested', async () => {
    const pi = fleet.pi('pi5');
    const r = await enroll(['pi5', '--yes']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/Pi 5: network boot differs in places and is untested/);
    expect(await readFile(join(exportDir, pi.serial8, 'kernel_2712.img'))).toEqual(await pi.readFile('/boot/firmware/kernel_2712.img'));
    expect((await stat(join(exportDir, pi.serial8, 'kernel_2712.img'))).mode & 0o777).toBe(0o644);
    expect(await pi.readText('/etc/fstab')).toContain(`${NFS}/${pi.serial8} /boot/firmware nfs`);
    expect(await pi.pendingEepromConfig()).toMatch(/^BOOT_ORDER=0x[0-9a-f]*2[0-9a-f]*$/m);
  });

  it('rolls back to the originals byte for byte and leaves the inventory', async () => {
    const pi = fleet.pi('noorder');
    const inv = JSON.parse(await inventory()) as { pis: Record<string, { backup: { local: string } }> };
    const backup = inv.pis[pi.serial]!.backup.local;
    const dry = await pinet(['rollback', '-F', fleet.sshConfig, '--state-dir', stateDir, 'noorder', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/cancel the pending bootloader update/);
    const r = await pinet(['rollback', '-F', fleet.sshConfig, '--state-dir', stateDir, 'noorder', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(await pi.readText('/etc/fstab')).toBe(await readFile(join(backup, 'fstab'), 'utf8'));
    expect(await pi.pendingEepromConfig()).toBeNull();
    expect(await pi.exists('/etc/kernel/postinst.d/zzz-pinet-bootfiles')).toBe(false);
    expect(await pi.exists('/etc/initramfs/post-update.d/zzz-pinet-bootfiles')).toBe(false);
    expect(await readFile(join(exportDir, pi.serial8, 'cmdline.txt'), 'utf8')).toBe(await readFile(join(backup, 'cmdline.txt'), 'utf8'));
    expect(Object.keys((JSON.parse(await inventory()) as { pis: object }).pis)).not.toContain(pi.serial);
    // enrolling it again is allowed: the directory was kept for this Pi
    const again = await enroll(['noorder', '--dry-run']);
    expect(again.code).toBe(0);
    const purge = await pinet(['rollback', '-F', fleet.sshConfig, '--state-dir', stateDir, 'noorder', '--yes', '--purge']);
    expect(purge.code).toBe(1); // not enrolled any more
    expect(purge.stderr).toMatch(/is not enrolled/);
  });

  it('rollback --purge also deletes the Pi\'s directory in the export', async () => {
    const pi = fleet.pi('bullseye');
    const r = await pinet(['rollback', '-F', fleet.sshConfig, '--state-dir', stateDir, 'bullseye', '--yes', '--purge']);
    expect(r.code, r.stderr).toBe(0);
    await expect(stat(join(exportDir, pi.serial8))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await pi.readText('/etc/fstab')).not.toContain('nfs');
  });

  it('--reboot: the Pi comes back netbooting from its export directory; kernel updates stay readable by TFTP', async () => {
    const pi = fleet.pi('rebooter');
    const r = await enroll(['rebooter', '--yes', '--reboot', '--reboot-timeout', '120', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = parseJson<EnrollDoc>(r.stdout).results[0]!;
    expect(res.reboot).toMatchObject({ ok: true, bootOrder: expect.stringMatching(/^0xf241: SD → USB → NETWORK → RESTART/) });
    expect(await pi.eepromConfig()).toMatch(/^BOOT_ORDER=0xf241$/m); // the update was applied at the reboot
    // /boot/firmware is now the Pi's directory of the export: a kernel update writes a 0600
    // kernel there, and pinet's hook makes it readable again.
    const oldKernel = await readFile(join(exportDir, pi.serial8, 'vmlinuz'));
    await pi.simulateKernelUpdate({ mode: 0o600 });
    const newKernel = await readFile(join(exportDir, pi.serial8, 'vmlinuz'));
    expect(newKernel.equals(oldKernel)).toBe(false); // the update landed in the export
    const st = await stat(join(exportDir, pi.serial8, 'vmlinuz'));
    expect(st.mode & 0o777).toBe(0o644);
  });
});
