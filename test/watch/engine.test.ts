/**
 * The watch engine on real dnsmasq logs (test/fixtures/watch, recorded by
 * record-fixtures.ts: test/netboot's bootloader emulator booting against the
 * real dnsmasq 2.90; and the seed article's log of a real Pi), fed line by
 * line with each line's own time stamp, as the runner does. No root needed.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDnsmasqConfig } from '../../src/jobs/doctor/dnsmasq-checks.js';
import { logGroups } from '../../src/jobs/doctor/live-checks.js';
import { readDnsmasqConfig } from '../../src/server/dnsmasq-read.js';
import { parseLogLine, stampToMs, summarizeLog } from '../../src/server/dnsmasq-log.js';
import type { InventoryEntry } from '../../src/server/state.js';
import { StaticCatalog, type DirInfo, type FileFacts } from '../../src/jobs/watch/catalog.js';
import { WatchEngine, type EngineOptions } from '../../src/jobs/watch/engine.js';
import type { WatchEvent } from '../../src/jobs/watch/events.js';
import { ubuntuPartition } from '../netboot/boot-partition.js';

const FIXTURES = new URL('../fixtures/watch/', import.meta.url);

interface Meta {
  tftpRoot: string;
  pis: { name: string; mac: string; serial: string; ip: string }[];
  dnsmasqConf: string;
}

async function fixture(name: string): Promise<{ log: string; meta: Meta }> {
  const [log, meta] = await Promise.all([readFile(new URL(`${name}.log`, FIXTURES), 'utf8'), readFile(new URL(`${name}.json`, FIXTURES), 'utf8')]);
  return { log, meta: JSON.parse(meta) as Meta };
}

/** The boot partition the fixtures' Pis had (test/netboot's Ubuntu layout), with each file's size. */
const PARTITION = Object.fromEntries(Object.entries(ubuntuPartition()).map(([f, c]) => [f, Buffer.byteLength(c)]));
const UBUNTU: Omit<DirInfo, 'dir'> = {
  required: ['start4.elf', 'fixup4.dat', 'config.txt', 'bcm2711-rpi-4-b.dtb', 'overlays/overlay_map.dtb', 'overlays/dwc2.dtbo', 'overlays/disable-bt.dtbo', 'overlays/disable-wifi.dtbo', 'cmdline.txt', 'vmlinuz', 'initrd.img'],
  kernel: 'vmlinuz',
  initramfs: ['initrd.img'],
};

function entry(pi: Meta['pis'][number], root: string): InventoryEntry {
  return {
    serial: `10000000${pi.serial}`,
    dir: pi.serial,
    prefixMode: 'serial',
    mac: pi.mac,
    host: pi.name,
    address: `${pi.ip}:22`,
    bootMount: '/boot/firmware',
    exportDir: root,
    nfs: 'nfs-host:/picluster-boot',
    enrolledAt: '2024-11-25T10:00:00Z',
    updatedAt: '2024-11-25T10:00:00Z',
    changes: [],
    hooks: [],
  };
}

/** Feed a whole log as the runner does (each line at its own stamp); returns every event and the last line's time. */
function feed(engine: WatchEngine, log: string, until?: (raw: string) => boolean): { events: WatchEvent[]; lastMs: number } {
  const events: WatchEvent[] = [];
  let lastMs = 0;
  const now = Date.now();
  for (const raw of log.split('\n')) {
    if (until?.(raw)) break;
    const line = parseLogLine(raw);
    if (!line.event) continue;
    const ms = line.stamp ? stampToMs(line.stamp, now)! : now;
    lastMs = Math.max(lastMs, ms);
    events.push(...engine.feedLine(line, ms));
  }
  return { events, lastMs };
}

/** The time of the first (or last) line holding `text`. */
function timeOf(log: string, text: string, which: 'first' | 'last' = 'first'): number {
  const lines = log.split('\n').filter((l) => l.includes(text));
  return stampToMs(parseLogLine((which === 'first' ? lines[0] : lines.at(-1))!).stamp!, Date.now())!;
}

const byType = <T extends WatchEvent['type']>(events: WatchEvent[], type: T): Extract<WatchEvent, { type: T }>[] => events.filter((e): e is Extract<WatchEvent, { type: T }> => e.type === type);

async function configFrom(text: string): Promise<NonNullable<EngineOptions['config']>> {
  const dir = await mkdtemp(join(tmpdir(), 'pinet-watch-conf-'));
  try {
    await writeFile(join(dir, 'dnsmasq.conf'), text);
    const cfg = await readDnsmasqConfig([join(dir, 'dnsmasq.conf')]);
    const { checks } = checkDnsmasqConfig(cfg, { exportDir: '/srv/netboot', defaultUser: 'nobody', port53InUse: false, sources: 'test' });
    return { checks, logDhcp: /^log-dhcp$/m.test(text), quiet: [] };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('four Pis booting at once (real dnsmasq log)', async () => {
  const { log, meta } = await fixture('four-pis');
  const [a, b, c, d] = meta.pis as [Meta['pis'][number], Meta['pis'][number], Meta['pis'][number], Meta['pis'][number]];
  const root = meta.tftpRoot;
  const files: Record<string, FileFacts> = {
    [`${root}/${c.serial}/vmlinuz`]: { size: PARTITION.vmlinuz!, owner: 'root:root', mode: '0600', unreadable: `${root}/${c.serial}/vmlinuz: mode 0600 owner 0:0 gives dnsmasq (as other) no read permission` },
  };
  for (const pi of [a, b, c, d]) for (const [f, size] of Object.entries(PARTITION)) files[`${root}/${pi.serial}/${f}`] ??= { size };
  const dirs = Object.fromEntries(meta.pis.map((p) => [p.serial, { dir: p.serial, ...UBUNTU }]));
  const neighbors = new Map(meta.pis.map((p) => [p.ip, p.mac]));
  const make = (o: Partial<EngineOptions> = {}): WatchEngine =>
    new WatchEngine({
      catalog: new StaticCatalog(dirs, files, root, 'dnsmasq'),
      // pi-b is not enrolled.
      inventory: [a, c, d].map((p) => entry(p, root)),
      neighbors: (ip) => neighbors.get(ip),
      ...o,
    });

  it('names each Pi from the inventory (MAC from DHCP, address from TFTP) and the unknown one by its directory and MAC', () => {
    const engine = make();
    const { events, lastMs } = feed(engine, log);
    const rows = engine.rows(lastMs);
    expect(rows.map((r) => r.pi.name).sort()).toEqual(['pi-a', 'pi-c', 'pi-d', b.serial].sort());
    for (const p of [a, c, d]) expect(rows.find((r) => r.pi.name === p.name)!.pi).toMatchObject({ host: p.name, dir: p.serial, mac: p.mac, ip: p.ip, serial: `10000000${p.serial}` });
    expect(rows.find((r) => r.pi.name === b.serial)!.pi).toMatchObject({ id: b.mac, dir: b.serial, mac: b.mac, ip: b.ip });
    expect(rows.find((r) => r.pi.host)).toBeDefined();
    // One DHCP proxy offer per Pi, each on its own row.
    const dhcp = byType(events, 'dhcp');
    expect(dhcp.map((e) => e.pi.mac).sort()).toEqual(meta.pis.map((p) => p.mac).sort());
    expect(dhcp.every((e) => e.offer === 'proxy' && e.interface === 'br0' && e.vendorClass === 'PXEClient:Arch:00000:UNDI:002001')).toBe(true);
  });

  it('keeps one row for a Pi whose MAC the neighbour table knows only after its first TFTP lines', () => {
    let misses = 3;
    // None enrolled: four Pis known only by MAC after DHCP, so the first TFTP lines of pi-b cannot be tied to one.
    const engine = make({ inventory: [], neighbors: (ip) => (ip === b.ip && misses-- > 0 ? undefined : neighbors.get(ip)) });
    const { lastMs } = feed(engine, log);
    const rows = engine.rows(lastMs);
    expect(rows).toHaveLength(4);
    expect(rows.find((r) => r.pi.mac === b.mac)).toMatchObject({ pi: { name: b.serial, dir: b.serial, ip: b.ip }, stage: 'loaded' });
    expect(engine.tick(lastMs + 60_000).filter((e) => e.type === 'verdict' && e.id === 'dhcp.no-tftp')).toEqual([]);
  });

  it('follows the healthy Pis through every stage, with files and bytes, size probes apart', () => {
    const engine = make();
    const { events, lastMs } = feed(engine, log);
    const stages = byType(events, 'stage').filter((e) => e.pi.name === 'pi-a').map((e) => e.stage);
    expect(stages).toEqual(['firmware', 'initramfs', 'kernel', 'loaded']);
    const loaded = byType(events, 'stage').find((e) => e.pi.name === 'pi-a' && e.stage === 'loaded')!;
    expect(loaded.note).toBe(`all boot files sent; waiting for SSH on ${a.ip}:22`);
    const aFiles = byType(events, 'file').filter((e) => e.pi.name === 'pi-a');
    // Each "Early terminate" from pi-a's address ends one size probe; probes carry no bytes.
    const early = log.split('\n').filter((l) => l.includes(`Early terminate received from ${a.ip}`)).length;
    expect(aFiles.filter((e) => e.outcome === 'probe')).toHaveLength(early);
    expect(aFiles.filter((e) => e.outcome === 'probe').every((e) => e.bytes === undefined)).toBe(true);
    expect(aFiles.filter((e) => e.outcome === 'not-found').every((e) => e.optional)).toBe(true);
    const sent = aFiles.filter((e) => e.outcome === 'sent');
    for (const e of sent) expect(e.bytes, e.file).toBe(PARTITION[e.file]);
    const row = engine.rows(lastMs).find((r) => r.pi.name === 'pi-a')!;
    expect(row).toMatchObject({ stage: 'loaded', state: 'active', files: UBUNTU.required.length, bytes: sent.reduce((n, e) => n + e.bytes!, 0) });
    // pi-b is not in the inventory: its boot ends when the files are sent.
    const rowB = engine.rows(lastMs).find((r) => r.pi.name === b.serial)!;
    expect(rowB).toMatchObject({ stage: 'loaded', state: 'ok', files: UBUNTU.required.length });
    expect(byType(events, 'stage').find((e) => e.pi.name === b.serial && e.stage === 'loaded')!.note).toMatch(/not in the inventory/);
  });

  it('marks an enrolled Pi booted, with the total time, when its SSH answers', () => {
    const engine = make();
    const { lastMs } = feed(engine, log);
    const id = engine.rows(lastMs).find((r) => r.pi.name === 'pi-a')!.pi.id;
    expect(engine.sshTarget(id)).toBe(`${a.ip}:22`);
    const first = new Date(engine.rows(lastMs).find((r) => r.pi.name === 'pi-a')!.since).getTime();
    const evs = engine.sshUp(id, first + 23_400, `${a.ip}:22`);
    expect(byType(evs, 'booted')[0]).toMatchObject({ seconds: 23.4, from: `${root}/${a.serial}`, ssh: `${a.ip}:22`, pi: { name: 'pi-a' } });
    expect(byType(evs, 'stage')[0]).toMatchObject({ stage: 'booted', note: `netbooted in 23 s from ${root}/${a.serial}` });
    expect(engine.rows(lastMs).find((r) => r.pi.name === 'pi-a')).toMatchObject({ stage: 'booted', state: 'ok', bootSeconds: 23.4 });
  });

  it('read back with --since: a Pi whose files were all sent more than 2 s before watch began is up, with no boot time; a later one is live', () => {
    const booted = (gapMs: number) => {
      const loadedMs = Date.parse(byType(feed(make(), log).events, 'stage').find((e) => e.pi.name === 'pi-a' && e.stage === 'loaded')!.time);
      const engine = make({ liveFromMs: loadedMs + gapMs });
      const { lastMs } = feed(engine, log);
      const id = engine.rows(lastMs).find((r) => r.pi.name === 'pi-a')!.pi.id;
      const evs = engine.sshUp(id, loadedMs + gapMs + 500, `${a.ip}:22`);
      return { booted: byType(evs, 'booted')[0]!, stage: byType(evs, 'stage')[0]!, row: engine.rows(lastMs).find((r) => r.pi.name === 'pi-a')! };
    };
    const old = booted(2500);
    expect(old.booted).not.toHaveProperty('seconds');
    expect(old.stage.note).toBe(`up; it booted before watch started, from ${root}/${a.serial}`);
    expect(old.row).toMatchObject({ stage: 'booted', state: 'ok' });
    expect(old.row.bootSeconds).toBeUndefined();
    const live = booted(1500);
    expect(live.booted.seconds).toBeGreaterThan(0);
    expect(live.stage.note).toMatch(new RegExp(`^netbooted in \\d+ s from ${root}/${a.serial}$`));
  });

  it('warns when SSH is silent past the boot timeout, and marks the Pi booted if it answers after all', () => {
    const engine = make();
    const { lastMs } = feed(engine, log);
    const id = engine.rows(lastMs).find((r) => r.pi.name === 'pi-a')!.pi.id;
    const first = new Date(engine.rows(lastMs).find((r) => r.pi.name === 'pi-a')!.since).getTime();
    const warned = engine.sshGaveUp(id, lastMs + 300_000, `${a.ip}:22`, 'connection refused');
    expect(byType(warned, 'verdict')[0]).toMatchObject({ id: 'boot.no-ssh', level: 'warn' });
    expect(engine.rows(lastMs + 300_000).find((r) => r.pi.name === 'pi-a')).toMatchObject({ stage: 'loaded', state: 'warn' });
    const up = engine.sshUp(id, first + 400_000, `${a.ip}:22`);
    expect(byType(up, 'booted')[0]).toMatchObject({ seconds: 400 });
    const row = engine.rows(first + 400_000).find((r) => r.pi.name === 'pi-a')!;
    expect(row).toMatchObject({ stage: 'booted', state: 'ok', bootSeconds: 400 });
    expect(row.verdict).toBeUndefined();
  });

  it('checks SSH where the Pi booted when it was enrolled through a port forward on this machine (127.0.0.1, ::1)', () => {
    // enroll records "alias (hostname)", or the hostname alone.
    const target = (host: string, address: string | undefined, port?: number) => {
      const engine = make({ inventory: [a, c, d].map((p) => ({ ...entry(p, root), ...(p === a ? { host, ...(address !== undefined && { address }), ...(port !== undefined && { port }) } : {}) })) });
      const { lastMs } = feed(engine, log);
      return engine.sshTarget(engine.rows(lastMs).find((r) => r.pi.dir === a.serial)!.pi.id);
    };
    for (const address of ['pi-a (127.0.0.1)', '127.0.0.1', 'pi-a (::1)', 'localhost']) expect(target('pi-a', address), address).toBe(`${a.ip}:22`);
    // Any other address is where the user reaches the Pi, with the port given with the host.
    expect(target('pi-a', 'pi-a (10.9.9.9)')).toBe('10.9.9.9:22');
    expect(target('pi@pi-a:2201', 'pi-a (10.9.9.9)')).toBe('10.9.9.9:2201');
    expect(target('pi-a', 'pi-a (fd00::7)')).toBe('[fd00::7]:22');
    expect(target('10.9.9.8', '10.9.9.8')).toBe('10.9.9.8:22');
    // The port enroll connected to (an ssh_config Port, recorded when not 22).
    expect(target('pi-a', 'pi-a (10.9.9.9)', 2222)).toBe('10.9.9.9:2222');
    expect(target('pi-a', 'pi-a (fd00::7)', 2222)).toBe('[fd00::7]:2222');
    // Through a port forward on this machine the port is the forward's: the booted Pi answers on 22.
    expect(target('pi-a', 'pi-a (127.0.0.1)', 2222)).toBe(`${a.ip}:22`);
  });

  it('says "Permission denied" for the 0600 kernel with its owner, mode and doctor\'s fix', () => {
    const engine = make();
    const { events } = feed(engine, log);
    const v = byType(events, 'verdict').filter((e) => e.pi.name === 'pi-c');
    expect(v).toHaveLength(1);
    expect(v[0]).toMatchObject({
      id: 'boot.denied',
      level: 'fail',
      finding: 'vmlinuz could not be read by the TFTP server (permission denied)',
      evidence: [`${root}/${c.serial}/vmlinuz: owner root:root, mode 0600`, `${root}/${c.serial}/vmlinuz: mode 0600 owner 0:0 gives dnsmasq (as other) no read permission`],
      fix: `chmod -R a+rX ${root}/${c.serial}; keep it so after kernel updates with pinet's hook (pinet enroll pi-c) or an export that squashes to dnsmasq`,
    });
    expect(byType(events, 'stage').filter((e) => e.pi.name === 'pi-c').map((e) => e.stage)).toEqual(['firmware', 'initramfs', 'kernel']);
    expect(engine.rows(Date.now()).find((r) => r.pi.name === 'pi-c')).toMatchObject({ state: 'fail', failedAt: 'vmlinuz' });
  });

  it('fails the Pi without its device tree, in doctor\'s words', () => {
    const engine = make();
    const { events, lastMs } = feed(engine, log);
    const v = byType(events, 'verdict').filter((e) => e.pi.name === 'pi-d');
    expect(v).toEqual([expect.objectContaining({ id: 'boot.not-found', level: 'fail', finding: 'bcm2711-rpi-4-b.dtb was requested but not found', fix: "put the missing files in the Pi's directory of the export (pinet enroll pi-d copies them)" })]);
    expect(engine.rows(lastMs).find((r) => r.pi.name === 'pi-d')).toMatchObject({ state: 'fail', stage: 'initramfs', failedAt: 'bcm2711-rpi-4-b.dtb', verdict: 'bcm2711-rpi-4-b.dtb was requested but not found' });
  });

  it('explains "Early terminate" and optional files once, as benign', () => {
    const engine = make();
    const { events } = feed(engine, log);
    const notices = byType(events, 'notice');
    expect(notices.map((n) => [n.id, n.level])).toEqual([
      ['log.early-terminate', 'info'],
      ['log.optional', 'info'],
    ]);
    expect(log.match(/Early terminate/g)!.length).toBeGreaterThan(4);
  });

  it('ends with doctor\'s log summary, the same groups as pinet doctor --log', () => {
    const engine = make();
    const { lastMs } = feed(engine, log);
    const summary = engine.summary('dnsmasq.log', lastMs);
    expect(summary.checks).toEqual(logGroups(summarizeLog(log, { tftpRoot: root }), 'dnsmasq.log'));
    expect(summary.ok).toBe(false);
    expect(summary.pis).toHaveLength(4);
  });

  it('stalls a Pi that stopped mid-boot, after the stall time and not before', () => {
    const engine = make({ stallMs: 60_000 });
    // The log cut right after pi-a's cmdline.txt.
    const { lastMs } = feed(engine, log, (raw) => raw.includes(`${a.serial}/vmlinuz`));
    expect(engine.tick(lastMs + 59_000).filter((e) => e.type === 'verdict' && e.pi.name === 'pi-a')).toEqual([]);
    const v = engine.tick(lastMs + 61_000).filter((e) => e.type === 'verdict' && e.pi.name === 'pi-a');
    expect(v).toEqual([expect.objectContaining({ id: 'boot.stalled', level: 'warn', finding: expect.stringMatching(/^no TFTP progress for 6\d s \(last: (sent .+|size probe.*)\)$/) })]);
    expect(engine.tick(lastMs + 120_000).filter((e) => e.type === 'verdict' && e.pi.name === 'pi-a')).toEqual([]);
  });

  it('starts a new attempt when a Pi sends a PXE request again', () => {
    const engine = make();
    const { lastMs } = feed(engine, log);
    const pxe = log.split('\n').find((l) => l.includes(`PXE(br0) ${c.mac}`))!;
    const evs = engine.feed(pxe, lastMs + 5000);
    expect(byType(evs, 'dhcp')[0]).toMatchObject({ attempt: 2, pi: { name: 'pi-c' } });
    expect(engine.rows(lastMs + 5000).find((r) => r.pi.name === 'pi-c')).toMatchObject({ attempt: 2, state: 'active', stage: 'dhcp', files: 0 });
  });
});

describe('directories, prefixes and configs (real dnsmasq logs)', () => {
  it('names a TFTP_PREFIX=2 Pi by its MAC directory, and warns about a Pi that fell back to no prefix', async () => {
    const { log, meta } = await fixture('mac-prefix');
    const [a, b] = meta.pis as [Meta['pis'][number], Meta['pis'][number]];
    const engine = new WatchEngine({ catalog: new StaticCatalog({}, {}, meta.tftpRoot) });
    const { events, lastMs } = feed(engine, log);
    const rows = engine.rows(lastMs);
    const macDir = a.mac.replace(/:/g, '-');
    // First seen in DHCP (id: its MAC), named by its directory once it asked for one.
    expect(rows.find((r) => r.pi.dir === macDir)!.pi).toMatchObject({ id: a.mac, name: macDir, mac: a.mac, ip: a.ip });
    const fallBack = rows.find((r) => r.pi.ip === b.ip)!;
    expect(fallBack.pi).toMatchObject({ dir: b.serial });
    const v = byType(events, 'verdict').filter((e) => e.pi.ip === b.ip);
    expect(v).toEqual([expect.objectContaining({ id: 'boot.prefix', level: 'warn', finding: `the Pi asked for ${b.serial}/start4.elf, which does not exist: it asks for its files without a directory prefix now` })]);
    // It still loads everything, from the root of the export.
    expect(fallBack).toMatchObject({ stage: 'loaded', files: UBUNTU.required.length });
  });

  it('a config without pxe-service: the Pi\'s DISCOVER gets no offer, said in doctor\'s words', async () => {
    const { log, meta } = await fixture('no-menu');
    const engine = new WatchEngine({ catalog: new StaticCatalog({}, {}, meta.tftpRoot), config: await configFrom(meta.dnsmasqConf) });
    feed(engine, log);
    // The Pi asks again every second (the same transaction); nobody answered the last one either.
    const asked = timeOf(log, 'vendor class', 'last');
    expect(engine.tick(asked + 1000).filter((e) => e.type === 'notice')).toEqual([]);
    const n = engine.tick(asked + 4000).filter((e) => e.type === 'notice');
    expect(n).toEqual([
      expect.objectContaining({
        id: 'dhcp.unanswered',
        level: 'fail',
        message: 'a PXE client (vendor class PXEClient:Arch:00000:UNDI:002001) asked and dnsmasq sent no offer: no pxe-service and no option 43: dnsmasq sends no PXE offer, so the Pi never learns the TFTP server',
        fix: expect.stringMatching(/^add pxe-service=0,"Raspberry Pi Boot"/),
      }),
    ]);
    expect(engine.rows(asked)).toEqual([]);
    expect(engine.summary('log', asked).ok).toBe(false);
  });

  it('the same unanswered request with a config that offers the menu is only a note: an x86 PXE client looks the same', async () => {
    const { log, meta } = await fixture('no-menu');
    const good = (await fixture('four-pis')).meta.dnsmasqConf;
    const engine = new WatchEngine({ catalog: new StaticCatalog({}, {}, meta.tftpRoot), config: await configFrom(good) });
    feed(engine, log);
    expect(engine.finish(0)).toEqual([expect.objectContaining({ type: 'notice', id: 'dhcp.unanswered', level: 'info', message: expect.stringMatching(/an x86 PC, ignored on purpose by a tagged config/) })]);
  });

  it('a menu without "Raspberry Pi Boot": an offer and no TFTP request, with doctor\'s finding about the menu', async () => {
    const { log, meta } = await fixture('wrong-menu');
    const engine = new WatchEngine({ catalog: new StaticCatalog({}, {}, meta.tftpRoot), config: await configFrom(meta.dnsmasqConf), dhcpWaitMs: 20_000 });
    const { events } = feed(engine, log);
    // The bootloader ignores the offer and asks again, about once a second, on the same row.
    expect(byType(events, 'dhcp').length).toBeGreaterThan(1);
    expect(new Set(byType(events, 'dhcp').map((e) => e.pi.id)).size).toBe(1);
    const offered = timeOf(log, 'PXE(br0)');
    expect(engine.tick(offered + 19_000).filter((e) => e.type === 'verdict')).toEqual([]);
    const v = engine.tick(offered + 21_000).filter((e) => e.type === 'verdict');
    expect(v).toEqual([
      expect.objectContaining({
        id: 'dhcp.no-tftp',
        level: 'warn',
        finding: expect.stringMatching(new RegExp(`^got ${log.split('\n').filter((l) => l.includes('PXE(br0)')).length} DHCP proxy offers but asked for no file over TFTP for 2\\d s: pxe-service is set but no entry carries "Raspberry Pi Boot"`)),
        fix: 'use pxe-service=0,"Raspberry Pi Boot"',
      }),
    ]);
  });

  it('says when log-dhcp is missing: from the config before any line, or from the first PXE line without a transaction id', async () => {
    const { log, meta } = await fixture('no-log-dhcp');
    const withConfig = new WatchEngine({ catalog: new StaticCatalog({}, {}, meta.tftpRoot), config: await configFrom(meta.dnsmasqConf) });
    expect(withConfig.start(0)).toEqual([expect.objectContaining({ type: 'notice', id: 'log.no-log-dhcp', level: 'warn', fix: expect.stringMatching(/add log-dhcp/) })]);
    const bare = new WatchEngine({ catalog: new StaticCatalog({}, {}, meta.tftpRoot) });
    const { events, lastMs } = feed(bare, log);
    expect(byType(events, 'notice').filter((n) => n.id === 'log.no-log-dhcp')).toHaveLength(1);
    // The boot itself still reads: PXE line (MAC) and TFTP (directory) tied by the one pending Pi.
    expect(bare.rows(lastMs)).toEqual([expect.objectContaining({ stage: 'loaded', files: UBUNTU.required.length, pi: expect.objectContaining({ mac: meta.pis[0]!.mac, dir: meta.pis[0]!.serial }) })]);
  });

  it("reads the seed article's log as one boot, size probes apart from transfers", async () => {
    const log = await readFile(new URL('../fixtures/seed-article/dnsmasq.log', import.meta.url), 'utf8');
    const engine = new WatchEngine({ catalog: new StaticCatalog({}, {}, '/mnt/netboot') });
    const { events, lastMs } = feed(engine, log);
    expect(engine.rows(lastMs)).toEqual([expect.objectContaining({ stage: 'loaded', state: 'ok', files: 11, pi: expect.objectContaining({ mac: 'e4:5f:01:98:e0:82', dir: 'bf9fed6f', ip: '10.86.5.151' }) })]);
    // Every "Early terminate" is followed by the end of that probe, never counted as a transfer.
    expect(byType(events, 'file').filter((e) => e.outcome === 'probe')).toHaveLength((log.match(/Early terminate/g) ?? []).length);
    expect(byType(events, 'verdict')).toEqual([]);
    expect(engine.summary('seed', lastMs).checks).toEqual(logGroups(summarizeLog(log, { tftpRoot: '/mnt/netboot' }), 'seed'));
  });
});
