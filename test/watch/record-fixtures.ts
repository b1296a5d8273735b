/**
 * Records the real dnsmasq logs the engine's unit tests read
 * (test/fixtures/watch/): the real dnsmasq in a namespace LAN, Pis booting
 * with test/netboot's bootloader emulator (the real bootloader's request
 * order, size probes included), each log saved byte for byte with a `.json`
 * beside it saying what was booted (root, Pis, boot results, dnsmasq
 * config). Run as root when dnsmasq's output changes:
 *
 *   node --import tsx test/watch/record-fixtures.ts
 */
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ubuntuPartition, writePartition } from '../netboot/boot-partition.js';
import { REPO, WatchLab, type LabPi } from './helpers/lab.js';

const OUT = join(REPO, 'test/fixtures/watch');

interface Scenario {
  name: string;
  about: string;
  edit?: (conf: string) => string;
  run: (lab: WatchLab, root: string, pis: LabPi[]) => Promise<unknown>;
}

const ubuntu = (root: string, dir: string, change: Record<string, null> = {}): Promise<void> => writePartition(join(root, dir), { ...ubuntuPartition(), ...change });
const boot = async (lab: WatchLab, pis: LabPi[], eeprom?: Record<string, string | number>): Promise<unknown> =>
  (await Promise.all(pis.map((pi) => lab.emulate(pi, eeprom ? { eeprom: { BOOT_ORDER: '0xf2', DHCP_TIMEOUT: 5000, DHCP_REQ_TIMEOUT: 1000, ...eeprom } } : {})))).map((r) => ({
    pi: r.pi,
    outcome: r.outcome,
    summary: r.summary,
    ...(r.failure && { failure: r.failure }),
  }));

const scenarios: Scenario[] = [
  {
    name: 'four-pis',
    about: 'four Pis booting at once: pi-a and pi-b healthy, pi-c with a root-owned 0600 kernel, pi-d without its device tree; pi-b is not in the inventory',
    async run(lab, root, pis) {
      const [a, b, c, d] = pis as [LabPi, LabPi, LabPi, LabPi];
      await ubuntu(root, a.serial);
      await ubuntu(root, b.serial);
      await ubuntu(root, c.serial);
      await chmod(join(root, c.serial, 'vmlinuz'), 0o600);
      await ubuntu(root, d.serial, { 'bcm2711-rpi-4-b.dtb': null });
      return boot(lab, [a, b, c, d]);
    },
  },
  {
    name: 'mac-prefix',
    about: 'a Pi with TFTP_PREFIX=2 (directory named after its MAC), and one whose directory does not exist (it falls back to no prefix)',
    async run(lab, root, pis) {
      const [a, b] = pis as [LabPi, LabPi];
      await ubuntu(root, a.mac.replace(/:/g, '-'));
      await writePartition(root, ubuntuPartition());
      return [...((await boot(lab, [a], { TFTP_PREFIX: 2 })) as unknown[]), ...((await boot(lab, [b])) as unknown[])];
    },
  },
  {
    name: 'no-menu',
    about: 'the config has no pxe-service: dnsmasq answers no Pi',
    edit: (conf) => conf.replace(/^pxe-service=.*$/m, ''),
    async run(lab, root, pis) {
      await ubuntu(root, pis[0]!.serial);
      return boot(lab, [pis[0]!]);
    },
  },
  {
    name: 'wrong-menu',
    about: 'the PXE menu text is not "Raspberry Pi Boot": dnsmasq sends an offer the bootloader ignores',
    edit: (conf) => conf.replace('Raspberry Pi Boot', 'Network Boot'),
    async run(lab, root, pis) {
      await ubuntu(root, pis[0]!.serial);
      return boot(lab, [pis[0]!]);
    },
  },
  {
    name: 'no-log-dhcp',
    about: 'a healthy boot with log-dhcp removed from the config',
    edit: (conf) => conf.replace(/^log-dhcp$/m, ''),
    async run(lab, root, pis) {
      await ubuntu(root, pis[0]!.serial);
      return boot(lab, [pis[0]!]);
    },
  },
];

async function record(s: Scenario, net: number): Promise<void> {
  const lab = new WatchLab(`rec${net}`, net);
  try {
    await lab.lan();
    const root = await lab.dir('tftp');
    const logDir = await lab.dir('log');
    const logFile = join(logDir, 'dnsmasq.log');
    const count = s.name === 'four-pis' ? 4 : s.name === 'mac-prefix' ? 2 : 1;
    const names = ['pi-a', 'pi-b', 'pi-c', 'pi-d'];
    const pis: LabPi[] = [];
    for (let i = 0; i < count; i++) pis.push(await lab.addPi(names[i]!));
    const d = await lab.dnsmasq(root, { logFile, ...(s.edit && { edit: s.edit }) });
    const results = await s.run(lab, root, pis);
    await d.stop();
    await mkdir(OUT, { recursive: true });
    await copyFile(logFile, join(OUT, `${s.name}.log`));
    await chmod(join(OUT, `${s.name}.log`), 0o644);
    const meta = { about: s.about, tftpRoot: root, pis, dnsmasqConf: await readFile(d.conf, 'utf8'), results };
    await writeFile(join(OUT, `${s.name}.json`), `${JSON.stringify(meta, null, 2)}\n`);
    process.stdout.write(`recorded ${s.name}\n`);
  } finally {
    await lab.cleanup();
  }
}

for (const [i, s] of scenarios.entries()) await record(s, 180 + (i % 4));
