import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { splitTftpPath, summarizeLog } from '../../src/server/dnsmasq-log.js';

/** The dnsmasq log of a real, successful netboot, from the seed article. */
function articleLog(): string {
  return readFileSync(new URL('../fixtures/seed-article/dnsmasq.log', import.meta.url), 'utf8');
}

describe('dnsmasq log summary', () => {
  it("classifies the seed article's log as a successful boot of bf9fed6f with only benign noise", () => {
    const s = summarizeLog(articleLog());
    expect(s.pis).toHaveLength(1);
    const pi = s.pis[0]!;
    expect(pi).toMatchObject({
      prefix: 'bf9fed6f',
      prefixKind: 'serial',
      clients: ['10.86.5.151'],
      verdict: 'booted',
      kernelSent: true,
      lastSent: 'vmlinuz',
      notFoundRequired: [],
      denied: [],
      neverSent: [],
      reasons: [],
    });
    expect(pi.notFoundOptional).toEqual(['armstub8-gic.bin', 'bootcfg.txt', 'dt-blob.bin', 'pieeprom.sig', 'recover4.elf', 'recovery.elf']);
    expect(pi.retried).toEqual(['bcm2711-rpi-4-b.dtb', 'initrd.img', 'overlays/disable-bt.dtbo', 'overlays/overlay_map.dtb', 'vmlinuz']);
    expect(pi.earlyTerminates).toBeGreaterThan(5);
    expect(pi.sent).toEqual(expect.arrayContaining(['start4.elf', 'fixup4.dat', 'config.txt', 'cmdline.txt', 'initrd.img', 'overlays/dwc2.dtbo']));
    expect(s.dhcp).toEqual([expect.objectContaining({ mac: 'e4:5f:01:98:e0:82', pxe: true, interface: 'eth0', vendorClass: 'PXEClient:Arch:00000:UNDI:002001' })]);
  });

  it('reports a kernel the TFTP server cannot read as a failure', () => {
    const s = summarizeLog(
      [
        'Nov 25 10:00:01 boot dnsmasq-tftp[812]: sent /mnt/netboot/bf9fed6f/start4.elf to 10.0.0.5',
        'Nov 25 10:00:02 boot dnsmasq-tftp[812]: cannot access /mnt/netboot/bf9fed6f/vmlinuz: Permission denied',
      ].join('\n'),
      { tftpRoot: '/mnt/netboot' },
    );
    expect(s.pis[0]).toMatchObject({ prefix: 'bf9fed6f', verdict: 'failed', denied: ['vmlinuz'] });
    expect(s.pis[0]!.reasons[0]).toMatch(/vmlinuz could not be read/);
  });

  it('reports a required file that is missing, in the newer "not found for" wording too', () => {
    const s = summarizeLog('file /srv/tftp/bf9fed6f/bcm2711-rpi-4-b.dtb not found for 10.0.0.5\nsent /srv/tftp/bf9fed6f/kernel8.img to 10.0.0.5\n', { tftpRoot: '/srv/tftp' });
    expect(s.pis[0]).toMatchObject({ verdict: 'failed', notFoundRequired: ['bcm2711-rpi-4-b.dtb'], clients: ['10.0.0.5'] });
  });

  it('reports a file that failed and was never sent, and a boot that stopped early', () => {
    const s = summarizeLog('sent /t/dc-a6-32-01-36-c2/start4.elf to 10.0.0.9\nfailed sending /t/dc-a6-32-01-36-c2/fixup4.dat to 10.0.0.9\n');
    expect(s.pis[0]).toMatchObject({ prefix: 'dc-a6-32-01-36-c2', prefixKind: 'mac', verdict: 'failed', neverSent: ['fixup4.dat'] });
    const t = summarizeLog('sent /t/bf9fed6f/start4.elf to 10.0.0.9\n');
    expect(t.pis[0]).toMatchObject({ verdict: 'incomplete' });
  });

  it("leaves out the transfers of this machine's own addresses (doctor's live fetches on the boot server)", () => {
    const log = articleLog() + 'sent /mnt/netboot/bf9fed6f/start4.elf to 10.86.5.2\nfile /mnt/netboot/bf9fed6f/pieeprom.sig not found for 10.86.5.2\nerror 0 Early terminate received from 10.86.5.2\n';
    const all = summarizeLog(log);
    expect(all.pis[0]!.clients).toEqual(['10.86.5.151', '10.86.5.2']);
    const s = summarizeLog(log, { ignoreClients: ['127.0.0.1', '10.86.5.2'] });
    expect(s.pis[0]!.clients).toEqual(['10.86.5.151']);
    expect(s.pis[0]!.lastSent).toBe('vmlinuz');
    expect(s.pis[0]!.earlyTerminates).toBe(summarizeLog(articleLog()).pis[0]!.earlyTerminates);
  });

  it('groups a Pi that used no prefix', () => {
    const s = summarizeLog('file /mnt/netboot/bf9fed6f/start4.elf not found\nsent /mnt/netboot/start4.elf to 10.0.0.7\n', { tftpRoot: '/mnt/netboot' });
    expect(s.pis.map((p) => p.prefix)).toEqual(['', 'bf9fed6f']);
    expect(s.pis[0]).toMatchObject({ prefixKind: 'none', sent: ['start4.elf'] });
  });

  it('never throws on garbage', () => {
    expect(() => summarizeLog('\u0000\u0001garbage\nsent\nfile  not found\n'.repeat(100))).not.toThrow();
    expect(splitTftpPath('/a/overlays/x.dtbo')).toEqual({ prefix: '', file: 'overlays/x.dtbo' });
  });
});
