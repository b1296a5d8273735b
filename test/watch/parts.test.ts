/**
 * The small parts of watch: journalctl's JSON entries (MESSAGE as text or
 * as a byte array), the journalctl command line, `--since`, the neighbour
 * table, the log source chosen from the dnsmasq config, and the text of
 * events and rows.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDnsmasqConfig } from '../../src/server/dnsmasq-read.js';
import { eventLines, table } from '../../src/jobs/watch/format.js';
import { fieldText, journalArgs, journalEntry } from '../../src/jobs/watch/journal.js';
import { parseArp } from '../../src/jobs/watch/neighbors.js';
import { parseSince } from '../../src/jobs/watch/since.js';
import { chooseSource } from '../../src/jobs/watch/source.js';
import { splitTarget } from '../../src/jobs/watch/ssh-check.js';

describe('journal entries', () => {
  it('turns an entry into the line dnsmasq would have written, at its exact time', () => {
    const json = JSON.stringify({ MESSAGE: 'sent /srv/netboot/bf9fed6f/start4.elf to 10.0.0.5', SYSLOG_IDENTIFIER: 'dnsmasq-tftp', SYSLOG_PID: '812', _PID: '812', __REALTIME_TIMESTAMP: '1732528801123456', _SYSTEMD_UNIT: 'dnsmasq.service' });
    expect(journalEntry(json, 0)).toEqual({ raw: 'dnsmasq-tftp[812]: sent /srv/netboot/bf9fed6f/start4.elf to 10.0.0.5', timeMs: 1732528801123 });
  });

  it('decodes MESSAGE given as an array of bytes (not UTF-8, or control characters)', () => {
    const bytes = [...Buffer.from('1234 vendor class: PXEClient\u001b[31m')];
    expect(fieldText(bytes)).toBe('1234 vendor class: PXEClient\u001b[31m');
    const e = journalEntry(JSON.stringify({ MESSAGE: bytes, SYSLOG_IDENTIFIER: 'dnsmasq-dhcp', _PID: '9', __REALTIME_TIMESTAMP: '1000' }), 5);
    expect(e).toEqual({ raw: 'dnsmasq-dhcp[9]: 1234 vendor class: PXEClient\u001b[31m', timeMs: 1 });
    expect(journalEntry('{"SYSLOG_IDENTIFIER":"x"}', 0)).toBeUndefined();
    expect(journalEntry('not json', 0)).toBeUndefined();
  });

  it('asks journalctl for the unit, following from now, or from --since, or a file once', () => {
    expect(journalArgs({ unit: 'dnsmasq', follow: true })).toEqual(['-o', 'json', '--no-pager', '-u', 'dnsmasq', '-n', '0', '-f']);
    expect(journalArgs({ unit: 'dnsmasq', follow: true, sinceMs: 1_700_000_000_500 })).toEqual(['-o', 'json', '--no-pager', '-u', 'dnsmasq', '--since', '@1700000000', '-f']);
    expect(journalArgs({ unit: 'dnsmasq', follow: false, file: '/tmp/j.journal' })).toEqual(['--file', '/tmp/j.journal', '-o', 'json', '--no-pager', '-u', 'dnsmasq']);
  });
});

describe('--since', () => {
  const now = new Date(2024, 10, 25, 14, 30, 0).getTime();
  it('reads relative times, clock times today and dates', () => {
    expect(parseSince('10m', now)).toBe(now - 600_000);
    expect(parseSince('2 hours ago', now)).toBe(now - 7_200_000);
    expect(parseSince('90s', now)).toBe(now - 90_000);
    expect(parseSince('14:05', now)).toBe(new Date(2024, 10, 25, 14, 5, 0).getTime());
    expect(parseSince('2024-11-25 10:00', now)).toBe(new Date(2024, 10, 25, 10, 0, 0).getTime());
    expect(parseSince('2024-11-25T10:00:00Z', now)).toBe(Date.UTC(2024, 10, 25, 10, 0, 0));
  });
  it('refuses anything else with an example', () => {
    expect(() => parseSince('yesterday-ish', now)).toThrow(/--since "yesterday-ish": not a time/);
    expect(() => parseSince('10 parsecs', now)).toThrow(/not a time/);
  });
});

describe('the neighbour table', () => {
  it('maps addresses to MACs, skipping incomplete entries', () => {
    const text = [
      'IP address       HW type     Flags       HW address            Mask     Device',
      '10.251.180.10    0x1         0x2         dc:a6:32:b4:00:00     *        br0',
      '10.251.180.11    0x1         0x0         00:00:00:00:00:00     *        br0',
      '10.251.180.12    0x1         0x2         DC:A6:32:B4:00:02     *        br0',
    ].join('\n');
    expect([...parseArp(text)]).toEqual([
      ['10.251.180.10', 'dc:a6:32:b4:00:00'],
      ['10.251.180.12', 'dc:a6:32:b4:00:02'],
    ]);
  });
});

describe('the log source', () => {
  async function conf(text: string) {
    const dir = await mkdtemp(join(tmpdir(), 'pinet-src-'));
    try {
      await writeFile(join(dir, 'd.conf'), text);
      return await readDnsmasqConfig([join(dir, 'd.conf')]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  it('is the log-facility file of the dnsmasq config, else the journal of dnsmasq.service', async () => {
    expect(chooseSource({}, await conf('enable-tftp\nlog-facility=/var/log/dnsmasq.log\n'))).toMatchObject({ kind: 'file', path: '/var/log/dnsmasq.log', why: expect.stringMatching(/^log-facility=\/var\/log\/dnsmasq\.log \(.*d\.conf:2\)$/) });
    expect(chooseSource({}, await conf('enable-tftp\nlog-facility=DAEMON\n'))).toMatchObject({ kind: 'journal', unit: 'dnsmasq' });
    expect(chooseSource({ unit: 'pxe' }, await conf('enable-tftp\n'))).toMatchObject({ kind: 'journal', unit: 'pxe', why: expect.stringMatching(/^no log-facility= in .*: dnsmasq logs to syslog/) });
    expect(chooseSource({}, await conf(''))).toMatchObject({ kind: 'journal' });
  });
  it('is what the flags name, first', async () => {
    const c = await conf('log-facility=/var/log/dnsmasq.log\n');
    expect(chooseSource({ log: '-' }, c)).toEqual({ kind: 'stdin', why: '--log -' });
    expect(chooseSource({ log: '/x.log' }, c)).toEqual({ kind: 'file', path: '/x.log', why: '--log' });
    expect(chooseSource({ journalFile: '/j' }, c)).toEqual({ kind: 'journal', unit: 'dnsmasq', file: '/j', why: '--journal-file' });
    expect(chooseSource({ journal: true }, c)).toEqual({ kind: 'journal', unit: 'dnsmasq', why: '--journal' });
    expect(chooseSource({}, { directives: [], files: [], errors: [] })).toBeUndefined();
  });
});

describe('text', () => {
  it('splits SSH targets', () => {
    expect(splitTarget('10.0.0.5:2222')).toEqual({ host: '10.0.0.5', port: 2222 });
    expect(splitTarget('[fe80::1]:22')).toEqual({ host: 'fe80::1', port: 22 });
    expect(splitTarget('pi-07')).toEqual({ host: 'pi-07', port: 22 });
  });

  it('prints a verdict with its evidence and fix, and rows as an aligned table', () => {
    const pi = { id: 'pi-07', name: 'pi-07', host: 'pi-07', dir: 'bf9fed6f', ip: '10.0.0.5' };
    const lines = eventLines({ type: 'verdict', time: new Date(2024, 0, 1, 10, 0, 5).toISOString(), pi, attempt: 1, id: 'boot.denied', level: 'fail', finding: 'vmlinuz could not be read', evidence: ['e1'], fix: 'chmod' });
    expect(lines).toEqual(['10:00:05 FAIL pi-07 (bf9fed6f): vmlinuz could not be read', '           e1', '           fix: chmod']);
    const t = table([
      { pi, attempt: 1, stage: 'booted', state: 'ok', files: 8, bytes: 31_000_000, elapsed: 23.4, since: '', last: 'x', bootSeconds: 23.4 },
      { pi: { id: 'dc:a6:32:00:00:01', name: 'dc:a6:32:00:00:01' }, attempt: 1, stage: 'kernel', state: 'fail', files: 6, bytes: 1024, elapsed: 4, since: '', last: 'y', verdict: 'vmlinuz could not be read', failedAt: 'vmlinuz' },
    ]);
    expect(t).toEqual([
      'PI                 STAGE            FILES    BYTES    TIME  LAST',
      'pi-07 (bf9fed6f)   booted               8  29.6 MB  23.4 s  netbooted in 23 s',
      'dc:a6:32:00:00:01  FAILED: vmlinuz      6   1.0 kB   4.0 s  vmlinuz could not be read',
    ]);
  });
});

describe('the live table', () => {
  /** A terminal-like stream: what was written, and its size. */
  function tty(columns: number, rows: number) {
    let text = '';
    return { isTTY: true, columns, rows, write: (s: string) => ((text += s), true), get text() { return text; } } as unknown as NodeJS.WritableStream & { isTTY: boolean; columns: number; rows: number; text: string };
  }
  const row = (i: number, state: 'ok' | 'active' | 'fail'): import('../../src/jobs/watch/events.js').PiRow => ({
    pi: { id: `pi-${i}`, name: `pi-${String(i).padStart(2, '0')}`, host: `pi-${String(i).padStart(2, '0')}`, dir: (0x10000000 + i).toString(16) },
    attempt: 1,
    stage: state === 'ok' ? 'booted' : 'kernel',
    state,
    files: 8,
    bytes: 30_000_000,
    elapsed: 20,
    since: '',
    last: state === 'fail' ? 'x' : 'sent initrd.img',
    ...(state === 'fail' && { verdict: 'vmlinuz could not be read by the TFTP server (permission denied)' }),
    ...(state === 'ok' && { bootSeconds: 21 }),
  });

  it('with 50 Pis on a 24-line terminal: failures and booting Pis first, finished ones folded into one line', async () => {
    const { tableRenderer } = await import('../../src/jobs/watch/render.js');
    const out = tty(100, 24);
    const err = tty(100, 24);
    const rows = [...Array.from({ length: 40 }, (_, i) => row(i + 1, 'ok')), ...Array.from({ length: 8 }, (_, i) => row(41 + i, 'active')), row(49, 'fail'), row(50, 'fail')];
    const r = tableRenderer(out, err, (await import('../../src/jobs/watch/format.js')).plain);
    r.redraw(rows, 'watching /var/log/dnsmasq.log');
    const frame = out.text.split('\n').filter(Boolean);
    expect(frame).toHaveLength(22);
    expect(frame[0]).toBe('watching /var/log/dnsmasq.log: 50 Pis: 40 booted, 8 booting, 2 failed');
    expect(frame[2]).toMatch(/^pi-49 \(10000031\) +FAILED: kernel/);
    expect(frame[4]).toMatch(/^pi-41 /);
    expect(frame.at(-1)).toBe('… and 31 more (pi-10, pi-11 … pi-40): 31 Pis: 31 booted, 0 booting');
    // The next frame first moves the cursor up over the old one and clears it.
    r.redraw(rows, 'watching /var/log/dnsmasq.log');
    expect(out.text).toContain('\x1b[22A\x1b[J');
    expect(frame.every((l) => l.length <= 100)).toBe(true);
  });
});
