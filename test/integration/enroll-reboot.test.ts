/**
 * `pinet enroll --reboot` watching the Pis network-boot, and the fleet
 * views of enroll and doctor, end to end: fake-fleet Pis (real sshd) whose
 * reboots really network-boot (test/fleet/netboot-hook.ts: test/netboot's
 * bootloader emulator, in each Pi's own namespace, with the EEPROM config
 * enroll staged) against the real dnsmasq on the fleet's LAN, configured
 * as `pinet render-dnsmasq` writes it plus `log-facility=<file>`, which is
 * how pinet finds its log (--dnsmasq-conf, as `pinet watch` finds it).
 *
 * The Pis: pi-01, pi-02 netboot; pi-03's kernel is 0600 in the export when
 * it boots (as after a kernel update without pinet's hook): dnsmasq
 * answers "Permission denied" and its firmware halts; pi-04's cable is
 * pulled at the switch (its LAN port down): dnsmasq hears nothing from it;
 * pi-05 keeps the article's SD-first order with its SD card in: it boots
 * from the card, so dnsmasq's log says nothing and it comes back anyway;
 * pi-06 is enrolled with a dnsmasq config that has no log-dhcp: pinet says
 * it cannot follow the boots and waits for SSH only; pi-07's result is
 * read as JSON.
 *
 * PINET_CAPTURE=<dir> writes the text outputs there (the README samples).
 */
import { execa } from 'execa';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { installNetbootHook, type NetbootHook } from '../fleet/netboot-hook.js';
import { PINET, pinet, type CliResult } from '../helpers/cli.js';
import { describeAsRoot, hasCommand } from '../helpers/env.js';
import { Lab, renderDnsmasqConfig, sh, startDnsmasq, type Dnsmasq } from '../net/helpers/netns.js';
import { tftpUser } from '../netboot/lan.js';
import { parseJson } from './helpers.js';

const NFS = 'nfs-host:/picluster-boot';
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Result {
  host: string;
  result: string;
  reboot?: { ok: boolean; detail: string; bootMount?: string; netboot?: { outcome: string; seconds?: number; from?: string; log: string; verdict?: { id: string; finding: string } } };
}

describeAsRoot('enroll --reboot on the fleet, network-booting against the real dnsmasq; doctor and enroll at fleet scale', () => {
  const lab = new Lab('enrboot');
  let fleet: Fleet;
  let hook: NetbootHook;
  let dnsmasq: Dnsmasq;
  let exportDir: string;
  let stateDir: string;
  let conf: string;
  let runA: CliResult;
  const capture = process.env.PINET_CAPTURE;
  const save = async (name: string, r: CliResult): Promise<void> => {
    if (capture) await writeFile(join(capture, name), `# exit ${r.code}\n# stdout\n${r.stdout}\n# stderr\n${r.stderr}\n`);
  };
  const enroll = (args: string[]) => pinet(['enroll', '-F', fleet.sshConfig, '--nfs', NFS, '--export-dir', exportDir, '--state-dir', stateDir, '--yes', ...args], { timeout: 150_000 });
  const lanPort = (name: string) => `vp${fleet.pi(name).index}`;

  beforeAll(async () => {
    if (!hasCommand('dnsmasq')) throw new Error('dnsmasq is not installed (Debian: dnsmasq-base); .ci/run installs it');
    exportDir = await lab.dir('export');
    stateDir = await lab.dir('state');
    fleet = await startFleet({
      pis: [
        { name: 'pi-01', variant: 'ubuntu-2404-pi4' },
        { name: 'pi-02', variant: 'ubuntu-2404-pi4' },
        { name: 'pi-03', variant: 'ubuntu-2404-pi4' },
        { name: 'pi-04', variant: 'ubuntu-2404-pi4', storage: [] },
        { name: 'pi-05', variant: 'ubuntu-2404-pi4' },
        { name: 'pi-06', variant: 'ubuntu-2404-pi4' },
        { name: 'pi-07', variant: 'rpios-bookworm-pi4' },
      ],
      bootFilesMB: 1,
      exports: { [NFS]: exportDir },
    });
    const config = await renderDnsmasqConfig({ subnet: fleet.lan.subnet, tftpRoot: exportDir });
    dnsmasq = await startDnsmasq(lab, fleet.lan.namespace, config, [`--user=${tftpUser()}`]);
    // The same config as pinet reads it: log-facility names the file dnsmasq writes, user= whom it reads files as.
    const confDir = await lab.dir('conf');
    conf = join(confDir, 'dnsmasq.conf');
    await writeFile(conf, `${config}\nlog-facility=${dnsmasq.logFile}\nuser=${tftpUser()}\n`);
    await writeFile(join(confDir, 'no-log-dhcp.conf'), `${config.replace(/^log-dhcp\s*$/m, '')}\nlog-facility=${dnsmasq.logFile}\n`);
    hook = await installNetbootHook(fleet, {
      pis: ['pi-01', 'pi-02', 'pi-03', 'pi-04', 'pi-05', 'pi-07'],
      // Short DHCP waits, so that a Pi nobody answers gives up in seconds rather than 45 s.
      eeprom: 'DHCP_TIMEOUT=5000\nDHCP_REQ_TIMEOUT=1000\n',
      before: async (pi) => {
        if (pi.name === 'pi-03') await chmod(join(exportDir, pi.serial8, 'vmlinuz'), 0o600);
        if (pi.name === 'pi-04') await sh('ip', ['-n', fleet.lan.namespace, 'link', 'set', lanPort('pi-04'), 'down']);
      },
    });
    if (capture) await save('dry-run.txt', await enroll(['pi-01', 'pi-02', 'pi-03', 'pi-04', 'pi-05', 'pi-07', '--dry-run']));
    runA = await enroll(['pi-01', 'pi-02', 'pi-03', 'pi-04', '--boot-order', 'net-first', '--reboot', '--reboot-timeout', '20', '--dnsmasq-conf', conf]);
    await save('enroll-reboot.txt', runA);
  });
  afterAll(async () => {
    await hook?.remove().catch(() => undefined);
    if (fleet) await sh('ip', ['-n', fleet.lan.namespace, 'link', 'set', lanPort('pi-04'), 'up']).catch(() => undefined);
    await lab.cleanup().catch(() => undefined);
    await fleet?.stop();
  });

  it('the plan of four alike Pis is printed once, with their names as placeholders', () => {
    expect(runA.stdout).toMatch(/^4 Pis, same changes: pi-01 … pi-04$/m);
    expect(runA.stdout).toContain('  + create ' + exportDir + '/<dir>/');
    expect(runA.stdout.split('--- a/etc/fstab').length - 1).toBe(1);
  });

  it('a healthy Pi: its network boot shown live, then "netbooted in N s from <export>/<dir>"', async () => {
    for (const name of ['pi-01', 'pi-02']) {
      const pi = fleet.pi(name);
      const boot = await hook.waitFor(name);
      expect(boot.result, boot.verdict).toMatchObject({ outcome: 'booted', mode: 'NETWORK', network: { prefix: `${pi.serial8}/` } });
      expect(runA.stderr).toMatch(new RegExp(`^${name}: network boot: DHCP proxy offer$`, 'm'));
      expect(runA.stderr).toMatch(new RegExp(`^${name}: network boot: bootloader files$`, 'm'));
      expect(runA.stderr).toMatch(new RegExp(`^${name}: network boot: boot files sent, waiting for SSH$`, 'm'));
      expect(runA.stdout).toMatch(new RegExp(`^${name} +${pi.serial} +enrolled +\\d+ change\\(s\\); netbooted in \\d+ s from ${esc(join(exportDir, pi.serial8))}; back up; /boot/firmware from `, 'm'));
      expect(await pi.bootLog()).toMatch(/bootloader: boot NETWORK/);
      expect(await pi.bootLog()).toMatch(new RegExp(`mounted ${esc(NFS)}/${pi.serial8} on /boot/firmware \\(nfs`));
    }
    const log = await dnsmasq.log();
    expect(log).toContain(`sent ${exportDir}/${fleet.pi('pi-01').serial8}/vmlinuz to ${fleet.pi('pi-01').ip}`);
  });

  it('a 0600 kernel: dnsmasq refuses it, and pinet stops waiting with the verdict that names the file, its mode and the fix', async () => {
    const pi = fleet.pi('pi-03');
    const boot = await hook.waitFor('pi-03');
    expect(boot.result).toMatchObject({ outcome: 'halted', failure: { file: `${pi.serial8}/vmlinuz` } });
    expect(await dnsmasq.log()).toContain(`cannot access ${exportDir}/${pi.serial8}/vmlinuz: Permission denied`);
    expect(runA.stdout).toMatch(/^pi-03 +\S+ +enrolled +\d+ change\(s\); did not netboot: vmlinuz could not be read by the TFTP server \(permission denied\)$/m);
    expect(runA.stdout).toContain(`pi-03: FAIL vmlinuz could not be read by the TFTP server (permission denied)\n  ${exportDir}/${pi.serial8}/vmlinuz: owner root:root, mode 0600`);
    expect(runA.stdout).toContain(`  fix: chmod -R a+rX ${exportDir}/${pi.serial8}`);
    expect(runA.stderr).toMatch(/^pi-03: network boot: vmlinuz could not be read by the TFTP server \(permission denied\)$/m);
  });

  it('a Pi whose dnsmasq log says nothing: the timeout, with the reason', async () => {
    const pi = fleet.pi('pi-04');
    const boot = await hook.waitFor('pi-04');
    expect(boot.verdict).toMatch(/^halt/);
    const log = await dnsmasq.log();
    expect(log).not.toContain(pi.mac);
    expect(log).not.toContain(`/${pi.serial8}/`);
    expect(runA.stdout).toMatch(
      new RegExp(
        `^pi-04 +\\S+ +enrolled +\\d+ change\\(s\\); did not come back within 20 s: dnsmasq's log \\(${esc(dnsmasq.logFile)}\\) has no line from it \\(MAC ${pi.mac}, directory ${pi.serial8}/\\) since the reboot; its PXE requests did not reach this dnsmasq`,
        'm',
      ),
    );
  });

  it('the run ends with the fleet summary and exit 1', () => {
    expect(runA.code, runA.stderr).toBe(1);
    expect(runA.stdout).toMatch(/^4 Pis: 0 ok \(up to date\), 2 enrolled, 2 failed$/m);
    expect(runA.stdout).toMatch(/^ {2}netbooted: 2 Pis, in \d+–\d+ s \(median \d+ s\)$/m);
    expect(runA.stdout).toMatch(/^ {2}failed 1 Pi: did not netboot: vmlinuz could not be read by the TFTP server \(permission denied\) — pi-03$/m);
  });

  it('concurrently: an SD-first Pi that boots from its card (log silent, it comes back), a config without log-dhcp (SSH only), a healthy Pi as JSON', async () => {
    const [sd, nolog, json] = await Promise.all([
      enroll(['pi-05', '--reboot', '--reboot-timeout', '60', '--dnsmasq-conf', conf, '--json']),
      enroll(['pi-06', '--reboot', '--reboot-timeout', '60', '--dnsmasq-conf', join(conf, '..', 'no-log-dhcp.conf'), '--json']),
      enroll(['pi-07', '--boot-order', 'net-first', '--reboot', '--reboot-timeout', '60', '--dnsmasq-conf', conf, '--json']),
    ]);
    const sdRes = parseJson<{ results: Result[] }>(sd.stdout).results[0]!;
    expect((await hook.waitFor('pi-05')).result).toMatchObject({ outcome: 'booted', mode: 'SD' });
    expect(sd.code).toBe(1);
    expect(sdRes.reboot).toMatchObject({ ok: false, netboot: { outcome: 'not-seen', log: dnsmasq.logFile } });
    expect(sdRes.reboot!.detail).toMatch(/^came back, but not over the network: dnsmasq's log .* has no line from it .* since the reboot; its BOOT_ORDER tries SD and USB before NETWORK \(0xf241: SD → USB → NETWORK → RESTART, tried right to left\): a bootable SD card or USB disk wins over the network/);

    expect(nolog.code, nolog.stderr).toBe(0);
    expect(nolog.stderr).toMatch(/warning: --reboot: the network boots cannot be followed in dnsmasq's log \(the dnsmasq configuration \(.*no-log-dhcp\.conf\) has no log-dhcp: .*\); waiting for SSH only/);
    const nologRes = parseJson<{ results: Result[] }>(nolog.stdout).results[0]!;
    expect(nologRes.reboot).toMatchObject({ ok: true, detail: expect.stringMatching(/^back up; \/boot\/firmware from /) });
    expect(nologRes.reboot!.netboot).toBeUndefined();

    expect(json.code, json.stderr).toBe(0);
    const pi = fleet.pi('pi-07');
    const res = parseJson<{ results: Result[] }>(json.stdout).results[0]!;
    expect(res.reboot).toMatchObject({ ok: true, netboot: { outcome: 'netbooted', from: join(exportDir, pi.serial8), log: dnsmasq.logFile } });
    expect(res.reboot!.netboot!.seconds).toBeGreaterThan(0);
    expect((await hook.waitFor('pi-07')).result).toMatchObject({ outcome: 'booted', mode: 'NETWORK', files: { names: { kernel: 'kernel8.img' } } });
  });

  it('doctor --all on the boot server: each finding once with its Pis, failures first; the end counts Pis by worst status', async () => {
    // doctor runs where dnsmasq's users are: the boot server's namespace, reaching the Pis on the LAN.
    const dir = await lab.dir('ssh');
    await writeFile(join(dir, 'known_hosts'), fleet.pis.map((p) => `${p.ip} ${p.hostKey}\n`).join(''));
    const sshConfig = join(dir, 'ssh_config');
    await writeFile(
      sshConfig,
      fleet.pis
        .map((p) => `Host ${p.name}\n  HostName ${p.ip}\n  User root\n  IdentityFile ${fleet.identityFile}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${join(dir, 'known_hosts')}\n  GlobalKnownHostsFile /dev/null\n  BatchMode yes\n  ConnectTimeout 5\n`)
        .join('\n'),
    );
    const doctor = async (extra: string[]): Promise<CliResult> => {
      const r = await execa('ip', ['netns', 'exec', fleet.bootServer.namespace, process.execPath, PINET, 'doctor', '--all', '--export-dir', exportDir, '--state-dir', stateDir, '--dnsmasq-conf', conf, '--tftp-server', fleet.lan.serverIp, '-F', sshConfig, ...extra], {
        env: { NO_COLOR: '1' },
        reject: false,
        timeout: 120_000,
        input: '',
      });
      return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    const [text, verbose, json] = await Promise.all([doctor([]), doctor(['--verbose']), doctor(['--json'])]);
    await save('doctor.txt', text);
    await save('doctor-verbose.txt', verbose);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^boot server\n {2}ok {4}dnsmasq config/m);
    expect(text.stdout).toMatch(new RegExp(`^7 Pi directories in the export \\(${esc(exportDir)}\\)$`, 'm'));
    expect(text.stdout).toMatch(/^7 Pis, checked over SSH$/m);
    expect(text.stdout).toMatch(/^ {2}FAIL {2}readable by TFTP +1 boot file cannot be read by ".*", the TFTP server's user \(it answers "Permission denied"\) — 1 Pi: pi-03$/m);
    expect(text.stdout).toMatch(/^ {2}FAIL {2}reachable +.* — 1 Pi: pi-03$/m);
    expect(text.stdout).toMatch(/^ {2}warn {2}BOOT_ORDER +0xf241: SD → USB → NETWORK → RESTART, tried right to left; NETWORK is mode 3 of 4, after SD\/USB: SD card mmcblk0 \(.*\) is attached: .* — 2 Pis: pi-05, pi-06$/m);
    // The text's count of Pis by worst status is the JSON's.
    const doc = parseJson<{ groups: { name: string; checks: { status: string }[] }[] }>(json.stdout);
    const worst = new Map<string, number>();
    const rank: Record<string, number> = { skip: 0, ok: 1, warn: 2, fail: 3 };
    for (const g of doc.groups) {
      const name = /^(pi-\d\d)/.exec(g.name)?.[1];
      if (!name) continue;
      for (const c of g.checks) worst.set(name, Math.max(worst.get(name) ?? 0, rank[c.status]!));
    }
    const n = (r: number) => [...worst.values()].filter((v) => v === r).length;
    expect(text.stdout.split('\n').filter((l) => /^\d+ Pis: /.test(l))).toEqual([`7 Pis: ${n(1)} ok, ${n(2)} warn, ${n(3)} FAIL`]);
    expect(n(3)).toBeGreaterThanOrEqual(2);
    // Evidence per Pi only with --verbose.
    expect(verbose.stdout).toMatch(/^ +pi-05: /m);
    expect(text.stdout).not.toMatch(/^ +pi-05: /m);
  });

  it('rollback of three Pis: the plan grouped, then the fleet summary', async () => {
    const rollback = (args: string[]) => pinet(['rollback', '-F', fleet.sshConfig, '--state-dir', stateDir, 'pi-01', 'pi-02', 'pi-07', ...args]);
    const dry = await rollback(['--dry-run']);
    await save('rollback-dry-run.txt', dry);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^2 Pis, same changes: pi-01, pi-02$/m);
    expect(dry.stdout).toMatch(new RegExp(`^pi-07: serial ${fleet.pi('pi-07').serial}, directory ${fleet.pi('pi-07').serial8}$`, 'm'));
    expect(dry.stdout).toMatch(/^3 Pis: 0 ok \(up to date\), 3 would change, 0 failed$/m);
    const r = await rollback(['--yes']);
    await save('rollback.txt', r);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^3 Pis: 0 ok \(up to date\), 3 rolled back, 0 failed$/m);
    for (const name of ['pi-01', 'pi-02', 'pi-07']) expect(await fleet.pi(name).readText('/etc/fstab')).not.toContain(NFS);
  });
});
