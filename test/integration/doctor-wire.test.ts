/**
 * `pinet doctor --dhcp-probe` on the fake fleet's LAN: what a Pi sees on the
 * wire when it broadcasts its PXE DISCOVER, with real dnsmasq servers in
 * network namespaces on the LAN's bridge: pinet's boot server (proxy DHCP +
 * TFTP), the LAN's router (addresses, no PXE), a second Pi boot server, and
 * an x86 PXE server. Doctor runs in a client namespace on the same bridge.
 */
import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PINET, pinet, type CliResult } from '../helpers/cli.js';
import { describeAsRoot } from '../helpers/env.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { Lab, renderDnsmasqConfig, sh, startDnsmasq, type Dnsmasq } from '../net/helpers/netns.js';
import { parseJson } from './helpers.js';

const NFS = 'nfs-host:/picluster-boot';

interface Check {
  id: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  finding: string;
  evidence?: string[];
  fix?: string;
}
interface Doc {
  groups: { name: string; checks: Check[] }[];
  summary: Record<Check['status'], number>;
  ok: boolean;
}

describeAsRoot('pinet doctor --dhcp-probe: what a Pi sees on the LAN', () => {
  let fleet: Fleet;
  const lab = new Lab('doctorw');
  let exportDir: string;
  let stateDir: string;
  let confFile: string;
  let noPxeConf: string;
  let client: string;
  let bootServer: Dnsmasq;
  let tftpUser: string;
  let links = 0;

  const ip = (i: number) => fleet.lan.freeIps[i]!;
  const re = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

  /** A namespace on the LAN's bridge with one address (veth created inside the namespaces). */
  async function onLan(role: string, address: string): Promise<string> {
    const ns = await lab.namespace(role);
    const veth = `dw${links++}-${process.pid}`.slice(0, 15);
    await sh('ip', ['link', 'add', veth, 'netns', fleet.lan.namespace, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await sh('ip', ['-n', fleet.lan.namespace, 'link', 'set', veth, 'master', fleet.lan.bridge, 'up']);
    await sh('ip', ['-n', ns, 'addr', 'add', `${address}/${fleet.lan.prefixLength}`, 'dev', 'eth0']);
    await sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    const deadline = Date.now() + 10_000;
    while (!(await sh('ip', ['-n', ns, '-o', 'link', 'show', 'dev', 'eth0'])).includes('LOWER_UP')) {
      if (Date.now() > deadline) throw new Error(`eth0 in ${ns} has no carrier after 10 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return ns;
  }

  async function doctor(args: string[], conf = confFile): Promise<CliResult & { doc: Doc }> {
    const r = await execa(
      'ip',
      ['netns', 'exec', client, process.execPath, PINET, 'doctor', '--json', '--export-dir', exportDir, '--state-dir', stateDir, '--dnsmasq-conf', conf, '--tftp-server', fleet.lan.serverIp, ...args],
      { env: { NO_COLOR: '1' }, reject: false, timeout: 120_000, input: '' },
    );
    const res = { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    expect(res.stderr).not.toMatch(/at .*\.js:\d+/);
    return { ...res, doc: parseJson<Doc>(res.stdout) };
  }
  const probe = (conf?: string) => doctor(['--dhcp-probe', 'eth0'], conf);
  /** The wire checks of a report, by id (several dhcp.tftp checks are joined in a list). */
  function wire(doc: Doc): Record<string, Check> {
    const server = doc.groups.find((g) => g.name === 'boot server')!;
    return Object.fromEntries(server.checks.filter((c) => c.id.startsWith('dhcp.')).map((c) => [c.id, c]));
  }
  const bootServerConfig = () => renderDnsmasqConfig({ subnet: fleet.lan.subnet, tftpRoot: exportDir });

  beforeAll(async () => {
    tftpUser = /^dnsmasq:/m.test(await sh('cat', ['/etc/passwd'])) ? 'dnsmasq' : 'nobody';
    exportDir = await lab.dir('export');
    stateDir = await lab.dir('state');
    fleet = await startFleet({ pis: [{ name: 'pi', variant: 'ubuntu-2404-pi4' }], bootFilesMB: 1, exports: { [NFS]: exportDir } });
    const r = await pinet(['enroll', '-F', fleet.sshConfig, '--nfs', NFS, '--export-dir', exportDir, '--state-dir', stateDir, '--yes', 'pi']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const conf = await lab.dir('conf');
    confFile = join(conf, 'pinet.conf');
    noPxeConf = join(conf, 'nopxe.conf');
    const config = await bootServerConfig();
    await writeFile(confFile, config);
    await writeFile(noPxeConf, config.replace(/^pxe-service=.*\n/m, ''));
    bootServer = await startDnsmasq(lab, fleet.lan.namespace, config, [`--user=${tftpUser}`]);
    client = await onLan('client', ip(0));
  });
  afterAll(async () => {
    await lab.cleanup().catch(() => undefined);
    await fleet?.stop();
  });

  it('the boot server alone: its "Raspberry Pi Boot" proxy offer, its TFTP answers; warns that nobody offers an address', async () => {
    const { doc, code } = await probe();
    const w = wire(doc);
    expect(w['dhcp.answers']).toMatchObject({ status: 'ok', finding: expect.stringMatching(/^1 answer to a Pi-like PXE DISCOVER from dc:a6:32:[0-9a-f:]{8} on eth0$/) });
    expect(w['dhcp.answers']!.evidence).toEqual([
      `${fleet.lan.serverIp} (server id ${fleet.lan.serverIp}): proxy offer (no address); menu: "Raspberry Pi Boot"; TFTP server ${fleet.lan.serverIp} (option 54)`,
    ]);
    expect(w['dhcp.pxe']).toMatchObject({ status: 'ok', finding: `${fleet.lan.serverIp} offers "Raspberry Pi Boot" as proxy DHCP` });
    expect(w['dhcp.tftp']).toMatchObject({ status: 'ok', finding: `${fleet.lan.serverIp} answers TFTP` });
    expect(w['dhcp.address']).toMatchObject({ status: 'warn', finding: expect.stringMatching(/nobody offered an address/) });
    expect(code).toBe(0);
    expect((await doctor(['--dhcp-probe', 'eth0', '--strict'])).code).toBe(1);
  });

  it('with the LAN\'s router handing out addresses: a Pi gets an address and the boot menu, nothing to warn about', async () => {
    const router = await onLan('router', ip(1));
    const net = fleet.lan.serverIp.replace(/\.\d+$/, '');
    // (enable-tftp only because the test helper waits for dnsmasq's "TFTP root is" line)
    await startDnsmasq(lab, router, `port=0\ndhcp-range=${net}.200,${net}.250,255.255.255.0,1h\nno-ping\nenable-tftp\ntftp-root=${await lab.dir('router')}\n`);
    const { doc, code } = await probe();
    const w = wire(doc);
    expect(w['dhcp.answers']!.evidence).toHaveLength(2);
    expect(w['dhcp.answers']!.evidence).toContainEqual(expect.stringMatching(new RegExp(`^${re(ip(1)).source} \\(server id ${re(ip(1)).source}\\): offers ${re(net).source}\\.2[0-5]\\d; no PXE;`)));
    expect(w['dhcp.pxe']!.status).toBe('ok');
    expect(w['dhcp.address']).toBeUndefined();
    expect(w['dhcp.x86']).toBeUndefined();
    expect(Object.values(w).filter((c) => c.status !== 'ok'), JSON.stringify(w, null, 1)).toEqual([]);
    expect(doc.summary).toMatchObject({ fail: 0, warn: 0 });
    expect(code).toBe(0);
    expect((await doctor(['--dhcp-probe', 'eth0', '--strict'])).code).toBe(0);
  });

  it('a dnsmasq config without pxe-service: the offline check and the wire both say no "Raspberry Pi Boot" offer', async () => {
    await bootServer.stop();
    bootServer = await startDnsmasq(lab, fleet.lan.namespace, await readFile(noPxeConf, 'utf8'), [`--user=${tftpUser}`]);
    try {
      const { doc, code } = await probe(noPxeConf);
      expect(code).toBe(1);
      const server = doc.groups.find((g) => g.name === 'boot server')!;
      expect(server.checks.find((c) => c.id === 'dnsmasq.pxe')).toMatchObject({ status: 'fail', fix: expect.stringMatching(/^add pxe-service=0,"Raspberry Pi Boot"/) });
      const w = wire(doc);
      expect(w['dhcp.pxe']).toMatchObject({
        status: 'fail',
        finding: 'no answer carries the "Raspberry Pi Boot" menu in option 43: the Pi ignores every offer',
        fix: 'add pxe-service=0,"Raspberry Pi Boot" to dnsmasq (pinet render-dnsmasq)',
      });
      // the router's offer is all there is
      expect(w['dhcp.pxe']!.evidence).toEqual([expect.stringMatching(new RegExp(`^${re(ip(1)).source} .*offers .*; no PXE;`))]);
    } finally {
      await bootServer.stop();
      bootServer = await startDnsmasq(lab, fleet.lan.namespace, await bootServerConfig(), [`--user=${tftpUser}`]);
    }
    const { doc, code } = await probe();
    expect(wire(doc)['dhcp.pxe']!.status).toBe('ok');
    expect(code, JSON.stringify(doc, null, 1)).toBe(0);
  });

  it('two PXE servers on the LAN: warns, naming both, and checks that each one\'s TFTP answers', async () => {
    const ns = await onLan('pxe2', ip(2));
    const other = await startDnsmasq(lab, ns, await renderDnsmasqConfig({ subnet: fleet.lan.subnet, tftpRoot: await lab.dir('export2') }));
    try {
      const { doc, code } = await probe();
      const w = wire(doc);
      expect(w['dhcp.pxe']).toMatchObject({ status: 'warn', fix: 'keep one boot server on this LAN, or tag each to its own Pis (dhcp-mac / --enrolled-only)' });
      expect(w['dhcp.pxe']!.finding).toMatch(/^2 PXE servers answer \(.*\): the Pi takes whichever comes first$/);
      for (const s of [fleet.lan.serverIp, ip(2)]) expect(w['dhcp.pxe']!.finding).toContain(s);
      const tftp = doc.groups.find((g) => g.name === 'boot server')!.checks.filter((c) => c.id === 'dhcp.tftp');
      expect(tftp.map((c) => c.finding).sort()).toEqual([`${fleet.lan.serverIp} answers TFTP`, `${ip(2)} answers TFTP`].sort());
      expect(code, JSON.stringify(doc, null, 1)).toBe(0); // a warning
    } finally {
      await other.stop();
    }
    expect(wire((await probe()).doc)['dhcp.pxe']!.status).toBe('ok');
  });

  it('an x86 PXE menu on the LAN reaches Pis too: warns', async () => {
    const ns = await onLan('x86', ip(3));
    const x86 = await startDnsmasq(lab, ns, `port=0\ndhcp-range=${fleet.lan.subnet.replace(/\/\d+$/, '')},proxy\npxe-service=x86PC,"Boot an x86 PC",pxelinux\nenable-tftp\ntftp-root=${await lab.dir('x86')}\n`);
    try {
      const w = wire((await probe()).doc);
      expect(w['dhcp.x86']).toMatchObject({ status: 'warn', finding: '1 PXE offer without "Raspberry Pi Boot" (an x86 boot menu?) also reach Pis' });
      expect(w['dhcp.x86']!.evidence).toEqual([expect.stringMatching(new RegExp(`^${re(ip(3)).source} .*menu: "Boot an x86 PC"`))]);
      expect(w['dhcp.pxe']!.status).toBe('ok'); // the Pi still finds its own
    } finally {
      await x86.stop();
    }
    expect(wire((await probe()).doc)['dhcp.x86']).toBeUndefined();
  });

  it('--dhcp-probe on an interface that does not exist is one failed check', async () => {
    const { doc, code } = await doctor(['--dhcp-probe', 'nosuch0']);
    expect(code).toBe(1);
    const c = doc.groups.find((g) => g.name === 'boot server')!.checks.find((x) => x.id === 'dhcp.probe')!;
    expect(c).toMatchObject({ status: 'fail', fix: expect.stringMatching(/ip -4 addr/) });
    expect(c.finding).toMatch(/nosuch0/);
  });
});
