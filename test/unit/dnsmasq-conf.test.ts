import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { find, parseDnsmasqLine, readDnsmasqConfig } from '../../src/server/dnsmasq-read.js';
import { DEFAULT_TEMPLATE, renderTemplate, templateView, validateDnsmasqSettings } from '../../src/server/dnsmasq-render.js';

describe('reading dnsmasq config like dnsmasq does', () => {
  it('parses bare and valued directives, comments and quotes', () => {
    expect(parseDnsmasqLine('enable-tftp')).toEqual({ key: 'enable-tftp', args: [] });
    expect(parseDnsmasqLine('  # comment')).toBeNull();
    expect(parseDnsmasqLine('')).toBeNull();
    expect(parseDnsmasqLine('pxe-service=0,"Raspberry Pi Boot"   # the menu')).toEqual({ key: 'pxe-service', value: '0,Raspberry Pi Boot', args: ['0', 'Raspberry Pi Boot'] });
    expect(parseDnsmasqLine('tftp-root = "/a b,c #d"')).toMatchObject({ key: 'tftp-root', args: ['/a b,c #d'] });
    expect(parseDnsmasqLine('dhcp-range=10.0.0.0,proxy,255.255.255.0')?.args).toEqual(['10.0.0.0', 'proxy', '255.255.255.0']);
    expect(parseDnsmasqLine('x=a#b')).toMatchObject({ value: 'a#b' }); // '#' not after whitespace is kept
  });

  it("reads back exactly the values pinet's renderer wrote, however odd", () => {
    const s = validateDnsmasqSettings({
      subnet: { value: '10.86.5.0/24', source: '--subnet' },
      tftpRoot: { value: '/srv/net boot,eth0 #x "q"', source: '--tftp-root' },
    });
    const text = renderTemplate(readFileSync(DEFAULT_TEMPLATE, 'utf8'), templateView(s));
    const d = text.split('\n').map(parseDnsmasqLine).filter(Boolean);
    expect(d.find((x) => x!.key === 'tftp-root')?.args).toEqual(['/srv/net boot,eth0 #x "q"']);
    expect(d.find((x) => x!.key === 'pxe-service')?.args).toEqual(['tag:rpi', '0', 'Raspberry Pi Boot']);
  });

  it('follows a config dir like Debian starts dnsmasq, skipping backups', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pinet-dconf-'));
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    writeFileSync(join(root, 'dnsmasq.conf'), `port=0\nconf-dir=${join(root, 'extra')},*.conf\n`);
    mkdirSync(join(root, 'd'));
    mkdirSync(join(root, 'extra'));
    writeFileSync(join(root, 'd', 'pinet.conf'), 'enable-tftp\ntftp-root=/mnt/netboot\n');
    writeFileSync(join(root, 'd', 'old.conf.dpkg-old'), 'tftp-root=/old\n');
    writeFileSync(join(root, 'extra', 'a.conf'), 'user=nobody\n');
    writeFileSync(join(root, 'extra', 'a.txt'), 'user=ignored\n');
    const cfg = await readDnsmasqConfig([join(root, 'dnsmasq.conf'), join(root, 'd'), join(root, 'missing.conf')]);
    expect(find(cfg, 'tftp-root').map((x) => x.value)).toEqual(['/mnt/netboot']);
    expect(find(cfg, 'user')).toEqual([expect.objectContaining({ value: 'nobody', line: 1, file: join(root, 'extra', 'a.conf') })]);
    expect(cfg.errors).toEqual([]);
  });
});
