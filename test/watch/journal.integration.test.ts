/**
 * `pinet watch` reading dnsmasq's lines from a real systemd journal file
 * with the real journalctl (`journalctl --file <f> -u dnsmasq -o json`, and
 * `-f` to follow). The journal is written by the real systemd-journald from
 * the real dnsmasq's syslog lines (helpers/journal.ts: journald and dnsmasq
 * in a private mount and cgroup namespace, dnsmasq in
 * /system.slice/dnsmasq.service), while a Pi boots with test/netboot's
 * emulator on 10.251.182.0/24.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot, hasCommand } from '../helpers/env.js';
import { pinet } from '../helpers/cli.js';
import { renderDnsmasqConfig } from '../net/helpers/netns.js';
import { ubuntuPartition, writePartition } from '../netboot/boot-partition.js';
import { startJournalLab, type JournalLab } from './helpers/journal.js';
import { WatchLab, WatchProcess, type LabPi } from './helpers/lab.js';

describeAsRoot('pinet watch reads a real journal file', () => {
  const lab = new WatchLab('jrn', 182);
  let root: string;
  let journal: JournalLab;
  let pi: LabPi;
  let watch: WatchProcess;
  const args = (): string[] => ['--journal-file', journal.file, '--export-dir', root, '--state-dir', join(root, '..', 'no-state'), '--dnsmasq-conf', '/nonexistent'];

  beforeAll(async () => {
    for (const c of ['dnsmasq', 'journalctl', 'nsenter', 'unshare', 'logger']) if (!hasCommand(c)) throw new Error(`${c} is not installed; .ci/run installs it`);
    await lab.lan();
    root = await lab.dir('export');
    pi = await lab.addPi('jpi');
    await writePartition(join(root, pi.serial), ubuntuPartition());
    // pinet's config as rendered: no log-facility=, so dnsmasq logs to syslog.
    journal = await startJournalLab(lab, await renderDnsmasqConfig({ subnet: `${lab.base}.0/24`, tftpRoot: root }));
    // From ten minutes back, so nothing written while journalctl starts is missed.
    watch = new WatchProcess(lab, ['--json', '--no-ssh', '--since', '10m', ...args()]);
    const opened = await watch.waitForEvent('journalctl running', (e) => e.type === 'source' && e.what === 'opened');
    expect(opened.detail).toMatch(/^journalctl --file \S+system\.journal -o json --no-pager -u dnsmasq --since @\d+ -f$/);
  });
  afterAll(() => lab.cleanup());

  it('journald records dnsmasq under its unit, as on a boot server', async () => {
    const first = JSON.parse((await journal.journalctl(['-u', 'dnsmasq', '-o', 'json', '-n', '1', '--reverse'])).split('\n')[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ _SYSTEMD_UNIT: 'dnsmasq.service', _COMM: 'dnsmasq', _TRANSPORT: 'syslog' });
    expect(first.SYSLOG_IDENTIFIER).toMatch(/^dnsmasq(-dhcp|-tftp)?$/);
  });

  it('follows a boot as journald writes it', async () => {
    expect((await lab.emulate(pi)).outcome).toBe('booted');
    const loaded = await watch.waitForEvent('the Pi loaded', (e) => e.type === 'stage' && e.stage === 'loaded');
    expect(loaded.pi).toMatchObject({ name: pi.serial, dir: pi.serial, mac: pi.mac, ip: pi.ip });
    const dhcp = watch.events().find((e) => e.type === 'dhcp')!;
    expect(dhcp).toMatchObject({ offer: 'proxy', interface: 'br0', vendorClass: 'PXEClient:Arch:00000:UNDI:002001' });
    // Times come from __REALTIME_TIMESTAMP (microseconds), not from when watch read the line.
    expect(watch.events().filter((e) => e.type === 'file').some((e) => !/\.000Z$/.test(e.time))).toBe(true);
  });

  it('decodes a MESSAGE that journalctl prints as an array of bytes, and reads only dnsmasq.service', async () => {
    const path = `${root}/${pi.serial}/caf`;
    await journal.inject(Buffer.concat([Buffer.from(`sent ${path}`), Buffer.from([0xe9]), Buffer.from(`.txt to ${pi.ip}`)]));
    await journal.inject(Buffer.from(`sent ${root}/${pi.serial}/from-another-unit.txt to ${pi.ip}`), 'systemd-journald.service');
    const raw = (await journal.journalctl(['-u', 'dnsmasq', '-o', 'json'])).split('\n').map((l) => JSON.parse(l) as { MESSAGE: unknown });
    const arrays = raw.filter((e) => Array.isArray(e.MESSAGE));
    expect(arrays).toHaveLength(1);
    expect(Buffer.from(arrays[0]!.MESSAGE as number[]).includes(0xe9)).toBe(true);
    const e = await watch.waitForEvent('the odd file', (x) => x.type === 'file' && String(x.file).startsWith('caf'));
    expect(e).toMatchObject({ outcome: 'sent', file: 'caf\ufffd.txt', pi: { ip: pi.ip, dir: pi.serial } });
    expect(await watch.stop()).toBe(0);
    expect(watch.events().some((x) => x.type === 'file' && x.file === 'from-another-unit.txt')).toBe(false);
  });

  it('--once reads the whole journal file and ends with the summary', async () => {
    const r = await pinet(['watch', '--once', '--json', ...args()]);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    const summary = events.at(-1)!;
    expect(summary).toMatchObject({ type: 'summary', ok: true });
    expect(summary.pis).toEqual([expect.objectContaining({ stage: 'loaded', state: 'ok', pi: expect.objectContaining({ mac: pi.mac, dir: pi.serial }) })]);
    expect(summary.checks.find((g: { name: string }) => g.name === `log: ${pi.serial}/`).checks[0]).toMatchObject({ id: 'log.boot', status: 'ok' });
  });
});
