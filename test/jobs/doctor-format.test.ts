/**
 * doctor's report at fleet scale (formatReport with `fleet`): each finding
 * once with the Pis it applies to and their names abstracted, failures
 * first, evidence per Pi behind --verbose, the end line counting Pis by
 * their worst status and the failed ones by cause. The Pi groups are
 * doctor's own checks (checkPi) of recorded Pis, each with its own serial,
 * MAC, PARTUUID and host; without `fleet` (watch's log summary) every group
 * prints as it always did.
 */
import { describe, expect, it } from 'vitest';
import { checkPi } from '../../src/jobs/doctor/pi-checks.js';
import { fail, formatReport, ok, reportToJson, warn, type CheckGroup, type Report, type Status, type Style } from '../../src/jobs/doctor/model.js';
import { table, visibleWidth } from '../../src/ui/table.js';
import { bootloaderConfig, EXPORT_DIR, NFS } from './fixtures.js';
import { fleetPi, piNames, plain } from '../plan/fleet.js';

const SERVER: CheckGroup = { name: 'boot server', checks: [ok('dnsmasq.conf', 'dnsmasq config', 'found /etc/dnsmasq.d/pinet.conf'), warn('dnsmasq.port', 'DNS off', 'port=0 is missing', 'add port=0')] };

/** doctor's group of Pi number i, as run.ts builds it (label "host (address)" when given one). */
function piGroup(i: number, edits: Parameters<typeof fleetPi>[1] = []): CheckGroup {
  const n = piNames(i);
  const d = fleetPi(i, edits);
  return { name: `${n.host} (10.0.0.${i})`, about: `serial ${n.serial}, Pi 4B, not in the inventory`, checks: checkPi(d, { exportDir: EXPORT_DIR, nfs: NFS, view: { listing: new Map(), withStart4: [] } }) };
}

function unreachable(i: number): CheckGroup {
  const host = piNames(i).host;
  const ip = `10.0.0.${i}`;
  return { name: host, checks: [fail('pi.reachable', 'reachable', `${host} (${ip}): cannot connect to ${ip} port 22: connection refused; is sshd running there?`, 'check that the Pi is up and that `ssh` to it works with the same options')] };
}

/** An export directory group as export-checks.ts names it. */
function dirGroup(i: number, kernelMode = '0644'): CheckGroup {
  const n = piNames(i);
  const path = `${EXPORT_DIR}/${n.dir}`;
  const checks = [ok('export.name', 'directory name', `${n.dir} matches the serial number (TFTP_PREFIX=0)`), ok('export.files', 'boot files', `all 9 files the bootloader requests are in ${path}/`, [`config.txt, start4.elf, …`])];
  checks.push(
    kernelMode === '0644'
      ? ok('export.readable', 'readable by TFTP', 'every boot file can be read by "dnsmasq"')
      : fail('export.readable', 'readable by TFTP', '1 boot file cannot be read by "dnsmasq", the TFTP server\'s user (it answers "Permission denied")', `chmod -R a+rX ${path}; keep it so after kernel updates with pinet's hook (pinet enroll ${n.host})`, [`${path}/kernel8.img: mode ${kernelMode} owner 0:0 gives dnsmasq (as other) no read permission`]),
  );
  return { name: `${n.host} (${path}/)`, about: `serial ${n.serial}, Pi 4B`, checks };
}

/** formatReport as it was before the fleet view (commit 1661f4e). */
function formatBefore(report: Report, c: Style): string {
  const label: Record<Status, string> = { ok: c.green('ok  '), warn: c.yellow('warn'), fail: c.red('FAIL'), skip: c.dim('skip') };
  const lines: string[] = [];
  for (const g of report.groups) {
    lines.push(c.bold(g.about ? `${g.name}: ${g.about}` : g.name));
    const width = Math.min(28, Math.max(...g.checks.map((ch) => visibleWidth(ch.title)), 0));
    const rows = table(g.checks.map((ch) => [label[ch.status], ch.title, ch.finding]), { indent: '  ', maxWidth: [4, 28] }).split('\n');
    for (const [i, ch] of g.checks.entries()) {
      lines.push(rows[i]!);
      for (const e of ch.evidence ?? []) lines.push(`        ${' '.repeat(width)}  ${c.dim(e)}`);
      if (ch.fix && (ch.status === 'warn' || ch.status === 'fail')) lines.push(`        ${' '.repeat(width)}  ${c.cyan(`fix: ${ch.fix}`)}`);
    }
    lines.push('');
  }
  const n = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const g of report.groups) for (const ch of g.checks) n[ch.status]++;
  lines.push(`${n.ok} ok, ${n.warn} warning${n.warn === 1 ? '' : 's'}, ${n.fail} failed, ${n.skip} skipped`);
  return lines.join('\n');
}

const lineWith = (text: string, s: string): string => text.split('\n').find((l) => l.includes(s)) ?? `(no line with ${s})`;

describe('doctor report, fleet view', () => {
  const fleet: Report = { groups: [SERVER, ...Array.from({ length: 40 }, (_, k) => dirGroup(k + 1, k + 1 === 3 ? '0600' : '0644')), ...Array.from({ length: 40 }, (_, k) => (k + 1 === 7 || k + 1 === 31 ? unreachable(k + 1) : piGroup(k + 1, k + 1 === 12 ? [bootloaderConfig((o) => o.replace(/^BOOT_ORDER=.*$/m, 'BOOT_ORDER=0xf21'))] : [])))] };
  const text = formatReport(fleet, plain, { fleet: true });

  it('without the fleet view (watch’s summary of the log) every group prints as before', () => {
    expect(formatReport(fleet, plain)).toBe(formatBefore(fleet, plain));
  });

  it('the boot server’s own checks stay as they are', () => {
    expect(text.startsWith(`${formatBefore({ groups: [SERVER] }, plain).split('\n\n')[0]}\n\n`)).toBe(true);
    expect(text).toContain('boot server\n  ok    dnsmasq config  found /etc/dnsmasq.d/pinet.conf\n  warn  DNS off         port=0 is missing\n');
  });

  it('each finding once, with its Pis and their names as placeholders; failures first', () => {
    const pis = text.slice(text.indexOf('\n40 Pis, checked over SSH\n') + 1).split('\n\n')[0]!;
    const lines = pis.split('\n').filter((l) => /^ {2}(ok|warn|FAIL|skip)/.test(l));
    const statuses = lines.map((l) => l.slice(2, 6).trim());
    expect(statuses.indexOf('FAIL')).toBe(0);
    expect(statuses.lastIndexOf('FAIL')).toBeLessThan(statuses.indexOf('warn'));
    expect(statuses.lastIndexOf('warn')).toBeLessThan(statuses.indexOf('ok'));
    expect(lineWith(pis, 'reachable')).toBe('  FAIL  reachable           <pi> (<ip>): cannot connect to <ip> port 22: connection refused; is sshd running there? — 2 Pis: pi-07, pi-31');
    expect(lineWith(pis, 'BOOT_ORDER   ')).toMatch(/^ {2}FAIL {2}BOOT_ORDER +0xf41: SD → USB → RESTART, tried right to left: NETWORK is never tried — 37 Pis: pi-01 … pi-06, pi-08 … pi-11, pi-13 … pi-30, pi-32 … pi-40$/);
    expect(pis).toMatch(/^ {2}warn {2}BOOT_ORDER +0xf21: SD → NETWORK → RESTART, tried right to left; NETWORK is mode 2 of 3, after SD: .* — 1 Pi: pi-12$/m);
    expect(lineWith(pis, 'export directory')).toMatch(/^ {2}FAIL {2}export directory +\/mnt\/netboot\/<dir>\/start4\.elf is missing: the bootloader asks for <dir>\/ .* — 38 Pis: pi-01 … pi-06, pi-08 … pi-30, pi-32 … pi-40$/);
    expect(pis).toContain('fix: pinet enroll <pi>');
    for (const v of Object.values(piNames(5)).slice(1)) expect(pis).not.toContain(v);
  });

  it('the evidence: one Pi’s shown as it is; the same for all shown once; different per Pi only with --verbose', () => {
    const dirs = text.slice(text.indexOf('40 Pi directories in the export (/mnt/netboot)'));
    expect(dirs).toMatch(/^ {2}FAIL {2}readable by TFTP +1 boot file cannot be read by "dnsmasq", the TFTP server's user \(it answers "Permission denied"\) — 1 Pi: pi-03\n +\/mnt\/netboot\/c0de0003\/kernel8\.img: mode 0600 owner 0:0 gives dnsmasq \(as other\) no read permission\n +fix: chmod -R a\+rX \/mnt\/netboot\/c0de0003; keep it so after kernel updates with pinet's hook \(pinet enroll pi-03\)$/m);
    // ok findings carry no evidence unless asked
    expect(dirs).not.toContain('config.txt, start4.elf');
    const verbose = formatReport(fleet, plain, { fleet: true, verbose: true });
    expect(verbose).toMatch(/^ +pi-01: config\.txt, start4\.elf, …$/m);
    expect(verbose).toMatch(/^ +pi-40: config\.txt, start4\.elf, …$/m);
  });

  it('the end: checks counted as before, then Pis by their worst status, the failed ones by cause', () => {
    const lines = text.split('\n');
    const at = lines.findIndex((l) => /^\d+ ok, \d+ warnings, \d+ failed, \d+ skipped$/.test(l));
    expect(lines[at + 1]).toBe('40 Pis: 0 ok, 0 warn, 40 FAIL');
    const causes = lines.slice(at + 2);
    expect(causes).toHaveLength(6);
    expect(causes[0]).toBe('  FAIL 38 Pis: export directory: /mnt/netboot/<dir>/start4.elf is missing: the bootloader asks for <dir>/ (TFTP_PREFIX=0 (default): the serial number) and falls back to no prefix — pi-01 … pi-06, pi-08 … pi-30, pi-32 … pi-40');
    expect(causes).toContain('  FAIL 37 Pis: BOOT_ORDER: 0xf41: SD → USB → RESTART, tried right to left: NETWORK is never tried — pi-01 … pi-06, pi-08 … pi-11, pi-13 … pi-30, pi-32 … pi-40');
    expect(causes).toContain('  FAIL 2 Pis: reachable: <pi> (<ip>): cannot connect to <ip> port 22: connection refused; is sshd running there? — pi-07, pi-31');
    expect(causes.at(-1)).toBe('  FAIL 1 Pi: readable by TFTP: 1 boot file cannot be read by "dnsmasq", the TFTP server\'s user (it answers "Permission denied") — pi-03');
  });

  it('healthy and warning Pis are counted by their worst check', () => {
    const healthy = (i: number): CheckGroup => ({ name: piNames(i).host, about: `serial ${piNames(i).serial}, Pi 4B, enrolled`, checks: [ok('pi.boot-order', 'BOOT_ORDER', '0xf412'), ...(i <= 6 ? [warn('pi.pending', 'bootloader update', 'an update is pending (BOOT_ORDER 0xf412); the bootloader uses it only after a reboot', `reboot ${piNames(i).host}`)] : [])] });
    const r = formatReport({ groups: [SERVER, ...Array.from({ length: 48 }, (_, k) => healthy(k + 1))] }, plain, { fleet: true });
    expect(r).toMatch(/^ {2}warn {2}bootloader update {2}an update is pending \(BOOT_ORDER 0xf412\); the bootloader uses it only after a reboot — 6 Pis: pi-01 … pi-06\n +fix: reboot <pi>$/m);
    expect(r).toMatch(/^ {2}ok {4}BOOT_ORDER +0xf412 — 48 Pis: pi-01 … pi-48$/m);
    expect(r.split('\n').at(-1)).toBe('48 Pis: 42 ok, 6 warn, 0 FAIL');
  });

  it('findings that differ only in numbers (a transfer rate, a file count) are one line with the ranges', () => {
    const fetched = (i: number, rate: string, files: number): CheckGroup => ({
      ...dirGroup(i),
      checks: [ok('tftp.fetch', 'TFTP fetch', `fetched all ${files} boot files from 10.251.83.1, same size and SHA-256 as on disk, 0.7 MB at ${rate} MB/s`)],
    });
    const r = formatReport({ groups: [SERVER, fetched(1, '0.5', 10), fetched(2, '1.6', 10), fetched(3, '0.9', 8)] }, plain, { fleet: true });
    expect(r).toContain('  ok    TFTP fetch  fetched all 8–10 boot files from 10.251.83.1, same size and SHA-256 as on disk, 0.7 MB at 0.5–1.6 MB/s — 3 Pis: pi-01 … pi-03');
  });

  it('one Pi: its group as before, and the count line', () => {
    const one = formatReport({ groups: [SERVER, unreachable(7)] }, plain, { fleet: true });
    expect(one).toBe(`${formatBefore({ groups: [SERVER, unreachable(7)] }, plain)}\n1 Pi: 0 ok, 0 warn, 1 FAIL\n  FAIL 1 Pi: reachable: pi-07 (10.0.0.7): cannot connect to 10.0.0.7 port 22: connection refused; is sshd running there? — pi-07`);
  });

  it('--json is the report as it is, whatever the text groups', () => {
    const doc = reportToJson(fleet, false) as { groups: CheckGroup[] };
    expect(doc.groups).toHaveLength(81);
    expect(Object.keys(doc).sort()).toEqual(['groups', 'ok', 'strict', 'summary']);
    expect(JSON.stringify(doc)).toContain(piNames(5).serial);
  });
});
