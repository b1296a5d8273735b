/**
 * `pinet watch` against the real dnsmasq (as `pinet render-dnsmasq` writes
 * its config, logging to the file its `log-facility=` names) on a LAN of
 * namespaces (10.251.180.0/24), while Pis network-boot with test/netboot's
 * bootloader emulator, each from its own namespace with its own MAC. watch
 * runs in the boot server's namespace, finds the log through the dnsmasq
 * config as doctor does, and names Pis from an inventory. A Pi "comes up"
 * when a real OpenSSH sshd starts in its namespace.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAsRoot, hasCommand } from '../helpers/env.js';
import { pinet, PINET } from '../helpers/cli.js';
import { ubuntuPartition, writePartition } from '../netboot/boot-partition.js';
import { REPO, sh, waitFor, WatchLab, WatchProcess, type LabPi } from './helpers/lab.js';

describeAsRoot('pinet watch follows real boots in the real dnsmasq log', () => {
  const lab = new WatchLab('int', 180);
  let root: string;
  let state: string;
  let logFile: string;
  let conf: string;
  let pis: Record<'ok' | 'stranger' | 'kernel0600' | 'nodtb', LabPi>;
  /** When pi-01 had all its boot files, as the log says (to the second). */
  let okLoadedMs: number;
  const args = (c = conf): string[] => ['--dnsmasq-conf', c, '--export-dir', root, '--state-dir', state];

  beforeAll(async () => {
    for (const c of ['dnsmasq', 'sshd', 'ip']) if (!hasCommand(c)) throw new Error(`${c} is not installed; .ci/run installs it`);
    await lab.lan();
    root = await lab.dir('export');
    state = join(await lab.dir('state'), 'pinet');
    logFile = join(await lab.dir('log'), 'dnsmasq.log');
    pis = {
      ok: await lab.addPi('pi-01'),
      stranger: await lab.addPi('stranger'),
      kernel0600: await lab.addPi('pi-03'),
      nodtb: await lab.addPi('pi-04'),
    };
    await writePartition(join(root, pis.ok.serial), ubuntuPartition());
    await writePartition(join(root, pis.stranger.serial), ubuntuPartition());
    await writePartition(join(root, pis.kernel0600.serial), ubuntuPartition());
    // What cp -a of Ubuntu's kernel leaves behind: root-owned, 0600.
    await sh('chmod', ['0600', join(root, pis.kernel0600.serial, 'vmlinuz')]);
    await writePartition(join(root, pis.nodtb.serial), { ...ubuntuPartition(), 'bcm2711-rpi-4-b.dtb': null });
    await lab.inventory(state, root, [{ pi: pis.ok }, { pi: pis.kernel0600 }, { pi: pis.nodtb }]);
    conf = (await lab.dnsmasq(root, { logFile })).conf;
  });
  afterAll(() => lab.cleanup());

  describe('four Pis booting at once, --json', () => {
    let watch: WatchProcess;
    let code: number | null;
    let events: Record<string, any>[];
    beforeAll(async () => {
      watch = new WatchProcess(lab, ['--json', ...args()]);
      await watch.waitForEvent('the log opened', (e) => e.type === 'source' && e.what === 'opened');
      const results = await Promise.all([lab.emulate(pis.ok), lab.emulate(pis.stranger), lab.emulate(pis.kernel0600), lab.emulate(pis.nodtb)]);
      expect(results.map((r) => r.outcome)).toEqual(['booted', 'booted', 'halted', 'halted']);
      // pi-01's OS comes up: its sshd answers.
      await lab.sshd(pis.ok);
      await watch.waitForEvent('pi-01 booted', (e) => e.type === 'booted' && e.pi.name === 'pi-01');
      await watch.waitForEvent('the stranger loaded', (e) => e.type === 'stage' && e.stage === 'loaded' && e.pi.mac === pis.stranger.mac);
      await watch.waitForEvent('pi-03 denied', (e) => e.type === 'verdict' && e.pi.name === 'pi-03');
      await watch.waitForEvent('pi-04 not found', (e) => e.type === 'verdict' && e.pi.name === 'pi-04');
      code = await watch.stop();
      events = watch.events();
      okLoadedMs = Date.parse(events.find((e) => e.type === 'stage' && e.stage === 'loaded' && e.pi.name === 'pi-01')!.time);
      if (process.env.PINET_WATCH_SAMPLES) await writeFile(join(process.env.PINET_WATCH_SAMPLES, 'events.ndjson'), watch.stdout);
    });

    it('Ctrl-C ends it with exit 0 and a summary as the last event', () => {
      expect(code, watch.stderr).toBe(0);
      expect(events.at(-1)).toMatchObject({ type: 'summary', ok: false });
      expect(events.at(-1)!.pis).toHaveLength(4);
    });

    it('finds the log through log-facility= in the dnsmasq config', () => {
      expect(events[0]).toMatchObject({ type: 'source', what: 'opened', source: logFile });
    });

    it('names the enrolled Pis from the inventory with MAC, address and directory, and the stranger by its directory and MAC', () => {
      const rows = events.at(-1)!.pis as { pi: Record<string, string> }[];
      for (const p of [pis.ok, pis.kernel0600, pis.nodtb]) {
        expect(rows.find((r) => r.pi.name === p.name)?.pi).toEqual({ id: p.name, name: p.name, host: p.name, serial: `10000000${p.serial}`, dir: p.serial, mac: p.mac, ip: p.ip });
      }
      expect(rows.find((r) => r.pi.mac === pis.stranger.mac)?.pi).toMatchObject({ name: pis.stranger.serial, dir: pis.stranger.serial, ip: pis.stranger.ip });
    });

    it('takes the healthy enrolled Pi through every stage to booted, with its total time', () => {
      const stages = events.filter((e) => e.type === 'stage' && e.pi.name === 'pi-01').map((e) => e.stage);
      expect(stages).toEqual(['firmware', 'initramfs', 'kernel', 'loaded', 'booted']);
      const booted = events.find((e) => e.type === 'booted' && e.pi.name === 'pi-01')!;
      expect(booted).toMatchObject({ ssh: `${pis.ok.ip}:22`, from: `${root}/${pis.ok.serial}` });
      expect(booted.seconds).toBeGreaterThan(0);
      const row = (events.at(-1)!.pis as Record<string, any>[]).find((r) => r.pi.name === 'pi-01')!;
      expect(row).toMatchObject({ stage: 'booted', state: 'ok', bootSeconds: booted.seconds });
      // Every file the emulator fetched whole, with the bytes on disk.
      const sent = events.filter((e) => e.type === 'file' && e.pi.name === 'pi-01' && e.outcome === 'sent');
      const files = ubuntuPartitionSizes();
      for (const e of sent) expect(e.bytes, e.file).toBe(files[e.file]);
      expect(row.files).toBe(new Set(sent.map((e) => e.file)).size);
    });

    it('reports the 0600 kernel with its owner and mode, and the fix doctor gives', () => {
      const v = events.filter((e) => e.type === 'verdict' && e.pi.name === 'pi-03');
      expect(v).toEqual([
        expect.objectContaining({
          id: 'boot.denied',
          level: 'fail',
          finding: 'vmlinuz could not be read by the TFTP server (permission denied)',
          evidence: [`${root}/${pis.kernel0600.serial}/vmlinuz: owner root:root, mode 0600`, expect.stringMatching(/mode 0600 owner 0:0 gives (dnsmasq|nobody) \(as other\) no read permission$/)],
          fix: expect.stringMatching(new RegExp(`^chmod -R a\\+rX ${root}/${pis.kernel0600.serial}; `)),
        }),
      ]);
    });

    it('reports the missing device tree in doctor\'s words', () => {
      expect(events.filter((e) => e.type === 'verdict' && e.pi.name === 'pi-04')).toEqual([
        expect.objectContaining({ id: 'boot.not-found', level: 'fail', finding: 'bcm2711-rpi-4-b.dtb was requested but not found' }),
      ]);
    });

    it('says the stranger loaded its files but cannot be checked further', () => {
      const loaded = events.find((e) => e.type === 'stage' && e.stage === 'loaded' && e.pi.mac === pis.stranger.mac)!;
      expect(loaded.note).toBe('all boot files sent; not in the inventory, so pinet cannot check that it came up');
    });

    it('explains the bootloader\'s noise once', () => {
      const notices = events.filter((e) => e.type === 'notice');
      expect(notices.map((n) => n.id).sort()).toEqual(['log.early-terminate', 'log.optional']);
    });

    it('ends with the same log summary as pinet doctor --log on the same file', async () => {
      const doctor = await pinet(['doctor', ...args(), '--log', logFile, '--json']);
      const groups = (JSON.parse(doctor.stdout) as { groups: { name: string }[] }).groups.filter((g) => g.name.startsWith('log'));
      expect(groups.length).toBeGreaterThan(0);
      expect(events.at(-1)!.checks).toEqual(groups);
    });
  });

  it('--once prints doctor\'s log summary and the table, and exits 1 because boots failed', async () => {
    const r = await pinet(['watch', '--once', ...args()]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^watching ${logFile}: 4 Pis: 0 booted, 2 with all boot files sent, 0 booting, 2 failed$`, 'm'));
    expect(r.stdout).toMatch(/^pi-03 \(\w{8}\) +FAILED: vmlinuz +\d+ .*vmlinuz could not be read by the TFTP server \(permission denied\)$/m);
    expect(r.stdout).toContain("dnsmasq's log, as pinet doctor --log reads it:");
    expect(r.stdout).toMatch(/^ {2}FAIL {2}boot in the log +vmlinuz could not be read by the TFTP server \(permission denied\)$/m);
  });

  it('without a terminal, prints one line per event, and the summary on Ctrl-C', async () => {
    // Read back with --since, a boot that ended more than 2 s before watch started is history ("up"), a later one
    // is live ("netbooted in N s"). The tests before this one can take less than that on a fast run: wait it out.
    await waitFor('pi-01 loaded more than 3 s ago', () => Date.now() > okLoadedMs + 3000);
    const watch = new WatchProcess(lab, ['--since', '1h', ...args()]);
    await waitText(watch, /ok {3}pi-01 \(\w+\): up \(SSH answers on /);
    const code = await watch.stop();
    expect(code).toBe(0);
    expect(watch.stdout).toMatch(/^\d\d:\d\d:\d\d pi-01 \(\w{8}\): DHCP proxy offer on br0 to dc:a6:32:b4:00:00$/m);
    expect(watch.stdout).toMatch(/^\d\d:\d\d:\d\d pi-01 \(\w{8}\): sent vmlinuz \(175\.8 kB\)$/m);
    expect(watch.stdout).toMatch(/^\d\d:\d\d:\d\d FAIL pi-03 \(\w{8}\): vmlinuz could not be read by the TFTP server \(permission denied\)$/m);
    expect(watch.stdout).toMatch(/^ +fix: chmod -R a\+rX /m);
    expect(watch.stdout).toMatch(/^watching .*dnsmasq\.log: 4 Pis: /m);
    if (process.env.PINET_WATCH_SAMPLES) await writeFile(join(process.env.PINET_WATCH_SAMPLES, 'lines.txt'), watch.stdout);
  });

  it('on a terminal, draws a live table in place with verdicts above it, and the summary on Ctrl-C', async () => {
    const tty = spawn('python3', [join(REPO, 'test/watch/assets/pty-run.py'), '110', '14', 'ip', 'netns', 'exec', lab.srv, process.execPath, PINET, 'watch', '--since', '1h', ...args()], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    let err = '';
    tty.stdout.on('data', (b: Buffer) => (out += b.toString()));
    tty.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => tty.once('exit', (c) => r(c)));
    lab.defer(async () => {
      if (tty.exitCode === null) {
        process.kill(tty.pid!, 'SIGTERM');
        await exited;
      }
    });
    const pid = await waitFor('the pid of watch', () => (/^\d+\n/.test(err) ? Number(err.split('\n')[0]) : undefined));
    // A frame with all four Pis, drawn after pi-01 answered SSH.
    await waitFor('a table with 4 Pis', () => (/watching .*: 4 Pis: 1 booted, 1 with all boot files sent, 0 booting, 2 failed/.test(out) ? true : undefined));
    process.kill(pid, 'SIGINT');
    expect(await exited).toBe(0);
    if (process.env.PINET_WATCH_SAMPLES) await writeFile(join(process.env.PINET_WATCH_SAMPLES, 'tty.txt'), out);
    const frames = out.split(/\x1b\[\d+A\x1b\[J/);
    // Redrawn in place: the cursor went back up over the previous frame at least once.
    expect(frames.length).toBeGreaterThan(1);
    const last = frames.at(-2)!;
    expect(last).toMatch(/^PI +STAGE +FILES +BYTES +TIME +LAST\r?$/m);
    expect(last).toMatch(/^pi-03 \(\w{8}\) +FAILED: vmlinuz .*vmlinuz could not be read/m);
    expect(last).toMatch(/^pi-01 \(\w{8}\) +booted +11 /m);
    // Verdicts are printed once, above the table, not redrawn.
    expect(out.match(/FAIL pi-03 \(\w{8}\): vmlinuz could not be read/g)).toHaveLength(1);
    expect(frames.at(-1)).toContain("dnsmasq's log, as pinet doctor --log reads it:");
  });

  it('a transfer that stalls: the Pi stops acknowledging in the middle of start4.elf, watch says so after --stall', async () => {
    const pi = await lab.addPi('stall');
    await writePartition(join(root, pi.serial), ubuntuPartition());
    const watch = new WatchProcess(lab, ['--json', '--stall', '4', ...args()]);
    await watch.waitForEvent('the log opened', (e) => e.type === 'source' && e.what === 'opened');
    // From its 40th ACK on, nothing the Pi acknowledges reaches dnsmasq (start4.elf is about 150 blocks).
    const boot = lab.emulate(pi, { faults: { loseAcks: Array.from({ length: 5000 }, (_, i) => i + 40) }, eeprom: { BOOT_ORDER: '0xf2', DHCP_TIMEOUT: 5000, DHCP_REQ_TIMEOUT: 1000, TFTP_FILE_TIMEOUT: 5000 } });
    const v = await watch.waitForEvent('the stall', (e) => e.type === 'verdict' && e.id === 'boot.stalled' && e.pi.mac === pi.mac);
    expect(v).toMatchObject({ level: 'warn', finding: expect.stringMatching(/^no TFTP progress for [4-9] s \(last: .+\)$/), fix: expect.stringMatching(/dnsmasq gives up on a transfer after about 30 s/) });
    expect((await boot).outcome).not.toBe('booted');
    expect(await watch.stop()).toBe(0);
    const row = (watch.events().at(-1)!.pis as Record<string, any>[]).find((r) => r.pi.mac === pi.mac)!;
    expect(row).toMatchObject({ state: 'warn', stage: 'firmware' });
  });

  it('enrolled Pis that load everything but do not answer SSH: a warning after --boot-timeout; one that answers later (on the port enroll recorded) is booted', async () => {
    const silent = await lab.addPi('silent');
    const late = await lab.addPi('late');
    for (const pi of [silent, late]) await writePartition(join(root, pi.serial), ubuntuPartition());
    await lab.inventory(state, root, [{ pi: pis.ok }, { pi: pis.kernel0600 }, { pi: pis.nodtb }, { pi: silent }, { pi: late, sshPort: 2222 }]);
    const watch = new WatchProcess(lab, ['--json', '--boot-timeout', '3', ...args()]);
    await watch.waitForEvent('the log opened', (e) => e.type === 'source' && e.what === 'opened');
    expect((await Promise.all([lab.emulate(silent), lab.emulate(late)])).map((r) => r.outcome)).toEqual(['booted', 'booted']);
    for (const [pi, port] of [[silent, 22], [late, 2222]] as const) {
      const v = await watch.waitForEvent(`no SSH from ${pi.name}`, (e) => e.type === 'verdict' && e.id === 'boot.no-ssh' && e.pi.name === pi.name);
      expect(v).toMatchObject({ level: 'warn', finding: expect.stringMatching(new RegExp(`^the boot files were sent [3-9] s ago, but SSH on ${pi.ip.replace(/\./g, '\\.')}:${port} does not answer \\(connection refused\\)$`)) });
    }
    // The late Pi's OS comes up after the warning: watch still looks, and says so.
    await lab.sshd(late, 2222);
    const b = await watch.waitForEvent('the late Pi booted', (e) => e.type === 'booted' && e.pi.name === 'late');
    expect(b).toMatchObject({ ssh: `${late.ip}:2222`, from: `${root}/${late.serial}` });
    expect(b.seconds).toBeGreaterThan(3);
    expect(await watch.stop()).toBe(0);
    const rows = watch.events().at(-1)!.pis as Record<string, any>[];
    expect(rows.find((r) => r.pi.name === 'silent')).toMatchObject({ stage: 'loaded', state: 'warn' });
    expect(rows.find((r) => r.pi.name === 'late')).toMatchObject({ stage: 'booted', state: 'ok', bootSeconds: b.seconds });
    expect(rows.find((r) => r.pi.name === 'late')).not.toHaveProperty('verdict');
  });

  describe('configs without the Pi menu', () => {
    it('no pxe-service: the DISCOVER gets no offer, and watch says why in doctor\'s words', async () => {
      const logNoMenu = join(await lab.dir('log-nomenu'), 'dnsmasq.log');
      await lab.dnsmasqRestart(root, { logFile: logNoMenu, edit: (c) => c.replace(/^pxe-service=.*$/m, '') });
      const pi = await lab.addPi('nomenu');
      const watch = new WatchProcess(lab, ['--json', ...args(lab.lastConf)]);
      await watch.waitForEvent('the log opened', (e) => e.type === 'source' && e.what === 'opened');
      const r = await lab.emulate(pi);
      expect(r.outcome).not.toBe('booted');
      const n = await watch.waitForEvent('the unanswered request', (e) => e.type === 'notice' && e.id === 'dhcp.unanswered');
      expect(n).toMatchObject({ level: 'fail', message: expect.stringMatching(/dnsmasq sent no offer: no pxe-service and no option 43/), fix: expect.stringMatching(/^add pxe-service=0,"Raspberry Pi Boot"/) });
      expect(await watch.stop()).toBe(0);
    });

    it('a menu without "Raspberry Pi Boot": an offer the Pi ignores, then no TFTP, said with doctor\'s finding', async () => {
      const logWrong = join(await lab.dir('log-wrong'), 'dnsmasq.log');
      await lab.dnsmasqRestart(root, { logFile: logWrong, edit: (c) => c.replace('Raspberry Pi Boot', 'Network Boot') });
      const pi = await lab.addPi('wrongmenu');
      const watch = new WatchProcess(lab, ['--json', '--stall', '5', ...args(lab.lastConf)]);
      await watch.waitForEvent('the log opened', (e) => e.type === 'source' && e.what === 'opened');
      const r = await lab.emulate(pi);
      expect(r.outcome).not.toBe('booted');
      const v = await watch.waitForEvent('the offer not taken', (e) => e.type === 'verdict' && e.id === 'dhcp.no-tftp');
      expect(v).toMatchObject({ level: 'warn', pi: { mac: pi.mac }, finding: expect.stringMatching(/asked for no file over TFTP for \d+ s: pxe-service is set but no entry carries "Raspberry Pi Boot"/), fix: 'use pxe-service=0,"Raspberry Pi Boot"' });
      expect(await watch.stop()).toBe(0);
    });
  });
});

function ubuntuPartitionSizes(): Record<string, number> {
  return Object.fromEntries(Object.entries(ubuntuPartition()).map(([k, v]) => [k, Buffer.byteLength(v)]));
}

async function waitText(w: WatchProcess, re: RegExp): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!re.test(w.stdout)) {
    if (Date.now() > deadline) throw new Error(`no ${re} in watch's output:\n${w.stdout}\n${w.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

