/**
 * How many emulated Pi 4s this machine boots at once against one real
 * dnsmasq (root). Builds a LAN (bridge, pinet's proxy dnsmasq, the LAN's
 * router), N Pis with their own namespace, MAC and boot directory, then
 * boots them all at once, `--rounds` times, and prints per round: the wall
 * time, boots per second, and the medians of the phases (socket broker
 * start, DHCP, TFTP) taken from the Pis' own timings.
 *
 *   node --import tsx test/netboot/bench.ts [--pis 50] [--rounds 3] [--kernel-kb 180] [--keep-brokers]
 *
 * `--keep-brokers` starts each Pi's socket broker once and reuses it for
 * every round (what a test that reboots Pis can do); without it every boot
 * starts its own, as `bootPi` does by default.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ubuntuPartition, writePartition } from './boot-partition.js';
import { bootPi, NamespaceSockets, NetbootLan, type BootResult } from './index.js';

const { values } = parseArgs({
  options: {
    pis: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '3' },
    'kernel-kb': { type: 'string', default: '180' },
    'keep-brokers': { type: 'boolean', default: false },
  },
});
const N = Number(values.pis);
const ROUNDS = Number(values.rounds);
const KERNEL = Number(values['kernel-kb']) * 1024;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
};
const phase = (r: BootResult, from: RegExp, to: RegExp): number => {
  const t = (re: RegExp): number | undefined => {
    const l = r.log.find((x) => re.test(x));
    return l ? Number(/\]\s+([0-9.]+) /.exec(l)![1]) * 1000 : undefined;
  };
  const a = t(from);
  const b = t(to);
  return a !== undefined && b !== undefined ? b - a : NaN;
};

const lan = await NetbootLan.create({ tag: 'nbbench', base: '10.251.179' });
const brokers: NamespaceSockets[] = [];
try {
  const root = await lan.lab.dir('tftp');
  await lan.startBootServer(root);
  await lan.startRouter();
  const pis: { mac: string; serial8: string; nic: { netns: string; iface: string } }[] = [];
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const serial8 = `eeee${i.toString(16).padStart(4, '0')}`;
    await writePartition(join(root, serial8), { ...ubuntuPartition(), vmlinuz: randomBytes(KERNEL) });
    const mac = `dc:a6:32:04:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    pis.push({ mac, serial8, nic: (await lan.addPi(mac)).nic });
  }
  process.stdout.write(`set up ${N} Pis in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  if (values['keep-brokers']) brokers.push(...(await Promise.all(pis.map((p) => NamespaceSockets.open(p.nic.netns)))));
  for (let round = 1; round <= ROUNDS; round++) {
    const outs = await Promise.all(pis.map(() => lan.lab.dir('out')));
    const start = performance.now();
    const results = await Promise.all(
      pis.map((p, i) =>
        bootPi({
          pi: { mac: p.mac, serial: `10000000${p.serial8}`, revision: 'd03114', name: `pi-${i}` },
          eeprom: { BOOT_ORDER: '0xf2', DHCP_TIMEOUT: 45000 },
          nic: p.nic,
          outDir: outs[i]!,
          ...(brokers[i] && { sockets: brokers[i] }),
        }),
      ),
    );
    const wall = performance.now() - start;
    const booted = results.filter((r) => r.outcome === 'booted').length;
    const mb = results.reduce((n, r) => n + r.timings.bytesReceived, 0) / 1e6;
    const broker = results.map((r) => phase(r, /Boot mode: NETWORK/, /NET: .* wait for link/));
    const dhcp = results.map((r) => r.timings.dhcpMs ?? NaN);
    const tftp = results.map((r) => r.timings.tftpMs ?? NaN);
    const retrans = results.reduce((n, r) => n + r.requests.reduce((m, q) => m + q.retransmissions, 0), 0);
    process.stdout.write(
      `round ${round}: ${booted}/${N} booted in ${(wall / 1000).toFixed(2)} s = ${((booted * 1000) / wall).toFixed(1)} boots/s; ` +
        `${mb.toFixed(1)} MB, ${results.reduce((n, r) => n + r.requests.length, 0)} TFTP requests, ${retrans} retransmissions; ` +
        `median broker ${median(broker).toFixed(0)} ms, DHCP ${median(dhcp).toFixed(0)} ms, TFTP ${median(tftp).toFixed(0)} ms\n`,
    );
    for (const r of results.filter((x) => x.outcome !== 'booted')) process.stdout.write(`  ${r.pi.name}: ${r.outcome}: ${r.summary}\n`);
  }
} finally {
  for (const b of brokers) await b.close();
  await lan.cleanup();
}
