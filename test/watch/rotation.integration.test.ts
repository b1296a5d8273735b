/**
 * `pinet watch` keeps following the real dnsmasq's log-facility file while
 * it is rotated the two ways logrotate does it (10.251.181.0/24):
 *  * rename, then SIGUSR2 (Debian's logrotate rule for dnsmasq): until
 *    dnsmasq reopens, it still writes to the renamed file, and those lines
 *    must not be lost; after, the new file is read from its start;
 *  * copytruncate: the file is cut to 0 in place while dnsmasq keeps it open.
 * A Pi boots (test/netboot's emulator) in each phase; watch must see every one.
 */
import { chown, readFile, rename, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot, hasCommand } from '../helpers/env.js';
import { ubuntuPartition, writePartition } from '../netboot/boot-partition.js';
import { WatchLab, WatchProcess, type LabPi } from './helpers/lab.js';

describeAsRoot('pinet watch follows a dnsmasq log that is rotated and truncated', () => {
  const lab = new WatchLab('rot', 181);
  let root: string;
  let logFile: string;
  let dnsmasqPid: number;
  let watch: WatchProcess;
  const pis: LabPi[] = [];

  const loaded = (pi: LabPi): Promise<Record<string, any>> => watch.waitForEvent(`${pi.name} loaded`, (e) => e.type === 'stage' && e.stage === 'loaded' && e.pi.mac === pi.mac);

  beforeAll(async () => {
    if (!hasCommand('dnsmasq')) throw new Error('dnsmasq is not installed; .ci/run installs it');
    await lab.lan();
    root = await lab.dir('export');
    logFile = join(await lab.dir('log'), 'dnsmasq.log');
    for (const name of ['before', 'renamed', 'reopened', 'truncated']) {
      const pi = await lab.addPi(name);
      await writePartition(join(root, pi.serial), ubuntuPartition());
      pis.push(pi);
    }
    const d = await lab.dnsmasq(root, { logFile });
    dnsmasqPid = d.pid;
    watch = new WatchProcess(lab, ['--json', '--no-ssh', '--dnsmasq-conf', d.conf, '--export-dir', root, '--state-dir', join(await lab.dir('state'), 'pinet')]);
    await watch.waitForEvent('the log opened', (e) => e.type === 'source' && e.what === 'opened');
  });
  afterAll(() => lab.cleanup());

  it('sees a boot before any rotation', async () => {
    expect((await lab.emulate(pis[0]!)).outcome).toBe('booted');
    await loaded(pis[0]!);
  });

  it('rotated as logrotate does it (rename, create, SIGUSR2): lines in the old file after the new one exists are read too', async () => {
    const old = await stat(logFile);
    await rename(logFile, `${logFile}.1`);
    // logrotate's `create`: dnsmasq runs as its own user by now and cannot create the file itself.
    await writeFile(logFile, '', { mode: 0o640 });
    await chown(logFile, old.uid, old.gid);
    await watch.waitForEvent('the rotation', (e) => e.type === 'source' && e.what === 'rotated');
    // Until SIGUSR2, dnsmasq still writes to the renamed file.
    expect((await lab.emulate(pis[1]!)).outcome).toBe('booted');
    await loaded(pis[1]!);
    expect((await readFile(`${logFile}.1`, 'utf8')).includes(pis[1]!.ip)).toBe(true);
    expect((await stat(logFile)).size).toBe(0);
    process.kill(dnsmasqPid, 'SIGUSR2');
    expect((await lab.emulate(pis[2]!)).outcome).toBe('booted');
    await loaded(pis[2]!);
    expect((await readFile(logFile, 'utf8')).includes(pis[2]!.ip)).toBe(true);
  });

  it('SIGUSR2 without a file to reopen: the real dnsmasq cannot create it (it no longer runs as root)', async () => {
    const dir = await lab.dir('log2');
    const other = join(dir, 'dnsmasq.log');
    const d = await lab.dnsmasqRestart(root, { logFile: other });
    await rename(other, `${other}.1`);
    process.kill(d.pid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 500));
    const probe = await lab.addPi('afterusr2');
    await writePartition(join(root, probe.serial), ubuntuPartition());
    await lab.emulate(probe);
    expect(await stat(other).then(() => 'exists', () => 'missing')).toBe('missing');
    expect((await readFile(`${other}.1`, 'utf8')).includes(probe.ip)).toBe(false);
    await d.stop();
    const back = await lab.dnsmasqRestart(root, { logFile });
    dnsmasqPid = back.pid;
  });

  it('truncated in place (copytruncate): starts again at the top of the file', async () => {
    await truncate(logFile, 0);
    expect((await lab.emulate(pis[3]!)).outcome).toBe('booted');
    await loaded(pis[3]!);
    expect(watch.events().filter((e) => e.type === 'source').map((e) => e.what)).toEqual(['opened', 'rotated', 'truncated']);
    // dnsmasq appends (O_APPEND): after the cut, the file holds only new lines, no hole of zero bytes.
    expect((await stat(logFile)).size).toBeGreaterThan(0);
  });

  it('lost no Pi and counted each once', async () => {
    expect(await watch.stop()).toBe(0);
    const summary = watch.events().at(-1)!;
    expect(summary.type).toBe('summary');
    expect((summary.pis as { pi: { mac: string }; files: number; stage: string }[]).map((r) => [r.pi.mac, r.stage, r.files]).sort()).toEqual(pis.map((p) => [p.mac, 'loaded', 11]).sort());
  });
});
