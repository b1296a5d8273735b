/**
 * The end of enroll and rollback (src/jobs/summary.ts): the per-Pi table for
 * a handful of Pis (or --verbose), and for a fleet the counts (ok /
 * changed / failed) and the failures grouped by cause with each Pi's
 * names abstracted; a reboot that did not netboot counts as a failure, its
 * verdict's fix printed with it.
 */
import { describe, expect, it } from 'vitest';
import type { PiResult } from '../../src/jobs/enroll/job.js';
import { failureOf, fleetSummary, formatResults, summaryTable } from '../../src/jobs/summary.js';
import { piNames, plain } from '../plan/fleet.js';

function enrolled(i: number, netboot?: { seconds: number }): PiResult {
  const n = piNames(i);
  const r: PiResult = { host: n.host, serial: n.serial, dir: n.dir, result: 'enrolled', changes: ['a', 'b'] };
  if (netboot) r.reboot = { ok: true, detail: `netbooted in ${netboot.seconds} s from /mnt/netboot/${n.dir}; back up; /boot/firmware from nfs-host:/picluster-boot/${n.dir} (nfs)`, netboot: { outcome: 'netbooted', log: '/var/log/dnsmasq.log', seconds: netboot.seconds, from: `/mnt/netboot/${n.dir}` } };
  return r;
}

function refused(i: number): PiResult {
  const n = piNames(i);
  const ip = `10.0.0.${i}`;
  return { host: n.host, result: 'refused', changes: [], error: `${n.host} (${ip}): cannot connect to ${ip} port 22: connection refused; is sshd running there? check that the Pi is up` };
}

function denied(i: number): PiResult {
  const n = piNames(i);
  const r = enrolled(i);
  r.reboot = {
    ok: false,
    detail: 'did not netboot: kernel8.img could not be read by the TFTP server (permission denied)',
    netboot: {
      outcome: 'failed',
      log: '/var/log/dnsmasq.log',
      verdict: { id: 'boot.denied', level: 'fail', finding: 'kernel8.img could not be read by the TFTP server (permission denied)', fix: `chmod -R a+rX /mnt/netboot/${n.dir}; keep it so after kernel updates with pinet's hook (pinet enroll ${n.host})`, evidence: [`/mnt/netboot/${n.dir}/kernel8.img: owner root:root, mode 0600`] },
    },
  };
  return r;
}

describe('fleet summary', () => {
  const fleet: PiResult[] = [];
  for (let i = 1; i <= 50; i++) {
    if ([7, 12, 31].includes(i)) fleet.push(refused(i));
    else if (i === 40 || i === 41) fleet.push(denied(i));
    else if (i > 46) fleet.push({ ...enrolled(i), result: 'up to date', changes: [] });
    else fleet.push(enrolled(i, { seconds: 20 + (i % 7) }));
  }

  it('counts Pis ok / changed / failed, and groups the failed ones by cause with their names abstracted', () => {
    expect(fleetSummary(fleet, plain)).toEqual([
      '50 Pis: 4 ok (up to date), 41 enrolled, 5 failed',
      '  netbooted: 41 Pis, in 20–26 s (median 23 s)',
      '  failed 3 Pis: <pi> (<ip>): cannot connect to <ip> port 22: connection refused; is sshd running there? check that the Pi is up — pi-07, pi-12, pi-31',
      '  failed 2 Pis: did not netboot: kernel8.img could not be read by the TFTP server (permission denied) — pi-40, pi-41',
      "      fix: chmod -R a+rX /mnt/netboot/<dir>; keep it so after kernel updates with pinet's hook (pinet enroll <pi>)",
    ]);
  });

  it('a Pi’s failure is its error, or its reboot’s verdict; a netbooted Pi has none', () => {
    expect(failureOf(refused(7))?.text).toMatch(/^pi-07 \(10\.0\.0\.7\): cannot connect/);
    expect(failureOf(denied(40))).toMatchObject({ text: 'did not netboot: kernel8.img could not be read by the TFTP server (permission denied)', fix: expect.stringMatching(/^chmod -R a\+rX \/mnt\/netboot\/c0de0028;/) });
    expect(failureOf(enrolled(1, { seconds: 20 }))).toBeUndefined();
    const cameBackLocal = { ...enrolled(2), reboot: { ok: false, detail: "came back, but not over the network: dnsmasq's log (x) has no line from it; back up; /boot/firmware from nfs-host:/x (nfs); bootloader 0xf241" } };
    expect(failureOf(cameBackLocal)?.text).toBe("came back, but not over the network: dnsmasq's log (x) has no line from it");
  });

  it('50 Pis: no table of every Pi unless --verbose; a handful: the table as before', () => {
    const text = formatResults(fleet, plain);
    expect(text).not.toContain('PI  ');
    expect(text).toContain('(the table of every Pi: --verbose, or --json)');
    expect(formatResults(fleet, plain, { verbose: true })).toContain(summaryTable(fleet));
    const few = fleet.slice(0, 8);
    expect(formatResults(few, plain).startsWith(summaryTable(few))).toBe(true);
  });

  it('one Pi: the table as before, and its failed netboot with the evidence and the fix', () => {
    expect(formatResults([enrolled(1)], plain)).toBe(summaryTable([enrolled(1)]));
    expect(formatResults([denied(3)], plain)).toBe(
      `${summaryTable([denied(3)])}\n\npi-03: FAIL kernel8.img could not be read by the TFTP server (permission denied)\n  /mnt/netboot/c0de0003/kernel8.img: owner root:root, mode 0600\n  fix: chmod -R a+rX /mnt/netboot/c0de0003; keep it so after kernel updates with pinet's hook (pinet enroll pi-03)`,
    );
  });

  it('dry runs would change; rollback rolled back', () => {
    const planned = [1, 2, 3].map((i): PiResult => ({ ...enrolled(i), result: 'planned' }));
    expect(fleetSummary(planned, plain)[0]).toBe('3 Pis: 0 ok (up to date), 3 would change, 0 failed');
    const rolled = [1, 2].map((i): PiResult => ({ ...enrolled(i), result: 'rolled back' }));
    expect(fleetSummary(rolled, plain)[0]).toBe('2 Pis: 0 ok (up to date), 2 rolled back, 0 failed');
  });
});
