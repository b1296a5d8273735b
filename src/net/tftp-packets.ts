/**
 * TFTP packets on the wire: RFC 1350 (RRQ, DATA, ACK, ERROR) and the option
 * extension of RFC 2347 (options in the RRQ, OACK). Pure functions, no I/O:
 * `encode*` build the bytes a client sends, `decodeTftpPacket` reads any
 * datagram and never throws (garbage comes back as `{ op: 'invalid' }`).
 */

export const TFTP_OP = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** RFC 1350 error codes, plus 8 from RFC 2347. */
export const TFTP_ERROR_CODE = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_NEGOTIATION: 8,
} as const;

const ERROR_NAMES: Record<number, string> = {
  0: 'not defined',
  1: 'file not found',
  2: 'access violation',
  3: 'disk full',
  4: 'illegal TFTP operation',
  5: 'unknown transfer ID',
  6: 'file already exists',
  7: 'no such user',
  8: 'option negotiation failed',
};

export function tftpErrorName(code: number): string {
  return ERROR_NAMES[code] ?? `unknown error code ${code}`;
}

/** RFC 2348: the block sizes a client may ask for. */
export const MIN_BLKSIZE = 8;
export const MAX_BLKSIZE = 65464;
export const DEFAULT_BLKSIZE = 512;
/** RFC 2347: a request (RRQ with its options) must fit in 512 bytes. */
export const MAX_REQUEST_BYTES = 512;

export type TftpPacket =
  | { op: 'rrq' | 'wrq'; file: string; mode: string; options: Record<string, string> }
  | { op: 'data'; block: number; data: Buffer }
  | { op: 'ack'; block: number }
  | { op: 'error'; code: number; message: string }
  | { op: 'oack'; options: Record<string, string> }
  | { op: 'invalid'; reason: string };

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value & 0xffff);
  return b;
}

function cstring(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'latin1'), Buffer.alloc(1)]);
}

/**
 * A read request. Option names are sent as given (RFC 2347 says they are
 * case-insensitive); values are decimal strings. Throws on a file name that
 * cannot be sent (empty, NUL, not Latin-1) or a request over 512 bytes.
 */
export function encodeRrq(file: string, options: Record<string, string> = {}, mode = 'octet'): Buffer {
  if (file === '') throw new RangeError('TFTP file name must not be empty');
  if (file.includes('\0')) throw new RangeError(`TFTP file name ${JSON.stringify(file)} contains a NUL byte`);
  if (!/^[\x01-\xff]*$/.test(file)) throw new RangeError(`TFTP file name ${JSON.stringify(file)} has characters outside Latin-1`);
  const parts = [u16(TFTP_OP.RRQ), cstring(file), cstring(mode)];
  for (const [name, value] of Object.entries(options)) {
    if (name === '' || /\0/.test(name) || /\0/.test(value)) throw new RangeError(`bad TFTP option ${JSON.stringify(name)}`);
    parts.push(cstring(name), cstring(value));
  }
  const packet = Buffer.concat(parts);
  if (packet.length > MAX_REQUEST_BYTES) {
    throw new RangeError(`TFTP request for ${JSON.stringify(file)} is ${packet.length} bytes; RFC 2347 allows at most ${MAX_REQUEST_BYTES}`);
  }
  return packet;
}

export function encodeAck(block: number): Buffer {
  return Buffer.concat([u16(TFTP_OP.ACK), u16(block)]);
}


export function encodeError(code: number, message: string): Buffer {
  return Buffer.concat([u16(TFTP_OP.ERROR), u16(code), cstring(message.replace(/\0/g, ''))]);
}

export function encodeOack(options: Record<string, string>): Buffer {
  const parts = [u16(TFTP_OP.OACK)];
  for (const [name, value] of Object.entries(options)) parts.push(cstring(name), cstring(value));
  return Buffer.concat(parts);
}

/** NUL-terminated strings from `start`; null when the last one is not terminated. */
function splitStrings(buf: Buffer, start: number): string[] | null {
  const out: string[] = [];
  let pos = start;
  while (pos < buf.length) {
    const end = buf.indexOf(0, pos);
    if (end === -1) return null;
    out.push(buf.toString('latin1', pos, end));
    pos = end + 1;
  }
  return out;
}

/** Option pairs with lower-cased names; null when the list is malformed. */
function optionPairs(strings: string[]): Record<string, string> | null {
  if (strings.length % 2 !== 0) return null;
  const options: Record<string, string> = {};
  for (let i = 0; i < strings.length; i += 2) {
    const name = strings[i]!.toLowerCase();
    if (name === '' || Object.hasOwn(options, name)) return null;
    options[name] = strings[i + 1]!;
  }
  return options;
}

export function decodeTftpPacket(buf: Buffer): TftpPacket {
  if (buf.length < 2) return { op: 'invalid', reason: `${buf.length}-byte datagram is too short for a TFTP packet` };
  const op = buf.readUInt16BE(0);
  switch (op) {
    case TFTP_OP.RRQ:
    case TFTP_OP.WRQ: {
      const strings = splitStrings(buf, 2);
      if (!strings || strings.length < 2) return { op: 'invalid', reason: 'request without a terminated file name and mode' };
      const options = optionPairs(strings.slice(2));
      if (!options) return { op: 'invalid', reason: 'request with a malformed option list' };
      return { op: op === TFTP_OP.RRQ ? 'rrq' : 'wrq', file: strings[0]!, mode: strings[1]!.toLowerCase(), options };
    }
    case TFTP_OP.DATA:
      if (buf.length < 4) return { op: 'invalid', reason: 'DATA packet without a block number' };
      return { op: 'data', block: buf.readUInt16BE(2), data: buf.subarray(4) };
    case TFTP_OP.ACK:
      if (buf.length !== 4) return { op: 'invalid', reason: `ACK packet of ${buf.length} bytes (expected 4)` };
      return { op: 'ack', block: buf.readUInt16BE(2) };
    case TFTP_OP.ERROR: {
      if (buf.length < 4) return { op: 'invalid', reason: 'ERROR packet without an error code' };
      // Be lenient: some servers omit the final NUL; stop at the first NUL if there is one.
      const end = buf.indexOf(0, 4);
      const message = buf.toString('latin1', 4, end === -1 ? buf.length : end);
      return { op: 'error', code: buf.readUInt16BE(2), message };
    }
    case TFTP_OP.OACK: {
      const strings = splitStrings(buf, 2);
      const options = strings && optionPairs(strings);
      if (!options) return { op: 'invalid', reason: 'OACK with a malformed option list' };
      return { op: 'oack', options };
    }
    default:
      return { op: 'invalid', reason: `unknown TFTP opcode ${op}` };
  }
}
