/**
 * The DHCP probe against fake servers on 127.0.0.1 (high ports, no root),
 * and the interface picker against made-up interface lists.
 */
import dgram from 'node:dgram';
import type { NetworkInterfaceInfo } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { probeDhcp } from '../../src/net/dhcp.js';
import { decodeDhcp, encodeDhcp, optionText } from '../../src/net/dhcp-packet.js';
import { interfaceIPv4 } from '../../src/net/interfaces.js';
import { encodePxeOptions } from '../../src/net/pxe-options.js';

const sockets: dgram.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

type Reply = (discover: ReturnType<typeof decodeDhcp>['packet'] & object, send: (b: Buffer) => void) => void;

/** A fake DHCP server on 127.0.0.1 that answers each DISCOVER with `reply`. */
async function fakeServer(reply: Reply): Promise<{ port: number; discovers: Buffer[] }> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  const discovers: Buffer[] = [];
  s.on('message', (msg, from) => {
    discovers.push(msg);
    const { packet } = decodeDhcp(msg);
    if (packet) reply(packet, (b) => s.send(b, from.port, from.address));
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { port: s.address().port, discovers };
}

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const MAC = 'dc:a6:32:01:02:03';
const proxyOffer = (xid: number, chaddr = MAC): Buffer =>
  encodeDhcp({
    op: 2,
    xid,
    chaddr,
    flags: 0x8000,
    options: [
      { code: 53, data: Buffer.from([2]) },
      { code: 54, data: Buffer.from([127, 0, 0, 1]) },
      { code: 60, data: Buffer.from('PXEClient') },
      { code: 43, data: encodePxeOptions({ discoveryControl: 3, menuPrompt: { timeout: 0, text: 'PXE' }, menu: [{ type: 0, text: 'Raspberry Pi Boot' }] }) },
    ],
  });

describe('probeDhcp', () => {
  it('sends a Pi DISCOVER on the schedule and reports the answer once, counting copies', async () => {
    const srv = await fakeServer((d, send) => send(proxyOffer(d.xid)));
    const r = await probeDhcp({ sendTo: '127.0.0.1', serverPort: srv.port, clientPort: await freePort(), bindAddress: '127.0.0.1', mac: MAC, xid: 0x1234, timeoutMs: 400, retransmitMs: [0, 100] });
    expect(r.discoversSent).toBe(2);
    expect(srv.discovers).toHaveLength(2);
    const sent = decodeDhcp(srv.discovers[0]!).packet!;
    expect(sent.xid).toBe(0x1234);
    expect(optionText(sent, 60)).toBe('PXEClient:Arch:00000:UNDI:002001');
    expect(r.answers).toHaveLength(1);
    expect(r.answers[0]).toMatchObject({
      from: '127.0.0.1',
      serverId: '127.0.0.1',
      messageTypeName: 'OFFER',
      proxyOffer: true,
      hasRaspberryPiBootMenu: true,
      menuTexts: ['Raspberry Pi Boot'],
      tftpServer: '127.0.0.1',
      copies: 2,
    });
  });

  it('ignores replies for another xid or MAC, requests and garbage', async () => {
    const srv = await fakeServer((d, send) => {
      send(proxyOffer(d.xid + 1));
      send(proxyOffer(d.xid, '52:54:00:12:34:56'));
      send(Buffer.from('garbage'));
      send(encodeDhcp({ op: 1, xid: d.xid, chaddr: MAC, options: [] }));
    });
    const r = await probeDhcp({ sendTo: '127.0.0.1', serverPort: srv.port, clientPort: await freePort(), bindAddress: '127.0.0.1', mac: MAC, timeoutMs: 300, retransmitMs: [0] });
    expect(r.answers).toEqual([]);
    expect(r.ignored).toBe(4);
  });

  it('reports every distinct answer: two PXE servers and an address offer', async () => {
    const srv = await fakeServer((d, send) => {
      send(proxyOffer(d.xid));
      send(encodeDhcp({ op: 2, xid: d.xid, chaddr: MAC, yiaddr: '10.0.0.50', options: [{ code: 53, data: Buffer.from([2]) }, { code: 54, data: Buffer.from([10, 0, 0, 1]) }] }));
      send(encodeDhcp({ op: 2, xid: d.xid, chaddr: MAC, file: 'pxelinux.0', options: [{ code: 53, data: Buffer.from([2]) }, { code: 54, data: Buffer.from([10, 0, 0, 2]) }, { code: 60, data: Buffer.from('PXEClient') }] }));
    });
    const r = await probeDhcp({ sendTo: '127.0.0.1', serverPort: srv.port, clientPort: await freePort(), bindAddress: '127.0.0.1', mac: MAC, timeoutMs: 300, retransmitMs: [0] });
    expect(r.answers.map((a) => [a.serverId, a.offersAddress, a.proxyOffer, a.hasRaspberryPiBootMenu, a.otherPxeOffer])).toEqual([
      ['127.0.0.1', false, true, true, false],
      ['10.0.0.1', true, false, false, false],
      ['10.0.0.2', false, true, false, true],
    ]);
  });

  it('returns no answers when nobody answers', async () => {
    const srv = await fakeServer(() => {});
    const r = await probeDhcp({ sendTo: '127.0.0.1', serverPort: srv.port, clientPort: await freePort(), bindAddress: '127.0.0.1', mac: MAC, timeoutMs: 100, retransmitMs: [0] });
    expect(r.answers).toEqual([]);
    expect(r.discoversSent).toBe(1);
  });

  it('stops on abort', async () => {
    const srv = await fakeServer(() => {});
    const ac = new AbortController();
    const p = probeDhcp({ sendTo: '127.0.0.1', serverPort: srv.port, clientPort: await freePort(), bindAddress: '127.0.0.1', mac: MAC, timeoutMs: 60_000, signal: ac.signal });
    await vi.waitFor(() => expect(srv.discovers.length).toBeGreaterThan(0)); // the probe is waiting for answers
    ac.abort();
    await expect(p).rejects.toThrow(/DHCP probe to 127.0.0.1 was aborted/);
  });

  it('explains a port it cannot bind', async () => {
    const holder = dgram.createSocket('udp4'); // no SO_REUSEADDR: the probe cannot share it
    sockets.push(holder);
    await new Promise<void>((r) => holder.bind(0, '127.0.0.1', () => r()));
    const port = holder.address().port;
    await expect(probeDhcp({ sendTo: '127.0.0.1', clientPort: port, bindAddress: '127.0.0.1', mac: MAC, timeoutMs: 100 })).rejects.toThrow(
      `cannot listen on UDP 127.0.0.1:${port} for DHCP answers: the port is in use`,
    );
  });

  it('validates its options', async () => {
    for (const bad of [{ sendTo: 'lan' }, { sendTo: '10.0.0.256' }, { mac: 'nope' }, { timeoutMs: 0 }, { retransmitMs: [] }, { retransmitMs: [5000] }, { clientPort: 0 }, { serial: 'xyz' }]) {
      await expect(probeDhcp({ sendTo: '127.0.0.1', mac: MAC, timeoutMs: 1000, ...bad }), JSON.stringify(bad)).rejects.toBeInstanceOf(UsageError);
    }
  });
});

describe('interfaceIPv4', () => {
  const v4 = (address: string, netmask: string): NetworkInterfaceInfo => ({ address, netmask, family: 'IPv4', mac: 'dc:a6:32:00:00:01', internal: false, cidr: null });
  const v6: NetworkInterfaceInfo = { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: 'dc:a6:32:00:00:01', internal: false, cidr: null, scopeid: 2 };
  const ifs = { eth0: [v6, v4('10.86.5.12', '255.255.255.0')], wg0: [v6], ptp: [v4('10.9.9.1', '255.255.255.255')], lo: [v4('127.0.0.1', '255.0.0.0')] };

  it('gives the address and the directed broadcast', () => {
    expect(interfaceIPv4('eth0', ifs)).toEqual({ name: 'eth0', address: '10.86.5.12', netmask: '255.255.255.0', prefix: 24, network: '10.86.5.0', broadcast: '10.86.5.255', mac: 'dc:a6:32:00:00:01' });
  });

  it('names the interfaces that exist when the name is unknown', () => {
    const err = (() => {
      try {
        interfaceIPv4('eth9', ifs, () => false);
      } catch (e) {
        return e as UsageError;
      }
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect(err!.message).toBe('network interface "eth9" does not exist');
    expect(err!.hint).toBe('interfaces that are up: eth0, lo, ptp, wg0');
  });

  it('says when the interface exists but is down (Node does not list it)', () => {
    expect(() => interfaceIPv4('eth1', ifs, (n) => n === 'eth1')).toThrow('network interface "eth1" is down (not up, or no carrier)');
  });

  it('refuses an interface without IPv4, or without a broadcast address', () => {
    expect(() => interfaceIPv4('wg0', ifs)).toThrow('network interface "wg0" has no IPv4 address');
    expect(() => interfaceIPv4('ptp', ifs)).toThrow(/10\.9\.9\.1\/32, which has no broadcast address/);
  });

  it('checks /sys/class/net by default without letting a name walk out of it', () => {
    expect(() => interfaceIPv4('lo', {})).toThrow('network interface "lo" is down (not up, or no carrier)');
    for (const name of ['../../../etc', '..', 'pinet-no-such0', '']) {
      expect(() => interfaceIPv4(name, {}), name).toThrow(`network interface ${JSON.stringify(name)} does not exist`);
    }
  });

  it('quotes hostile names instead of echoing them raw', () => {
    expect(() => interfaceIPv4('eth0\n$(id)', ifs, () => false)).toThrow('network interface "eth0\\n$(id)" does not exist');
  });
});
