/**
 * What goes wrong in a Pi 4 network boot, played by the emulator against the
 * real dnsmasq (pinet's rendered config, unprivileged TFTP user, the LAN's
 * router on the bridge; 10.251.177.0/24 and 10.251.178.0/24 inside the
 * test's namespaces): a root-only 0600 kernel or start4.elf, a missing
 * device tree, a boot server without the Pi menu or with another menu text,
 * a proxy with no router, no DHCP server at all, a silent TFTP server, and
 * lost packets that dnsmasq's retransmissions must make up for.
 */
import { createHash } from 'node:crypto';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAsRoot, hasCommand } from '../helpers/env.js';
import type { Dnsmasq } from '../net/helpers/netns.js';
import { ubuntuPartition, writePartition } from './boot-partition.js';
import { tftpLinesOf } from './dnsmasq-log.js';
import { bootPi, NetbootLan, type BootOptions, type BootResult, type EepromSettings } from './index.js';

const FAST: EepromSettings = { DHCP_TIMEOUT: 4000, DHCP_REQ_TIMEOUT: 1000, TFTP_FILE_TIMEOUT: 3000 };
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

describeAsRoot('emulated Pi 4 network boots that fail, against the real dnsmasq', () => {
  let lan: NetbootLan;
  let root: string;
  let bootServer: Dnsmasq;
  let sd: string;
  let serials = 0x100;
  let macs = 0x10;

  async function boot(lanOf: NetbootLan, opts: Partial<Omit<BootOptions, 'pi' | 'eeprom'>> & { serial?: string; eeprom?: EepromSettings }): Promise<BootResult> {
    const mac = `dc:a6:32:02:00:${(macs++).toString(16).padStart(2, '0')}`;
    const { nic } = await lanOf.addPi(mac);
    const { serial, eeprom, ...rest } = opts;
    return bootPi({
      pi: { mac, serial: serial ?? `10000000cccc${(serials++).toString(16).padStart(4, '0')}`, revision: 'd03114' },
      eeprom: { BOOT_ORDER: '0xf12', ...FAST, ...eeprom },
      nic,
      outDir: await lanOf.lab.dir('out'),
      ...rest,
    });
  }
  const ipOf = (r: BootResult): string => r.network!.address.split('/')[0]!;

  beforeAll(async () => {
    if (!hasCommand('dnsmasq')) throw new Error('dnsmasq is not installed (Debian: dnsmasq-base); .ci/run installs it');
    lan = await NetbootLan.create({ tag: 'nbfaults', base: '10.251.177' });
    root = await lan.lab.dir('tftp');
    bootServer = await lan.startBootServer(root);
    await lan.startRouter();
    sd = await lan.lab.dir('sd');
    await writePartition(sd, ubuntuPartition('booted from the SD card'));
  });
  afterAll(async () => {
    await lan?.cleanup();
  });

  describe('a root-owned 0600 kernel (what cp -a of an Ubuntu kernel leaves), dnsmasq running unprivileged', () => {
    const serial = '10000000cccc0600';
    beforeAll(async () => {
      await writePartition(join(root, 'cccc0600'), ubuntuPartition());
      await chmod(join(root, 'cccc0600', 'vmlinuz'), 0o600);
    });

    it('dnsmasq refuses it with "Permission denied"; the firmware, already running, stops there (a real Pi 4 does not go back to BOOT_ORDER)', async () => {
      const r = await boot(lan, { serial, media: { sd } });
      expect(r.outcome, r.log.join('\n')).toBe('halted');
      const denied = `cannot access ${root}/cccc0600/vmlinuz: Permission denied`;
      expect(r.failure).toMatchObject({ file: 'cccc0600/vmlinuz', purpose: 'kernel', outcome: 'denied', errorCode: 2, serverMessage: denied, stage: 'firmware' });
      expect(r.summary).toContain(denied);
      expect(r.attempts.map((a) => [a.modeName, a.outcome])).toEqual([['NETWORK', 'halted']]);
      // Everything before the kernel arrived; the kernel's first open was refused.
      expect(r.requests.at(-1)).toMatchObject({ file: 'cccc0600/vmlinuz', kind: 'probe-block', outcome: 'denied' });
      // dnsmasq logs the refusal without the client's address, then no "sent" for the kernel.
      expect(await bootServer.log()).toContain(denied);
      expect(tftpLinesOf(await bootServer.log(), ipOf(r)).filter((l) => l.includes('vmlinuz'))).toEqual([]);
    });

    it('with onFirmwareFailure "next-mode" (what tools that assume a fallback expect) the walk goes on and the SD card boots', async () => {
      const r = await boot(lan, { serial, media: { sd }, onFirmwareFailure: 'next-mode' });
      expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', mode: 'SD', files: { cmdline: 'booted from the SD card' } });
      expect(r.attempts.map((a) => [a.modeName, a.outcome])).toEqual([
        ['NETWORK', 'failed'],
        ['SD', 'booted'],
      ]);
    });

    it('with REBOOT_ON_FATAL_ERROR=1 the Pi resets and tries NETWORK first again, every round, until the emulator gives up', async () => {
      const r = await boot(lan, { serial, media: { sd }, eeprom: { REBOOT_ON_FATAL_ERROR: 1 }, maxRounds: 2 });
      expect(r.outcome, r.log.join('\n')).toBe('gave-up');
      expect(r.attempts.map((a) => [a.round, a.modeName, a.outcome])).toEqual([
        [1, 'NETWORK', 'reset'],
        [2, 'NETWORK', 'reset'],
      ]);
      expect(r.failure).toMatchObject({ outcome: 'denied', file: 'cccc0600/vmlinuz' });
    });
  });

  it('a 0600 start4.elf: the bootloader’s probe is refused, so it drops the prefix, finds no start4.elf at the root, and the walk goes on to SD', async () => {
    await writePartition(join(root, 'cccc0601'), ubuntuPartition());
    await chmod(join(root, 'cccc0601', 'start4.elf'), 0o600);
    const r = await boot(lan, { serial: '10000000cccc0601', media: { sd } });
    expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', mode: 'SD' });
    expect(r.attempts[0]).toMatchObject({ modeName: 'NETWORK', outcome: 'failed', prefix: '', failure: { file: 'start4.elf', outcome: 'not-found', stage: 'bootloader' } });
    expect(r.requests[0]).toMatchObject({ file: 'cccc0601/start4.elf', kind: 'probe', outcome: 'denied', serverMessage: `cannot access ${root}/cccc0601/start4.elf: Permission denied` });
  });

  it('a missing device tree: dnsmasq’s "file … not found", the boot stops at the dtb', async () => {
    await writePartition(join(root, 'cccc0602'), { ...ubuntuPartition(), 'bcm2711-rpi-4-b.dtb': null });
    const r = await boot(lan, { serial: '10000000cccc0602' });
    expect(r.outcome, r.log.join('\n')).toBe('halted');
    expect(r.failure).toMatchObject({ file: 'cccc0602/bcm2711-rpi-4-b.dtb', purpose: 'device tree', outcome: 'not-found', errorCode: 1, serverMessage: `file ${root}/cccc0602/bcm2711-rpi-4-b.dtb not found for ${ipOf(r)}` });
    expect(r.requests.some((q) => q.file.endsWith('vmlinuz'))).toBe(false);
    expect(tftpLinesOf(await bootServer.log(), ipOf(r))).toContain(`file ${root}/cccc0602/bcm2711-rpi-4-b.dtb not found for ${ipOf(r)}`);
  });

  it('a missing overlay is not fatal: the firmware notes it and boots', async () => {
    await writePartition(join(root, 'cccc0603'), { ...ubuntuPartition(), 'overlays/disable-bt.dtbo': null });
    const r = await boot(lan, { serial: '10000000cccc0603' });
    expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', files: { names: { overlays: ['overlays/dwc2.dtbo', 'overlays/disable-wifi.dtbo'] } } });
    expect(r.log.join('\n')).toContain("failed to load overlay 'disable-bt'");
  });

  it('a TFTP server that does not answer: the first probe times out, NETWORK fails, the walk goes on', async () => {
    const r = await boot(lan, { eeprom: { BOOT_ORDER: '0xf12', TFTP_IP: lan.addr(254), TFTP_FILE_TIMEOUT: 1500 }, media: { sd } });
    expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', mode: 'SD' });
    expect(r.attempts[0]).toMatchObject({ modeName: 'NETWORK', outcome: 'failed', failure: { outcome: 'timeout', stage: 'bootloader' } });
    expect(r.requests[0]!.retransmissions).toBeGreaterThan(0);
  });

  it('lost packets (received DATA and sent ACKs): dnsmasq retransmits, the Pi re-ACKs, and the files arrive intact', async () => {
    const files = ubuntuPartition();
    await writePartition(join(root, 'cccc0604'), files);
    const r = await boot(lan, { serial: '10000000cccc0604', faults: { loseReceived: [20, 60, 61], loseAcks: [100, 140] }, tftpRetransmitMs: 400 });
    expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted' });
    expect(sha(await readFile(r.files!.kernel))).toBe(sha(files.vmlinuz!));
    expect(sha(await readFile(r.files!.initramfs[0]!))).toBe(sha(files['initrd.img']!));
    expect(r.requests.reduce((n, q) => n + q.retransmissions, 0)).toBeGreaterThan(0);
  });

  it('a kernel transfer that stalls half-way (the Pi stops answering): the request times out after TFTP_FILE_TIMEOUT and the firmware stops there', async () => {
    const files = ubuntuPartition();
    await writePartition(join(root, 'cccc0605'), files);
    const r = await boot(lan, { serial: '10000000cccc0605', eeprom: { TFTP_FILE_TIMEOUT: 1500 }, faults: { stall: { file: 'vmlinuz', afterBytes: 30_000 } } });
    expect(r.outcome, r.log.join('\n')).toBe('halted');
    expect(r.failure).toMatchObject({ file: 'cccc0605/vmlinuz', outcome: 'timeout', stage: 'firmware' });
    const last = r.requests.at(-1)!;
    expect(last).toMatchObject({ kind: 'get', outcome: 'timeout', tsize: (files.vmlinuz as Buffer).length });
    expect(last.bytes).toBeGreaterThanOrEqual(30_000);
    expect(last.bytes).toBeLessThan((files.vmlinuz as Buffer).length);
    expect(tftpLinesOf(await bootServer.log(), ipOf(r))).not.toContain(`sent ${root}/cccc0605/vmlinuz to ${ipOf(r)}`);
  });

  it('the cable is unplugged: no link, NETWORK fails, the SD card boots', async () => {
    const mac = 'dc:a6:32:02:01:01';
    const pi = await lan.addPi(mac);
    await pi.unplug();
    const r = await bootPi({ pi: { mac, serial: '10000000cccc0606', revision: 'd03114' }, eeprom: { BOOT_ORDER: '0xf12', DHCP_TIMEOUT: 1500 }, nic: pi.nic, media: { sd }, outDir: await lan.lab.dir('out') });
    expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', mode: 'SD' });
    expect(r.attempts[0]).toMatchObject({ modeName: 'NETWORK', outcome: 'failed', reason: expect.stringMatching(/^no link on eth0/) });
    await pi.plug();
    await writePartition(join(root, 'cccc0606'), ubuntuPartition());
    const again = await bootPi({ pi: { mac, serial: '10000000cccc0606', revision: 'd03114' }, eeprom: { BOOT_ORDER: '0xf12', ...FAST }, nic: pi.nic, media: { sd }, outDir: await lan.lab.dir('out') });
    expect(again, again.log.join('\n')).toMatchObject({ outcome: 'booted', mode: 'NETWORK' });
  });

  describe('boot servers a Pi cannot use', () => {
    const other: NetbootLan[] = [];
    /** A LAN of its own with the router and a boot server whose config `edit` changes. */
    async function lanWith(tag: string, edit: (config: string) => string, withRouter = true): Promise<{ l: NetbootLan; server: Dnsmasq }> {
      const l = await NetbootLan.create({ tag, base: '10.251.178' });
      other.push(l);
      const tftp = await l.lab.dir('tftp');
      await writePartition(join(tftp, 'cccc0700'), ubuntuPartition());
      const server = await l.startBootServer(tftp, edit(await l.renderConfig(tftp)));
      if (withRouter) await l.startRouter();
      return { l, server };
    }
    afterAll(async () => {
      for (const l of other) await l.cleanup().catch(() => undefined);
    });

    it('no pxe-service: the Pi gets its address but no boot menu; NETWORK fails saying so', async () => {
      const { l } = await lanWith('nbnopxe', (c) => c.replace(/^pxe-service=.*\n?/m, ''));
      const r = await boot(l, { serial: '10000000cccc0700', eeprom: { BOOT_ORDER: '0xf2', DHCP_TIMEOUT: 2000 }, maxRounds: 1 });
      expect(r.outcome, r.log.join('\n')).toBe('gave-up');
      expect(r.attempts[0]).toMatchObject({ modeName: 'NETWORK', outcome: 'failed', dhcp: { ok: false, failure: 'no-pi-menu', menusSeen: [] } });
      expect(r.attempts[0]!.reason).toMatch(/none with a "Raspberry Pi Boot" menu entry in option 43.*address 10\.251\.178\.1\d\d/);
      expect(r.summary).toMatch(/pxe-service=0,"Raspberry Pi Boot"/);
      expect(r.requests).toEqual([]);
    });

    it('another menu text: the PXE offer is seen and named, and refused', async () => {
      const { l, server } = await lanWith('nbmenu', (c) => c.replace(/^pxe-service=.*$/m, 'pxe-service=tag:rpi,0,"Network Boot"'));
      const r = await boot(l, { serial: '10000000cccc0700', eeprom: { BOOT_ORDER: '0xf2', DHCP_TIMEOUT: 2000 }, maxRounds: 1 });
      expect(r.attempts[0]).toMatchObject({ dhcp: { failure: 'no-pi-menu', menusSeen: [['Network Boot']] } });
      expect(await server.log()).toMatch(/PXE\(br0\) dc:a6:32:02:00:[0-9a-f]{2} proxy/);
    });

    it('PXE_OPTION43 in the EEPROM makes that other text acceptable', async () => {
      const { l } = await lanWith('nbmenu2', (c) => c.replace(/^pxe-service=.*$/m, 'pxe-service=tag:rpi,0,"Network Boot"'));
      const r = await boot(l, { serial: '10000000cccc0700', eeprom: { BOOT_ORDER: '0xf2', PXE_OPTION43: 'Network Boot' }, maxRounds: 1 });
      expect(r.outcome, r.log.join('\n')).toBe('booted');
    });

    it('the proxy alone, no router: the menu but no address', async () => {
      const { l } = await lanWith('nbnorouter', (c) => c, false);
      const r = await boot(l, { serial: '10000000cccc0700', eeprom: { BOOT_ORDER: '0xf2', DHCP_TIMEOUT: 2000 }, maxRounds: 1 });
      expect(r.attempts[0]).toMatchObject({ dhcp: { failure: 'no-address', menusSeen: [['Raspberry Pi Boot']] } });
      expect(r.attempts[0]!.reason).toMatch(/has the menu, but no server offered an address/);
    });

    it('nobody answers DHCP at all: DISCOVER is repeated every DHCP_REQ_TIMEOUT until DHCP_TIMEOUT', async () => {
      const l = await NetbootLan.create({ tag: 'nbsilent', base: '10.251.178' });
      other.push(l);
      const r = await boot(l, { eeprom: { BOOT_ORDER: '0xf2', DHCP_TIMEOUT: 3000, DHCP_REQ_TIMEOUT: 1000 }, maxRounds: 1 });
      // At 0, 1 and 2 s; on a loaded machine a late timer can leave room for only two before the 3 s are up.
      expect(r.attempts[0]).toMatchObject({ dhcp: { failure: 'no-offer', offersSeen: 0 } });
      const sent = r.attempts[0]!.dhcp!.discoversSent;
      expect(sent).toBeGreaterThanOrEqual(2);
      expect(sent).toBeLessThanOrEqual(3);
      expect(r.summary).toMatch(new RegExp(`no DHCP answer to ${sent} DISCOVER`));
    });

    it('standalone mode (pinet render-dnsmasq --mode standalone): one offer carries both the address and the menu', async () => {
      const l = await NetbootLan.create({ tag: 'nbstand', base: '10.251.178' });
      other.push(l);
      const tftp = await l.lab.dir('tftp');
      await writePartition(join(tftp, 'cccc0701'), ubuntuPartition());
      const standalone = await l.renderConfig(tftp, { mode: 'standalone', range: '10.251.178.100,10.251.178.150,1h' });
      await l.startBootServer(tftp, `${standalone}no-ping\n`);
      const r = await boot(l, { serial: '10000000cccc0701', eeprom: { BOOT_ORDER: '0xf2', DHCP_TIMEOUT: 2000 }, maxRounds: 1 });
      expect(r, r.log.join('\n')).toMatchObject({ outcome: 'booted', network: { dhcp: { addressSource: 'dhcp', dhcpServer: l.serverIp, pxeServer: l.serverIp, offersSeen: 1 } } });
    });
  });
});
