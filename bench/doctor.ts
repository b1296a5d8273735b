/**
 * bench/doctor: `pinet doctor` against the tools a user would otherwise run,
 * on a boot server with 50 enrolled fake Pis and the real dnsmasq (issue 5):
 *
 *  * live TFTP: `pinet doctor` without hosts (every boot server check, and
 *    every file each Pi's bootloader requests fetched over TFTP and compared
 *    with the disk) against tftp-hpa's client fetching the same files one
 *    after another (one `tftp` process, one `get` per file). Both run in a
 *    client namespace on the fleet's LAN, against dnsmasq at the LAN's server
 *    address. Target: doctor / tftp-hpa <= 1.
 *  * Pi checks: `pinet doctor --concurrency 50 <50 hosts>` (live TFTP off:
 *    no --tftp-server, and this namespace has no address in dnsmasq's range)
 *    against 50 parallel OpenSSH calls (`xargs -P 50 ssh`) reading the same
 *    facts. Target: doctor / OpenSSH <= 1.5.
 *
 *   sudo node --import tsx bench/doctor.ts [runs] [pis] [boot-files-mb]   (default 5, 50, 7)
 *
 * Prints the medians of interleaved runs and both ratios; exits 1 when a
 * target is missed.
 */
import { execa } from 'execa';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tftpIdentity } from '../src/jobs/doctor/dnsmasq-checks.js';
import { checkExportDirs } from '../src/jobs/doctor/export-checks.js';
import { StateStore } from '../src/server/state.js';
import { startFleet, type Fleet } from '../test/fleet/fleet.js';
import { Lab, renderDnsmasqConfig, sh, startDnsmasq } from '../test/net/helpers/netns.js';
import { compare, report, timeIt } from './lib.js';

const runs = Number(process.argv[2] ?? 5);
const count = Number(process.argv[3] ?? 50);
const bootFilesMB = Number(process.argv[4] ?? 7);
const PINET = fileURLToPath(new URL('../bin/pinet.js', import.meta.url));
const NFS = 'nfs-host:/picluster-boot';
// What doctor reads on each Pi (detect's gather script and its boot-state script), read with one plain ssh call.
const READ = [
  'cat /proc/cpuinfo /sys/firmware/devicetree/base/serial-number /sys/firmware/devicetree/base/model /etc/os-release /etc/fstab /proc/mounts',
  '/sys/class/net/*/address /etc/default/rpi-eeprom-update /boot/firmware/*.txt /etc/kernel/postinst.d/* /etc/initramfs/post-update.d/*',
  '/proc/uptime /proc/1/stat /sys/block/*/size /sys/block/*/device/type 2>/dev/null;',
  'rpi-eeprom-config; [ -f /boot/firmware/pieeprom.upd ] && rpi-eeprom-config /boot/firmware/pieeprom.upd;',
  'find /boot/firmware -xdev -mindepth 1 -printf "%y %m %U %G %s %T@ %P\\n"; ls /var/lib/pinet/backup;',
  'date -r /etc/fstab +%s.%N; stat -L -c %d:%i /boot/firmware /boot',
].join(' ');

const names = Array.from({ length: count }, (_, i) => `pi-${String(i + 1).padStart(2, '0')}`);
const scratch = await mkdtemp(join(tmpdir(), 'pinet-bench-doctor-'));
await chmod(scratch, 0o755); // the dnsmasq user must search it
const exportDir = join(scratch, 'export');
const stateDir = join(scratch, 'state');
await execa('mkdir', ['-p', exportDir]);
const lab = new Lab('benchdoc');
let fleet: Fleet | undefined;
try {
  fleet = await startFleet({ pis: names.map((name) => ({ name, variant: 'ubuntu-2404-pi4' as const })), bootFilesMB, exports: { [NFS]: exportDir } });
  const enrolled = await execa(process.execPath, [PINET, 'enroll', '-F', fleet.sshConfig, '--nfs', NFS, '--export-dir', exportDir, '--state-dir', stateDir, '--yes', '--concurrency', String(count), ...names], { reject: false });
  if (enrolled.exitCode !== 0) throw new Error(`enrolling ${count} Pis failed: ${enrolled.stdout.slice(-2000)} ${enrolled.stderr.slice(-2000)}`);

  // The boot server: pinet's dnsmasq config, run as Debian's service runs it.
  const tftpUser = /^dnsmasq:/m.test(await readFile('/etc/passwd', 'utf8')) ? 'dnsmasq' : 'nobody';
  const config = await renderDnsmasqConfig({ subnet: fleet.lan.subnet, tftpRoot: exportDir });
  const conf = join(scratch, 'dnsmasq.conf');
  await writeFile(conf, config);
  await startDnsmasq(lab, fleet.lan.namespace, config, [`--user=${tftpUser}`]);

  // A client on the LAN (a veth on its bridge; the fleet pins the bridge's MAC).
  const lan = fleet.lan;
  const client = await lab.namespace('client');
  const veth = `bd${process.pid}`.slice(0, 15);
  await sh('ip', ['link', 'add', veth, 'netns', lan.namespace, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
  await sh('ip', ['-n', lan.namespace, 'link', 'set', veth, 'master', lan.bridge, 'up']);
  await sh('ip', ['-n', client, 'addr', 'add', `${lan.freeIps[0]}/${lan.prefixLength}`, 'dev', 'eth0']);
  await sh('ip', ['-n', client, 'link', 'set', 'eth0', 'up']);
  for (let t = Date.now(); !(await sh('ip', ['-n', client, '-o', 'link', 'show', 'dev', 'eth0'])).includes('LOWER_UP'); ) {
    if (Date.now() - t > 10_000) throw new Error('the client veth has no carrier after 10 s');
    await new Promise((r) => setTimeout(r, 20));
  }

  // The files doctor fetches: every file each Pi's bootloader requests (doctor's own list).
  const inventory = await new StateStore(stateDir).readInventory();
  const id = tftpIdentity(tftpUser, undefined, { passwd: await readFile('/etc/passwd', 'utf8'), group: await readFile('/etc/group', 'utf8') });
  const { targets } = await checkExportDirs(exportDir, inventory, id.user!, id.note);
  const files = targets.flatMap((t) => t.required.map((f) => `${t.dir}/${f}`));
  const bytes = (await execa('du', ['-cb', ...files.map((f) => join(exportDir, f))])).stdout.split('\n').pop()!.split('\t')[0];
  const batch = `binary\n${files.map((f) => `get ${f} /dev/null`).join('\n')}\nquit\n`;

  const doctorTftp = ['netns', 'exec', client, process.execPath, PINET, 'doctor', '--json', '--export-dir', exportDir, '--state-dir', stateDir, '--dnsmasq-conf', conf, '--tftp-server', lan.serverIp];
  // Sanity: both fetch everything, and doctor's report of this setup has no failure.
  const check = await execa('ip', doctorTftp, { reject: false });
  const doc = JSON.parse(check.stdout) as { summary: { fail: number }; groups: { checks: { id: string; status: string; finding: string }[] }[] };
  const fetched = doc.groups.flatMap((g) => g.checks).filter((c) => c.id === 'tftp.fetch');
  if (check.exitCode !== 0 || doc.summary.fail > 0 || fetched.length !== count || fetched.some((c) => c.status !== 'ok')) {
    throw new Error(`doctor does not pass on the bench setup: ${JSON.stringify(doc.groups.flatMap((g) => g.checks).filter((c) => c.status === 'fail'))}`);
  }
  const hpa = await execa('ip', ['netns', 'exec', client, 'tftp', lan.serverIp], { input: batch, reject: false });
  if (/Error|timed out/i.test(hpa.stdout + hpa.stderr)) throw new Error(`tftp-hpa failed: ${(hpa.stdout + hpa.stderr).slice(0, 500)}`);

  console.log(`${count} enrolled Pis, ${bootFilesMB} MB of boot files each; live TFTP: ${files.length} files, ${(Number(bytes) / 1024 / 1024).toFixed(0)} MB`);
  const tftp = await compare(
    {
      [`tftp-hpa: ${files.length} gets one after another`]: () => timeIt('ip', ['netns', 'exec', client, 'tftp', lan.serverIp], { input: batch }),
      'pinet doctor (boot server, live TFTP)': () => timeIt('ip', doctorTftp),
    },
    runs,
  );
  const okTftp = report(`live TFTP, from a client on the LAN (${runs} runs)`, tftp, [
    ['doctor / tftp-hpa', 'pinet doctor (boot server, live TFTP)', `tftp-hpa: ${files.length} gets one after another`, 1],
  ]);

  const cfg = fleet.sshConfig;
  const doctorPis = ['doctor', '--json', '-F', cfg, '--export-dir', exportDir, '--state-dir', stateDir, '--dnsmasq-conf', conf, '--concurrency', String(count), ...names];
  const piDoc = JSON.parse((await execa(process.execPath, [PINET, ...doctorPis], { reject: false })).stdout) as typeof doc;
  const checked = piDoc.groups.filter((g) => g.checks.some((c) => c.id === 'pi.boot-order'));
  const liveOff = piDoc.groups.flatMap((g) => g.checks).find((c) => c.id === 'tftp.live');
  if (checked.length !== count || liveOff?.status !== 'skip') throw new Error(`doctor checked ${checked.length} of ${count} Pis (live TFTP: ${liveOff?.status} ${liveOff?.finding})`);
  const pis = await compare(
    {
      [`OpenSSH: xargs -P ${count} ssh "<read the facts>"`]: () =>
        timeIt('sh', ['-c', `xargs -P ${count} -I{} ssh -n -F "$0" {} "$1" >/dev/null`, cfg, READ], { input: `${names.join('\n')}\n` }),
      [`pinet doctor --concurrency ${count} (${count} Pis, no live TFTP)`]: () =>
        timeIt(process.execPath, [PINET, ...doctorPis], { check: false }),
    },
    runs,
  );
  const okPis = report(`Pi checks over SSH (${runs} runs)`, pis, [
    ['doctor / OpenSSH', `pinet doctor --concurrency ${count} (${count} Pis, no live TFTP)`, `OpenSSH: xargs -P ${count} ssh "<read the facts>"`, 1.5],
  ]);
  process.exitCode = okTftp && okPis ? 0 : 1;
} finally {
  await lab.cleanup().catch((e: Error) => console.error(e.message));
  await fleet?.stop();
  await rm(scratch, { recursive: true, force: true });
}
