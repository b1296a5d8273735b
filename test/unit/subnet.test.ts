import { describe, expect, it } from 'vitest';
import type { NetworkInterfaceInfo } from 'node:os';
import { chooseSubnet, defaultRouteInterfaces } from '../../src/server/subnet.js';

const HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n';
const route = (iface: string, dest: string, mask: string, flags = '0003') => `${iface}\t${dest}\t010200C0\t${flags}\t0\t0\t0\t${mask}\t0\t0\t0\n`;

function v4(address: string, netmask: string): NetworkInterfaceInfo {
  return { address, netmask, family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr: null } as NetworkInterfaceInfo;
}
const lo = { lo: [{ ...v4('127.0.0.1', '255.0.0.0'), internal: true }] };

describe('subnet detection', () => {
  it('finds the default route interface', () => {
    expect(defaultRouteInterfaces(HEADER + route('eth0', '00000000', '00000000') + route('eth0', '000200C0', '00FFFFFF', '0001'))).toEqual(['eth0']);
  });

  it('ignores routes that are down', () => {
    expect(defaultRouteInterfaces(HEADER + route('eth0', '00000000', '00000000', '0002'))).toEqual([]);
  });

  it('picks the network of the default route interface', () => {
    const r = chooseSubnet(HEADER + route('eth0', '00000000', '00000000'), { ...lo, eth0: [v4('10.86.5.152', '255.255.255.0')], wlan0: [v4('192.168.1.5', '255.255.255.0')] });
    expect(r).toEqual({ ok: true, subnet: { interface: 'eth0', cidr: '10.86.5.0/24', address: '10.86.5.152' } });
  });

  it('is ambiguous with two default routes on different networks, and lists them', () => {
    const r = chooseSubnet(HEADER + route('eth0', '00000000', '00000000') + route('eth1', '00000000', '00000000'), {
      eth0: [v4('10.86.5.152', '255.255.255.0')],
      eth1: [v4('10.0.0.2', '255.255.0.0')],
    });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.candidates.map((c) => c.cidr)).toEqual(['10.86.5.0/24', '10.0.0.0/16']);
  });

  it('is ambiguous with two networks on the default interface', () => {
    const r = chooseSubnet(HEADER + route('eth0', '00000000', '00000000'), { eth0: [v4('10.86.5.152', '255.255.255.0'), v4('10.9.0.1', '255.255.255.0')] });
    expect(r.ok).toBe(false);
  });

  it('without a default route, offers every IPv4 network as a candidate', () => {
    const r = chooseSubnet(HEADER, { ...lo, eth0: [v4('10.86.5.152', '255.255.255.0')] });
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/no IPv4 default route/), candidates: [{ cidr: '10.86.5.0/24', interface: 'eth0' }] });
  });

  it('survives garbage in the route table', () => {
    expect(chooseSubnet('garbage\n\u0000\t\t\n', {}).ok).toBe(false);
  });
});
