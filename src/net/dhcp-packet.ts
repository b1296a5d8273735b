/**
 * BOOTP/DHCP messages on the wire (RFC 2131 layout, RFC 2132 options,
 * RFC 3396 long options). Pure functions, no I/O.
 *
 * `decodeDhcp` reads anything a network can deliver and never throws: it
 * returns what it could read plus a list of problems (truncated options,
 * missing magic cookie, bad overload value …). Options are collected in wire
 * order; several instances of one code are joined (RFC 3396), and the `file`
 * and `sname` fields are read as options when option 52 says so.
 */
import { checkMac } from '../pi/ids.js';
import { UsageError } from '../errors.js';
import { formatIPv4, parseIPv4 } from '../util/ipv4.js';

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** Fixed BOOTP header: op … file, before the magic cookie. */
export const BOOTP_HEADER_BYTES = 236;
/** RFC 1542: relays may drop BOOTP messages shorter than this. */
export const BOOTP_MIN_BYTES = 300;

export const DHCP_OPTION = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  VENDOR_ENCAPSULATED: 43,
  REQUESTED_ADDRESS: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MAX_MESSAGE_SIZE: 57,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER_NAME: 66,
  BOOTFILE_NAME: 67,
  CLIENT_ARCH: 93,
  CLIENT_NDI: 94,
  CLIENT_MACHINE_ID: 97,
  END: 255,
} as const;

export const DHCP_MESSAGE_TYPES: Record<number, string> = {
  1: 'DISCOVER',
  2: 'OFFER',
  3: 'REQUEST',
  4: 'DECLINE',
  5: 'ACK',
  6: 'NAK',
  7: 'RELEASE',
  8: 'INFORM',
};

export function messageTypeName(type: number | undefined): string {
  if (type === undefined) return 'BOOTP';
  return DHCP_MESSAGE_TYPES[type] ?? `unknown (${type})`;
}

export interface DhcpOption {
  code: number;
  data: Buffer;
}

export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  /** The broadcast bit of `flags`. */
  broadcast: boolean;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The first `hlen` bytes of chaddr (at most 16), as `aa:bb:…`. */
  chaddr: string;
  /** Text up to the first NUL; empty when the field carries options (option 52). */
  sname: string;
  file: string;
  magicCookie: boolean;
  /** In wire order of first appearance; repeated codes joined (RFC 3396). */
  options: DhcpOption[];
  /** Option 53, when present and one byte long. */
  messageType: number | undefined;
}

export interface DhcpDecodeResult {
  /** null only when the datagram is too short for a BOOTP header. */
  packet: DhcpPacket | null;
  problems: string[];
}

/** `aa:bb:cc:dd:ee:ff` (or with `-`) → 6 bytes. */
export function parseMac(text: string): Buffer {
  const mac = checkMac(text);
  if (!mac.ok) throw new UsageError(mac.error, mac.hint);
  return Buffer.from(mac.value.split(':').map((h) => parseInt(h, 16)));
}

export function formatMac(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function readText(buf: Buffer, start: number, length: number): string {
  const field = buf.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.toString('latin1', 0, nul === -1 ? field.length : nul);
}

/**
 * Read an option area (the options field, or file/sname under option 52)
 * into `into`. Returns whether an END option was seen.
 */
function readOptions(buf: Buffer, start: number, end: number, where: string, into: Map<number, Buffer[]>, problems: string[]): boolean {
  let i = start;
  while (i < end) {
    const code = buf[i]!;
    if (code === DHCP_OPTION.PAD) {
      i += 1;
      continue;
    }
    if (code === DHCP_OPTION.END) return true;
    if (i + 1 >= end) {
      problems.push(`${where}: option ${code} at offset ${i} has no length byte`);
      return false;
    }
    const len = buf[i + 1]!;
    if (i + 2 + len > end) {
      problems.push(`${where}: option ${code} at offset ${i} claims ${len} bytes but only ${end - i - 2} remain`);
      return false;
    }
    const data = Buffer.from(buf.subarray(i + 2, i + 2 + len));
    const list = into.get(code);
    if (list) list.push(data);
    else into.set(code, [data]);
    i += 2 + len;
  }
  return false;
}

export function decodeDhcp(buf: Buffer): DhcpDecodeResult {
  const problems: string[] = [];
  if (buf.length < BOOTP_HEADER_BYTES) {
    return { packet: null, problems: [`truncated: ${buf.length} bytes, a BOOTP header needs ${BOOTP_HEADER_BYTES}`] };
  }
  const hlen = buf[2]!;
  if (hlen > 16) problems.push(`hlen ${hlen} is larger than the 16-byte chaddr field`);
  const ip = (offset: number): string => formatIPv4(buf.readUInt32BE(offset));
  const flags = buf.readUInt16BE(10);
  const packet: DhcpPacket = {
    op: buf[0]!,
    htype: buf[1]!,
    hlen,
    hops: buf[3]!,
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags,
    broadcast: (flags & 0x8000) !== 0,
    ciaddr: ip(12),
    yiaddr: ip(16),
    siaddr: ip(20),
    giaddr: ip(24),
    chaddr: formatMac(buf.subarray(28, 28 + Math.min(hlen, 16))),
    sname: '',
    file: '',
    magicCookie: false,
    options: [],
    messageType: undefined,
  };
  if (packet.op !== BOOTREQUEST && packet.op !== BOOTREPLY) problems.push(`op ${packet.op} is neither BOOTREQUEST (1) nor BOOTREPLY (2)`);

  const found = new Map<number, Buffer[]>();
  let overload = 0;
  if (buf.length < BOOTP_HEADER_BYTES + 4) {
    problems.push('no room for the DHCP magic cookie: a plain BOOTP message without options');
  } else if (buf.readUInt32BE(BOOTP_HEADER_BYTES) !== DHCP_MAGIC_COOKIE) {
    problems.push(`magic cookie 0x${buf.readUInt32BE(BOOTP_HEADER_BYTES).toString(16).padStart(8, '0')} is not DHCP's 0x63825363: options not read`);
  } else {
    packet.magicCookie = true;
    const ended = readOptions(buf, BOOTP_HEADER_BYTES + 4, buf.length, 'options', found, problems);
    if (!ended) problems.push('options: no END option (255)');
    const ov = found.get(DHCP_OPTION.OVERLOAD);
    if (ov) {
      const value = ov[0]!;
      if (value.length !== 1 || value[0]! < 1 || value[0]! > 3) {
        problems.push(`option 52 (overload) has an invalid value ${value.toString('hex') || '(empty)'}: file and sname read as text`);
      } else {
        overload = value[0]!;
        // RFC 2131 section 4.1: the file field is read before sname.
        if (overload & 1) readOptions(buf, 108, 236, 'file field (overloaded)', found, problems);
        if (overload & 2) readOptions(buf, 44, 108, 'sname field (overloaded)', found, problems);
      }
    }
  }
  if (!(overload & 2)) packet.sname = readText(buf, 44, 64);
  if (!(overload & 1)) packet.file = readText(buf, 108, 128);
  packet.options = [...found].map(([code, parts]) => ({ code, data: Buffer.concat(parts) }));

  const mt = found.has(DHCP_OPTION.MESSAGE_TYPE) ? getOption(packet, DHCP_OPTION.MESSAGE_TYPE)! : undefined;
  if (mt && mt.length === 1) packet.messageType = mt[0];
  else if (mt) problems.push(`option 53 (message type) is ${mt.length} bytes long, not 1`);
  return { packet, problems };
}

export function getOption(packet: DhcpPacket, code: number): Buffer | undefined {
  return packet.options.find((o) => o.code === code)?.data;
}

/** An option holding one IPv4 address (54, 50, …); undefined when absent or not 4 bytes. */
export function optionAddress(packet: DhcpPacket, code: number): string | undefined {
  const data = getOption(packet, code);
  return data && data.length === 4 ? formatIPv4(data.readUInt32BE(0)) : undefined;
}

/** An option holding text (60, 66, 67): Latin-1, trailing NULs dropped. */
export function optionText(packet: DhcpPacket, code: number): string | undefined {
  const data = getOption(packet, code);
  return data === undefined ? undefined : data.toString('latin1').replace(/\0+$/, '');
}

export interface DhcpEncodeInput {
  op: number;
  xid: number;
  /** MAC address (`aa:bb:cc:dd:ee:ff`). */
  chaddr: string;
  htype?: number;
  hops?: number;
  secs?: number;
  flags?: number;
  ciaddr?: string;
  yiaddr?: string;
  siaddr?: string;
  giaddr?: string;
  sname?: string;
  file?: string;
  /** Written in this order; data longer than 255 bytes is split (RFC 3396). END is added. */
  options: DhcpOption[];
}

function writeAddress(buf: Buffer, offset: number, text: string | undefined, field: string): void {
  const n = parseIPv4(text ?? '0.0.0.0');
  if (n === null) throw new UsageError(`${field} ${JSON.stringify(text)} is not an IPv4 address`);
  buf.writeUInt32BE(n, offset);
}

function writeText(buf: Buffer, offset: number, size: number, text: string | undefined, field: string): void {
  const bytes = Buffer.from(text ?? '', 'latin1');
  if (bytes.length >= size) throw new UsageError(`${field} is ${bytes.length} bytes; it must be shorter than ${size}`);
  bytes.copy(buf, offset);
}

/** A BOOTP/DHCP message, padded to the 300-byte BOOTP minimum. */
export function encodeDhcp(m: DhcpEncodeInput): Buffer {
  const mac = parseMac(m.chaddr);
  const head = Buffer.alloc(BOOTP_HEADER_BYTES + 4);
  head[0] = m.op;
  head[1] = m.htype ?? 1;
  head[2] = mac.length;
  head[3] = m.hops ?? 0;
  head.writeUInt32BE(m.xid >>> 0, 4);
  head.writeUInt16BE(m.secs ?? 0, 8);
  head.writeUInt16BE(m.flags ?? 0, 10);
  writeAddress(head, 12, m.ciaddr, 'ciaddr');
  writeAddress(head, 16, m.yiaddr, 'yiaddr');
  writeAddress(head, 20, m.siaddr, 'siaddr');
  writeAddress(head, 24, m.giaddr, 'giaddr');
  mac.copy(head, 28);
  writeText(head, 44, 64, m.sname, 'sname');
  writeText(head, 108, 128, m.file, 'file');
  head.writeUInt32BE(DHCP_MAGIC_COOKIE, BOOTP_HEADER_BYTES);
  const parts: Buffer[] = [head];
  for (const { code, data } of m.options) {
    if (code === DHCP_OPTION.PAD || code === DHCP_OPTION.END || code < 0 || code > 255) throw new RangeError(`cannot encode option code ${code}`);
    let rest = data;
    do {
      const piece = rest.subarray(0, 255);
      parts.push(Buffer.from([code, piece.length]), piece);
      rest = rest.subarray(piece.length);
    } while (rest.length > 0);
  }
  parts.push(Buffer.from([DHCP_OPTION.END]));
  const packet = Buffer.concat(parts);
  return packet.length >= BOOTP_MIN_BYTES ? packet : Buffer.concat([packet, Buffer.alloc(BOOTP_MIN_BYTES - packet.length)]);
}
