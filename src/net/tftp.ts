/**
 * A TFTP client for checking a boot server the way a Raspberry Pi uses it:
 * `tftpGet` downloads a file (RFC 1350, octet mode) with the options of
 * RFC 2347 (negotiation), RFC 2348 (blksize) and RFC 2349 (tsize, timeout);
 * `tftpProbe` is the bootloader's size probe (ask for `tsize`, read the
 * OACK, abort with ERROR 0 "Early terminate", which dnsmasq logs as
 * `error 0 Early terminate received from …`).
 *
 * The transfer runs in lock step: one DATA, one ACK. The server answers from
 * a new port (its transfer ID); packets from any other address or port are
 * answered with ERROR 5 and otherwise ignored, as RFC 1350 section 4 says.
 * Every wait has a timeout: after `timeoutMs` without progress the last
 * packet is sent again, at most `retries` times, then the transfer fails
 * with a TftpError that names the server and the file. An AbortSignal ends a
 * transfer at once. The socket is closed on every path.
 *
 * Block numbers are 16 bits; after block 65535 the next block is 0 (as
 * dnsmasq and tftp-hpa count), so files of any size transfer.
 */
import { createHash, type Hash } from 'node:crypto';
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { performance } from 'node:perf_hooks';
import { PinetError, UsageError } from '../errors.js';
import { isPort } from '../util/port.js';
import {
  DEFAULT_BLKSIZE,
  MAX_BLKSIZE,
  MAX_REQUEST_BYTES,
  MIN_BLKSIZE,
  TFTP_ERROR_CODE,
  decodeTftpPacket,
  encodeAck,
  encodeError,
  encodeRrq,
  tftpErrorName,
  type TftpPacket,
} from './tftp-packets.js';

/** The largest block that fits an Ethernet frame (1500 MTU) without IP fragmentation. */
export const ETHERNET_BLKSIZE = 1468;
/** What the Pi bootloader sends to end its size probe (dnsmasq logs it verbatim). */
export const EARLY_TERMINATE_MESSAGE = 'Early terminate';

export interface TftpCommonOptions {
  /** Server address or host name (resolved once, IPv4). */
  server: string;
  /** Server port for the request; default 69. */
  port?: number;
  /** Path as the client asks for it, e.g. `bf9fed6f/start4.elf`. */
  file: string;
  /** Block size to ask for (8..65464), or `false` to not ask; default 1468. */
  blksize?: number | false;
  /** Wait this long for each answer before sending the last packet again; default 1000. */
  timeoutMs?: number;
  /** How often the last packet is sent again before giving up; default 5. */
  retries?: number;
  /** Bind the client socket to this local address (default: any). */
  localAddress?: string;
  signal?: AbortSignal;
}

export interface TftpGetOptions extends TftpCommonOptions {
  /** Ask the server for the file size (RFC 2349); default true. */
  tsize?: boolean;
  /** RFC 2349 `timeout` option: the server's retransmission interval in seconds (1..255); not sent by default. */
  serverTimeoutSec?: number;
  /** Receive the file block by block instead of in `data`. */
  onData?: (chunk: Buffer) => void;
  /** Fail when the file grows beyond this many bytes; default 1 GiB. */
  maxBytes?: number;
}

export interface TftpGetResult {
  server: string;
  port: number;
  file: string;
  /** Bytes received. */
  size: number;
  /** The file, unless `onData` was given. */
  data?: Buffer;
  /** SHA-256 of the file, lowercase hex. */
  sha256: string;
  /** The size the server announced in its OACK, when it did. */
  tsize?: number;
  /** The block size the transfer used. */
  blksize: number;
  /** The server answered with an OACK (false: it ignored the options and sent plain DATA). */
  optionsAcknowledged: boolean;
  /** Packets sent again after a timeout. */
  retransmissions: number;
  durationMs: number;
  bytesPerSecond: number;
}

export type TftpProbeOptions = TftpCommonOptions;

export type TftpProbeResult =
  | {
      ok: true;
      server: string;
      port: number;
      file: string;
      /** From the OACK; when the server ignores options, known only for a file shorter than one block. */
      size: number | undefined;
      optionsAcknowledged: boolean;
      durationMs: number;
    }
  | { ok: false; server: string; port: number; file: string; error: TftpError; durationMs: number };

export type TftpErrorKind = 'server' | 'timeout' | 'protocol' | 'aborted' | 'socket';

/** Printable form of text that came off the wire: control characters as \xNN. */
function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function quoted(text: string): string {
  return `"${printable(text).replace(/"/g, '\\"')}"`;
}

/**
 * A failed transfer. `kind` says why: the server sent an ERROR packet
 * (`code` and its exact `serverMessage`), no answer came (`timeout`), the
 * server broke the protocol, the caller aborted, or the socket failed.
 */
export class TftpError extends PinetError {
  readonly kind: TftpErrorKind;
  readonly server: string;
  readonly port: number;
  readonly file: string;
  /** TFTP error code from the server's ERROR packet (kind `server`). */
  readonly code: number | undefined;
  /** The server's message exactly as sent (kind `server`). */
  readonly serverMessage: string | undefined;

  constructor(
    kind: TftpErrorKind,
    where: { server: string; port: number; file: string },
    message: string,
    extra: { code?: number; serverMessage?: string; hint?: string; cause?: unknown } = {},
  ) {
    super(message, { hint: extra.hint, cause: extra.cause });
    this.name = 'TftpError';
    this.kind = kind;
    this.server = where.server;
    this.port = where.port;
    this.file = where.file;
    this.code = extra.code;
    this.serverMessage = extra.serverMessage;
  }
}

const HINTS: Record<number, string> = {
  [TFTP_ERROR_CODE.FILE_NOT_FOUND]: 'the file is not in the TFTP root; check its name and the TFTP prefix directory (serial or MAC)',
  [TFTP_ERROR_CODE.ACCESS_VIOLATION]:
    "make the file readable by the TFTP server's user (dnsmasq drops root): chmod a+r on the file and a+x on every directory above it",
};
const TIMEOUT_HINT =
  'check that the TFTP server runs (dnsmasq: enable-tftp) and that UDP port 69 and the reply ports it answers from are not blocked by a firewall';

interface Where {
  server: string;
  port: number;
  file: string;
}

function serverError(where: Where, code: number, message: string): TftpError {
  return new TftpError(
    'server',
    where,
    `TFTP server ${where.server}:${where.port} answered ${quoted(where.file)} with error ${code} (${tftpErrorName(code)}): ${quoted(message)}`,
    { code, serverMessage: message, hint: HINTS[code] },
  );
}

function protocolError(where: Where, reason: string): TftpError {
  return new TftpError('protocol', where, `TFTP server ${where.server}:${where.port} broke the protocol while sending ${quoted(where.file)}: ${reason}`);
}

interface Settings {
  where: Where;
  address: string;
  timeoutMs: number;
  retries: number;
  blksize: number | false;
  localAddress: string | undefined;
  signal: AbortSignal | undefined;
}

function integerIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

function validateCommon(o: TftpCommonOptions): Omit<Settings, 'address'> {
  const port = o.port ?? 69;
  const where = { server: o.server, port, file: o.file };
  if (typeof o.server !== 'string' || o.server.trim() === '') throw new UsageError('TFTP server address must not be empty');
  if (!isPort(port)) throw new UsageError(`TFTP port ${port} is not a port number (1-65535)`);
  if (typeof o.file !== 'string' || o.file === '') throw new UsageError('TFTP file name must not be empty');
  if (o.file.includes('\0')) throw new UsageError(`TFTP file name ${quoted(o.file)} contains a NUL byte`);
  if (!/^[\x01-\xff]*$/.test(o.file)) throw new UsageError(`TFTP file name ${quoted(o.file)} has characters outside Latin-1`);
  const blksize = o.blksize ?? ETHERNET_BLKSIZE;
  if (blksize !== false && !integerIn(blksize, MIN_BLKSIZE, MAX_BLKSIZE)) {
    throw new UsageError(`TFTP block size ${blksize} is out of range`, `RFC 2348 allows ${MIN_BLKSIZE} to ${MAX_BLKSIZE}`);
  }
  const timeoutMs = o.timeoutMs ?? 1000;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new UsageError(`TFTP timeout ${timeoutMs} ms must be a positive number`);
  const retries = o.retries ?? 5;
  if (!integerIn(retries, 0, 1000)) throw new UsageError(`TFTP retries ${retries} must be a whole number from 0 to 1000`);
  return { where, timeoutMs, retries, blksize, localAddress: o.localAddress, signal: o.signal };
}

async function resolve(settings: Omit<Settings, 'address'>): Promise<Settings> {
  try {
    const { address } = await lookup(settings.where.server, { family: 4 });
    return { ...settings, address };
  } catch (err) {
    throw new TftpError('socket', settings.where, `TFTP server ${quoted(settings.where.server)}: cannot resolve the address: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** What a packet handler can do with the transfer. */
interface Exchange {
  /** Send to the server and expect an answer (retransmitted on timeout). */
  send(packet: Buffer): void;
  /** Send to the server without expecting an answer (final ACK, ERROR). */
  sendOnly(packet: Buffer): void;
  /** Send the last expected-answer packet again (a duplicate came in: our answer was lost). */
  resendLast(): void;
  /** Forward progress: the retry budget starts again. */
  progress(): void;
  /** Where a stalled transfer stopped ("after N bytes (block B)"), for the timeout message. */
  stalledAt: string | undefined;
  /** Packets sent again after a timeout so far. */
  readonly retransmissions: number;
}

/**
 * One request/response conversation: opens the socket, sends the RRQ,
 * pins the server's transfer ID, runs the timer and the abort path, and
 * hands every packet from the server to `onPacket` until it settles.
 */
function converse<T>(
  s: Settings,
  rrq: Buffer,
  onPacket: (packet: TftpPacket, x: Exchange, done: (value: T) => void, fail: (err: TftpError) => void) => void,
): Promise<T> {
  return new Promise<T>((resolvePromise, rejectPromise) => {
    const { where } = s;
    const socket = dgram.createSocket('udp4');
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let tid: number | undefined; // the server's port, fixed by its first answer
    let last: Buffer = rrq;
    let left = s.retries;
    let retransmissions = 0;

    let pending = 0; // sends not yet handed to the kernel; the socket closes after the last one
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      try {
        socket.close();
      } catch {
        // already closed
      }
    };
    const cleanup = (): void => {
      settled = true;
      if (timer) clearTimeout(timer);
      s.signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('message');
      if (pending === 0) close();
    };
    const done = (value: T): void => {
      if (settled) return;
      cleanup();
      resolvePromise(value);
    };
    const fail = (err: TftpError): void => {
      if (settled) return;
      cleanup();
      rejectPromise(err);
    };
    const sendTo = (packet: Buffer, port: number, address: string): void => {
      if (closed) return;
      pending += 1;
      socket.send(packet, port, address, (err) => {
        pending -= 1;
        if (err) fail(new TftpError('socket', where, `TFTP ${address}:${port} ${quoted(where.file)}: cannot send: ${err.message}`, { cause: err }));
        if (settled && pending === 0) close();
      });
    };
    const raw = (packet: Buffer): void => sendTo(packet, tid ?? where.port, s.address);
    let armed = false;
    const arm = (): void => {
      // refresh() restarts the same timer: cheaper than a new one per packet.
      if (timer) timer.refresh();
      else timer = setTimeout(onTimeout, s.timeoutMs);
      armed = true;
    };
    const disarm = (): void => {
      armed = false;
    };
    const x: Exchange = {
      send(packet) {
        last = packet;
        raw(packet);
        arm();
      },
      sendOnly(packet) {
        disarm();
        raw(packet);
      },
      resendLast() {
        raw(last);
      },
      progress() {
        left = s.retries;
      },
      stalledAt: undefined,
      get retransmissions() {
        return retransmissions;
      },
    };
    function onTimeout(): void {
      if (settled || !armed) return;
      if (left > 0) {
        left -= 1;
        retransmissions += 1;
        raw(last);
        arm();
        return;
      }
      const tries = `${s.retries + 1} tries, ${s.timeoutMs} ms apart`;
      const message =
        tid === undefined
          ? `TFTP server ${where.server}:${where.port} did not answer the request for ${quoted(where.file)} (${tries})`
          : `TFTP transfer of ${quoted(where.file)} from ${where.server}:${where.port} stalled ${x.stalledAt ?? 'before the first block'}: no answer (${tries})`;
      fail(new TftpError('timeout', where, message, { hint: TIMEOUT_HINT }));
    }
    function onAbort(): void {
      if (tid !== undefined) raw(encodeError(TFTP_ERROR_CODE.NOT_DEFINED, 'Transfer aborted'));
      fail(new TftpError('aborted', where, `TFTP transfer of ${quoted(where.file)} from ${where.server}:${where.port} was aborted`, { cause: s.signal?.reason }));
    }

    socket.on('error', (err) => fail(new TftpError('socket', where, `TFTP ${where.server}:${where.port} ${quoted(where.file)}: socket error: ${err.message}`, { cause: err })));
    socket.on('message', (msg, from) => {
      if (settled) return;
      const fromServer = from.address === s.address && (tid === undefined || from.port === tid);
      const packet = decodeTftpPacket(msg);
      if (!fromServer) {
        // RFC 1350 section 4: a packet from a wrong TID gets ERROR 5 and changes nothing.
        if (packet.op !== 'error') {
          sendTo(encodeError(TFTP_ERROR_CODE.UNKNOWN_TID, 'Unknown transfer ID'), from.port, from.address);
        }
        return;
      }
      tid = from.port;
      onPacket(packet, x, done, fail);
    });

    if (s.signal?.aborted) {
      onAbort();
      return;
    }
    s.signal?.addEventListener('abort', onAbort, { once: true });
    socket.bind({ port: 0, address: s.localAddress }, () => {
      if (settled) return;
      x.send(rrq);
    });
  });
}

function requestOptions(blksize: number | false, tsize: boolean, serverTimeoutSec: number | undefined): Record<string, string> {
  const options: Record<string, string> = {};
  if (blksize !== false) options.blksize = String(blksize);
  if (tsize) options.tsize = '0';
  if (serverTimeoutSec !== undefined) options.timeout = String(serverTimeoutSec);
  return options;
}

function buildRrq(where: Where, options: Record<string, string>): Buffer {
  try {
    return encodeRrq(where.file, options);
  } catch (err) {
    throw new UsageError(`TFTP file name ${quoted(where.file)} is too long: ${(err as Error).message}`, `a request must fit in ${MAX_REQUEST_BYTES} bytes`);
  }
}

/**
 * Check an OACK against what was asked (RFC 2347: the server may only
 * acknowledge requested options; RFC 2348: blksize no larger than asked;
 * RFC 2349: timeout unchanged). Returns the reason it is unacceptable, or
 * the values it settles.
 */
export function checkOack(
  requested: Record<string, string>,
  acknowledged: Record<string, string>,
): { ok: true; blksize?: number; tsize?: number } | { ok: false; reason: string } {
  const out: { ok: true; blksize?: number; tsize?: number } = { ok: true };
  for (const [name, value] of Object.entries(acknowledged)) {
    if (!Object.hasOwn(requested, name)) return { ok: false, reason: `the server acknowledged option "${printable(name)}" that was not requested` };
    if (!/^[0-9]{1,15}$/.test(value)) return { ok: false, reason: `option ${name} has the value ${quoted(value)}, not a number` };
    const n = Number(value);
    if (name === 'blksize') {
      if (n < MIN_BLKSIZE || n > Number(requested.blksize)) {
        return { ok: false, reason: `blksize ${n} is outside ${MIN_BLKSIZE}..${requested.blksize} (the size asked for)` };
      }
      out.blksize = n;
    } else if (name === 'tsize') {
      out.tsize = n;
    } else if (name === 'timeout' && n !== Number(requested.timeout)) {
      return { ok: false, reason: `timeout ${n} differs from the ${requested.timeout} asked for` };
    }
  }
  return out;
}

/** Download one file. Throws TftpError on any failure, UsageError on bad options. */
export async function tftpGet(options: TftpGetOptions): Promise<TftpGetResult> {
  const common = validateCommon(options);
  const { where } = common;
  const tsize = options.tsize ?? true;
  const sts = options.serverTimeoutSec;
  if (sts !== undefined && !integerIn(sts, 1, 255)) throw new UsageError(`TFTP server timeout ${sts} s must be a whole number from 1 to 255 (RFC 2349)`);
  const maxBytes = options.maxBytes ?? 2 ** 30;
  const requested = requestOptions(common.blksize, tsize, sts);
  const rrq = buildRrq(where, requested);
  const askedOptions = Object.keys(requested).length > 0;
  const s = await resolve(common);

  const hash: Hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let size = 0;
  let blksize = DEFAULT_BLKSIZE;
  let announced: number | undefined;
  let oacked = false;
  let blocks = 0; // DATA blocks received in order
  let expected = 1;

  const start = performance.now();
  const promise = converse<TftpGetResult>(s, rrq, (packet, x, done, fail) => {
    const broke = (reason: string, code: number = TFTP_ERROR_CODE.ILLEGAL_OPERATION): void => {
      x.sendOnly(encodeError(code, reason));
      fail(protocolError(where, reason));
    };
    switch (packet.op) {
      case 'error':
        fail(serverError(where, packet.code, packet.message));
        return;
      case 'oack': {
        if (blocks > 0 || !askedOptions) {
          // A late duplicate OACK after DATA began is harmless; an OACK to a request without options is not.
          if (askedOptions) return;
          broke('OACK received, but no options were requested', TFTP_ERROR_CODE.OPTION_NEGOTIATION);
          return;
        }
        if (oacked) {
          x.resendLast(); // our ACK 0 was lost
          return;
        }
        const verdict = checkOack(requested, packet.options);
        if (!verdict.ok) {
          broke(verdict.reason, TFTP_ERROR_CODE.OPTION_NEGOTIATION);
          return;
        }
        oacked = true;
        if (verdict.blksize !== undefined) blksize = verdict.blksize;
        announced = verdict.tsize;
        if (announced !== undefined && announced > maxBytes) {
          broke(`the file is ${announced} bytes, more than the limit of ${maxBytes}`, TFTP_ERROR_CODE.NOT_DEFINED);
          return;
        }
        x.progress();
        x.send(encodeAck(0));
        return;
      }
      case 'data': {
        if (packet.block !== expected) {
          // The previous block again: our ACK was lost, say it once more. Anything else is stale.
          if (blocks > 0 && packet.block === ((expected - 1) & 0xffff)) x.resendLast();
          return;
        }
        const data = packet.data;
        if (data.length > blksize) {
          broke(`block ${packet.block} carries ${data.length} bytes, more than the block size ${blksize}`);
          return;
        }
        size += data.length;
        if (announced !== undefined && size > announced) {
          broke(`the server announced ${announced} bytes (tsize) but sent more`);
          return;
        }
        if (size > maxBytes) {
          broke(`the file is larger than the limit of ${maxBytes} bytes`, TFTP_ERROR_CODE.NOT_DEFINED);
          return;
        }
        hash.update(data);
        if (options.onData) {
          try {
            options.onData(data);
          } catch (err) {
            x.sendOnly(encodeError(TFTP_ERROR_CODE.NOT_DEFINED, 'Transfer aborted'));
            fail(new TftpError('aborted', where, `TFTP transfer of ${quoted(where.file)} stopped: the data handler failed: ${(err as Error).message}`, { cause: err }));
            return;
          }
        } else {
          chunks.push(data);
        }
        blocks += 1;
        x.progress();
        x.stalledAt = `after ${size} bytes (block ${packet.block})`;
        if (data.length < blksize) {
          x.sendOnly(encodeAck(packet.block));
          if (announced !== undefined && size !== announced) {
            fail(protocolError(where, `the server announced ${announced} bytes (tsize) but sent ${size}`));
            return;
          }
          const durationMs = performance.now() - start;
          const result: TftpGetResult = {
            server: where.server,
            port: where.port,
            file: where.file,
            size,
            sha256: hash.digest('hex'),
            blksize,
            optionsAcknowledged: oacked,
            retransmissions: x.retransmissions,
            durationMs,
            bytesPerSecond: durationMs > 0 ? (size * 1000) / durationMs : 0,
          };
          if (!options.onData) result.data = Buffer.concat(chunks, size);
          if (announced !== undefined) result.tsize = announced;
          done(result);
          return;
        }
        expected = (expected + 1) & 0xffff;
        x.send(encodeAck(packet.block));
        return;
      }
      case 'invalid':
        broke(`unreadable packet: ${packet.reason}`);
        return;
      default:
        broke(`unexpected ${packet.op.toUpperCase()} packet from the server`);
    }
  });
  return promise;
}

/**
 * The Pi bootloader's size probe: RRQ with `tsize` (and `blksize`), read the
 * answer, abort with ERROR 0 "Early terminate". Server errors and timeouts
 * are returned (`ok: false`), since "not found" is an ordinary probe answer;
 * only bad options (UsageError) and an abort throw.
 */
export async function tftpProbe(options: TftpProbeOptions): Promise<TftpProbeResult> {
  const common = validateCommon(options);
  const { where } = common;
  const requested = requestOptions(common.blksize, true, undefined);
  const rrq = buildRrq(where, requested);
  const s = await resolve(common);
  const start = performance.now();
  const base = { server: where.server, port: where.port, file: where.file };
  try {
    return await converse<TftpProbeResult>(s, rrq, (packet, x, done, fail) => {
      const terminate = (): void => x.sendOnly(encodeError(TFTP_ERROR_CODE.NOT_DEFINED, EARLY_TERMINATE_MESSAGE));
      switch (packet.op) {
        case 'error':
          fail(serverError(where, packet.code, packet.message));
          return;
        case 'oack': {
          const verdict = checkOack(requested, packet.options);
          if (!verdict.ok) {
            x.sendOnly(encodeError(TFTP_ERROR_CODE.OPTION_NEGOTIATION, verdict.reason));
            fail(protocolError(where, verdict.reason));
            return;
          }
          terminate();
          done({ ok: true, ...base, size: verdict.tsize, optionsAcknowledged: true, durationMs: performance.now() - start });
          return;
        }
        case 'data': {
          // The server ignored the options: the file exists; its size is known only if it fits in one block.
          terminate();
          const size = packet.block === 1 && packet.data.length < DEFAULT_BLKSIZE ? packet.data.length : undefined;
          done({ ok: true, ...base, size, optionsAcknowledged: false, durationMs: performance.now() - start });
          return;
        }
        default: {
          const reason = packet.op === 'invalid' ? `unreadable packet: ${packet.reason}` : `unexpected ${packet.op.toUpperCase()} packet`;
          x.sendOnly(encodeError(TFTP_ERROR_CODE.ILLEGAL_OPERATION, reason));
          fail(protocolError(where, reason));
        }
      }
    });
  } catch (err) {
    if (err instanceof TftpError && err.kind !== 'aborted') {
      return { ok: false, ...base, error: err, durationMs: performance.now() - start };
    }
    throw err;
  }
}
