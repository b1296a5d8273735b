/**
 * `pinet doctor` on the fake fleet with the real dnsmasq: each fault of
 * issue 5 is made for real, doctor must find it with the right evidence and
 * fix (text and --json), and once the cause is fixed the check must pass.
 *
 * Doctor runs where a Pi's bootloader would be: in a "client" network
 * namespace on the fleet's LAN (a veth on its bridge), so its live TFTP
 * fetches go to the real dnsmasq at the LAN's server address, and it reaches
 * the Pis over SSH at their LAN addresses. The real dnsmasq runs as the
 * Debian service does (`-u dnsmasq`), and its process credentials are the
 * oracle for what the TFTP server can read.
 */
import { execa } from 'execa';
import { chmod, chown, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PINET, pinet, type CliResult } from '../helpers/cli.js';
import { describeAsRoot } from '../helpers/env.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import type { FakePi } from '../fleet/fake-pi.js';
import { Lab, renderDnsmasqConfig, sh, startDnsmasq, type Dnsmasq } from '../net/helpers/netns.js';
import { parseJson } from './helpers.js';

const NFS = 'nfs-host:/picluster-boot';
const ARTICLE_ORDER = '[all]\nBOOT_UART=0\nBOOT_ORDER=0xf241\n';
const FIXTURES = fileURLToPath(new URL('../fixtures/seed-article/', import.meta.url));
const SEED = '/work/shared/seed/netboot-server-article.txt';

interface Check {
  id: string;
  title: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  finding: string;
  evidence?: string[];
  fix?: string;
}
interface Group {
  name: string;
  about?: string;
  checks: Check[];
}
interface Doc {
  groups: Group[];
  summary: Record<Check['status'], number>;
  strict: boolean;
  ok: boolean;
}

function group(doc: Doc, pick: (g: Group) => boolean, what: string): Group {
  const g = doc.groups.find(pick);
  if (!g) throw new Error(`no group for ${what} in: ${doc.groups.map((x) => x.name).join(' | ')}`);
  return g;
}

function check(g: Group, id: string): Check {
  const c = g.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in "${g.name}": ${g.checks.map((x) => x.id).join(', ')}`);
  return c;
}

/** Every check that is not ok, as "group: id status", for readable assertion failures. */
function problems(doc: Doc): string[] {
  return doc.groups.flatMap((g) => g.checks.filter((c) => c.status !== 'ok').map((c) => `${g.name}: ${c.id} ${c.status}: ${c.finding}`));
}

/**
 * The dnsmasq log of the seed article's successful netboot of bf9fed6f: the
 * fixture, else the lines of the article itself from the first DHCP line up
 * to the prose after the log.
 */
async function seedLog(): Promise<string> {
  const fixture = await readFile(join(FIXTURES, 'dnsmasq.log'), 'utf8').catch(() => undefined);
  if (fixture !== undefined) return fixture;
  const text = await readFile(SEED, 'utf8');
  const start = text.indexOf('2408886387 available DHCP subnet');
  const end = text.indexOf('Important for us is');
  if (start < 0 || end < start) throw new Error(`the seed article ${SEED} no longer holds the dnsmasq log`);
  return text.slice(start, end);
}

describe('pinet doctor --log (the seed article\'s dnsmasq log)', () => {
  let scratch: string;
  let base: string[];

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'pinet-doctor-log-'));
    await writeFile(join(scratch, 'seed.log'), await seedLog());
    // the article's own dnsmasq config, its export at /mnt/netboot
    base = ['doctor', '--export-dir', '/mnt/netboot', '--state-dir', join(scratch, 'state'), '--dnsmasq-conf', join(FIXTURES, 'dnsmasq.conf'), '--tftp-server', '127.0.0.1'];
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('reports bf9fed6f as booted, with the early terminates, retries and optional files as benign noise', async () => {
    const r = await pinet([...base, '--log', join(scratch, 'seed.log'), '--json']);
    const doc = parseJson<Doc>(r.stdout);
    const g = group(doc, (x) => x.name === 'log: bf9fed6f/', 'the seed Pi');
    const boot = check(g, 'log.boot');
    expect(boot.status).toBe('ok');
    expect(boot.finding).toMatch(/fetched everything up to the kernel \(vmlinuz\); only benign noise/);
    expect(boot.evidence!.join('\n')).toMatch(/optional files not found \(normal\): .*pieeprom\.sig.*recover4\.elf.*recovery\.elf/);
    expect(boot.evidence!.join('\n')).toMatch(/stopped, then sent in full on a later request: .*initrd\.img.*vmlinuz/);
    expect(boot.evidence!.join('\n')).toMatch(/"Early terminate" x\d+: the bootloader's size probe, not an error/);
    expect(g.checks.filter((c) => c.id.startsWith('log.') && c.status !== 'ok')).toEqual([]);
    expect(check(group(doc, (x) => x.name === 'log: DHCP', 'the DHCP part'), 'log.dhcp').evidence).toEqual(['e4:5f:01:98:e0:82 PXE proxy (PXEClient:Arch:00000:UNDI:002001)']);
    const text = await pinet([...base, '--log', join(scratch, 'seed.log')]);
    expect(text.stdout).toMatch(/^log: bf9fed6f\/: from .*seed\.log\n {2}ok {4}boot in the log/m);
  });

  it('--log - reads the log from stdin', async () => {
    const r = await pinet([...base, '--log', '-', '--json'], { input: await seedLog() });
    const g = group(parseJson<Doc>(r.stdout), (x) => x.name === 'log: bf9fed6f/', 'the seed Pi');
    expect(g.about).toBe('from stdin');
    expect(check(g, 'log.boot').status).toBe('ok');
  });

  it('a log in which the kernel is refused is a failed boot, naming the file', async () => {
    const bad = (await seedLog())
      .split('\n')
      .filter((l) => !/sent \/mnt\/netboot\/bf9fed6f\/vmlinuz/.test(l))
      .join('\n')
      .concat('\nerror 0 cannot access /mnt/netboot/bf9fed6f/vmlinuz: Permission denied\n');
    const r = await pinet([...base, '--log', '-', '--json'], { input: bad });
    const boot = check(group(parseJson<Doc>(r.stdout), (x) => x.name === 'log: bf9fed6f/', 'the seed Pi'), 'log.boot');
    expect(boot.status).toBe('fail');
    expect(boot.finding).toMatch(/vmlinuz/);
    expect(r.code).toBe(1);
  });

  it('an unreadable --log is one failed check, not a crash', async () => {
    const r = await pinet([...base, '--log', join(scratch, 'no-such.log'), '--json']);
    expect(r.code).toBe(1);
    expect(check(group(parseJson<Doc>(r.stdout), (x) => x.name === 'boot server', 'server'), 'log.read')).toMatchObject({ status: 'fail', finding: expect.stringMatching(/cannot read .*no-such\.log: ENOENT/) });
  });
});

describeAsRoot('pinet doctor on the fake fleet with the real dnsmasq', () => {
  let fleet: Fleet;
  const lab = new Lab('doctor');
  let exportDir: string;
  let stateDir: string;
  let confFile: string;
  let sshConfig: string;
  let client: string;
  let dnsmasq: Dnsmasq;
  let tftpUser: string;

  /** `pinet doctor` in the client namespace, with this setup's export, state, config and SSH. */
  async function doctor(args: string[], opts: { json?: boolean; ns?: string; tftpServer?: boolean } = {}): Promise<CliResult> {
    const r = await execa(
      'ip',
      [
        'netns',
        'exec',
        opts.ns ?? client,
        process.execPath,
        PINET,
        'doctor',
        '--export-dir',
        exportDir,
        '--state-dir',
        stateDir,
        '--dnsmasq-conf',
        confFile,
        '-F',
        sshConfig,
        ...(opts.tftpServer === false ? [] : ['--tftp-server', fleet.lan.serverIp]),
        ...(opts.json === false ? [] : ['--json']),
        ...args,
      ],
      { env: { NO_COLOR: '1' }, reject: false, timeout: 120_000, input: '' },
    );
    return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  }
  async function doc(args: string[] = []): Promise<Doc> {
    const r = await doctor(args);
    expect(r.stderr).not.toMatch(/TypeError|ReferenceError|internal error|at .*\.js:\d+/);
    return parseJson<Doc>(r.stdout);
  }
  const enroll = (args: string[]) => pinet(['enroll', '-F', fleet.sshConfig, '--nfs', NFS, '--export-dir', exportDir, '--state-dir', stateDir, '--yes', ...args]);
  const exportOf = (d: Doc, dir: string) => group(d, (g) => g.name.includes(`(${join(exportDir, dir)}/)`), `export directory ${dir}`);
  const piOf = (d: Doc, pi: FakePi) => group(d, (g) => g.name === `${pi.name} (${pi.ip})`, `Pi ${pi.name}`);
  /** The real dnsmasq's credentials: what its TFTP server reads files with. */
  const dnsmasqIds = async () => {
    const status = await readFile(`/proc/${dnsmasq.pid}/status`, 'utf8');
    return { uid: Number(/^Uid:\s+(\d+)/m.exec(status)![1]), gid: Number(/^Gid:\s+(\d+)/m.exec(status)![1]), groups: /^Groups:[ \t]*(.*)$/m.exec(status)![1]!.trim() };
  };

  beforeAll(async () => {
    tftpUser = /^dnsmasq:/m.test(await readFile('/etc/passwd', 'utf8')) ? 'dnsmasq' : 'nobody';
    exportDir = await lab.dir('export');
    stateDir = await lab.dir('state');
    fleet = await startFleet({
      pis: [
        { name: 'healthy', variant: 'ubuntu-2404-pi4' },
        { name: 'bookworm', variant: 'rpios-bookworm-pi4' },
        { name: 'bymac', variant: 'ubuntu-2404-pi4', bootloaderConfig: '[all]\nBOOT_UART=0\nBOOT_ORDER=0xf41\nTFTP_PREFIX=2\n' },
        { name: 'fresh', variant: 'ubuntu-2404-pi4' },
        { name: 'netdev', variant: 'rpios-bookworm-pi4' },
        { name: 'hook', variant: 'ubuntu-2404-pi4' },
        { name: 'gone', variant: 'ubuntu-2404-pi4' },
        // the article's order (SD → USB → NETWORK) is active on these: what wins depends on the disks attached
        { name: 'sdcard', variant: 'ubuntu-2404-pi4', bootloaderConfig: ARTICLE_ORDER },
        { name: 'nocard', variant: 'ubuntu-2404-pi4', bootloaderConfig: ARTICLE_ORDER, storage: [] },
        { name: 'usbdisk', variant: 'rpios-bookworm-pi4', bootloaderConfig: ARTICLE_ORDER, storage: ['usb'] },
        { name: 'emmc', variant: 'cm4', bootloaderConfig: `${ARTICLE_ORDER}ENABLE_SELF_UPDATE=1\n` },
      ],
      bootFilesMB: 1,
      exports: { [NFS]: exportDir },
    });
    const r = await enroll(['healthy', '--boot-order', 'net-first']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const r2 = await enroll(['bookworm', 'bymac', 'netdev', 'hook']);
    expect(r2.code, r2.stdout + r2.stderr).toBe(0);
    await Promise.all([fleet.pi('healthy').reboot(), fleet.pi('bymac').reboot()]);

    // The boot server: pinet's own config, dnsmasq run as Debian's service runs it.
    const config = await renderDnsmasqConfig({ subnet: fleet.lan.subnet, tftpRoot: exportDir });
    confFile = join(await lab.dir('conf'), 'dnsmasq.conf');
    await writeFile(confFile, config);
    dnsmasq = await startDnsmasq(lab, fleet.lan.namespace, config, [`--user=${tftpUser}`]);

    // A Linux bridge takes the lowest MAC of its ports: pin br0's, or a new port can change it under
    // the clients' ARP caches (TFTP to the server address then goes nowhere for a while).
    const brMac = /link\/ether (\S+)/.exec(await sh('ip', ['-n', fleet.lan.namespace, 'link', 'show', 'dev', fleet.lan.bridge]))![1]!;
    await sh('ip', ['-n', fleet.lan.namespace, 'link', 'set', 'dev', fleet.lan.bridge, 'address', brMac]);
    // A client on the LAN: where a Pi's bootloader sits.
    client = await lab.namespace('client');
    const veth = `dcl${process.pid}`.slice(0, 15);
    await sh('ip', ['link', 'add', veth, 'netns', fleet.lan.namespace, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
    await sh('ip', ['-n', fleet.lan.namespace, 'link', 'set', veth, 'master', fleet.lan.bridge, 'up']);
    await sh('ip', ['-n', client, 'addr', 'add', `${fleet.lan.freeIps[0]}/${fleet.lan.prefixLength}`, 'dev', 'eth0']);
    await sh('ip', ['-n', client, 'link', 'set', 'eth0', 'up']);
    const deadline = Date.now() + 10_000;
    while (!(await sh('ip', ['-n', client, '-o', 'link', 'show', 'dev', 'eth0'])).includes('LOWER_UP')) {
      if (Date.now() > deadline) throw new Error('the client veth has no carrier after 10 s');
      await new Promise((res) => setTimeout(res, 20));
    }

    // SSH to the Pis' LAN addresses from the client namespace (known_hosts for those addresses).
    const dir = await lab.dir('ssh');
    const hosts = [...fleet.pis.map((p) => ({ name: p.name, ip: p.ip })), { name: 'nowhere', ip: fleet.lan.freeIps[7]! }];
    await writeFile(join(dir, 'known_hosts'), fleet.pis.map((p) => `${p.ip} ${p.hostKey}\n`).join(''));
    sshConfig = join(dir, 'ssh_config');
    await writeFile(
      sshConfig,
      hosts
        .map((h) =>
          [
            `Host ${h.name}`,
            `    HostName ${h.ip}`,
            '    Port 22',
            '    User root',
            `    IdentityFile ${fleet.identityFile}`,
            '    IdentitiesOnly yes',
            `    UserKnownHostsFile ${join(dir, 'known_hosts')}`,
            '    GlobalKnownHostsFile /dev/null',
            '    StrictHostKeyChecking yes',
            '    BatchMode yes',
            '    ConnectTimeout 5',
            '',
          ].join('\n'),
        )
        .join('\n'),
    );
  });
  afterAll(async () => {
    await lab.cleanup().catch(() => undefined);
    await fleet?.stop();
  });

  it('a healthy enrolled, rebooted Pi and the boot server pass: exit 0, every check ok, --strict too', async () => {
    const pi = fleet.pi('healthy');
    const r = await doctor(['healthy']);
    const d = parseJson<Doc>(r.stdout);
    const mine = [group(d, (g) => g.name === 'boot server', 'server'), exportOf(d, pi.serial8), piOf(d, pi)];
    expect(mine.flatMap((g) => g.checks.filter((c) => c.status !== 'ok').map((c) => `${g.name}: ${c.id}: ${c.finding}`))).toEqual([]);
    expect(d.summary.fail, problems(d).join('\n')).toBe(0);
    expect(r.code).toBe(0);
    expect(d.ok).toBe(true);
    const server = group(d, (g) => g.name === 'boot server', 'server').checks.map((c) => c.id);
    expect(server).toEqual(['dnsmasq.config', 'dnsmasq.tftp', 'dnsmasq.tftp-root', 'dnsmasq.dhcp-range', 'dnsmasq.pxe', 'dnsmasq.user', 'dnsmasq.dns', 'dnsmasq.test', 'export.dir', 'tftp.live']);
    expect(check(exportOf(d, pi.serial8), 'tftp.fetch').finding).toMatch(new RegExp(`fetched all \\d+ boot files from ${fleet.lan.serverIp.replace(/\./g, '\\.')}, same size and SHA-256 as on disk`));
    expect(piOf(d, pi).checks.map((c) => c.id)).toEqual(['pi.boot-order', 'pi.pending', 'pi.export-dir', 'pi.fstab', 'pi.mounted', 'pi.in-sync', 'pi.hook']);
    expect(check(piOf(d, pi), 'pi.boot-order').finding).toMatch(/^0xf412: NETWORK → SD → USB → RESTART.*NETWORK is mode 1 of 4/);
    // The fleet's stand-in for NFS is a bind mount of the export directory: doctor says what it is, not "NFS".
    expect(check(piOf(d, pi), 'pi.mounted').finding).toMatch(new RegExp(`/boot/firmware is ${join(exportDir, pi.serial8)} of this machine itself .*same device and inode.*not NFS`));
    // The TFTP user doctor judges by is the one the real dnsmasq runs as.
    const ids = await dnsmasqIds();
    expect(check(group(d, (g) => g.name === 'boot server', 'server'), 'dnsmasq.user').evidence!.join('\n')).toMatch(new RegExp(`uid ${ids.uid}, group \\S+ \\(gid ${ids.gid},.*drops supplementary groups`));
    expect(ids.groups).toBe('');
    const strict = await doctor(['healthy', '--strict']);
    expect(strict.code).toBe(0);
    expect(parseJson<Doc>(strict.stdout)).toMatchObject({ strict: true, ok: true });
    // the human report: grouped, one line per check, a summary
    const text = await doctor(['healthy'], { json: false });
    expect(text.stdout).toMatch(/^boot server\n {2}ok {4}dnsmasq config/m);
    expect(text.stdout).toMatch(new RegExp(`^healthy \\(${pi.ip.replace(/\./g, '\\.')}\\): serial ${pi.serial}, Pi 4B, enrolled$`, 'm'));
    expect(text.stdout).toMatch(/^\d+ ok, 0 warnings, 0 failed, 0 skipped$/m);
  });

  it('a 0600 kernel: export.readable fails and the live fetch reports the server\'s "Permission denied"; chmod fixes both', async () => {
    const pi = fleet.pi('bookworm');
    const kernel = join(exportDir, pi.serial8, 'kernel8.img');
    await chmod(kernel, 0o600);
    const r = await doctor([]);
    expect(r.code).toBe(1);
    const g = exportOf(parseJson<Doc>(r.stdout), pi.serial8);
    const readable = check(g, 'export.readable');
    expect(readable.status).toBe('fail');
    expect(readable.finding).toBe(`1 boot file cannot be read by "${tftpUser}", the TFTP server's user (it answers "Permission denied")`);
    expect(readable.evidence![0]).toBe(`${kernel}: mode 0600 owner 0:0 gives ${tftpUser} (as other) no read permission`);
    expect(readable.fix).toMatch(new RegExp(`^chmod -R a\\+rX ${join(exportDir, pi.serial8)};.*pinet's hook \\(pinet enroll bookworm\\)`));
    const fetch = check(g, 'tftp.fetch');
    expect(fetch.status).toBe('fail');
    expect(fetch.evidence).toEqual([`${pi.serial8}/kernel8.img: server says "cannot access ${kernel}: Permission denied"`]);
    expect(fetch.fix).toMatch(/chmod -R a\+rX/);
    const text = await doctor([], { json: false });
    expect(text.stdout).toMatch(/ {2}FAIL {2}readable by TFTP +1 boot file cannot be read/);
    expect(text.stdout).toMatch(/fix: chmod -R a\+rX /);

    await sh('chmod', ['-R', 'a+rX', join(exportDir, pi.serial8)]);
    const after = exportOf(await doc(), pi.serial8);
    expect(check(after, 'export.readable').status).toBe('ok');
    expect(check(after, 'tftp.fetch').status).toBe('ok');
  });

  it('a kernel readable only by a group: judged by the groups dnsmasq really runs with (no supplementary groups)', async () => {
    const pi = fleet.pi('bookworm');
    const kernel = join(exportDir, pi.serial8, 'kernel8.img');
    const ids = await dnsmasqIds();
    const primary = Number(new RegExp(`^${tftpUser}:[^:]*:\\d+:(\\d+):`, 'm').exec(await readFile('/etc/passwd', 'utf8'))![1]);
    const stranger = 42_420;
    expect([ids.gid, primary]).not.toContain(stranger);
    const statusOf = async () => {
      const g = exportOf(await doc(), pi.serial8);
      return { readable: check(g, 'export.readable'), fetch: check(g, 'tftp.fetch') };
    };
    try {
      // a group the TFTP user is not in
      await chown(kernel, 0, stranger);
      await chmod(kernel, 0o640);
      let s = await statusOf();
      expect(s.readable.status).toBe('fail');
      expect(s.readable.evidence![0]).toBe(`${kernel}: mode 0640 owner 0:${stranger} gives ${tftpUser} (as other) no read permission`);
      expect(s.fetch.evidence![0]).toMatch(/Permission denied"$/);
      // the user's primary group in /etc/passwd: dnsmasq does not run with it when it uses "dip"
      if (primary !== ids.gid) {
        await chown(kernel, 0, primary);
        s = await statusOf();
        expect(s.readable.status, 'doctor must not trust /etc/passwd group membership').toBe('fail');
        expect(s.fetch.status).toBe('fail');
        expect(s.fetch.evidence![0]).toMatch(/Permission denied"$/);
      }
      // the group the real dnsmasq runs with: readable, on disk and on the wire
      await chown(kernel, 0, ids.gid);
      s = await statusOf();
      expect(s.readable.status).toBe('ok');
      expect(s.fetch.status).toBe('ok');
    } finally {
      await chown(kernel, 0, 0);
      await chmod(kernel, 0o644);
    }
  });

  it('group= in the dnsmasq config: doctor judges by that group, like the real dnsmasq', async () => {
    const pi = fleet.pi('bookworm');
    const kernel = join(exportDir, pi.serial8, 'kernel8.img');
    const users = /^users:[^:]*:(\d+):/m.exec(await readFile('/etc/group', 'utf8'));
    expect(users, 'the test needs the standard group "users"').not.toBeNull();
    const original = await readFile(confFile, 'utf8');
    const restart = async (config: string) => {
      await dnsmasq.stop();
      await writeFile(confFile, config);
      dnsmasq = await startDnsmasq(lab, fleet.lan.namespace, config, [`--user=${tftpUser}`]);
    };
    await restart(`${original}group=users\n`);
    try {
      expect((await dnsmasqIds()).gid).toBe(Number(users![1]));
      await chown(kernel, 0, Number(users![1]));
      await chmod(kernel, 0o640);
      const d = await doc();
      const user = check(group(d, (g) => g.name === 'boot server', 'server'), 'dnsmasq.user');
      expect(user.finding).toMatch(/^TFTP reads files as "\S+", group "users"/);
      expect(user.evidence).toContainEqual(expect.stringMatching(/:\d+: group=users$/));
      const g = exportOf(d, pi.serial8);
      expect([check(g, 'export.readable').status, check(g, 'tftp.fetch').status]).toEqual(['ok', 'ok']);
    } finally {
      await chown(kernel, 0, 0);
      await chmod(kernel, 0o644);
      await restart(original);
    }
  });

  it('a directory without search permission blocks every file below it; chmod a+X fixes it', async () => {
    const pi = fleet.pi('bookworm');
    const overlays = join(exportDir, pi.serial8, 'overlays');
    await chmod(overlays, 0o750);
    try {
      const g = exportOf(await doc(), pi.serial8);
      const readable = check(g, 'export.readable');
      expect(readable.status).toBe('fail');
      expect(readable.evidence![0]).toMatch(new RegExp(`^${overlays}: directory mode 0750 owner 0:0 gives ${tftpUser} \\(as other\\) no search \\(x\\) permission \\(\\d+ boot files below it\\)$`));
      const fetch = check(g, 'tftp.fetch');
      expect(fetch.status).toBe('fail');
      expect(fetch.evidence!.every((e) => e.startsWith(`${pi.serial8}/overlays/`) && e.endsWith('Permission denied"'))).toBe(true);
      expect(fetch.evidence!.length).toBe(Number(/\((\d+) boot files below it\)/.exec(readable.evidence![0]!)![1]));
    } finally {
      await chmod(overlays, 0o755);
    }
    const g = exportOf(await doc(), pi.serial8);
    expect([check(g, 'export.readable').status, check(g, 'tftp.fetch').status]).toEqual(['ok', 'ok']);
  });

  it('a missing device tree: export.files fails naming it, the server says "not found"; enroll copies it back', async () => {
    const pi = fleet.pi('bookworm');
    await rm(join(exportDir, pi.serial8, 'bcm2711-rpi-4-b.dtb'));
    const r = await doctor([]);
    expect(r.code).toBe(1);
    const g = exportOf(parseJson<Doc>(r.stdout), pi.serial8);
    expect(check(g, 'export.files')).toMatchObject({
      status: 'fail',
      finding: '1 file the bootloader requests is missing',
      evidence: ['bcm2711-rpi-4-b.dtb: the Pi 4B device tree'],
      fix: 'copy them from the Pi: pinet enroll bookworm',
    });
    expect(check(g, 'tftp.fetch').evidence).toEqual([`${pi.serial8}/bcm2711-rpi-4-b.dtb: server says "file ${join(exportDir, pi.serial8, 'bcm2711-rpi-4-b.dtb')} not found for ${fleet.lan.freeIps[0]}"`]);

    const fixed = await enroll(['bookworm']);
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    const after = exportOf(await doc(), pi.serial8);
    expect([check(after, 'export.files').status, check(after, 'tftp.fetch').status]).toEqual(['ok', 'ok']);
  });

  it('cmdline.txt: NFS root options the initramfs rejects fail; a Ceph key in rbdroot= warns and is not printed', async () => {
    const pi = fleet.pi('bookworm');
    const file = join(exportDir, pi.serial8, 'cmdline.txt');
    const original = await readFile(file, 'utf8');
    const rest = original.trim().split(/\s+/).filter((w) => !/^(root|rootfstype|nfsroot|ip)=/.test(w));
    try {
      await writeFile(file, `${['root=/dev/nfs', 'nfsroot=10.251.0.5:/srv/root,vers=4.1,proto=tcp', 'ip=dhcp', ...rest].join(' ')}\n`);
      let c = check(exportOf(await doc(), pi.serial8), 'export.cmdline');
      expect(c.status).toBe('fail');
      expect(c.finding).toMatch(/vers=4\.1/);
      expect(c.finding).toMatch(/the initramfs will not mount the root/);
      expect(c.evidence).toEqual([`${file}: root=/dev/nfs nfsroot=10.251.0.5:/srv/root,vers=4.1,proto=tcp ip=dhcp`]);

      const key = 'AQBsecretsecretsecretsecretsecretsecre==';
      await writeFile(file, `${['boot=rbd', `rbdroot=10.251.0.6:pi:${key}:rbd:pi-root`, ...rest].join(' ')}\n`);
      const r = await doctor([]);
      expect(r.stdout).not.toContain(key);
      c = check(exportOf(parseJson<Doc>(r.stdout), pi.serial8), 'export.cmdline');
      expect(c).toMatchObject({ status: 'warn', finding: expect.stringMatching(/Ceph key of client\.pi: TFTP serves cmdline\.txt to anyone/) });
      expect(c.evidence).toEqual([`${file}: boot=rbd rbdroot=10.251.0.6:pi:<key>:rbd:pi-root`]);
    } finally {
      await writeFile(file, original);
    }
    expect(check(exportOf(await doc(), pi.serial8), 'export.cmdline').status).toBe('ok');
  });

  it('TFTP_PREFIX=2: a healthy MAC-named directory passes; renamed to the serial, doctor says the bootloader asks for the MAC', async () => {
    const pi = fleet.pi('bymac');
    const macDir = pi.mac.replace(/:/g, '-');
    let d = await doc(['bymac']);
    expect(check(exportOf(d, macDir), 'export.name')).toMatchObject({ status: 'ok', finding: `${macDir} matches the MAC address (TFTP_PREFIX=2)` });
    expect(check(exportOf(d, macDir), 'tftp.fetch').status).toBe('ok');
    expect(check(piOf(d, pi), 'pi.export-dir')).toMatchObject({ status: 'ok', finding: `${join(exportDir, macDir)}/ holds this Pi's boot files (enrolled)` });

    await rename(join(exportDir, macDir), join(exportDir, pi.serial8));
    try {
      const r = await doctor(['bymac']);
      expect(r.code).toBe(1);
      d = parseJson<Doc>(r.stdout);
      expect(check(exportOf(d, pi.serial8), 'export.name')).toMatchObject({
        status: 'fail',
        finding: `${pi.serial8} is not what the bootloader asks for: with TFTP_PREFIX=2 (MAC) it asks for ${macDir}/`,
        fix: `rename ${join(exportDir, pi.serial8)} to ${join(exportDir, macDir)} (or run pinet enroll bymac)`,
      });
      expect(check(piOf(d, pi), 'pi.export-dir')).toMatchObject({
        status: 'fail',
        finding: expect.stringContaining(`the bootloader asks for ${macDir}/ (TFTP_PREFIX=2: the MAC address) and falls back to no prefix; its files are in ${join(exportDir, pi.serial8)}/`),
        fix: `mv ${join(exportDir, pi.serial8)} ${join(exportDir, macDir)}`,
      });
    } finally {
      await rename(join(exportDir, pi.serial8), join(exportDir, macDir));
    }
    d = await doc(['bymac']);
    expect([check(exportOf(d, macDir), 'export.name').status, check(piOf(d, pi), 'pi.export-dir').status]).toEqual(['ok', 'ok']);
  });

  it('BOOT_ORDER without NETWORK fails on a fresh Pi; after enroll the update is pending (reboot); after the reboot all is ok', async () => {
    const pi = fleet.pi('fresh');
    let d = await doc(['fresh']);
    const bo = check(piOf(d, pi), 'pi.boot-order');
    expect(bo).toMatchObject({ status: 'fail', finding: '0xf41: SD → USB → RESTART, tried right to left: NETWORK is never tried' });
    expect(bo.fix).toBe('pinet enroll fresh (0xf41 → 0xf241: NETWORK added before RESTART)');
    expect(piOf(d, pi).about).toBe(`serial ${pi.serial}, Pi 4B, not in the inventory`);

    const r = await enroll(['fresh', '--boot-order', 'net-first']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const pending = await doctor(['fresh']);
    d = parseJson<Doc>(pending.stdout);
    expect(check(piOf(d, pi), 'pi.pending')).toMatchObject({ status: 'warn', finding: expect.stringMatching(/an update is pending \(BOOT_ORDER 0xf412\); the bootloader uses it only after a reboot/), fix: 'reboot fresh' });
    expect(check(piOf(d, pi), 'pi.boot-order')).toMatchObject({ status: 'warn', finding: expect.stringMatching(/no NETWORK yet; the pending update sets 0xf412/), fix: 'reboot fresh to apply it' });
    expect(check(piOf(d, pi), 'pi.mounted')).toMatchObject({ status: 'warn', finding: expect.stringMatching(/not mounted from NFS yet .*\/etc\/fstab changed after the last boot, so a reboot is pending/), fix: 'reboot fresh' });
    expect(d.summary.fail, problems(d).join('\n')).toBe(0);
    // warnings do not fail; --strict makes them
    expect(pending.code).toBe(0);
    const strict = await doctor(['fresh', '--strict']);
    expect(strict.code).toBe(1);
    expect(parseJson<Doc>(strict.stdout)).toMatchObject({ strict: true, ok: false });

    await pi.reboot();
    d = await doc(['fresh']);
    expect(piOf(d, pi).checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(check(piOf(d, pi), 'pi.boot-order').finding).toMatch(/^0xf412: NETWORK → SD → USB → RESTART/);
    expect(check(piOf(d, pi), 'pi.pending').finding).toBe('none pending');
  });

  it('SD/USB before NETWORK warns only while such a disk is attached, naming it, with the fix for that medium', async () => {
    const d = await doc(['sdcard', 'nocard', 'usbdisk', 'emmc']);
    const bo = (name: string) => check(piOf(d, fleet.pi(name)), 'pi.boot-order');
    expect(bo('sdcard')).toMatchObject({
      status: 'warn',
      finding: '0xf241: SD → USB → NETWORK → RESTART, tried right to left; NETWORK is mode 3 of 4, after SD/USB: SD card mmcblk0 (31.9 GB) is attached: while it holds a boot partition, the Pi boots from it, never from the network',
      fix: 'remove the SD card (or wipe its boot partition), or pinet enroll sdcard --boot-order net-first (NETWORK first, local media as the fallback)',
    });
    expect(bo('nocard')).toMatchObject({
      status: 'ok',
      finding: '0xf241: SD → USB → NETWORK → RESTART, tried right to left; NETWORK is mode 3 of 4; SD/USB come first, but no SD card or USB disk is attached (/sys/block), so the Pi goes on to NETWORK',
    });
    expect(bo('usbdisk')).toMatchObject({
      status: 'warn',
      finding: expect.stringMatching(/after SD\/USB: USB disk sda \(64\.0 GB\) is attached: while it holds a boot partition, the Pi boots from it, never from the network$/),
      fix: 'remove the USB disk (or wipe its boot partition), or pinet enroll usbdisk --boot-order net-first (NETWORK first, local media as the fallback)',
    });
    expect(bo('emmc')).toMatchObject({
      status: 'warn',
      finding: expect.stringMatching(/^0xf241: SD\/eMMC → USB → NETWORK → RESTART.*after SD\/eMMC\/USB: eMMC mmcblk0 \(31\.3 GB\) is attached: .*never from the network \(an eMMC cannot be removed\)$/),
      fix: 'pinet enroll emmc --boot-order net-usb-sd (eMMC last)',
    });
  });

  it('an fstab line without _netdev warns with the fix; putting it back passes', async () => {
    const pi = fleet.pi('netdev');
    const fstab = await pi.readText('/etc/fstab');
    expect(fstab).toContain(',_netdev 0 0');
    await pi.writeFile('/etc/fstab', fstab.replace(',_netdev 0 0', ' 0 0'));
    try {
      const c = check(piOf(await doc(['netdev']), pi), 'pi.fstab');
      expect(c.status).toBe('warn');
      expect(c.finding).toMatch(new RegExp(`the /boot/firmware line has no _netdev option \\(/etc/fstab line \\d+: "${NFS}/${pi.serial8} /boot/firmware nfs defaults,timeo=900 0 0"\\)`));
      expect(c.fix).toBe('add _netdev to its options, e.g. defaults,timeo=900,_netdev');
    } finally {
      await pi.writeFile('/etc/fstab', fstab);
    }
    const c = check(piOf(await doc(['netdev']), pi), 'pi.fstab');
    expect(c.status).toBe('ok');
    expect(c.finding).toMatch(/the \/boot\/firmware line has _netdev/);
  });

  it('a Pi that booted with fstab on NFS but could not mount it: "the NFS mount failed at boot", not "reboot"', async () => {
    const pi = fleet.pi('netdev');
    const dir = join(exportDir, pi.serial8);
    const aside = `${dir}.aside`;
    // The fleet mounts <export>/<dir> like mount.nfs would: with the directory gone, the mount fails at boot.
    await rename(dir, aside);
    try {
      await pi.reboot();
      const c = check(piOf(await doc(['netdev']), pi), 'pi.mounted');
      expect(c.status).toBe('fail');
      expect(c.finding).toMatch(/^\/boot\/firmware is .*, not NFS, although the Pi booted after \/etc\/fstab was changed to NFS: the NFS mount failed at boot$/);
      expect(c.fix).toMatch(/^on netdev, `mount -v \/boot\/firmware` says why/);
    } finally {
      await rename(aside, dir);
    }
    await pi.reboot();
    const c = check(piOf(await doc(['netdev']), pi), 'pi.mounted');
    expect(c.status).toBe('ok');
  });

  it('without pinet\'s kernel hook the next kernel update breaks netboot: warn; enroll installs it again', async () => {
    const pi = fleet.pi('hook');
    await pi.sh('rm /etc/kernel/postinst.d/zzz-pinet-bootfiles');
    const c = check(piOf(await doc(['hook']), pi), 'pi.hook');
    expect(c.status).toBe('warn');
    expect(c.finding).toMatch(/the hook that keeps boot files readable is not installed: the next kernel update writes a 0600 kernel/);
    expect(c.fix).toMatch(/^pinet enroll hook installs it/);
    const r = await enroll(['hook']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(check(piOf(await doc(['hook']), pi), 'pi.hook').status).toBe('ok');
  });

  it('an unreachable Pi is one failed check, not a crash; the other Pis are still checked', async () => {
    await fleet.pi('gone').powerOff();
    const r = await doctor(['gone', 'nowhere', 'healthy']);
    expect(r.code).toBe(1);
    const d = parseJson<Doc>(r.stdout);
    const why: Record<string, RegExp> = {
      gone: /^gone \(10\.[\d.]+\): cannot connect to 10\.[\d.]+ port 22: connection refused; is sshd running there/,
      nowhere: /^nowhere \(10\.[\d.]+\): cannot connect to 10\.[\d.]+ port 22: (EHOSTUNREACH|.*timed out)/,
    };
    for (const name of ['gone', 'nowhere']) {
      const g = group(d, (x) => x.name === name, name);
      expect(g.checks).toHaveLength(1);
      expect(g.checks[0]).toMatchObject({ id: 'pi.reachable', status: 'fail', fix: expect.stringMatching(/check that the Pi is up/) });
      expect(g.checks[0]!.finding).toMatch(why[name]!);
    }
    expect(piOf(d, fleet.pi('healthy')).checks.every((c) => c.status === 'ok')).toBe(true);
    const text = await doctor(['gone'], { json: false });
    expect(text.stdout).toMatch(/^gone\n {2}FAIL {2}reachable/m);
    expect(text.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('a TFTP server that does not answer is one failed check (where the address came from), not a timeout per file', async () => {
    // In the client namespace, doctor's guess is the client's own address in the DHCP range: nobody serves TFTP there.
    const r = await doctor([], { tftpServer: false });
    expect(r.code).toBe(1);
    const d = parseJson<Doc>(r.stdout);
    expect(check(group(d, (g) => g.name === 'boot server', 'server'), 'tftp.live')).toMatchObject({
      status: 'fail',
      finding: expect.stringMatching(new RegExp(`^${fleet.lan.freeIps[0]!.replace(/\./g, '\\.')} \\(from this machine's address in dnsmasq's DHCP range\\) does not answer TFTP`)),
      fix: expect.stringMatching(/--tftp-server/),
    });
    expect(d.groups.flatMap((g) => g.checks).filter((c) => c.id === 'tftp.fetch')).toEqual([]);
    // On the boot server itself (the LAN namespace, where dnsmasq listens) the same guess is right.
    const onServer = parseJson<Doc>((await doctor([], { tftpServer: false, ns: fleet.lan.namespace })).stdout);
    expect(check(group(onServer, (g) => g.name === 'boot server', 'server'), 'tftp.live')).toMatchObject({
      status: 'ok',
      finding: expect.stringContaining(`from ${fleet.lan.serverIp} (from this machine's address in dnsmasq's DHCP range`),
    });
  });

  it('a user= or group= that does not exist: dnsmasq --test passes, but doctor says dnsmasq will not start', async () => {
    const dir = await lab.dir('badid');
    for (const [line, what] of [['user=nosuchuser', 'user nosuchuser'], ['group=nosuchgroup', 'group nosuchgroup']] as const) {
      const conf = join(dir, `${what.split(' ')[0]}.conf`);
      await writeFile(conf, `${await readFile(confFile, 'utf8')}${line}\n`);
      const r = await execa(process.execPath, [PINET, 'doctor', '--json', '--export-dir', exportDir, '--state-dir', stateDir, '--dnsmasq-conf', conf], { reject: false, env: { NO_COLOR: '1' } });
      expect(r.exitCode).toBe(1);
      const server = group(parseJson<Doc>(String(r.stdout)), (g) => g.name === 'boot server', 'server');
      expect(check(server, 'dnsmasq.test').status).toBe('ok');
      expect(check(server, 'dnsmasq.user')).toMatchObject({
        status: 'fail',
        finding: `${what} does not exist here: dnsmasq refuses to start ("unknown user or group"), though dnsmasq --test passes`,
        evidence: [expect.stringMatching(new RegExp(`${conf}:\\d+: ${line}$`))],
      });
    }
  });

  it('a config without pxe-service fails offline with the fix (the wire side is in doctor-wire.test.ts)', async () => {
    const without = join(await lab.dir('nopxe'), 'dnsmasq.conf');
    await writeFile(without, (await readFile(confFile, 'utf8')).replace(/^pxe-service=.*\n/m, ''));
    const r = await execa('ip', ['netns', 'exec', client, process.execPath, PINET, 'doctor', '--json', '--export-dir', exportDir, '--state-dir', stateDir, '--dnsmasq-conf', without, '--tftp-server', fleet.lan.serverIp], {
      reject: false,
      env: { NO_COLOR: '1' },
    });
    expect(r.exitCode).toBe(1);
    const c = check(group(parseJson<Doc>(String(r.stdout)), (g) => g.name === 'boot server', 'server'), 'dnsmasq.pxe');
    expect(c).toMatchObject({ status: 'fail', finding: 'no pxe-service and no option 43: dnsmasq sends no PXE offer, so the Pi never learns the TFTP server' });
    expect(c.fix).toMatch(/^add pxe-service=0,"Raspberry Pi Boot"/);
  });
});
