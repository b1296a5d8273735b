/**
 * Many emulated Pis booting at once from one process against one real
 * dnsmasq (pinet's proxy config, the LAN's router beside it), as the
 * `pinet watch` bench needs: each Pi has its own namespace, MAC and address,
 * so dnsmasq's log tells them apart (DHCP lines carry the MAC, TFTP lines
 * the client address). 10.251.179.0/24 inside the test's namespaces.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot, hasCommand } from '../helpers/env.js';
import type { Dnsmasq } from '../net/helpers/netns.js';
import { ubuntuPartition, writePartition, type PartitionFiles } from './boot-partition.js';
import { byFile, dhcpLinesOf, seedTftpLines, tftpLinesOf, withoutForClient } from './dnsmasq-log.js';
import { bootPi, NetbootLan, type BootResult, type LanPi } from './index.js';

const COUNT = 24;
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

describeAsRoot(`${COUNT} emulated Pis booting at once against one real dnsmasq`, () => {
  let lan: NetbootLan;
  let root: string;
  let bootServer: Dnsmasq;
  let results: BootResult[];
  let wallMs: number;
  const pis: { mac: string; serial8: string; files: PartitionFiles; nic: LanPi['nic'] }[] = [];

  beforeAll(async () => {
    if (!hasCommand('dnsmasq')) throw new Error('dnsmasq is not installed (Debian: dnsmasq-base); .ci/run installs it');
    lan = await NetbootLan.create({ tag: 'nbmany', base: '10.251.179' });
    root = await lan.lab.dir('tftp');
    bootServer = await lan.startBootServer(root);
    await lan.startRouter();
    for (let i = 0; i < COUNT; i++) {
      const serial8 = `dddd${i.toString(16).padStart(4, '0')}`;
      const files = ubuntuPartition(`root=/dev/nfs pi=${i}`);
      await writePartition(join(root, serial8), files);
      const mac = `dc:a6:32:03:00:${i.toString(16).padStart(2, '0')}`;
      pis.push({ mac, serial8, files, nic: (await lan.addPi(mac)).nic });
    }
    const outs = await Promise.all(pis.map(() => lan.lab.dir('out')));
    const t0 = performance.now();
    results = await Promise.all(
      pis.map((p, i) =>
        bootPi({
          pi: { mac: p.mac, serial: `10000000${p.serial8}`, revision: 'd03114', name: `pi-${i}` },
          eeprom: { BOOT_ORDER: '0xf21', DHCP_TIMEOUT: 20000, DHCP_REQ_TIMEOUT: 2000 },
          nic: p.nic,
          outDir: outs[i]!,
        }),
      ),
    );
    wallMs = performance.now() - t0;
    const bytes = results.reduce((n, r) => n + r.timings.bytesReceived, 0);
    process.stderr.write(`netboot: ${COUNT} Pis booted at once in ${(wallMs / 1000).toFixed(2)} s (${((COUNT * 1000) / wallMs).toFixed(1)} boots/s, ${(bytes / 1e6).toFixed(1)} MB over TFTP)\n`);
  });
  afterAll(async () => {
    await lan?.cleanup();
  });

  it('every Pi boots from NETWORK with its own address and its own files', async () => {
    for (const [i, r] of results.entries()) {
      expect(r.outcome, r.log.join('\n')).toBe('booted');
      expect(r.network!.prefix).toBe(`${pis[i]!.serial8}/`);
      expect(r.files!.cmdline).toBe(`root=/dev/nfs pi=${i}`);
      expect(sha(await readFile(r.files!.kernel))).toBe(sha(pis[i]!.files.vmlinuz!));
    }
    expect(new Set(results.map((r) => r.network!.address)).size).toBe(COUNT);
  });

  it('dnsmasq’s log names each Pi: its proxy offer under its MAC, and its TFTP lines under its address, the seed article’s lines for its own directory', async () => {
    const log = await bootServer.log();
    for (const [i, r] of results.entries()) {
      expect(dhcpLinesOf(log, r.network!.dhcp.xid!)).toContain(`PXE(br0) ${pis[i]!.mac} proxy`);
      const ip = r.network!.address.split('/')[0]!;
      const lines = withoutForClient(tftpLinesOf(log, ip));
      const expected = seedTftpLines(root, ip).map((l) => l.replace('/bf9fed6f/', `/${pis[i]!.serial8}/`));
      expect(byFile(lines)).toEqual(byFile(expected));
      expect(lines.at(-1)).toBe(`sent ${root}/${pis[i]!.serial8}/vmlinuz to ${ip}`);
    }
  });
});
