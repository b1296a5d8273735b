/**
 * Enroll's planning (`planPi`) on recorded Pis, without root: the changes
 * per variant, every refusal with its message and hint, --force, the
 * TFTP_PREFIX modes, --root nfs/rbd/keep (and the root recorded in the
 * inventory), the no-op on an enrolled Pi whose export matches, mode fixes,
 * and when the inventory entry counts as changed. Each row is a recorded Pi
 * (test/fixtures/gather) with one edit.
 */
import { describe, expect, it } from 'vitest';
import type { Detected } from '../../src/host/detect.js';
import { planPi, type EnrollSettings, type ExportListing, type PiPlan } from '../../src/jobs/enroll/plan.js';
import type { Inventory, InventoryEntry } from '../../src/server/state.js';
import {
  bootFile,
  bootloaderConfig,
  bootText,
  copiedListing,
  detected,
  dropBootFile,
  eepromDefaults,
  enrollSettings,
  entry,
  EXPORT_DIR,
  fstab,
  inventoryOf,
  login,
  noSerial,
  pendingUpdate,
  recordedSections,
  section,
  server,
  type FixtureName,
} from './fixtures.js';

const HOOKS = ['hook:/etc/kernel/postinst.d/zzz-pinet-bootfiles', 'hook:/etc/initramfs/post-update.d/zzz-pinet-bootfiles'];
const FIRST_ENROLL = ['backup', 'export-dir', 'copy', 'fstab', ...HOOKS, 'bootloader', 'inventory'];
const NFS_ROOT = { kind: 'nfs' as const, nfs: { server: '10.251.184.2', path: '/srv/nfsroot/{serial}' } };
const NOW = new Date('2026-12-01T10:00:00Z');

interface Input {
  d: Detected;
  settings?: Partial<EnrollSettings>;
  inventory?: Inventory;
  local?: ExportListing;
  localCmdline?: string | null;
}

async function plan(i: Input): Promise<PiPlan> {
  return planPi({ detected: i.d, settings: await enrollSettings(i.settings), inventory: i.inventory ?? inventoryOf(), local: i.local ?? new Map(), localCmdline: i.localCmdline ?? null, now: NOW });
}

const ids = (p: PiPlan) => p.target.changes.map((c) => c.id);
const change = (p: PiPlan, id: string) => {
  const c = p.target.changes.find((x) => x.id === id);
  if (!c) throw new Error(`no change ${id} in ${ids(p).join(', ')}`);
  return c;
};

/** The last 8 digits of the serial in the recorded cpuinfo: the directory the bootloader asks for with TFTP_PREFIX=0. */
const serial8 = (name: FixtureName) => /^Serial\s*:\s*[0-9a-f]{8}([0-9a-f]{8})$/m.exec(recordedSections(name).get('cpuinfo') ?? '')![1]!;
/** The wired MAC in the recorded /sys/class/net listing. */
const mac = (name: FixtureName) => /^eth0 (\S+) /m.exec(recordedSections(name).get('net') ?? '')![1]!;

/** Rejects with a PinetError whose message and hint match. */
async function refusal(i: Input): Promise<{ message: string; hint: string | undefined }> {
  try {
    await plan(i);
  } catch (err) {
    return { message: (err as Error).message, hint: (err as { hint?: string }).hint };
  }
  throw new Error('planPi did not refuse');
}

describe('enroll plan per variant (first enroll, as root or with passwordless sudo)', () => {
  it.each([
    // fixture, boot mount, BOOT_ORDER before → after, files made readable (the Pi's 0600 ones)
    ['ubuntu-2404-pi4', '/boot/firmware', '0xf41', '0xf241', ['vmlinuz']],
    ['rpios-bookworm-pi4', '/boot/firmware', '0xf41', '0xf241', []],
    ['rpios-bookworm-pi4.as-pi', '/boot/firmware', '0xf41', '0xf241', []],
    ['rpios-bullseye-pi4', '/boot', '0xf41', '0xf241', []],
    ['no-boot-order', '/boot/firmware', '0xf41', '0xf241', []],
    ['pi5', '/boot/firmware', '0xf461', '0xf2461', []],
  ] as const)('%s: every change, in order; %s over NFS; BOOT_ORDER %s → %s', async (name, mount, before, after, readable) => {
    const p = await plan({ d: detected(name) });
    expect(ids(p)).toEqual(FIRST_ENROLL);
    expect(p.dir).toBe(serial8(name));
    expect(p.localDir).toBe(`${EXPORT_DIR}/${serial8(name)}`);
    expect(p.bootMount).toBe(mount);
    expect(p.fstab!.after).toContain(`nfs-host:/picluster-boot/${serial8(name)} ${mount} nfs defaults,timeo=900,_netdev 0 0`);
    expect(p.fstab!.after).toContain('# pinet: replaced: ');
    expect(change(p, 'bootloader').detail).toEqual({ before, after });
    expect(p.eeprom!.after).toMatch(new RegExp(`^BOOT_ORDER=${after}$`, 'm'));
    expect((change(p, 'copy').detail as { madeReadable: string[] }).madeReadable).toEqual(readable);
    // every hook carries the script for this Pi's boot mount
    expect(p.hooks.map((h) => h.content)).toEqual([(await enrollSettings()).hookScripts[mount], (await enrollSettings()).hookScripts[mount]]);
    expect(p.inventoryEntry).toMatchObject({ serial: expect.stringMatching(new RegExp(`${serial8(name)}$`)), dir: serial8(name), prefixMode: 'serial', bootMount: mount, exportDir: EXPORT_DIR, bootOrder: { before, after } });
  });

  it('copies every boot file but a staged bootloader update (TFTP would serve it at every boot)', async () => {
    const p = await plan({ d: detected('ubuntu-2404-pi4', [pendingUpdate('[all]\nBOOT_UART=1\nBOOT_ORDER=0xf41\n')]) });
    const files = (change(p, 'copy').detail as { files: string[] }).files;
    expect(files).toContain('start4.elf');
    expect(files).not.toContain('pieeprom.upd');
    expect(files).not.toContain('pieeprom.sig');
    // the pending config is the base of the plan
    expect(p.eeprom!.before).toBe('[all]\nBOOT_UART=1\nBOOT_ORDER=0xf41\n');
    expect(p.eeprom!.after).toBe('[all]\nBOOT_UART=1\nBOOT_ORDER=0xf241\n');
    expect(p.target.notes).toContain('a bootloader update is already pending; it is the base of this plan and takes effect at the next reboot');
  });

  it('warns about a boot file the bootloader requests that the Pi does not have', async () => {
    const p = await plan({ d: detected('rpios-bookworm-pi4', [dropBootFile('fixup4.dat')]) });
    expect(p.target.warnings.join('\n')).toMatch(/^fixup4\.dat is requested by the bootloader \(.*\) but is not in \/boot\/firmware: the netboot will stop there unless you add it$/m);
  });

  it('a Pi 5 is planned with a warning that its netboot is untested', async () => {
    expect((await plan({ d: detected('pi5') })).target.warnings).toContain('Pi 5: network boot differs in places and is untested with pinet');
  });
});

describe('enroll refuses, changing nothing, and says why', () => {
  const other = (over: Partial<InventoryEntry>): InventoryEntry =>
    ({ serial: '10000000deadbeef', dir: 'deadbeef', prefixMode: 'serial', host: 'pi-99', bootMount: '/boot/firmware', exportDir: EXPORT_DIR, nfs: 'nfs-host:/picluster-boot', enrolledAt: '', updatedAt: '', changes: [], hooks: [], ...over }) as InventoryEntry;

  it.each<[string, () => Input, RegExp, RegExp | undefined]>([
    ['a Pi 3 (no bootloader EEPROM)', () => ({ d: detected('pi3') }), /^pi-07: Pi 3B cannot network boot from its bootloader EEPROM: Pi 3B has no bootloader EEPROM/, undefined],
    ['no serial number anywhere', () => ({ d: detected('ubuntu-2404-pi4', [noSerial]) }), /^pi-07: cannot read the serial number: /, /names the Pi's directory after it/],
    ['sudo asks a password', () => ({ d: detected('rpios-bookworm-pi4.as-locked') }), /^pi-07: user locked needs a password for sudo, and enroll must change \/etc\/fstab and the bootloader config$/, /^log in as root, or allow passwordless sudo for locked$/],
    ['neither root nor sudo', () => ({ d: detected('rpios-bookworm-pi4', [login('bob', 1000, 'absent')]) }), /^pi-07: user bob is not root and has no sudo$/, /passwordless sudo/],
    ['rpi-eeprom-config missing', () => ({ d: detected('ubuntu-2404-pi4', [section('eeprom-tool', '')]) }), /rpi-eeprom-config is not installed/, /install the rpi-eeprom package/],
    ['no fstab line for the boot partition', () => ({ d: detected('ubuntu-2404-pi4', [fstab((t) => t.replace(/^LABEL=system-boot.*\n/m, ''))]) }), /^pi-07: \/etc\/fstab: \/etc\/fstab has no line that mounts \/boot\/firmware$/, /pinet replaces the line that mounts the boot partition; add it/],
    ['the boot partition is not mounted', () => ({ d: detected('ubuntu-2404-pi4', [section('boot-dir', '')]) }), /no config\.txt in \/boot\/firmware or \/boot: the boot partition is not mounted/, /mount the boot partition/],
    ['TFTP_PREFIX=1 with a prefix that is not a directory', () => ({ d: detected('ubuntu-2404-pi4', [bootloaderConfig((t) => `${t}TFTP_PREFIX=1\nTFTP_PREFIX_STR=abc\n`)]) }), /the bootloader uses TFTP prefix "abc", which is not a directory \(TFTP_PREFIX=1: TFTP_PREFIX_STR=abc\)/, /end TFTP_PREFIX_STR with "\/"/],
    ['a CM4 with EEPROM updates disabled, whose BOOT_ORDER must change', () => ({ d: detected('cm4') }), /^pi-07: the bootloader config must change \(BOOT_ORDER 0xf41 → 0xf241\), but rpi-eeprom-update is disabled by default on CM4/, /rpiboot.*CM4_ENABLE_RPI_EEPROM_UPDATE=1/],
    ['net-only without --force', () => ({ d: detected('ubuntu-2404-pi4'), settings: { bootOrder: 'net-only' } }), /^pi-07: refusing BOOT_ORDER 0xf2: 0xf2 has no local boot mode: .*(Bootloader|rpiboot)/, /or pass --force$/],
    ['--root nfs on a Pi without cmdline.txt', () => ({ d: detected('rpios-bookworm-pi4', [bootText('cmdline.txt', undefined)]), settings: { root: NFS_ROOT } }), /^pi-07: \/boot\/firmware\/cmdline\.txt not found$/, /needs a cmdline\.txt/],
    [
      'the directory belongs to another enrolled Pi',
      () => ({ d: detected('ubuntu-2404-pi4'), inventory: inventoryOf(other({ dir: serial8('ubuntu-2404-pi4') })) }),
      new RegExp(`^pi-07: ${EXPORT_DIR}/${serial8('ubuntu-2404-pi4')} belongs to another enrolled Pi \\(serial 10000000deadbeef, pi-99\\)$`),
      /^pass --force to take it over$/,
    ],
    [
      'the directory exists and pinet did not make it',
      () => ({ d: detected('ubuntu-2404-pi4'), local: new Map([['mine.txt', entry('file', { size: 13 })]]) }),
      new RegExp(`^pi-07: ${EXPORT_DIR}/${serial8('ubuntu-2404-pi4')} already exists and was not created by pinet for this Pi$`),
      /--force to copy over it/,
    ],
  ])('%s', async (_what, input, message, hint) => {
    const r = await refusal(input());
    expect(r.message).toMatch(message);
    if (hint) expect(r.hint).toMatch(hint);
  });

  it('--force takes over a directory of another Pi or one pinet did not make, and allows net-only with its warning', async () => {
    const dir = serial8('ubuntu-2404-pi4');
    const taken = await plan({ d: detected('ubuntu-2404-pi4'), inventory: inventoryOf(other({ dir })), settings: { force: true } });
    expect(taken.dir).toBe(dir);
    const foreign = await plan({ d: detected('ubuntu-2404-pi4'), local: new Map([['mine.txt', entry('file', { size: 13 })]]), settings: { force: true } });
    expect(ids(foreign)).not.toContain('export-dir'); // it exists: copied into, not created
    expect(ids(foreign)).toContain('copy');
    const netOnly = await plan({ d: detected('ubuntu-2404-pi4'), settings: { bootOrder: 'net-only', force: true } });
    expect(change(netOnly, 'bootloader').detail).toEqual({ before: '0xf41', after: '0xf2' });
    expect(netOnly.target.warnings.join('\n')).toMatch(/0xf2 has no local boot mode/);
  });

  it('a directory kept by an earlier rollback of this Pi is not foreign', async () => {
    const d = detected('ubuntu-2404-pi4');
    const inv = inventoryOf();
    inv.kept = { [d.facts.serial.known ? d.facts.serial.value.full : '']: { dir: serial8('ubuntu-2404-pi4'), exportDir: EXPORT_DIR } };
    const p = await plan({ d, inventory: inv, local: copiedListing(d) });
    expect(ids(p)).toEqual(['backup', 'fstab', ...HOOKS, 'bootloader', 'inventory']);
  });

  it('a CM4 is enrolled once its updates are enabled, or when its BOOT_ORDER already tries NETWORK', async () => {
    const enabled = await plan({ d: detected('cm4', [eepromDefaults('FIRMWARE_RELEASE_STATUS="default"\nCM4_ENABLE_RPI_EEPROM_UPDATE=1\n')]) });
    expect(change(enabled, 'bootloader').detail).toEqual({ before: '0xf41', after: '0xf241' });
    expect(enabled.target.warnings).toContain('BOOT_ORDER 0xf241 tries eMMC/SD before NETWORK: a CM4 whose eMMC holds a bootable image never netboots (use --boot-order net-usb-sd)');
    const already = await plan({ d: detected('cm4', [bootloaderConfig((t) => t.replace(/^BOOT_ORDER=.*$/m, 'BOOT_ORDER=0xf241'))]) });
    expect(ids(already)).toEqual(['backup', 'export-dir', 'copy', 'fstab', ...HOOKS, 'inventory']);
  });
});

describe('the directory the bootloader asks for (TFTP_PREFIX)', () => {
  it.each<[string, (t: string) => string, () => string, string]>([
    ['0 (default): the serial', (t) => t, () => serial8('ubuntu-2404-pi4'), 'serial'],
    ['1: TFTP_PREFIX_STR ending in /', (t) => `${t}TFTP_PREFIX=1\nTFTP_PREFIX_STR=rack1/\n`, () => 'rack1', 'string'],
    ['2: the MAC, dash-separated', (t) => `${t}TFTP_PREFIX=2\n`, () => mac('ubuntu-2404-pi4').replace(/:/g, '-'), 'mac'],
  ])('TFTP_PREFIX=%s', async (_what, edit, dir, mode) => {
    const p = await plan({ d: detected('ubuntu-2404-pi4', [bootloaderConfig(edit)]) });
    expect(p.dir).toBe(dir());
    expect(p.prefixMode).toBe(mode);
    expect(p.fstab!.after).toContain(`nfs-host:/picluster-boot/${dir()} /boot/firmware nfs`);
    expect(p.inventoryEntry).toMatchObject({ dir: dir(), prefixMode: mode });
  });
});

describe('--root: cmdline.txt in the export', () => {
  it('nfs: root=/dev/nfs from the server, {serial} becomes the directory; cmdline.txt is not copied, it is written', async () => {
    const dir = serial8('rpios-bookworm-pi4');
    const p = await plan({ d: detected('rpios-bookworm-pi4'), settings: { root: NFS_ROOT } });
    expect(ids(p)).toEqual(['backup', 'export-dir', 'copy', 'cmdline', 'fstab', ...HOOKS, 'bootloader', 'inventory']);
    expect(p.cmdline).toMatchObject({ path: `${EXPORT_DIR}/${dir}/cmdline.txt`, before: null });
    expect(p.cmdline!.after).toMatch(new RegExp(`(^| )root=/dev/nfs nfsroot=10\\.251\\.184\\.2:/srv/nfsroot/${dir},vers=3,noacl ip=dhcp rw( |$)`));
    expect((change(p, 'copy').detail as { files: string[] }).files).not.toContain('cmdline.txt');
    expect(p.inventoryEntry.root).toBe('nfs');
    expect(p.target.notes.join('\n')).toMatch(/moving the root file system is not part of enroll/);
  });

  it('rbd: rbdroot= with the key, which the plan never shows, and a warning that TFTP serves it', async () => {
    const key = 'AQBfakefakefakefakefakefakefakefakefake==';
    const p = await plan({ d: detected('rpios-bookworm-pi4'), settings: { root: { kind: 'rbd', rbd: { mons: ['10.251.184.3'], user: 'pinet', pool: 'pis', image: 'root-{serial}', key } } } });
    expect(p.cmdline!.after).toContain(`boot=rbd rbdroot=10.251.184.3:pinet:${key}:pis:root-${serial8('rpios-bookworm-pi4')}`);
    expect(JSON.stringify(p.target)).not.toContain(key);
    expect(change(p, 'cmdline').diff).toContain('10.251.184.3:pinet:<key>:pis:');
    expect(p.target.warnings).toContain('the Ceph key is written into cmdline.txt, which the TFTP server serves to anyone on the LAN');
  });

  // Known bug (reported): describeChanges masks the key with `$1<key>` and drops the word "rbdroot=" from the
  // plan's diff (the file written is right). Turn into it() once src/jobs/enroll/plan.ts keeps it.
  it('rbd: the plan\'s diff shows the rbdroot= word with the key masked', async () => {
    const p = await plan({ d: detected('rpios-bookworm-pi4'), settings: { root: { kind: 'rbd', rbd: { mons: ['10.251.184.3'], user: 'pinet', pool: 'pis', image: 'root-{serial}', key: 'AQBfake==' } } } });
    expect(change(p, 'cmdline').diff).toContain(' rbdroot=10.251.184.3:pinet:<key>:pis:');
  });

  it('a Pi enrolled with --root nfs keeps its export cmdline.txt when enroll runs again without --root', async () => {
    const sv = server('rpios-bookworm-pi4.nfsroot');
    const d = detected('rpios-bookworm-pi4.nfsroot', [], { dest: sv.entry.host });
    const p = await plan({ d, inventory: inventoryOf(sv.entry), local: sv.exportListing, localCmdline: sv.exportCmdline });
    expect(ids(p)).toEqual([]);
    expect(p.inventoryEntry.root).toBe('nfs');
    expect(p.target.notes).toContain("cmdline.txt in the export keeps its NFS root (enrolled with --root nfs); pass --root keep to netboot with the Pi's own cmdline.txt again");
    // the same --root nfs again: once cmdline.txt is what this pinet writes (the recording predates noacl), nothing to do either
    const first = await plan({ d, inventory: inventoryOf(sv.entry), local: sv.exportListing, localCmdline: sv.exportCmdline, settings: { root: NFS_ROOT } });
    expect(ids(first)).toEqual(['cmdline', 'inventory']);
    const again = await plan({ d, inventory: inventoryOf(sv.entry), local: sv.exportListing, localCmdline: first.cmdline!.after, settings: { root: NFS_ROOT } });
    expect(ids(again)).toEqual([]);
  });

  it('…and refuses when that cmdline.txt is gone, rather than netboot with the local root', async () => {
    const sv = server('rpios-bookworm-pi4.nfsroot');
    const listing = new Map(sv.exportListing);
    listing.delete('cmdline.txt');
    const r = await refusal({ d: detected('rpios-bookworm-pi4.nfsroot', [], { dest: sv.entry.host }), inventory: inventoryOf(sv.entry), local: listing, localCmdline: null });
    expect(r.message).toBe(`${sv.entry.host}: ${EXPORT_DIR}/${sv.entry.dir}/cmdline.txt is missing, and this Pi was enrolled with --root nfs`);
    expect(r.hint).toMatch(/pass --root nfs with its settings again to write it, or --root keep/);
  });

  it('--root keep, given explicitly, copies the Pi\'s own cmdline.txt over the NFS one and forgets the root', async () => {
    const sv = server('rpios-bookworm-pi4.nfsroot');
    const d = detected('rpios-bookworm-pi4.nfsroot', [], { dest: sv.entry.host });
    const p = await plan({ d, inventory: inventoryOf(sv.entry), local: sv.exportListing, localCmdline: sv.exportCmdline, settings: { root: { kind: 'keep', explicit: true } } });
    expect(ids(p)).toEqual(['copy', 'inventory']);
    expect((change(p, 'copy').detail as { files: string[] }).files).toEqual(['cmdline.txt']);
    expect(p.inventoryEntry.root).toBeUndefined();
  });
});

describe('a second run', () => {
  it.each(['ubuntu-2404-pi4.enrolled', 'ubuntu-2404-pi4.rebooted'] as const)('%s with its export as recorded: nothing to do', async (name) => {
    const sv = server(name);
    const p = await plan({ d: detected(name, [], { dest: sv.entry.host }), inventory: inventoryOf(sv.entry), local: sv.exportListing, localCmdline: sv.exportCmdline });
    expect(ids(p)).toEqual([]);
    expect(p.inventoryChanged).toBe(false);
    expect(p.firstEnroll).toBe(false);
  });

  it.each<[string, (l: ExportListing) => void, (d: Detected) => Detected, string[], string[]]>([
    ['a file TFTP cannot read (0600) is made 0644 again', (l) => l.set('vmlinuz', { ...l.get('vmlinuz')!, mode: 0o600 }), (d) => d, ['modes', 'inventory'], []],
    ['a directory without search permission is made 0755 again', (l) => l.set('overlays', { ...l.get('overlays')!, mode: 0o700 }), (d) => d, ['modes', 'inventory'], []],
    ['a kernel updated on the Pi (new size) is copied again', (l) => l, () => detected('ubuntu-2404-pi4.enrolled', [bootFile('vmlinuz', { size: 123_456 })], { dest: 'ubuntu-2404-pi4' }), ['copy', 'inventory'], ['vmlinuz']],
    ['a file missing from the export is copied', (l) => l.delete('start4.elf'), (d) => d, ['copy', 'inventory'], ['start4.elf']],
  ])('%s', async (_what, editExport, editPi, expected, copied) => {
    const sv = server('ubuntu-2404-pi4.enrolled');
    const local = new Map(sv.exportListing);
    editExport(local);
    const p = await plan({ d: editPi(detected('ubuntu-2404-pi4.enrolled', [], { dest: sv.entry.host })), inventory: inventoryOf(sv.entry), local, localCmdline: sv.exportCmdline });
    expect(ids(p)).toEqual(expected);
    if (copied.length) expect((change(p, 'copy').detail as { files: string[] }).files).toEqual(copied);
    else expect((change(p, 'modes').detail as { paths: string[] }).paths.length).toBe(1);
  });

  it('on a squashing export (recorded by server setup) the files go to the anonymous identity, and root-owned ones are given to it', async () => {
    const sv = server('ubuntu-2404-pi4.enrolled');
    const owner = { uid: 105, gid: 65534, why: 'the export squashes the Pis' };
    const run = (local: ExportListing) => plan({ d: detected('ubuntu-2404-pi4.enrolled', [], { dest: sv.entry.host }), settings: { owner }, inventory: inventoryOf(sv.entry), local, localCmdline: sv.exportCmdline });
    const asRoot = await run(sv.exportListing);
    expect(ids(asRoot)).toEqual(['owners', 'inventory']);
    expect((change(asRoot, 'owners').detail as { paths: string[] }).paths.length).toBe(sv.exportListing.size);
    expect(change(asRoot, 'owners').summary).toMatch(/to 105:65534$/);
    const theirs = new Map([...sv.exportListing].map(([k, v]) => [k, { ...v, uid: 105, gid: 65534 }]));
    expect(ids(await run(theirs))).toEqual([]);
  });

  it('the inventory entry counts as changed only when what it records changes', async () => {
    const sv = server('ubuntu-2404-pi4.enrolled');
    const run = (e: InventoryEntry, dest = sv.entry.host) => plan({ d: detected('ubuntu-2404-pi4.enrolled', [], { dest }), inventory: inventoryOf(e), local: sv.exportListing, localCmdline: sv.exportCmdline });
    // timestamps, history and the address pinet connected to do not count
    const same = await run({ ...sv.entry, enrolledAt: '2020-01-01T00:00:00.000Z', updatedAt: '2020-01-01T00:00:00.000Z', changes: [], address: 'elsewhere' });
    expect([ids(same), same.inventoryChanged]).toEqual([[], false]);
    expect(same.inventoryEntry.enrolledAt).toBe('2020-01-01T00:00:00.000Z');
    expect(same.inventoryEntry.updatedAt).toBe(NOW.toISOString());
    // the name it is reached by, its MAC, the NFS source, a partial earlier run, the SSH port: recorded again
    for (const [what, p] of [
      ['host', await run(sv.entry, 'pi-07.lan')],
      ['mac', await run({ ...sv.entry, mac: 'dc:a6:32:00:00:01' })],
      ['nfs', await run({ ...sv.entry, nfs: 'old-nfs:/boot' })],
      ['partial', await run({ ...sv.entry, partial: true })],
      // the SSH port (pinet watch checks it): the Pi now answers on 22, the entry says 2222
      ['port', await run({ ...sv.entry, port: 2222 })],
    ] as const) {
      expect([what, ids(p), p.inventoryChanged]).toEqual([what, ['inventory'], true]);
    }
    // the port pinet connected to is recorded when it is not 22
    const detectedOn = (port: number) => plan({ d: { ...detected('ubuntu-2404-pi4.enrolled', [], { dest: sv.entry.host }), port }, inventory: inventoryOf(sv.entry), local: sv.exportListing, localCmdline: sv.exportCmdline });
    expect((await detectedOn(2222)).inventoryEntry.port).toBe(2222);
    expect((await detectedOn(2222)).inventoryChanged).toBe(true);
    expect((await detectedOn(22)).inventoryEntry).not.toHaveProperty('port');
    expect((await detectedOn(22)).inventoryChanged).toBe(false);
    // BOOT_ORDER before enroll is the first run's, not the current one
    expect((await run({ ...sv.entry, bootOrder: { before: '0xf1', after: '0xf241' } })).inventoryEntry.bootOrder).toEqual({ before: '0xf1', after: '0xf241' });
  });
});
