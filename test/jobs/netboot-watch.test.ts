/**
 * enroll --reboot's view of dnsmasq's log (src/jobs/enroll/netboot-watch.ts),
 * without root: when it refuses to follow (no config, no log-dhcp, an empty
 * journal), and, on a real dnsmasq 2.90 log of four emulated Pis booting at
 * once (test/fixtures/watch/four-pis, recorded by test/watch) appended to a
 * log file while it is followed, each tracked Pi gets its own events: the
 * healthy one reaches "loaded" and is "booted" once SSH answers, the one
 * with a 0600 kernel fails with watch's verdict naming the file, an
 * untracked or silent Pi gets nothing.
 */
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetbootWatch } from '../../src/jobs/enroll/netboot-watch.js';
import type { InventoryEntry } from '../../src/server/state.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/watch/', import.meta.url));

function entry(host: string, serial8: string, mac: string): InventoryEntry {
  return { serial: `10000000${serial8}`, dir: serial8, prefixMode: 'serial', mac, host, bootMount: '/boot/firmware', exportDir: '/x', nfs: 'nfs-host:/x', enrolledAt: '', updatedAt: '', changes: [], hooks: [], bootOrder: { after: '0xf412' } };
}

/** The recorded lines, stamped with the current time (syslog's "Dec  6 07:01:24", local time). */
function restamp(lines: string[]): string {
  const d = new Date();
  const month = d.toLocaleString('en-US', { month: 'short' });
  const stamp = `${month} ${String(d.getDate()).padStart(2, ' ')} ${[d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':')}`;
  return lines.map((l) => `${stamp}${l.slice(15)}\n`).join('');
}

describe('following dnsmasq’s log for enroll --reboot', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinet-nbw-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says why it cannot follow: no config, no log-dhcp, a journal without dnsmasq', async () => {
    expect(await NetbootWatch.open({ exportDir: dir, dnsmasqConf: [join(dir, 'none.conf')], entries: [] })).toBe(`no dnsmasq configuration in ${join(dir, 'none.conf')} to find its log in (pass --dnsmasq-conf)`);
    await writeFile(join(dir, 'quiet.conf'), `port=0\nenable-tftp\ntftp-root=${dir}\nlog-facility=${join(dir, 'x.log')}\n`);
    expect(await NetbootWatch.open({ exportDir: dir, dnsmasqConf: [join(dir, 'quiet.conf')], entries: [] })).toMatch(/^the dnsmasq configuration \(.*quiet\.conf\) has no log-dhcp: /);
    // No log-facility: syslog, read from the journal of dnsmasq.service (unit names no entry on a test machine).
    await writeFile(join(dir, 'syslog.conf'), `port=0\nlog-dhcp\nenable-tftp\ntftp-root=${dir}\n`);
    const journal = await NetbootWatch.open({ exportDir: dir, dnsmasqConf: [join(dir, 'syslog.conf')], entries: [] });
    if (typeof journal !== 'string') await journal.close();
    else expect(journal).toMatch(/^no log-facility= in .*syslog\.conf: dnsmasq logs to syslog, read from the journal of dnsmasq\.service, but /);
  });

  it('hands each tracked Pi its own events; a 0600 kernel ends with the verdict naming the file', async () => {
    const meta = JSON.parse(await readFile(join(FIXTURE, 'four-pis.json'), 'utf8')) as { tftpRoot: string; pis: { name: string; mac: string; serial: string }[] };
    const log = join(dir, 'dnsmasq.log');
    await writeFile(log, '');
    await writeFile(join(dir, 'dnsmasq.conf'), `port=0\nlog-dhcp\nenable-tftp\ntftp-root=${meta.tftpRoot}\nlog-facility=${log}\n`);
    const [a, , c] = meta.pis.map((p) => entry(p.name, p.serial, p.mac));
    const silent = entry('pi-z', 'deadbeef', 'dc:a6:32:ff:ff:ff');
    const w = await NetbootWatch.open({ exportDir: meta.tftpRoot, dnsmasqConf: [join(dir, 'dnsmasq.conf')], entries: [a!, c!, silent] });
    if (typeof w === 'string') throw new Error(w);
    try {
      const [ta, tc, tz] = [w.track(a!), w.track(c!), w.track(silent)];
      const lines = (await readFile(join(FIXTURE, 'four-pis.log'), 'utf8')).split('\n').filter(Boolean);
      await appendFile(log, restamp(lines));
      const verdict = await tc.failed();
      expect(verdict).toMatchObject({ id: 'boot.denied', level: 'fail', finding: 'vmlinuz could not be read by the TFTP server (permission denied)' });
      await w.settle();
      expect(ta.events.every((e) => 'pi' in e && e.pi.host === 'pi-a')).toBe(true);
      expect(ta.events.some((e) => e.type === 'stage' && e.stage === 'loaded')).toBe(true);
      expect(tc.events.every((e) => 'pi' in e && e.pi.host === 'pi-c')).toBe(true);
      expect(tz.events).toEqual([]);
      expect(w.row(ta)).toMatchObject({ stage: 'loaded' });
      const booted = w.sshUp(ta, 'pi-a:22');
      expect(booted).toMatchObject({ type: 'booted', from: `${meta.tftpRoot}/${a!.dir}`, ssh: 'pi-a:22' });
      expect(booted!.seconds).toBeGreaterThanOrEqual(0);
      expect(w.sshUp(tz, 'pi-z:22')).toBeUndefined();
    } finally {
      await w.close();
    }
  });
});
