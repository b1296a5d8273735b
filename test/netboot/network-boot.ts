/**
 * BOOT_ORDER mode 2 (NETWORK), the network side: the link, the limited
 * broadcast route, the address (DHCP with the PXE offer, a static address,
 * or the EEPROM's CLIENT_IP/TFTP_IP, which skips DHCP), a default route when
 * the TFTP server is behind the router, then the TFTP requests
 * (tftp-sequence.ts), and everything it added to the Pi's namespace taken
 * away again at the end. A failure before the firmware runs sends the walk
 * to the next mode; after, the caller's FirmwareFailurePolicy decides.
 */
import { randomBytes } from 'node:crypto';
import { maskToPrefix, parseCidr, parseIPv4, prefixToMask } from '../../src/util/ipv4.js';
import type { Board } from './board.js';
import type { Eeprom } from './eeprom.js';
import type { BootLog } from './log.js';
import type { NamespaceSockets } from './netns-sockets.js';
import { addAddress, addressesOf, defaultRoute, delAddress, delDefaultRoute, delLimitedBroadcast, linkUp, routeLimitedBroadcast, waitForCarrier } from './nic.js';
import { piDhcp } from './pi-dhcp.js';
import { RequiredFileFailed, TftpSession, type TftpFaults } from './tftp-session.js';
import { tftpSequence } from './tftp-sequence.js';
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
    const prefix = (mask !== null ? maskToPrefix(mask) : null) ?? 24;
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
