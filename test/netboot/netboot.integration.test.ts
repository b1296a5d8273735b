/**
 * The emulated Pi 4 bootloader against the real dnsmasq, configured as
 * `pinet render-dnsmasq` writes it (proxy DHCP + TFTP, running as its
 * unprivileged user), with the LAN's own router (a second dnsmasq handing
 * out addresses) on the same bridge: the seed article's topology, on
 * 10.251.176.0/24 inside namespaces the test creates. Healthy boots only;
 * the faults are in netboot-faults.integration.test.ts.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAsRoot, hasCommand } from '../helpers/env.js';
import type { Dnsmasq } from '../net/helpers/netns.js';
import { rpiosPartition, ubuntuPartition, writePartition, type PartitionFiles } from './boot-partition.js';
import { byFile, dhcpLinesOf, seedTftpLines, tftpLinesOf, withoutForClient } from './dnsmasq-log.js';
import { bootPi, NetbootLan, type BootOptions, type BootResult } from './index.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const fileSha = async (p: string): Promise<string> => sha(await readFile(p));

describeAsRoot('emulated Pi 4 network boots against the real dnsmasq', () => {
  let lan: NetbootLan;
  let root: string;
  let bootServer: Dnsmasq;
  let router: Dnsmasq;
  let macs = 0x10;
  const logs: string[] = [];

  /** A new Pi on the LAN (its own MAC), booted with `opts`; its log is kept for a failing test. */
  async function boot(opts: Omit<BootOptions, 'nic' | 'outDir' | 'pi'> & { pi?: Partial<BootOptions['pi']>; nic?: false | { address?: string } }): Promise<BootResult> {
    const mac = opts.pi?.mac ?? `dc:a6:32:01:36:${(macs++).toString(16).padStart(2, '0')}`;
    const nic = opts.nic === false ? undefined : { ...(await lan.addPi(mac)).nic, ...(opts.nic ?? {}) };
    const outDir = await lan.lab.dir('out');
    const { pi, nic: _nic, ...rest } = opts;
    const r = await bootPi({
      pi: { mac, serial: '10000000bf9fed6f', revision: 'd03114', ...pi },
      eeprom: { BOOT_ORDER: '0xf21', DHCP_TIMEOUT: 5000, DHCP_REQ_TIMEOUT: 1000 },
      ...rest,
      ...(nic && { nic }),
      outDir,
      onLog: (l) => logs.push(l),
    });
    return r;
  }

  beforeAll(async () => {
    if (!hasCommand('dnsmasq')) throw new Error('dnsmasq is not installed (Debian: dnsmasq-base); .ci/run installs it');
    lan = await NetbootLan.create({ tag: 'nbhealthy', base: '10.251.176' });
    root = await lan.lab.dir('tftp');
    bootServer = await lan.startBootServer(root);
    router = await lan.startRouter();
  });
  afterAll(async () => {
    await lan?.cleanup();
  });

  describe('a healthy boot from <tftp-root>/<serial8>/ (the seed article’s Pi)', () => {
    let files: PartitionFiles;
    let r: BootResult;
    beforeAll(async () => {
      files = ubuntuPartition();
      await writePartition(join(root, 'bf9fed6f'), files);
      r = await boot({ pi: { mac: 'e4:5f:01:98:e0:82', serial: '10000000bf9fed6f', revision: 'd03115', name: 'seed-pi' } });
    });

    it('boots from NETWORK with the serial prefix and brings back exactly the partition’s kernel, initramfs, dtb, overlays and cmdline.txt', async () => {
      expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', mode: 'NETWORK', network: { tftpServer: lan.serverIp, prefix: 'bf9fed6f/' } });
      const f = r.files!;
      expect(await fileSha(f.kernel)).toBe(sha(files.vmlinuz!));
      expect(f.initramfs).toHaveLength(1);
      expect(await fileSha(f.initramfs[0]!)).toBe(sha(files['initrd.img']!));
      expect(await fileSha(f.dtb)).toBe(sha(files['bcm2711-rpi-4-b.dtb']!));
      expect(f.names.overlays).toEqual(['overlays/dwc2.dtbo', 'overlays/disable-bt.dtbo', 'overlays/disable-wifi.dtbo']);
      expect(await fileSha(f.config!)).toBe(sha(files['config.txt']!));
      expect(f.cmdline).toBe(String(files['cmdline.txt']).trim());
      expect(r.timings.bytesReceived).toBeGreaterThan((files.vmlinuz as Buffer).length);
    });

    it('got its address from the router and the boot menu from pinet’s proxy, as the seed article’s Pi', () => {
      const dhcp = r.network!.dhcp;
      expect(dhcp).toMatchObject({ ok: true, addressSource: 'dhcp', dhcpServer: lan.addr(254), pxeServer: lan.serverIp, tftpServerSource: 'option 54', menusSeen: [['Raspberry Pi Boot']] });
      expect(r.network!.address).toMatch(/^10\.251\.176\.1\d\d\/24$/);
    });

    it('dnsmasq logged the proxy offer for this MAC, with the same option 97 bytes as the seed article’s log', async () => {
      const lines = dhcpLinesOf(await bootServer.log(), r.network!.dhcp.xid!);
      expect(lines).toEqual(
        expect.arrayContaining([
          'vendor class: PXEClient:Arch:00000:UNDI:002001',
          'PXE(br0) e4:5f:01:98:e0:82 proxy',
          `sent size:  4 option: 54 server-identifier  ${lan.serverIp}`,
          'sent size: 17 option: 97 client-machine-id  00:34:69:50:52:15:31:d0:00:01:98:e0:82:6f...',
        ]),
      );
      expect(await router.log()).toMatch(new RegExp(`DHCPACK\\(eth0\\) ${r.network!.address.split('/')[0]!.replace(/\./g, '\\.')} e4:5f:01:98:e0:82`));
    });

    it('dnsmasq’s TFTP lines for this Pi are the seed article’s: the same lines for each file in the same order (probes, optional files not found, "failed sending" then "sent"), the same Early terminates', async () => {
      const ip = r.network!.address.split('/')[0]!;
      const lines = withoutForClient(tftpLinesOf(await bootServer.log(), ip));
      const seed = seedTftpLines(root, ip);
      expect(byFile(lines)).toEqual(byFile(seed));
      expect(lines.length).toBe(seed.length);
      expect([lines[0], lines.at(-1)]).toEqual([seed[0], seed.at(-1)]);
    });

    it('records every request in order with its outcome, one fresh client port each', () => {
      const req = r.requests;
      expect(req[0]).toMatchObject({ seq: 1, file: 'bf9fed6f/start4.elf', kind: 'probe', stage: 'bootloader', outcome: 'probed', tsize: (files['start4.elf'] as Buffer).length, blksize: 1468 });
      expect(req.find((q) => q.file === 'bf9fed6f/pieeprom.sig')).toMatchObject({ outcome: 'not-found', errorCode: 1, serverMessage: `file ${root}/bf9fed6f/pieeprom.sig not found for ${r.network!.address.split('/')[0]}` });
      expect(req.at(-1)).toMatchObject({ file: 'bf9fed6f/vmlinuz', kind: 'get', stage: 'firmware', outcome: 'sent', bytes: (files.vmlinuz as Buffer).length });
      expect(new Set(req.map((q) => q.clientPort)).size).toBe(req.length);
      expect(req.map((q) => q.seq)).toEqual(req.map((_, i) => i + 1));
    });
  });

  it('TFTP_PREFIX=2: the directory is the MAC with dashes; the serial directory is not asked for', async () => {
    const mac = 'dc:a6:32:01:36:c2';
    const files = ubuntuPartition();
    await writePartition(join(root, 'dc-a6-32-01-36-c2'), files);
    const r = await boot({ pi: { mac, serial: '10000000aaaa0001' }, eeprom: { BOOT_ORDER: '0xf21', TFTP_PREFIX: 2, DHCP_TIMEOUT: 5000, DHCP_REQ_TIMEOUT: 1000 } });
    expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', network: { prefix: 'dc-a6-32-01-36-c2/' } });
    expect(r.requests.every((q) => q.file.startsWith('dc-a6-32-01-36-c2/'))).toBe(true);
    expect(await fileSha(r.files!.kernel)).toBe(sha(files.vmlinuz!));
    expect(await bootServer.log()).not.toMatch(/aaaa0001/);
  });

  it('TFTP_PREFIX=1: TFTP_PREFIX_STR as written', async () => {
    await writePartition(join(root, 'rack-a'), ubuntuPartition());
    const r = await boot({ pi: { serial: '10000000aaaa0002' }, eeprom: { BOOT_ORDER: '0xf21', TFTP_PREFIX: 1, TFTP_PREFIX_STR: 'rack-a/', DHCP_TIMEOUT: 5000, DHCP_REQ_TIMEOUT: 1000 } });
    expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', network: { prefix: 'rack-a/' } });
  });

  it('no directory for the Pi: start4.elf is not found there, start.elf neither, and everything is asked for without a prefix', async () => {
    const files = ubuntuPartition('console=serial0 root=/dev/nfs shared');
    await writePartition(root, files);
    const r = await boot({ pi: { serial: '10000000aaaa0003' } });
    expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', network: { prefix: '' } });
    expect(r.requests.slice(0, 3).map((q) => [q.file, q.outcome])).toEqual([
      ['aaaa0003/start4.elf', 'not-found'],
      ['aaaa0003/start.elf', 'not-found'],
      ['config.txt', 'sent'],
    ]);
    expect(r.files!.cmdline).toBe('console=serial0 root=/dev/nfs shared');
  });

  it('Raspberry Pi OS on a Pi 400: kernel8.img, the auto_initramfs initramfs8, the Pi 400’s own device tree', async () => {
    const files = rpiosPartition();
    await writePartition(join(root, 'aaaa0004'), files);
    const r = await boot({ pi: { serial: '10000000aaaa0004', revision: 'c03130' } });
    expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', files: { names: { kernel: 'kernel8.img', initramfs: ['initramfs8'], dtb: 'bcm2711-rpi-400.dtb', overlays: ['overlays/vc4-kms-v3d.dtbo'] } } });
    expect(await fileSha(r.files!.dtb)).toBe(sha(files['bcm2711-rpi-400.dtb']!));
  });

  it('a CM4 asks for bcm2711-rpi-cm4.dtb and applies the [cm4] section', async () => {
    await writePartition(join(root, 'aaaa0005'), { ...rpiosPartition(), 'config.txt': 'arm_64bit=1\n[cm4]\nkernel=cm4-kernel.img\n[all]\n', 'cm4-kernel.img': 'k' });
    const r = await boot({ pi: { serial: '10000000aaaa0005', revision: 'b03140' } });
    expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', files: { names: { kernel: 'cm4-kernel.img', dtb: 'bcm2711-rpi-cm4.dtb', initramfs: [] } } });
  });

  describe('BOOT_ORDER 0xf21 (SD, then NETWORK)', () => {
    const serial = '10000000aaaa0006';
    let sd: string;
    let sdFiles: PartitionFiles;
    beforeAll(async () => {
      await writePartition(join(root, 'aaaa0006'), ubuntuPartition('from the network'));
      sd = await lan.lab.dir('sd');
      sdFiles = ubuntuPartition('from the SD card');
      await writePartition(sd, sdFiles);
    });

    it('with a bootable SD card: boots from SD and never touches the network', async () => {
      const mac = 'dc:a6:32:aa:00:06';
      const r = await boot({ pi: { mac, serial }, media: { sd } });
      expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', mode: 'SD', files: { cmdline: 'from the SD card' } });
      expect(r.attempts.map((a) => [a.modeName, a.outcome])).toEqual([['SD', 'booted']]);
      expect(r.requests).toEqual([]);
      expect(await fileSha(r.files!.kernel)).toBe(sha(sdFiles.vmlinuz!));
      expect(await bootServer.log()).not.toContain(mac);
    });

    it('without an SD card: SD is absent, NETWORK boots', async () => {
      const r = await boot({ pi: { serial } });
      expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', mode: 'NETWORK', files: { cmdline: 'from the network' } });
      expect(r.attempts.map((a) => [a.modeName, a.outcome])).toEqual([
        ['SD', 'absent'],
        ['NETWORK', 'booted'],
      ]);
    });

    it('with a card that holds no firmware (a data card): SD is absent, NETWORK boots', async () => {
      const data = await lan.lab.dir('datacard');
      await writePartition(data, { 'notes.txt': 'no boot files here' });
      const r = await boot({ pi: { serial }, media: { sd: data } });
      expect(r).toMatchObject({ outcome: 'booted', mode: 'NETWORK' });
      expect(r.attempts[0]).toMatchObject({ modeName: 'SD', outcome: 'absent', reason: expect.stringMatching(/has no start4\.elf/) });
    });
  });

  it('a static address given by the caller: no address offer needed, only the PXE offer', async () => {
    await writePartition(join(root, 'aaaa0007'), ubuntuPartition());
    const r = await boot({ pi: { serial: '10000000aaaa0007' }, nic: { address: `${lan.addr(60)}/24` } });
    expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', network: { address: `${lan.addr(60)}/24`, dhcp: { addressSource: 'static', pxeServer: lan.serverIp } } });
    expect(tftpLinesOf(await bootServer.log(), lan.addr(60)).at(-1)).toBe(`sent ${root}/aaaa0007/vmlinuz to ${lan.addr(60)}`);
  });

  it('CLIENT_IP and TFTP_IP in the EEPROM: DHCP is skipped entirely', async () => {
    await writePartition(join(root, 'aaaa0008'), ubuntuPartition());
    const mac = 'dc:a6:32:aa:00:08';
    const r = await boot({
      pi: { mac, serial: '10000000aaaa0008' },
      eeprom: { BOOT_ORDER: '0xf2', CLIENT_IP: lan.addr(61), SUBNET: '255.255.255.0', TFTP_IP: lan.serverIp },
    });
    expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', network: { address: `${lan.addr(61)}/24`, dhcp: { addressSource: 'eeprom', discoversSent: 0, tftpServerSource: 'TFTP_IP' } } });
    expect(await bootServer.log()).not.toContain(mac);
    expect(tftpLinesOf(await bootServer.log(), lan.addr(61))).not.toEqual([]);
  });

  it('removes the address and routes it added when the boot ends, so the next power-on starts clean', async () => {
    await writePartition(join(root, 'aaaa0009'), ubuntuPartition());
    const pi = await lan.addPi('dc:a6:32:aa:00:09');
    const outDir = await lan.lab.dir('out');
    const opts = { pi: { mac: 'dc:a6:32:aa:00:09', serial: '10000000aaaa0009', revision: 'd03114' }, eeprom: { BOOT_ORDER: '0xf2', DHCP_TIMEOUT: 5000, DHCP_REQ_TIMEOUT: 1000 }, nic: pi.nic, outDir };
    const first = await bootPi(opts);
    const second = await bootPi(opts);
    expect([first.outcome, second.outcome]).toEqual(['booted', 'booted']);
    const { addressesOf, ip } = await import('./nic.js');
    expect(await addressesOf(pi.nic.netns, pi.nic.iface)).toEqual([]);
    expect((await ip(['-n', pi.nic.netns, '-4', 'route', 'show', 'table', 'all'])).split('\n').filter((l) => l.trim() !== '' && !/ table local /.test(l) && !/^local |^broadcast /.test(l))).toEqual([]);
  });
});
