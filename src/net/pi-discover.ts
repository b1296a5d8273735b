/**
 * The DHCP DISCOVER a Raspberry Pi 4 bootloader broadcasts when it tries
 * NETWORK boot, so a probe can ask the LAN's DHCP servers exactly what a Pi
 * would ask. Pure functions, no I/O.
 *
 * What a Pi 4 sends (captures in raspberrypi/rpi-eeprom#58 and the seed
 * article's dnsmasq log): vendor class `PXEClient:Arch:00000:UNDI:002001`,
 * option 93 client arch 0 (the same value as an x86 BIOS PXE client),
 * option 94 UNDI 2.1, option 97 a 17-byte client machine id, and a
 * parameter request list with 43, 60, 66 and 67.
 *
 * The machine id (option 97) is type 0 and 16 bytes: the fourcc "RPi4"
 * stored little-endian (bytes `34 69 50 52`), the board revision
 * little-endian, the last four bytes of the MAC, and the serial number
 * little-endian. The seed article's log shows exactly that for MAC
 * e4:5f:01:98:e0:82, revision d03115, serial bf9fed6f:
 * `00:34:69:50:52:15:31:d0:00:01:98:e0:82:6f…`.
 *
 * One difference on purpose: the Pi leaves the broadcast flag clear, but a
 * probe sets it by default. A probe has no address of its own to receive a
 * unicast offer on (a server would send it to the offered address), while a
 * broadcast reply reaches it; dnsmasq sets the flag on proxy replies anyway.
 */
import { UsageError } from '../errors.js';
import { BOOTREQUEST, DHCP_OPTION, encodeDhcp, parseMac, type DhcpOption } from './dhcp-packet.js';

export const PI_VENDOR_CLASS = 'PXEClient:Arch:00000:UNDI:002001';
/** Subnet mask, router, vendor options, server id, vendor class, TFTP server, boot file, machine id. */
export const PI_PARAMETER_REQUEST_LIST = [1, 3, 43, 54, 60, 66, 67, 97] as const;
/** A Pi 4 Model B (8 GB, rev 1.4), used when no revision is given. */
export const DEFAULT_PI_REVISION = 0xd03114;

export interface PiDiscoverOptions {
  /** The client's MAC address (chaddr). */
  mac: string;
  xid: number;
  /** Seconds since the client started (RFC 2131 `secs`). */
  secs?: number;
  /** Ask for a broadcast reply; default true (see the module comment). */
  broadcast?: boolean;
  /** 8 hex digits; default: the last four bytes of the MAC. */
  serial?: string;
  /** Board revision code (e.g. 0xd03114); default DEFAULT_PI_REVISION. */
  revision?: number;
}

/** Option 97 as a Pi 4 bootloader builds it: type 0 + 16 bytes. */
export function piClientMachineId(mac: string, serial: string, revision: number): Buffer {
  const macBytes = parseMac(mac);
  if (!/^[0-9a-fA-F]{8}$/.test(serial)) throw new UsageError(`serial ${JSON.stringify(serial)} must be 8 hex digits`, 'e.g. bf9fed6f');
  if (!Number.isInteger(revision) || revision < 0 || revision > 0xffffffff) throw new UsageError(`board revision ${revision} is not a 32-bit number`);
  const id = Buffer.alloc(17);
  id[0] = 0;
  id.write('4iPR', 1, 'latin1'); // "RPi4" as a little-endian fourcc
  id.writeUInt32LE(revision, 5);
  macBytes.copy(id, 9, 2, 6);
  id.writeUInt32LE(parseInt(serial, 16), 13);
  return id;
}

export function encodePiDiscover(o: PiDiscoverOptions): Buffer {
  const serial = o.serial ?? parseMac(o.mac).subarray(2).toString('hex');
  const options: DhcpOption[] = [
    { code: DHCP_OPTION.MESSAGE_TYPE, data: Buffer.from([1]) },
    { code: DHCP_OPTION.PARAMETER_REQUEST_LIST, data: Buffer.from(PI_PARAMETER_REQUEST_LIST) },
    { code: DHCP_OPTION.CLIENT_ARCH, data: Buffer.from([0, 0]) },
    { code: DHCP_OPTION.CLIENT_NDI, data: Buffer.from([1, 2, 1]) },
    { code: DHCP_OPTION.CLIENT_MACHINE_ID, data: piClientMachineId(o.mac, serial, o.revision ?? DEFAULT_PI_REVISION) },
    { code: DHCP_OPTION.VENDOR_CLASS, data: Buffer.from(PI_VENDOR_CLASS, 'latin1') },
  ];
  return encodeDhcp({
    op: BOOTREQUEST,
    xid: o.xid,
    chaddr: o.mac,
    secs: Math.min(o.secs ?? 0, 0xffff),
    flags: o.broadcast === false ? 0 : 0x8000,
    options,
  });
}
