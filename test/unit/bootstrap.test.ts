/**
 * The seed article's bootstrap traps, as doctor and server setup judge them:
 * an NFS server that is an enrolled Pi, a name resolved by a netbooted Pi or
 * by nobody, an export that leaves out the Pis or the boot server or lets
 * everyone in, a mount without _netdev; and how doctor reads the mount.
 */
import { describe, expect, it } from 'vitest';
import { exportClients, inventoryAddress, mountWaitsForNetwork, nameResolution, nfsServerNotNetbooted } from '../../src/server/bootstrap.js';
import { fstabOptions, nfsMountAt } from '../../src/jobs/doctor/bootstrap-checks.js';
import type { Inventory, InventoryEntry } from '../../src/server/state.js';
import { parseCidr } from '../../src/util/ipv4.js';

const pi = (over: Partial<InventoryEntry>): InventoryEntry => ({ serial: '10000000bf9fed6f', dir: 'bf9fed6f', prefixMode: 'serial', host: 'pi-07', address: 'pi-07 (10.86.5.17)', mac: 'dc:a6:32:01:02:03', bootMount: '/boot/firmware', exportDir: '/mnt/netboot', nfs: 'x:/y', enrolledAt: '', updatedAt: '', changes: [], hooks: [], ...over });
const inv = (...e: InventoryEntry[]): Inventory => ({ version: 1, pis: Object.fromEntries(e.map((x) => [x.serial, x])) });

describe('bootstrap traps', () => {
  it('finds an enrolled Pi by name, address or MAC', () => {
    expect(inventoryAddress(pi({}))).toBe('10.86.5.17');
    expect(inventoryAddress(pi({ address: undefined, host: 'root@10.86.5.9:2222' }))).toBe('10.86.5.9');
    expect(nfsServerNotNetbooted(inv(pi({})), { names: ['pi-07'] }).level).toBe('fail');
    expect(nfsServerNotNetbooted(inv(pi({})), { addresses: ['10.86.5.17'] }).level).toBe('fail');
    expect(nfsServerNotNetbooted(inv(pi({})), { macs: ['DC:A6:32:01:02:03'] }).level).toBe('fail');
    expect(nfsServerNotNetbooted(inv(pi({})), { names: ['nfs-host'], addresses: ['10.86.5.3'] }).level).toBe('ok');
  });

  it('an NFS server given by address needs no DNS; by name, the resolver must not netboot and must answer', () => {
    expect(nameResolution('10.86.5.3', '', inv()).level).toBe('ok');
    const netbooted = nameResolution('nfs-host', 'search lan\nnameserver 10.86.5.17\n', inv(pi({})));
    expect(netbooted).toMatchObject({ level: 'fail', finding: expect.stringMatching(/10\.86\.5\.17 \(pi-07, netbooted from here\)/) });
    expect(nameResolution('nfs-host', 'nameserver 10.86.5.1\n', inv(), { '10.86.5.1': false }).finding).toMatch(/no nameserver answers/);
    expect(nameResolution('nfs-host', '', inv()).finding).toMatch(/lists no nameserver/);
    expect(nameResolution('nfs-host', 'nameserver 10.86.5.1\n', inv(), { '10.86.5.1': true })).toMatchObject({ level: 'warn', fix: expect.stringMatching(/IP address/) });
  });

  it('the export lets in the Pis and the boot server, and nobody else', () => {
    const net = parseCidr('10.86.5.0/24')!;
    expect(exportClients(['10.86.5.0/24'], net, '10.86.5.2').level).toBe('ok');
    expect(exportClients(['10.86.5.0/25'], net, '10.86.5.2').finding).toMatch(/leave out the Pis' subnet 10\.86\.5\.0\/24/);
    expect(exportClients(['10.86.5.0/24'], net, '10.86.9.2').finding).toMatch(/leave out the boot server 10\.86\.9\.2/);
    expect(exportClients(['10.86.5.0/24', '*'], net, '10.86.5.2')).toMatchObject({ level: 'fail', finding: expect.stringMatching(/open to everyone/) });
    expect(mountWaitsForNetwork(['defaults', 'timeo=900']).level).toBe('warn');
    expect(mountWaitsForNetwork(['defaults', '_netdev']).level).toBe('ok');
  });

  it('doctor reads the export\'s NFS mount and its fstab options', () => {
    const mounts = '/dev/vda1 / ext4 rw 0 0\n10.86.5.3:/srv/picluster-boot /mnt/netboot nfs4 rw,vers=4.2,addr=10.86.5.3 0 0\n';
    expect(nfsMountAt(mounts, '/mnt/netboot/')).toEqual({ host: '10.86.5.3', path: '/srv/picluster-boot', options: ['rw', 'vers=4.2', 'addr=10.86.5.3'] });
    expect(nfsMountAt(mounts, '/srv')).toBeUndefined();
    expect(nfsMountAt('/dev/sdb1 /mnt/netboot ext4 rw 0 0\n', '/mnt/netboot')).toBeUndefined();
    expect(fstabOptions('# x\n10.86.5.3:/srv/picluster-boot  /mnt/netboot  nfs  defaults,timeo=900,_netdev 0 0\n', '/mnt/netboot')).toEqual(['defaults', 'timeo=900', '_netdev']);
  });
});
