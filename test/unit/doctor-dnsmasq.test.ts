import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDnsmasqConfig, port53Bound } from '../../src/jobs/doctor/dnsmasq-checks.js';
import { readDnsmasqConfig } from '../../src/server/dnsmasq-read.js';
import { DEFAULT_TEMPLATE, renderTemplate, templateView, validateDnsmasqSettings } from '../../src/server/dnsmasq-render.js';

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

async function checksFor(text: string, exportDir = '/mnt/netboot') {
  const dir = mkdtempSync(join(tmpdir(), 'pinet-dd-'));
  made.push(dir);
  writeFileSync(join(dir, 'd.conf'), text);
  const cfg = await readDnsmasqConfig([join(dir, 'd.conf')]);
  return checkDnsmasqConfig(cfg, { exportDir, defaultUser: 'dnsmasq', port53InUse: false, sources: dir });
}
const status = (checks: { id: string; status: string }[], id: string) => checks.find((c) => c.id === id)?.status;

const rendered = () =>
  renderTemplate(
    readFileSync(DEFAULT_TEMPLATE, 'utf8'),
    templateView(validateDnsmasqSettings({ subnet: { value: '10.86.5.0/24', source: '' }, tftpRoot: { value: '/mnt/netboot', source: '' } })),
  );

describe('doctor: dnsmasq configuration', () => {
  it("passes pinet's own rendered config", async () => {
    const { checks, facts } = await checksFor(rendered());
    expect(checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(facts).toMatchObject({ tftpEnabled: true, tftpRoot: '/mnt/netboot', user: 'dnsmasq', proxy: true });
    expect(facts.nets[0]).toMatchObject({ network: '10.86.5.0', prefix: 24 });
  });

  it('fails a config without pxe-service, naming the fix', async () => {
    const { checks } = await checksFor(rendered().replace(/^pxe-service=.*$/m, ''));
    const c = checks.find((x) => x.id === 'dnsmasq.pxe')!;
    expect(c.status).toBe('fail');
    expect(c.fix).toMatch(/pxe-service=0,"Raspberry Pi Boot"/);
  });

  it('fails a menu without "Raspberry Pi Boot", a missing enable-tftp, a wrong tftp-root, no dhcp-range', async () => {
    expect(status((await checksFor(rendered().replace('Raspberry Pi Boot', 'Network Boot'))).checks, 'dnsmasq.pxe')).toBe('fail');
    expect(status((await checksFor(rendered().replace('enable-tftp', ''))).checks, 'dnsmasq.tftp')).toBe('fail');
    const wrongRoot = (await checksFor(rendered(), '/srv/other')).checks.find((c) => c.id === 'dnsmasq.tftp-root')!;
    expect(wrongRoot).toMatchObject({ status: 'fail', evidence: [expect.stringMatching(/d\.conf:\d+: tftp-root=\/mnt\/netboot/)] });
    expect(status((await checksFor(rendered().replace(/^dhcp-range=.*$/m, ''))).checks, 'dnsmasq.dhcp-range')).toBe('fail');
  });

  it('warns when DNS is not switched off, and reports the TFTP user', async () => {
    const { checks, facts } = await checksFor(rendered().replace('port=0', 'user=nobody'));
    expect(status(checks, 'dnsmasq.dns')).toBe('warn');
    expect(facts.user).toBe('nobody');
  });

  it('fails when no config exists at all', async () => {
    const cfg = await readDnsmasqConfig(['/nonexistent/dnsmasq.conf']);
    const { checks } = checkDnsmasqConfig(cfg, { exportDir: '/mnt/netboot', defaultUser: 'dnsmasq', port53InUse: false, sources: '/nonexistent' });
    expect(checks).toEqual([expect.objectContaining({ status: 'fail', id: 'dnsmasq.config' })]);
  });

  it('sees a socket on port 53 in /proc/net/udp', () => {
    const udp = '  sl  local_address rem_address   st\n   1: 0100007F:0035 00000000:0000 07 00000000:00000000\n';
    expect(port53Bound([udp])).toBe(true);
    expect(port53Bound([udp.replace(':0035', ':0044')])).toBe(false);
  });
});
