/**
 * The DHCP half of a Pi 4 network boot, on a UDP socket bound to port 68 in
 * the Pi's namespace:
 *
 * 1. broadcast DISCOVER from 0.0.0.0 with vendor class
 *    `PXEClient:Arch:00000:UNDI:002001`, client arch 0, UNDI 2.1 and the
 *    Pi's client machine id (option 97), the Pi's MAC in chaddr;
 * 2. collect offers for DHCP_REQ_TIMEOUT: an address (yiaddr) from the LAN's
 *    DHCP server, and a PXE offer whose option 43 menu holds the
 *    PXE_OPTION43 text ("Raspberry Pi Boot"); one standalone offer may be
 *    both. Nothing enough: DISCOVER again, until DHCP_TIMEOUT;
 * 3. REQUEST the offered address from its server and wait for the ACK (the
 *    Pi 4 bootloader does request; issue rpi-eeprom#687 shows its ACK);
 * 4. the TFTP server: TFTP_IP, else option 66 when it is an address, else
 *    option 54 of the PXE offer (dnsmasq's proxy offers carry no option 66),
 *    else its siaddr.
 *
 * Replies go to the Pi by broadcast: the emulator sets the broadcast flag,
 * because an ordinary socket cannot receive a unicast to an address it does
 * not have yet (the real Pi leaves the flag clear and reads raw frames).
 * Anything else that arrives (other clients' replies, garbage) is ignored.
 */
import type dgram from 'node:dgram';
import { BOOTREPLY, BOOTREQUEST, DHCP_OPTION, decodeDhcp, encodeDhcp, getOption, optionAddress, optionText, type DhcpOption, type DhcpPacket } from '../../src/net/dhcp-packet.js';
import { PI_PARAMETER_REQUEST_LIST, PI_VENDOR_CLASS, piClientMachineId } from '../../src/net/pi-discover.js';
import { decodePxeOptions } from '../../src/net/pxe-options.js';
import { isIPv4, maskToPrefix, parseIPv4 } from '../../src/util/ipv4.js';
import type { DhcpOutcome } from './types.js';

/** Timer rounding: less time than this left of DHCP_TIMEOUT is none. */
const ROUNDING_MS = 5;

export interface PiDhcpOptions {
  socket: dgram.Socket;
  mac: string;
  serial8: string;
  revision: number;
  /** undefined: the default `RPi4` id; 0: serial ×4; other: a custom fourcc. */
  option97?: number;
  menuText: string;
  dhcpTimeoutMs: number;
  reqTimeoutMs: number;
  /** A caller-given address: no address offer is needed. */
  staticAddress?: string;
  tftpIp?: string;
  broadcastFlag: boolean;
  xid: number;
  log: (line: string) => void;
  now: () => number;
  signal?: AbortSignal;
}

interface Offer {
  from: string;
  packet: DhcpPacket;
  serverId?: string;
  yiaddr: string;
  menu: string[];
  piMenu: boolean;
}

/** Option 97 as the bootloader builds it for the DHCP_OPTION97 setting. */
export function machineId(mac: string, serial8: string, revision: number, option97: number | undefined): Buffer {
  if (option97 === undefined) return piClientMachineId(mac, serial8, revision);
  const id = Buffer.alloc(17);
  const serial = Number.parseInt(serial8, 16);
  if (option97 === 0) {
    for (let i = 0; i < 4; i++) id.writeUInt32LE(serial, 1 + i * 4);
    return id;
  }
  const std = piClientMachineId(mac, serial8, revision);
  std.writeUInt32BE(option97 >>> 0, 1);
  return std;
}

function commonOptions(o: PiDhcpOptions): DhcpOption[] {
  return [
    { code: DHCP_OPTION.PARAMETER_REQUEST_LIST, data: Buffer.from(PI_PARAMETER_REQUEST_LIST) },
    { code: DHCP_OPTION.CLIENT_ARCH, data: Buffer.from([0, 0]) },
    { code: DHCP_OPTION.CLIENT_NDI, data: Buffer.from([1, 2, 1]) },
    { code: DHCP_OPTION.CLIENT_MACHINE_ID, data: machineId(o.mac, o.serial8, o.revision, o.option97) },
    { code: DHCP_OPTION.VENDOR_CLASS, data: Buffer.from(PI_VENDOR_CLASS, 'latin1') },
  ];
}

function ipBytes(address: string): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(parseIPv4(address)!);
  return b;
}

function describeOffer(o: Offer): string {
  const parts = [`from ${o.serverId ?? o.from}`];
  if (o.yiaddr !== '0.0.0.0') parts.push(`address ${o.yiaddr}`);
  if (o.menu.length > 0) parts.push(`menu ${o.menu.map((m) => JSON.stringify(m)).join(', ')}`);
  return parts.join(', ');
}

export async function piDhcp(o: PiDhcpOptions): Promise<DhcpOutcome> {
  const start = o.now();
  const offers: Offer[] = [];
  let discoversSent = 0;
  let ack: DhcpPacket | undefined;
  let nak: DhcpPacket | undefined;
  let wake: (() => void) | undefined;

  const onMessage = (msg: Buffer, from: { address: string }): void => {
    const { packet } = decodeDhcp(msg);
    if (!packet || packet.op !== BOOTREPLY || packet.xid !== o.xid || packet.chaddr !== o.mac) return;
    if (packet.messageType === 2 || packet.messageType === undefined) {
      const opt43 = getOption(packet, DHCP_OPTION.VENDOR_ENCAPSULATED);
      const menu = opt43 ? decodePxeOptions(opt43).menu.map((e) => e.text) : [];
      const offer: Offer = { from: from.address, packet, serverId: optionAddress(packet, DHCP_OPTION.SERVER_ID), yiaddr: packet.yiaddr, menu, piMenu: menu.some((t) => t.includes(o.menuText)) };
      // The same server answering a repeated DISCOVER: keep the newest copy.
      const same = offers.findIndex((x) => x.serverId === offer.serverId && x.from === offer.from && x.yiaddr === offer.yiaddr);
      if (same >= 0) offers[same] = offer;
      else {
        offers.push(offer);
        o.log(`DHCP: OFFER ${describeOffer(offer)}${offer.piMenu ? '' : offer.menu.length > 0 ? ' (not the Pi menu)' : ''}`);
      }
    } else if (packet.messageType === 5) ack = packet;
    else if (packet.messageType === 6) nak = packet;
    wake?.();
  };

  const wait = (ms: number, done: () => boolean): Promise<void> =>
    new Promise((resolve) => {
      if (done()) return resolve();
      const timer = setTimeout(finish, ms);
      function finish(): void {
        clearTimeout(timer);
        wake = undefined;
        o.signal?.removeEventListener('abort', finish);
        resolve();
      }
      wake = () => {
        if (done()) finish();
      };
      o.signal?.addEventListener('abort', finish, { once: true });
    });

  const send = (packet: Buffer): Promise<void> =>
    new Promise((resolve, reject) => o.socket.send(packet, 67, '255.255.255.255', (err) => (err ? reject(err) : resolve())));

  const secs = (): number => Math.min(0xffff, Math.floor((o.now() - start) / 1000));
  const flags = o.broadcastFlag ? 0x8000 : 0;
  const piOffer = (): Offer | undefined => offers.find((x) => x.piMenu);
  const addressOffer = (): Offer | undefined => offers.find((x) => x.yiaddr !== '0.0.0.0');
  const enough = (): boolean => piOffer() !== undefined && (o.staticAddress !== undefined || addressOffer() !== undefined);
  const elapsed = (): number => o.now() - start;
  const menusSeen = (): string[][] => offers.filter((x) => x.menu.length > 0).map((x) => x.menu);
  const base = (): Omit<DhcpOutcome, 'ok' | 'message'> => ({ menusSeen: menusSeen(), discoversSent, offersSeen: offers.length, xid: o.xid, durationMs: elapsed() });

  o.socket.on('message', onMessage);
  try {
    let chosen: Offer | undefined;
    // A wait that ends a fraction of a millisecond early (timers and performance.now() round
    // differently) must not start one more round with nothing left of DHCP_TIMEOUT: seen as a
    // fourth DISCOVER at 2999.x ms of a 3000 ms timeout.
    while (o.dhcpTimeoutMs - elapsed() > ROUNDING_MS && !o.signal?.aborted) {
      if (!enough()) {
        await send(encodeDhcp({ op: BOOTREQUEST, xid: o.xid, chaddr: o.mac, secs: secs(), flags, options: [{ code: DHCP_OPTION.MESSAGE_TYPE, data: Buffer.from([1]) }, ...commonOptions(o)] }));
        discoversSent += 1;
        o.log(`DHCP: DISCOVER #${discoversSent} xid 0x${o.xid.toString(16).padStart(8, '0')}`);
        await wait(Math.min(o.reqTimeoutMs, o.dhcpTimeoutMs - elapsed()), enough);
        continue;
      }
      if (o.staticAddress !== undefined) break;
      chosen = addressOffer()!;
      ack = undefined;
      nak = undefined;
      await send(
        encodeDhcp({
          op: BOOTREQUEST,
          xid: o.xid,
          chaddr: o.mac,
          secs: secs(),
          flags,
          options: [
            { code: DHCP_OPTION.MESSAGE_TYPE, data: Buffer.from([3]) },
            { code: DHCP_OPTION.REQUESTED_ADDRESS, data: ipBytes(chosen.yiaddr) },
            ...(chosen.serverId ? [{ code: DHCP_OPTION.SERVER_ID, data: ipBytes(chosen.serverId) }] : []),
            ...commonOptions(o),
          ],
        }),
      );
      o.log(`DHCP: REQUEST ${chosen.yiaddr} from ${chosen.serverId ?? chosen.from}`);
      await wait(Math.min(o.reqTimeoutMs, o.dhcpTimeoutMs - elapsed()), () => ack !== undefined || nak !== undefined);
      if (nak) {
        o.log(`DHCP: NAK from ${optionAddress(nak, DHCP_OPTION.SERVER_ID) ?? '?'}; DISCOVER again`);
        offers.splice(0, offers.length);
        continue;
      }
      if (ack) break;
    }

    const pxe = piOffer();
    if (!pxe || (o.staticAddress === undefined && !ack)) {
      const failure: DhcpOutcome['failure'] = offers.length === 0 ? 'no-offer' : !pxe ? 'no-pi-menu' : !addressOffer() ? 'no-address' : 'no-ack';
      const seen = offers.map(describeOffer).join('; ');
      const secsText = `${(elapsed() / 1000).toFixed(1)} s`;
      const why: Record<NonNullable<DhcpOutcome['failure']>, () => string> = {
        'no-offer': () => `no DHCP answer to ${discoversSent} DISCOVER(s) in ${secsText}: no DHCP server or PXE proxy answers this Pi`,
        'no-pi-menu': () => `${offers.length} offer(s) in ${secsText}, none with a "${o.menuText}" menu entry in option 43 (${seen}): dnsmasq needs pxe-service=0,"${o.menuText}" for this Pi`,
        'no-address': () => `the PXE offer (${describeOffer(pxe!)}) has the menu, but no server offered an address in ${secsText}: a proxy DHCP server needs the LAN's own DHCP server`,
        'no-ack': () => `${chosen?.serverId ?? 'the DHCP server'} did not ACK the REQUEST for ${chosen?.yiaddr ?? '?'} within ${secsText}`,
      };
      const message = why[failure]();
      return { ok: false, failure, message, ...base() };
    }

    let address = o.staticAddress;
    let gateway: string | undefined;
    let dhcpServer: string | undefined;
    if (ack) {
      const mask = optionAddress(ack, DHCP_OPTION.SUBNET_MASK);
      const prefix = mask ? maskToPrefix(parseIPv4(mask)!) : null;
      address = `${ack.yiaddr}/${prefix ?? 24}`;
      const router = getOption(ack, DHCP_OPTION.ROUTER);
      gateway = router && router.length >= 4 ? `${router[0]}.${router[1]}.${router[2]}.${router[3]}` : undefined;
      dhcpServer = optionAddress(ack, DHCP_OPTION.SERVER_ID);
    }
    let tftpServer: string | undefined;
    let tftpServerSource: DhcpOutcome['tftpServerSource'];
    const opt66 = optionText(pxe.packet, DHCP_OPTION.TFTP_SERVER_NAME);
    if (o.tftpIp) [tftpServer, tftpServerSource] = [o.tftpIp, 'TFTP_IP'];
    else if (opt66 && isIPv4(opt66)) [tftpServer, tftpServerSource] = [opt66, 'option 66'];
    else if (pxe.serverId) [tftpServer, tftpServerSource] = [pxe.serverId, 'option 54'];
    else if (pxe.packet.siaddr !== '0.0.0.0') [tftpServer, tftpServerSource] = [pxe.packet.siaddr, 'siaddr'];
    const message = `address ${address} (${ack ? `DHCP ACK from ${dhcpServer ?? '?'}` : 'static'}), PXE menu from ${pxe.serverId ?? pxe.from}, TFTP server ${tftpServer ?? 'unknown'} (${tftpServerSource ?? 'none'})`;
    return {
      ok: tftpServer !== undefined,
      ...(tftpServer === undefined ? { failure: 'no-pi-menu' as const } : {}),
      message: tftpServer === undefined ? `the PXE offer names no TFTP server: ${message}` : message,
      address,
      addressSource: ack ? 'dhcp' : 'static',
      gateway,
      dhcpServer,
      pxeServer: pxe.serverId ?? pxe.from,
      tftpServer,
      tftpServerSource,
      ...base(),
    };
  } finally {
    o.socket.off('message', onMessage);
  }
}
