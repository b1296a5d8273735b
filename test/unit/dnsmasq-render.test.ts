import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TEMPLATE,
  MINIMAL_TEMPLATE,
  RPI_OUIS,
  dnsmasqValue,
  renderTemplate,
  templateView,
  validateDnsmasqSettings,
  type DnsmasqInput,
} from '../../src/server/dnsmasq-render.js';
import { UsageError } from '../../src/errors.js';

const flag = (value: string, source: string) => ({ value, source });

function input(over: Partial<DnsmasqInput> = {}): DnsmasqInput {
  return { subnet: flag('10.86.5.0/24', '--subnet'), tftpRoot: flag('/mnt/netboot', '--tftp-root'), ...over };
}

function render(over: Partial<DnsmasqInput> = {}, minimal = false): string {
  const s = validateDnsmasqSettings(input({ ...over, minimal }));
  return renderTemplate(readFileSync(minimal ? MINIMAL_TEMPLATE : DEFAULT_TEMPLATE, 'utf8'), templateView(s));
}

const directives = (text: string) => text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));

/** The configuration file of the seed article, "DNSmasq and TFTP" part. */
function articleConfig(): string[] {
  return readFileSync(new URL('../fixtures/seed-article/dnsmasq.conf', import.meta.url), 'utf8').trimEnd().split('\n');
}

describe('render-dnsmasq --minimal', () => {
  it("reproduces the seed article's six directives, in order", () => {
    const out = render({ subnet: flag('10.86.5.255', '--subnet') }, true);
    expect(articleConfig()).toEqual([
      'port=0',
      'dhcp-range=10.86.5.255,proxy',
      'log-dhcp',
      'enable-tftp',
      'tftp-root=/mnt/netboot',
      'pxe-service=0,"Raspberry Pi Boot"',
    ]);
    expect(directives(out)).toEqual(articleConfig());
  });

  it('starts with a comment naming pinet and the command that regenerates it', () => {
    const lines = render({ subnet: flag('10.86.5.255', '--subnet') }, true).split('\n');
    expect(lines[0]).toMatch(/^# .*pinet/);
    expect(lines[1]).toBe('#   pinet render-dnsmasq --minimal --subnet 10.86.5.255 --tftp-root /mnt/netboot');
  });

  it('cannot be combined with directives the article does not have', () => {
    expect(() => validateDnsmasqSettings(input({ minimal: true, interface: flag('eth0', '--interface') }))).toThrow(/--minimal/);
    expect(() =>
      validateDnsmasqSettings(input({ minimal: true, mode: flag('standalone', '--mode'), range: flag('10.86.5.10,10.86.5.20', '--range') })),
    ).toThrow(/--minimal/);
  });
});

describe('render-dnsmasq default config', () => {
  it('is a proxy on the CIDR network, with the netmask', () => {
    expect(directives(render())).toContain('dhcp-range=tag:rpi,10.86.5.0,proxy,255.255.255.0');
    expect(directives(render({ allClients: true }))).toContain('dhcp-range=10.86.5.0,proxy,255.255.255.0');
    expect(directives(render({ subnet: flag('10.86.5.77/24', '--subnet') }))).toContain('dhcp-range=tag:rpi,10.86.5.0,proxy,255.255.255.0');
  });

  it('tags Raspberry Pis by MAC prefix and offers the menu only to them', () => {
    const d = directives(render());
    for (const oui of RPI_OUIS) expect(d).toContain(`dhcp-mac=set:rpi,${oui}:*:*:*`);
    expect(d).toContain('pxe-service=tag:rpi,0,"Raspberry Pi Boot"');
    expect(d.filter((l) => l.startsWith('pxe-service='))).toHaveLength(1);
  });

  it('offers the menu to every client with --all-clients', () => {
    const d = directives(render({ allClients: true }));
    expect(d.some((l) => l.startsWith('dhcp-mac='))).toBe(false);
    expect(d).toContain('pxe-service=0,"Raspberry Pi Boot"');
  });

  it('binds to one interface with --interface', () => {
    expect(directives(render({ interface: flag('eth1', '--interface') }))).toContain('interface=eth1');
    expect(directives(render()).some((l) => l.startsWith('interface='))).toBe(false);
  });

  it('hands out addresses in standalone mode', () => {
    const d = directives(render({ mode: flag('standalone', '--mode'), range: flag('10.86.5.100,10.86.5.200,12h', '--range') }));
    expect(d).toContain('dhcp-range=10.86.5.100,10.86.5.200,255.255.255.0,12h');
    expect(d.some((l) => l.includes('proxy'))).toBe(false);
  });

  it('gives only the listed MACs the menu when enrolled MACs are given', () => {
    const d = directives(render({ macs: ['DC:A6:32:01:02:03', 'e4-5f-01-aa-bb-cc'] }));
    expect(d.filter((l) => l.startsWith('dhcp-mac='))).toEqual(['dhcp-mac=set:rpi,dc:a6:32:01:02:03', 'dhcp-mac=set:rpi,e4:5f:01:aa:bb:cc']);
  });

  it('quotes a tftp-root that holds spaces, commas or #, so it stays one value', () => {
    const d = directives(render({ tftpRoot: flag('/srv/net boot,eth0 #x "q" \\', '--tftp-root') }));
    expect(d).toContain('tftp-root="/srv/net boot,eth0 #x \\"q\\" \\\\"');
  });
});

describe('validation of every value that reaches the file', () => {
  const hostile = ['10.0.0.1\nport=53', '10.0.0.1,proxy', '10.0.0.256', '010.0.0.1', '10.0.0', '10.0.0.0/33', '10.0.0.0/', ' 10.0.0.1', '$(id)', '', '10.0.0.0/24\n'];
  it.each(hostile)('refuses subnet %j with a usage error', (value) => {
    expect(() => validateDnsmasqSettings(input({ subnet: flag(value, '--subnet') }))).toThrow(UsageError);
  });

  it.each(['relative/dir', '/mnt/a\nenable-ra', '/mnt/\u0000x', '', '/mnt/x\r'])('refuses tftp-root %j', (value) => {
    expect(() => validateDnsmasqSettings(input({ tftpRoot: flag(value, '--tftp-root') }))).toThrow(UsageError);
  });

  it.each(['eth0\nport=53', 'eth 0', 'eth0,lo', 'averyveryverylongname', '../x', '$(id)', ''])('refuses interface %j', (value) => {
    expect(() => validateDnsmasqSettings(input({ interface: flag(value, '--interface') }))).toThrow(UsageError);
  });

  it.each(['Raspberry Pi Boot"\nport=53', 'a\\b', 'x\ty', '', 'é'])('refuses menu text %j', (value) => {
    expect(() => validateDnsmasqSettings(input({ menuText: flag(value, '--menu-text') }))).toThrow(UsageError);
  });

  it.each(['10.86.5.100', '10.86.5.200,10.86.5.100', '10.86.5.100,10.86.5.200,1x', '10.86.5.100,10.86.6.200', '10.86.5.1,10.86.5.9,60', 'a,b'])(
    'refuses standalone range %j',
    (value) => {
      expect(() => validateDnsmasqSettings(input({ mode: flag('standalone', '--mode'), range: flag(value, '--range') }))).toThrow(UsageError);
    },
  );

  it('needs a range in standalone mode and refuses one in proxy mode', () => {
    expect(() => validateDnsmasqSettings(input({ mode: flag('standalone', '--mode') }))).toThrow(/--range/);
    expect(() => validateDnsmasqSettings(input({ range: flag('10.86.5.1,10.86.5.9', '--range') }))).toThrow(/standalone/);
  });

  it('names the source of a bad value', () => {
    expect(() => validateDnsmasqSettings(input({ subnet: flag('nope', 'dnsmasq.subnet in /etc/pinet.yaml') }))).toThrow(
      /^dnsmasq\.subnet in \/etc\/pinet\.yaml "nope"/,
    );
  });

  it('dnsmasqValue never lets a line break through', () => {
    expect(() => dnsmasqValue('a\nb')).toThrow();
    expect(dnsmasqValue('/plain/path')).toBe('/plain/path');
    expect(dnsmasqValue('a b')).toBe('"a b"');
  });

  it('renders a single line per directive whatever the accepted values', () => {
    const text = render({ tftpRoot: flag('/a b/c,d#e', '--tftp-root'), menuText: flag('Raspberry Pi Boot, #1', '--menu-text') });
    for (const line of directives(text)) expect(line).toMatch(/^[a-z-]+(=|$)/);
    expect(directives(text)).toContain('tftp-root="/a b/c,d#e"');
  });
});

describe('user templates', () => {
  it('get the same values, unescaped', () => {
    const s = validateDnsmasqSettings(input({ interface: flag('eth0', '--interface') }));
    const out = renderTemplate('{{dhcpRange}}|{{tftpRoot}}|{{interface}}|{{pxeService}}|{{#tagged}}T{{/tagged}}', templateView(s));
    expect(out).toBe('tag:rpi,10.86.5.0,proxy,255.255.255.0|/mnt/netboot|eth0|tag:rpi,0,"Raspberry Pi Boot"|T\n');
  });

  it('report a broken template as a usage error', () => {
    const s = validateDnsmasqSettings(input());
    expect(() => renderTemplate('{{#tagged}}unclosed', templateView(s), 'my.tmpl')).toThrow(/my\.tmpl/);
  });
});
