/**
 * Records the real dnsmasq logs the engine's unit tests read
 * (test/fixtures/watch/): the real dnsmasq in a namespace LAN, Pis booting
 * with pinet's own clients (test/watch/helpers/pi-boot.ts), each log saved
 * byte for byte with a `.json` beside it saying what was booted (root, Pis,
 * dnsmasq config). Run as root when dnsmasq's output changes:
 *
 *   node --import tsx test/watch/record-fixtures.ts
 */
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO, WatchLab, type LabPi } from './helpers/lab.js';

const OUT = join(REPO, 'test/fixtures/watch');

interface Scenario {
  name: string;
  about: string;
  edit?: (conf: string) => string;
  run: (lab: WatchLab, root: string, pis: LabPi[]) => Promise<unknown>;
}

const scenarios: Scenario[] = [
  {
    name: 'four-pis',
    about: 'four Pis booting at once: pi-a and pi-b healthy, pi-c with a root-owned 0600 kernel, pi-d without its device tree; pi-b is not in the inventory',
    async run(lab, root, pis) {
      const [a, b, c, d] = pis as [LabPi, LabPi, LabPi, LabPi];
      await lab.bootDir(root, a.serial);
      await lab.bootDir(root, b.serial);
      await lab.bootDir(root, c.serial, { modes: { vmlinuz: 0o600 } });
      await lab.bootDir(root, d.serial, { skip: ['bcm2711-rpi-4-b.dtb'] });
      return lab.boot([{ pi: a }, { pi: b }, { pi: c }, { pi: d }]);
    },
  },
  {
    name: 'mac-prefix',
    about: 'a Pi with TFTP_PREFIX=2 (directory named after its MAC), and one whose directory does not exist (it falls back to no prefix)',
    async run(lab, root, pis) {
      const [a, b] = pis as [LabPi, LabPi];
      const macDir = a.mac.replace(/:/g, '-');
      await lab.bootDir(root, macDir);
      await lab.bootDir(root, '');
      return lab.boot([{ pi: a, opts: { prefix: macDir } }, { pi: b }]);
    },
  },
  {
    name: 'no-menu',
    about: 'the config has no pxe-service: dnsmasq answers no Pi',
    edit: (conf) => conf.replace(/^pxe-service=.*$/m, ''),
    async run(lab, root, pis) {
      await lab.bootDir(root, pis[0]!.serial);
      return lab.boot([{ pi: pis[0]! }]);
    },
  },
  {
    name: 'wrong-menu',
    about: 'the PXE menu text is not "Raspberry Pi Boot": dnsmasq sends an offer the bootloader ignores',
    edit: (conf) => conf.replace('Raspberry Pi Boot', 'Network Boot'),
    async run(lab, root, pis) {
      await lab.bootDir(root, pis[0]!.serial);
      return lab.boot([{ pi: pis[0]! }]);
    },
  },
  {
    name: 'no-log-dhcp',
    about: 'a healthy boot with log-dhcp removed from the config',
    edit: (conf) => conf.replace(/^log-dhcp$/m, ''),
    async run(lab, root, pis) {
      await lab.bootDir(root, pis[0]!.serial);
      return lab.boot([{ pi: pis[0]! }]);
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
