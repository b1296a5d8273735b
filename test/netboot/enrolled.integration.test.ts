/**
 * What `pinet enroll` puts in the export, booted by the emulated Pi 4
 * bootloader: fake fleet Pis (Ubuntu 24.04 with its root-only 0600 kernel,
 * Raspberry Pi OS Bookworm) are enrolled over SSH, the real dnsmasq serves
 * the export as `pinet render-dnsmasq` configures it, and each Pi then
 * network-boots from its own namespace (its fleet address, its MAC) with
 * the bootloader config enroll staged on it. The fleet's LAN is
 * 10.251.64.0/18 (test/fleet); no SD card is attached, as after the card is
 * wiped.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { pinet } from '../helpers/cli.js';
import { describeAsRoot, hasCommand } from '../helpers/env.js';
import { Lab, renderDnsmasqConfig, startDnsmasq, type Dnsmasq } from '../net/helpers/netns.js';
import { bootPi, type BootResult } from './index.js';
import { tftpUser } from './lan.js';

const NFS = 'nfs-host:/picluster-boot';
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describeAsRoot('pinet enroll’s export, network-booted by the emulated bootloader', () => {
  const lab = new Lab('nbenroll');
  let fleet: Fleet;
  let exportDir: string;
  let dnsmasq: Dnsmasq;
  const results = new Map<string, BootResult>();

  beforeAll(async () => {
    if (!hasCommand('dnsmasq')) throw new Error('dnsmasq is not installed (Debian: dnsmasq-base); .ci/run installs it');
    exportDir = await lab.dir('export');
    const stateDir = await lab.dir('state');
    fleet = await startFleet({
      pis: [
        { name: 'ubuntu', variant: 'ubuntu-2404-pi4' },
        { name: 'rpios', variant: 'rpios-bookworm-pi4' },
      ],
      bootFilesMB: 1,
      exports: { [NFS]: exportDir },
    });
    const r = await pinet(['enroll', '-F', fleet.sshConfig, '--nfs', NFS, '--export-dir', exportDir, '--state-dir', stateDir, '--boot-order', 'net-first', '--yes', 'ubuntu', 'rpios']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    dnsmasq = await startDnsmasq(lab, fleet.lan.namespace, await renderDnsmasqConfig({ subnet: fleet.lan.subnet, tftpRoot: exportDir }), [`--user=${tftpUser()}`]);
    await Promise.all(
      fleet.pis.map(async (pi) => {
        const eeprom = (await pi.pendingEepromConfig()) ?? (await pi.eepromConfig()) ?? '';
        const outDir = await lab.dir(`out-${pi.name}`);
        const result = await bootPi({
          pi: { mac: pi.mac, serial: pi.serial, revision: pi.revision, name: pi.name },
          eeprom: `${eeprom}\nDHCP_TIMEOUT=5000\nDHCP_REQ_TIMEOUT=1000\n`,
          nic: { netns: pi.netns, iface: 'eth0', address: `${pi.ip}/${fleet.lan.prefixLength}` },
          outDir,
        });
        results.set(pi.name, result);
      }),
    );
  });
  afterAll(async () => {
    await lab.cleanup().catch(() => undefined);
    await fleet?.stop();
  });

  it('the bootloader config enroll staged asks for NETWORK first', () => {
    for (const r of results.values()) expect(r.bootOrder).toBe('0xf412');
  });

  it('the Ubuntu Pi boots its own kernel and initrd from <export>/<serial8>/ (enroll made the 0600 kernel readable to dnsmasq)', async () => {
    const pi = fleet.pi('ubuntu');
    const r = results.get('ubuntu')!;
    expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', mode: 'NETWORK', network: { prefix: `${pi.serial8}/`, tftpServer: fleet.lan.serverIp }, files: { names: { kernel: 'vmlinuz', initramfs: ['initrd.img'] } } });
    expect(sha(await readFile(r.files!.kernel))).toBe(sha(await pi.readFile('/boot/firmware/vmlinuz')));
    expect(sha(await readFile(r.files!.initramfs[0]!))).toBe(sha(await pi.readFile('/boot/firmware/initrd.img')));
    expect(r.files!.cmdline).toBe((await readFile(join(exportDir, pi.serial8, 'cmdline.txt'), 'utf8')).trim());
  });

  it('the Raspberry Pi OS Pi boots kernel8.img and its auto_initramfs initramfs8', async () => {
    const pi = fleet.pi('rpios');
    const r = results.get('rpios')!;
    expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', mode: 'NETWORK', network: { prefix: `${pi.serial8}/` }, files: { names: { kernel: 'kernel8.img' } } });
    expect(sha(await readFile(r.files!.kernel))).toBe(sha(await pi.readFile('/boot/firmware/kernel8.img')));
  });

  it('dnsmasq logged both boots under their fleet addresses, ending with the kernel', async () => {
    const log = await dnsmasq.log();
    for (const pi of fleet.pis) {
      const r = results.get(pi.name)!;
      expect(log).toContain(`sent ${exportDir}/${pi.serial8}/${r.files!.names.kernel} to ${pi.ip}`);
      expect(log).toContain(`PXE(br0) ${pi.mac} proxy`);
    }
  });
});
