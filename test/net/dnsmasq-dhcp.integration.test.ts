/**
 * The real dnsmasq, configured by `pinet render-dnsmasq`, answering the
 * PXE DISCOVER a Raspberry Pi 4 sends, on a veth LAN between two network
 * namespaces (10.251.1.0/24; the --interface case uses 10.251.2.0/24).
 * The probe runs inside the client namespace as a child process.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot, hasCommand } from '../helpers/env.js';
import { Lab, buildNetRunner, renderDnsmasqConfig, runIn, startDnsmasq, type RenderOptions } from './helpers/netns.js';

const PI_MAC = 'dc:a6:32:01:02:03';
const OTHER_MAC = '52:54:00:12:34:56';

interface Answer {
  from: string;
  serverId?: string;
  messageTypeName: string;
  yiaddr: string;
  siaddr: string;
  offersAddress: boolean;
  proxyOffer: boolean;
  vendorClass?: string;
  menuTexts: string[];
  hasRaspberryPiBootMenu: boolean;
  tftpServer?: string;
  tftpServerSource?: string;
  bootFile?: string;
  clientMachineId?: string;
  problems: string[];
  pxe?: { discoveryControl?: number };
}
interface Probe {
  xid: number;
  sentTo: string;
  answers: Answer[];
  thrown?: { message: string };
}

describeAsRoot('real dnsmasq answers a Pi-like PXE DISCOVER', () => {
  const lab = new Lab('dhcp');
  let srv: string;
  let cli: string;
  let runner: string;
  let tftpRoot: string;

  beforeAll(async () => {
    if (!hasCommand('dnsmasq')) throw new Error('dnsmasq is not installed (Debian: dnsmasq-base); .ci/run installs it');
    srv = await lab.namespace('srv');
    cli = await lab.namespace('cli');
    await lab.link(srv, 'lan0', '10.251.1.1/24', cli, 'eth0', '10.251.1.2/24');
    tftpRoot = await lab.dir('tftp');
    runner = await buildNetRunner(lab);
  });
  afterAll(() => lab.cleanup());

  /** Start dnsmasq with the config pinet renders for `flags`, probe from the client, stop dnsmasq. */
  async function probeWith(flags: Partial<RenderOptions>, mac: string, timeoutMs = 1500): Promise<{ probe: Probe; log: string }> {
    const config = await renderDnsmasqConfig({ subnet: '10.251.1.0/24', tftpRoot, ...flags });
    const dnsmasq = await startDnsmasq(lab, srv, config);
    try {
      const probe = await runIn<Probe>(cli, runner, { cmd: 'dhcp-iface', iface: 'eth0', mac, timeoutMs });
      if (probe.thrown) throw new Error(`probe failed: ${probe.thrown.message}`);
      return { probe, log: await dnsmasq.log() };
    } finally {
      await dnsmasq.stop();
    }
  }

  it('sends a proxy offer with the "Raspberry Pi Boot" menu and itself as option 54 (default config)', async () => {
    const { probe, log } = await probeWith({}, PI_MAC);
    expect(probe.sentTo).toBe('10.251.1.255'); // the directed broadcast of eth0
    expect(probe.answers).toHaveLength(1);
    const a = probe.answers[0]!;
    expect(a).toMatchObject({
      from: '10.251.1.1',
      serverId: '10.251.1.1',
      messageTypeName: 'OFFER',
      yiaddr: '0.0.0.0',
      offersAddress: false,
      proxyOffer: true,
      vendorClass: 'PXEClient',
      menuTexts: ['Raspberry Pi Boot'],
      hasRaspberryPiBootMenu: true,
      tftpServer: '10.251.1.1',
      tftpServerSource: 'option 54',
      problems: [],
    });
    // dnsmasq echoes the client machine id (option 97) the probe sent: type 0, "RPi4" fourcc first.
    expect(a.clientMachineId).toMatch(/^0034695052[0-9a-f]{24}$/);
    expect(log).toContain(`${probe.xid} PXE(lan0) ${PI_MAC} proxy`);
    expect(log).toContain(`${probe.xid} tags: rpi, lan0`);
  });

  it('gives a non-Pi MAC no answer at all when tagging is on (default config)', async () => {
    const { probe, log } = await probeWith({}, OTHER_MAC);
    // The proxy range itself is tagged: dnsmasq sends nothing, not even an empty PXE offer
    // that could disturb an x86 PXE client booting from another server.
    expect(probe.answers).toEqual([]);
    expect(log).not.toContain(`${probe.xid} tags: rpi`);
  });

  it('gives a non-Pi MAC the menu with --all-clients', async () => {
    const { probe } = await probeWith({ allClients: true }, OTHER_MAC);
    expect(probe.answers).toHaveLength(1);
    expect(probe.answers[0]).toMatchObject({ proxyOffer: true, hasRaspberryPiBootMenu: true, serverId: '10.251.1.1' });
  });

  it('answers a Pi with the article’s six directives (--minimal)', async () => {
    const { probe } = await probeWith({ minimal: true }, PI_MAC);
    expect(probe.answers).toHaveLength(1);
    expect(probe.answers[0]).toMatchObject({ proxyOffer: true, hasRaspberryPiBootMenu: true, serverId: '10.251.1.1', tftpServer: '10.251.1.1' });
  });

  it('hands out an address and still carries the menu (--mode standalone)', async () => {
    // dnsmasq pings an address for up to 3 s before offering it: listen longer.
    const { probe } = await probeWith({ mode: 'standalone', range: '10.251.1.100,10.251.1.150' }, PI_MAC, 6000);
    expect(probe.answers).toHaveLength(1);
    const a = probe.answers[0]!;
    expect(a).toMatchObject({ messageTypeName: 'OFFER', offersAddress: true, proxyOffer: false, hasRaspberryPiBootMenu: true, serverId: '10.251.1.1' });
    const last = Number(a.yiaddr.split('.')[3]);
    expect(a.yiaddr.startsWith('10.251.1.')).toBe(true);
    expect(last).toBeGreaterThanOrEqual(100);
    expect(last).toBeLessThanOrEqual(150);
    // dnsmasq names itself as next server (siaddr), which the Pi then uses for TFTP.
    expect(a.tftpServer).toBe('10.251.1.1');
  });

  it('is seen by a probe run on the boot server itself (doctor runs there)', async () => {
    const config = await renderDnsmasqConfig({ subnet: '10.251.1.0/24', tftpRoot });
    const dnsmasq = await startDnsmasq(lab, srv, config);
    try {
      const probe = await runIn<Probe>(srv, runner, { cmd: 'dhcp-iface', iface: 'lan0', mac: PI_MAC, timeoutMs: 1500 });
      expect(probe.thrown).toBeUndefined();
      expect(probe.answers.map((a) => [a.serverId, a.hasRaspberryPiBootMenu])).toEqual([['10.251.1.1', true]]);
    } finally {
      await dnsmasq.stop();
    }
  });

  it('cannot reach the LAN through 255.255.255.255 without a default route (why the probe uses the directed broadcast)', async () => {
    const probe = await runIn<Probe>(cli, runner, { cmd: 'dhcp', sendTo: '255.255.255.255', mac: PI_MAC, timeoutMs: 500 });
    expect(probe.thrown?.message).toMatch(/cannot send the DHCP DISCOVER to 255\.255\.255\.255:67: .*ENETUNREACH/);
  });
});

describeAsRoot('real dnsmasq with --interface answers only on that interface', () => {
  // One server with two LAN ports in the same /24 (two /25 halves), one client on each.
  const lab = new Lab('dhcpif');
  let srv: string;
  let cliA: string;
  let cliB: string;
  let runner: string;
  let tftpRoot: string;

  beforeAll(async () => {
    srv = await lab.namespace('srv');
    cliA = await lab.namespace('clia');
    cliB = await lab.namespace('clib');
    await lab.link(srv, 'lana', '10.251.2.1/25', cliA, 'eth0', '10.251.2.2/25');
    await lab.link(srv, 'lanb', '10.251.2.129/25', cliB, 'eth0', '10.251.2.130/25');
    tftpRoot = await lab.dir('tftp');
    runner = await buildNetRunner(lab);
  });
  afterAll(() => lab.cleanup());

  async function answersFrom(flags: Partial<RenderOptions>): Promise<{ a: Probe; b: Probe }> {
    const config = await renderDnsmasqConfig({ subnet: '10.251.2.0/24', tftpRoot, ...flags });
    const dnsmasq = await startDnsmasq(lab, srv, config);
    try {
      const [a, b] = await Promise.all([cliA, cliB].map((ns) => runIn<Probe>(ns, runner, { cmd: 'dhcp-iface', iface: 'eth0', mac: PI_MAC, timeoutMs: 1500 })));
      return { a: a!, b: b! };
    } finally {
      await dnsmasq.stop();
    }
  }

  it('answers on both ports without --interface', async () => {
    const { a, b } = await answersFrom({});
    expect(a.answers.map((x) => [x.serverId, x.hasRaspberryPiBootMenu])).toEqual([['10.251.2.1', true]]);
    expect(b.answers.map((x) => [x.serverId, x.hasRaspberryPiBootMenu])).toEqual([['10.251.2.129', true]]);
  });

  it('answers only on lana with --interface lana', async () => {
    const { a, b } = await answersFrom({ interface: 'lana' });
    expect(a.answers.map((x) => [x.serverId, x.hasRaspberryPiBootMenu])).toEqual([['10.251.2.1', true]]);
    expect(b.answers).toEqual([]);
  });
});

