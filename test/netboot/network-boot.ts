/**
 * BOOT_ORDER mode 2 (NETWORK): the DHCP exchange, then the TFTP requests in
 * the order a Pi 4 sends them. The order follows the seed article's dnsmasq
 * log of a real Pi 4 (and the captures in rpi-eeprom#74, #87, #687):
 *
 * bootloader (EEPROM code):
 *   probe <prefix>start4.elf (tsize, aborted at the OACK: "Early terminate");
 *   found → that prefix for everything, else <prefix>start.elf, else no prefix;
 *   config.txt; pieeprom.sig (+ pieeprom.upd) when ENABLE_SELF_UPDATE;
 *   recover4.elf, recovery.elf (not found is normal); start4.elf, fixup4.dat;
 * firmware (start4.elf), each file opened (first block, then aborted) before
 * it is read, except the optional probes:
 *   recovery.elf, config.txt, dt-blob.bin, recovery.elf, config.txt (now
 *   read: includes fetched here), bootcfg.txt, os_prefix checks, the
 *   initramfs, the device tree, overlays/overlay_map.dtb, config.txt,
 *   each overlays/<name>.dtbo, cmdline.txt, the kernel (opened three times,
 *   with armstub8-gic.bin looked for in between), then the kernel read.
 *
 * A required file that fails ends the attempt there; failures before the
 * firmware runs send the walk to the next mode, failures after are the
 * firmware's (the caller's FirmwareFailurePolicy decides).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseCidr, parseIPv4, prefixToMask } from '../../src/util/ipv4.js';
import type { Board } from './board.js';
import { firmwareFiles, osFiles, withOsPrefix } from './boot-files.js';
import { readConfigTxt, type ConfigTxt } from './config-txt.js';
import { tftpPrefixFor, type Eeprom } from './eeprom.js';
import type { BootLog } from './log.js';
import type { NamespaceSockets } from './netns-sockets.js';
import { addAddress, addressesOf, defaultRoute, delAddress, delDefaultRoute, delLimitedBroadcast, linkUp, routeLimitedBroadcast, waitForCarrier } from './nic.js';
import { piDhcp } from './pi-dhcp.js';
import { RequiredFileFailed, TftpSession, type TftpFaults } from './tftp-session.js';
import type { BootFiles, DhcpOutcome, NetbootFailure, PiNic, TftpRequestRecord } from './types.js';

export interface NetworkBootInput {
  nic: PiNic;
  sockets: NamespaceSockets;
  mac: string;
  serial8: string;
  revision: number;
  board: Board;
  eeprom: Eeprom;
  outDir: string;
  blksize: number;
  retransmitMs: number;
  broadcastFlag: boolean;
  log: BootLog;
  records: TftpRequestRecord[];
  faults?: TftpFaults;
  signal?: AbortSignal;
}

export interface NetworkBootOutcome {
  ok: boolean;
  dhcp?: DhcpOutcome;
  address?: string;
  tftpServer?: string;
  prefix?: string;
  failure?: NetbootFailure;
  /** Why the attempt failed before any file (DHCP, no TFTP answer). */
  reason: string;
  files?: BootFiles;
  bytes: number;
  dhcpMs?: number;
  tftpMs?: number;
}

function inSubnet(address: string, cidr: string): boolean {
  const net = parseCidr(cidr);
  const a = parseIPv4(address);
  if (!net || a === null) return false;
  const mask = prefixToMask(net.prefix);
  return ((a & mask) >>> 0) === ((parseIPv4(net.address)! & mask) >>> 0);
}

/** The DHCP part, or the EEPROM's static configuration (CLIENT_IP + TFTP_IP skip DHCP). */
async function getAddress(i: NetworkBootInput): Promise<DhcpOutcome> {
  const { eeprom, log } = i;
  if (eeprom.clientIp && eeprom.tftpIp) {
    const mask = eeprom.subnet ? parseIPv4(eeprom.subnet) : null;
    let prefix = 24;
    if (mask !== null) for (prefix = 0; prefix < 32 && ((mask << prefix) & 0x80000000) !== 0; prefix++);
    log.line(`NET: static configuration from the EEPROM (CLIENT_IP ${eeprom.clientIp}, TFTP_IP ${eeprom.tftpIp}): DHCP skipped`);
    return {
      ok: true,
      message: `static ${eeprom.clientIp}/${prefix} from the EEPROM, TFTP server ${eeprom.tftpIp} (TFTP_IP)`,
      address: `${eeprom.clientIp}/${prefix}`,
      addressSource: 'eeprom',
      gateway: eeprom.gateway,
      tftpServer: eeprom.tftpIp,
      tftpServerSource: 'TFTP_IP',
      menusSeen: [],
      discoversSent: 0,
      offersSeen: 0,
      durationMs: 0,
    };
  }
  const socket = await i.sockets.udp({ address: '0.0.0.0', port: 68, broadcast: true, reuseAddr: true });
  try {
    return await piDhcp({
      socket,
      mac: i.mac,
      serial8: i.serial8,
      revision: i.revision,
      option97: eeprom.dhcpOption97,
      menuText: eeprom.pxeOption43,
      dhcpTimeoutMs: eeprom.dhcpTimeoutMs,
      reqTimeoutMs: eeprom.dhcpReqTimeoutMs,
      staticAddress: i.nic.address,
      tftpIp: eeprom.tftpIp,
      broadcastFlag: i.broadcastFlag,
      xid: randomBytes(4).readUInt32BE(0),
      log: (l) => log.line(l),
      now: () => log.now(),
      signal: i.signal,
    });
  } finally {
    socket.close();
  }
}

export async function networkBoot(i: NetworkBootInput): Promise<NetworkBootOutcome> {
  const { nic, log, eeprom } = i;
  log.line(`NET: ${i.mac} on ${nic.iface} in ${nic.netns}, wait for link`);
  try {
    await linkUp(nic.netns, nic.iface);
    await waitForCarrier(nic.netns, nic.iface, Math.min(10_000, eeprom.dhcpTimeoutMs));
  } catch (err) {
    const reason = `no link on ${nic.iface}: ${(err as Error).message}`;
    log.line(`NET: ${reason}`);
    return { ok: false, reason, bytes: 0 };
  }
  const broadcastRoute = await routeLimitedBroadcast(nic.netns, nic.iface);
  const added: string[] = [];
  let routed: string | undefined;
  const start = log.now();
  try {
    if (nic.address && !(await addressesOf(nic.netns, nic.iface)).includes(nic.address)) {
      await addAddress(nic.netns, nic.iface, nic.address);
      added.push(nic.address);
    }
    const dhcp = await getAddress(i);
    const dhcpMs = log.now() - start;
    log.line(`DHCP: ${dhcp.ok ? 'done' : 'FAILED'}: ${dhcp.message}`);
    if (!dhcp.ok) return { ok: false, dhcp, reason: dhcp.message, bytes: 0, dhcpMs };
    const address = dhcp.address!;
    if (!(await addressesOf(nic.netns, nic.iface)).includes(address)) {
      await addAddress(nic.netns, nic.iface, address);
      added.push(address);
    }
    const server = dhcp.tftpServer!;
    if (dhcp.gateway && !inSubnet(server, address)) {
      await defaultRoute(nic.netns, nic.iface, dhcp.gateway);
      routed = dhcp.gateway;
    }
    const localAddress = address.split('/')[0]!;
    log.line(`NET: ${address}${dhcp.gateway ? ` gw ${dhcp.gateway}` : ''} tftp ${server}`);
    const tftpStart = log.now();
    const session = new TftpSession({
      sockets: i.sockets,
      localAddress,
      server,
      outDir: i.outDir,
      blksize: i.blksize,
      retransmitMs: i.retransmitMs,
      fileTimeoutMs: eeprom.tftpFileTimeoutMs,
      log,
      records: i.records,
      ...(i.faults && { faults: i.faults }),
      signal: i.signal,
    });
    let prefix: string | undefined;
    try {
      const seq = await tftpSequence(i, session, (p) => (prefix = p));
      return { ok: true, dhcp, address, tftpServer: server, prefix, reason: 'all boot files loaded', files: seq, bytes: session.bytes, dhcpMs, tftpMs: log.now() - tftpStart };
    } catch (err) {
      if (!(err instanceof RequiredFileFailed)) throw err;
      log.line(`${err.failure.stage === 'firmware' ? 'FIRMWARE' : 'BOOTLOADER'}: ${err.failure.message}`);
      return { ok: false, dhcp, address, tftpServer: server, prefix, failure: err.failure, reason: err.failure.message, bytes: session.bytes, dhcpMs, tftpMs: log.now() - tftpStart };
    }
  } finally {
    if (routed) await delDefaultRoute(nic.netns, routed);
    for (const a of added) await delAddress(nic.netns, nic.iface, a);
    if (broadcastRoute) await delLimitedBroadcast(nic.netns, nic.iface);
  }
}

/** The requests of a network boot, in the real order; returns the boot files. */
async function tftpSequence(i: NetworkBootInput, t: TftpSession, setPrefix: (p: string) => void): Promise<BootFiles> {
  const { log, eeprom, board } = i;
  const tryPrefix = tftpPrefixFor(eeprom, i.serial8, i.mac);

  // The size probe decides the prefix. No answer at all is a dead TFTP server: the attempt fails.
  let prefix = '';
  const first = await t.request(`${tryPrefix}start4.elf`, 'probe', 'start4.elf probe', { required: false });
  if (first.outcome === 'timeout') throw new RequiredFileFailed({ file: first.file, purpose: 'start4.elf probe', outcome: 'timeout', message: `${first.file}: the TFTP server did not answer`, stage: 'bootloader' });
  if (first.outcome === 'probed') prefix = tryPrefix;
  else if (tryPrefix !== '') {
    const second = await t.request(`${tryPrefix}start.elf`, 'probe', 'start.elf probe', { required: false });
    if (second.outcome === 'probed') prefix = tryPrefix;
  }
  setPrefix(prefix);
  log.line(prefix ? `TFTP: prefix ${prefix} (${tryPrefix}start4.elf found)` : `TFTP: no prefix (${tryPrefix}start4.elf not found)`);
  const P = (name: string): string => `${prefix}${name}`;
  const get = (name: string, purpose: string, required: boolean, save = true) => t.request(P(name), 'get', purpose, { required, ...(save && { saveAs: name }) });
  const open = (name: string, purpose: string, required: boolean) => t.request(P(name), 'probe-block', purpose, { required });
  /** The firmware's way: open (first block), then read the file. */
  const load = async (name: string, purpose: string, required: boolean): Promise<TftpRequestRecord | undefined> => {
    const o = await open(name, purpose, required);
    if (o.outcome !== 'probed') return undefined;
    return get(name, purpose, required);
  };
  const configCtx = (includePrefix: (n: string) => Promise<string | null>) => ({ board, serial8: i.serial8, readInclude: includePrefix });
  const textOf = (r: TftpRequestRecord | undefined): string | null => (r?.outcome === 'sent' && r.savedAs ? readFileSync(r.savedAs, 'latin1') : null);

  // Bootloader: config.txt for start_file/fixup_file, self-update, recovery, the firmware.
  const bootCfg = textOf(await get('config.txt', 'config.txt (bootloader)', false));
  const bootConfig = bootCfg === null ? undefined : await readConfigTxt(bootCfg, configCtx(async () => null));
  if (eeprom.enableSelfUpdate) {
    const sig = await get('pieeprom.sig', 'self-update signature', false, false);
    if (sig.outcome === 'sent') {
      await get('pieeprom.upd', 'self-update image', false, false);
      log.line('BOOTLOADER: pieeprom.sig found: a real Pi flashes pieeprom.upd if it differs from its EEPROM and resets (not emulated)');
    }
  }
  for (const name of ['recover4.elf', 'recovery.elf']) {
    const r = await get(name, 'recovery', false, false);
    if (r.outcome === 'sent') log.line(`BOOTLOADER: ${name} found: a real Pi would run it (EEPROM recovery), not the OS (not emulated)`);
  }
  const fw = firmwareFiles(bootConfig);
  await get(fw.start, 'firmware', true);
  await get(fw.fixup, 'firmware fixup', true);
  t.stage = 'firmware';
  log.line(`FIRMWARE: ${fw.start} running`);

  // Firmware: config.txt (read three times), then the OS files.
  await get('recovery.elf', 'recovery', false, false);
  await load('config.txt', 'config.txt', false);
  await get('dt-blob.bin', 'dt-blob', false);
  await get('recovery.elf', 'recovery', false, false);
  const cfgRecord = await load('config.txt', 'config.txt', false);
  const includeReader = async (name: string): Promise<string | null> => textOf(await load(name, `include ${name}`, false));
  const config: ConfigTxt = await readConfigTxt(textOf(cfgRecord) ?? '', configCtx(includeReader));
  for (const note of config.notes) log.line(`FIRMWARE: config.txt: ${note}`);
  await get('bootcfg.txt', 'bootcfg.txt', false);
  const os = osFiles(config, board);

  let osPrefix = os.osPrefix;
  if (osPrefix) {
    const k = await open(withOsPrefix(os.kernel, osPrefix), 'os_prefix check (kernel)', false);
    const d = await open(withOsPrefix(os.dtb, osPrefix), 'os_prefix check (dtb)', false);
    if (k.outcome !== 'probed' || d.outcome !== 'probed') {
      log.line(`FIRMWARE: os_prefix ${osPrefix} ignored: its kernel or device tree is missing`);
      osPrefix = '';
    }
  }
  const name = (n: string): string => withOsPrefix(n, osPrefix);
  let overlayDir = os.overlayPrefix;
  if (osPrefix && os.overlays.length > 0) {
    const readme = await open(`${osPrefix}${os.overlayPrefix}README`, 'overlays README', false);
    if (readme.outcome === 'probed') overlayDir = `${osPrefix}${os.overlayPrefix}`;
  }

  const initramfs: string[] = [];
  for (const f of os.initramfs.files) {
    const r = await load(name(f), 'initramfs', os.initramfs.required);
    if (r?.outcome === 'sent') initramfs.push(name(f));
  }
  await load(name(os.dtb), 'device tree', true);
  await load(`${overlayDir}overlay_map.dtb`, 'overlay map', false);
  await load('config.txt', 'config.txt', false);
  const overlays: string[] = [];
  for (const ov of os.overlays) {
    const r = await load(`${overlayDir}${ov}.dtbo`, `overlay ${ov}`, false);
    if (r?.outcome === 'sent') overlays.push(`${overlayDir}${ov}.dtbo`);
    else log.line(`FIRMWARE: failed to load overlay '${ov}'`);
  }
  const cmdline = await load(name(os.cmdline), 'cmdline.txt', true);
  await open(name(os.kernel), 'kernel', true);
  if (os.armstub) await get(os.armstub.file, 'armstub', os.armstub.required);
  await open(name(os.kernel), 'kernel', true);
  await open(name(os.kernel), 'kernel', true);
  await get(name(os.kernel), 'kernel', true);

  const cmdlineText = textOf(cmdline) ?? '';
  log.line(`FIRMWARE: kernel ${name(os.kernel)}${initramfs.length ? `, initramfs ${initramfs.join(',')}` : ''}, dtb ${name(os.dtb)}; cmdline: ${cmdlineText.trim()}`);
  return {
    dir: i.outDir,
    start: t.localPath(fw.start),
    fixup: t.localPath(fw.fixup),
    config: cfgRecord?.savedAs,
    kernel: t.localPath(name(os.kernel)),
    initramfs: initramfs.map((f) => t.localPath(f)),
    dtb: t.localPath(name(os.dtb)),
    overlays: overlays.map((f) => t.localPath(f)),
    cmdlinePath: t.localPath(name(os.cmdline)),
    cmdline: cmdlineText.replace(/\r?\n$/, ''),
    names: { kernel: name(os.kernel), initramfs, dtb: name(os.dtb), cmdline: name(os.cmdline), overlays },
  };
}
