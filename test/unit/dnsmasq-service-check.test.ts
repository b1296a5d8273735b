/**
 * checkServiceConfig: the real dnsmasq --test on the configuration the
 * dnsmasq service would read with pinet's file in place (its main file, its
 * CONFIG_DIR as /etc/default/dnsmasq sets it, every other file there), on
 * temporary copies, changing nothing.
 */
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkServiceConfig } from '../../src/server/dnsmasq-test.js';

const PINET = 'port=0\ndhcp-range=10.86.5.255,proxy\nenable-tftp\ntftp-root=/mnt/netboot\n';

describe('dnsmasq --test of the service configuration with pinet\'s file in it', () => {
  let dir: string;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function layout(others: Record<string, string>, main = '# nothing\n') {
    dir = await mkdtemp(join(tmpdir(), 'pinet-svc-'));
    const conf = join(dir, 'dnsmasq.d');
    await mkdir(conf);
    for (const [n, t] of Object.entries(others)) await writeFile(join(conf, n), t);
    await writeFile(join(dir, 'dnsmasq.conf'), main);
    await writeFile(join(dir, 'default'), `ENABLED=1\nCONFIG_DIR="${conf},.dpkg-dist,.dpkg-old,.dpkg-new"\n`);
    return { files: { main: join(dir, 'dnsmasq.conf'), defaults: join(dir, 'default') }, conf, target: join(conf, 'pinet.conf') };
  }

  it('accepts pinet\'s file beside a valid configuration, and leaves the directory as it was', async () => {
    const l = await layout({ 'other.conf': 'log-dhcp\n', 'pinet.conf': 'garbage that pinet replaces\n' });
    const before = await readdir(l.conf);
    const v = await checkServiceConfig(PINET, l.target, l.files);
    expect(v.ok, v.message).toBe(true);
    expect(await readdir(l.conf)).toEqual(before);
  });

  it('rejects it when another file the service reads is broken, naming that file', async () => {
    const l = await layout({ 'zz-broken.conf': 'no-such-option=1\n' });
    const v = await checkServiceConfig(PINET, l.target, l.files);
    expect(v.ok).toBe(false);
    expect(v.message).toContain(join(l.conf, 'zz-broken.conf'));
    expect(v.message).not.toContain('pinet-check-');
  });

  it('skips what the service skips: .dpkg-dist files, names starting with a dot or ending in ~', async () => {
    const l = await layout({ 'x.conf.dpkg-dist': 'no-such-option\n', '.hidden': 'no-such-option\n', 'old~': 'no-such-option\n' });
    const v = await checkServiceConfig(PINET, l.target, l.files);
    expect(v.ok, v.message).toBe(true);
  });

  it('rejects a broken main file', async () => {
    const l = await layout({}, 'no-such-option\n');
    const v = await checkServiceConfig(PINET, l.target, l.files);
    expect(v.ok).toBe(false);
    expect(v.message).toContain(l.files.main);
  });
});
