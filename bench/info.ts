/**
 * bench/info: `pinet info` against OpenSSH reading the same facts, on the
 * fake fleet, in the same run (issue 3: at most 1.5x, for 1 and 20 Pis).
 *
 *   sudo node --import tsx bench/info.ts [runs]
 */
import { fileURLToPath } from 'node:url';
import { startFleet } from '../test/fleet/fleet.js';
import { compare, report, timeIt } from './lib.js';

const runs = Number(process.argv[2] ?? 7);
const PINET = fileURLToPath(new URL('../bin/pinet.js', import.meta.url));
// What pinet info reads, read with one plain ssh call per Pi.
const READ =
  'cat /proc/cpuinfo /sys/firmware/devicetree/base/serial-number /sys/firmware/devicetree/base/model /etc/os-release /etc/fstab /proc/mounts ' +
  '/sys/class/net/eth0/address /etc/default/rpi-eeprom-update /boot/firmware/*.txt 2>/dev/null; rpi-eeprom-config; find /boot/firmware -printf "%y %m %s %T@ %P\\n"';

const names = Array.from({ length: 20 }, (_, i) => `pi-${String(i + 1).padStart(2, '0')}`);
const fleet = await startFleet({ pis: names.map((name) => ({ name, variant: 'ubuntu-2404-pi4' as const })), bootFilesMB: 1 });
try {
  const cfg = fleet.sshConfig;
  const one = await compare(
    {
      'OpenSSH: ssh pi-01 "<read the facts>"': () => timeIt('ssh', ['-n', '-F', cfg, 'pi-01', READ]),
      'pinet info pi-01': () => timeIt(process.execPath, [PINET, 'info', '--json', '-F', cfg, 'pi-01']),
    },
    runs,
  );
  const ok1 = report('1 Pi', one, [['pinet / OpenSSH', 'pinet info pi-01', 'OpenSSH: ssh pi-01 "<read the facts>"', 1.5]]);
  const many = await compare(
    {
      'OpenSSH: xargs -P 20 ssh (20 Pis)': () =>
        timeIt('sh', ['-c', 'xargs -P 20 -I{} ssh -n -F "$0" {} "$1" >/dev/null', cfg, READ], { input: `${names.join('\n')}\n` }),
      'pinet info --concurrency 20 (20 Pis)': () => timeIt(process.execPath, [PINET, 'info', '--json', '-F', cfg, '--concurrency', '20', ...names]),
    },
    runs,
  );
  const ok20 = report('20 Pis', many, [['pinet / OpenSSH', 'pinet info --concurrency 20 (20 Pis)', 'OpenSSH: xargs -P 20 ssh (20 Pis)', 1.5]]);
  process.exitCode = ok1 && ok20 ? 0 : 1;
} finally {
  await fleet.stop();
}
