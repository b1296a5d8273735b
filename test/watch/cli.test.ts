/**
 * `pinet watch` as a user runs it, without root: recorded real logs read
 * with --once and from stdin, the NDJSON stream, usage errors as one line
 * (one JSON line with --json), and --help.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinet } from '../helpers/cli.js';

const FOUR = fileURLToPath(new URL('../fixtures/watch/four-pis.log', import.meta.url));
const SEED = fileURLToPath(new URL('../fixtures/seed-article/dnsmasq.log', import.meta.url));

describe('pinet watch (CLI)', () => {
  let dir: string;
  let conf: string;
  let base: string[];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinet-watch-cli-'));
    conf = join(dir, 'dnsmasq.conf');
    await writeFile(conf, 'port=0\ndhcp-range=10.86.5.255,proxy\nlog-dhcp\nenable-tftp\ntftp-root=/mnt/netboot\npxe-service=0,"Raspberry Pi Boot"\n');
    base = ['--dnsmasq-conf', conf, '--export-dir', '/mnt/netboot', '--state-dir', join(dir, 'state')];
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('--once --json: events, one per line, then the summary with doctor\'s groups; exit 1 for failed boots', async () => {
    const r = await pinet(['watch', '--once', '--json', '--log', FOUR, ...base]);
    expect(r.code, r.stderr).toBe(1);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    expect(events[0]).toMatchObject({ type: 'source', what: 'opened', source: FOUR });
    expect(events.at(-1)).toMatchObject({ type: 'summary', ok: false });
    expect(events.filter((e) => e.type === 'verdict').map((e) => e.id).sort()).toEqual(['boot.denied', 'boot.not-found']);
    const doctor = await pinet(['doctor', '--log', FOUR, '--json', ...base]);
    const groups = (JSON.parse(doctor.stdout) as { groups: { name: string }[] }).groups.filter((g) => g.name.startsWith('log'));
    expect(events.at(-1)!.checks).toEqual(groups);
  });

  it('reads stdin to its end and exits 0 for a log of good boots', async () => {
    const r = await pinet(['watch', '--log', '-', ...base], { input: await import('node:fs/promises').then((f) => f.readFile(SEED, 'utf8')) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^watching standard input: 1 Pi: 0 booted, 1 with all boot files sent, 0 booting$/m);
    expect(r.stdout).toMatch(/^bf9fed6f \(e4:5f:01:98:e0:82\) +boot files sent +11 /m);
    expect(r.stdout).toContain('log: bf9fed6f/: from stdin');
  });

  it('refuses bad values with one line and exit 2, one JSON line with --json', async () => {
    const bad = await pinet(['watch', '--since', 'soonish', ...base]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual(['pinet: error: --since "soonish": not a time; write it like 10m, "2 hours ago", 14:05 or "2024-11-25 14:05"']);
    const two = await pinet(['watch', '--log', FOUR, '--journal', ...base]);
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/--log, --journal and --journal-file name different logs/);
    const json = await pinet(['watch', '--json', '--dnsmasq-conf', join(dir, 'none'), '--export-dir', '/mnt/netboot', '--state-dir', join(dir, 'state')]);
    expect(json.code).toBe(2);
    expect(json.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(json.stdout)).toEqual({ type: 'error', error: { exitCode: 2, message: expect.stringMatching(/^no dnsmasq configuration in .*none to find its log in$/), hint: expect.stringMatching(/--log/) } });
    const stall = await pinet(['watch', '--stall', '-3', '--log', FOUR, ...base]);
    expect(stall.code).toBe(2);
  });

  it('a log that cannot be read is one line naming it, not a stack trace', async () => {
    const r = await pinet(['watch', '--once', '--log', join(dir, 'missing.log'), ...base]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([`pinet: error: cannot read ${join(dir, 'missing.log')} (--log): no such file; check log-facility= in the dnsmasq config, or pass --log`]);
  });

  it('--help shows the sources and examples', async () => {
    const r = await pinet(['watch', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--journal-file <file>');
    expect(r.stdout).toContain('Examples:');
  });
});
