/**
 * One TFTP request the way the Pi 4 bootloader and firmware send it, on a
 * socket the caller opened in the Pi's namespace (a fresh local port per
 * request, as the real Pi uses: rpi-eeprom#74's capture shows 40134, 40135,
 * ...). The request is `RRQ <file> octet tsize 0 blksize <n>`; then:
 *
 * - `probe` (the bootloader's size probe of start4.elf): read the OACK and
 *   abort with ERROR 0 "Early terminate"; dnsmasq logs
 *   `error 0 Early terminate received from <ip>` then `sent <file>`;
 * - `probe-block` (the firmware opening a file to learn it exists): ACK the
 *   OACK, take DATA block 1, then abort the same way; dnsmasq then logs
 *   `failed sending <file>` when that block was full (the file is longer
 *   than one block) and `sent <file>` otherwise, which is exactly the
 *   pattern of the seed article's log;
 * - `get`: the whole file, lock-step, every block ACKed; a repeated block
 *   (dnsmasq retransmits when an ACK is late) is ACKed again, a repeated
 *   OACK gets ACK 0 again, anything else from elsewhere is ignored.
 *
 * No answer for `retransmitMs`: the last packet goes out again; the whole
 * request fails as `timeout` after `fileTimeoutMs` (TFTP_FILE_TIMEOUT).
 * Error packets are classified by code: 1 not-found, 2 denied, else error,
 * with the server's exact words kept.
 */
import type dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { TFTP_ERROR_CODE, decodeTftpPacket, encodeAck, encodeError, encodeRrq } from '../../src/net/tftp-packets.js';

export const EARLY_TERMINATE = 'Early terminate';

export interface TransferOptions {
  socket: dgram.Socket;
  server: string;
  port?: number;
  file: string;
  mode: 'probe' | 'probe-block' | 'get';
  blksize: number;
  retransmitMs: number;
  fileTimeoutMs: number;
  /** Receives the file's blocks in order (`get`). */
  sink?: (chunk: Buffer) => void;
  /** Fault injection for tests: true drops that received packet / that ACK before it is sent. */
  loseReceived?: () => boolean;
  loseAck?: () => boolean;
  /** Fault injection: after this many bytes the Pi goes silent (no ACK, no retransmission) until the timeout. */
  stallAfterBytes?: number;
  signal?: AbortSignal;
}

export interface TransferResult {
  outcome: 'sent' | 'probed' | 'not-found' | 'denied' | 'error' | 'timeout';
  bytes: number;
  tsize?: number;
  blksize?: number;
  errorCode?: number;
  serverMessage?: string;
  retransmissions: number;
  durationMs: number;
}

export function transfer(o: TransferOptions): Promise<TransferResult> {
  const port = o.port ?? 69;
  const start = performance.now();
  return new Promise<TransferResult>((resolve) => {
    let tid: number | undefined;
    let last = encodeRrq(o.file, { tsize: '0', blksize: String(o.blksize) });
    let blksize = 512;
    let tsize: number | undefined;
    let oacked = false;
    let expected = 1;
    let blocks = 0;
    let bytes = 0;
    let retransmissions = 0;
    let settled = false;
    let stalled = false;

    const send = (packet: Buffer): void => {
      o.socket.send(packet, tid ?? port, o.server, () => undefined);
    };
    const finish = (r: Omit<TransferResult, 'retransmissions' | 'durationMs' | 'bytes' | 'tsize' | 'blksize'> & Partial<TransferResult>): void => {
      if (settled) return;
      settled = true;
      clearInterval(ticker);
      clearTimeout(deadline);
      o.socket.off('message', onMessage);
      o.signal?.removeEventListener('abort', onAbort);
      resolve({ bytes, ...(tsize !== undefined && { tsize }), ...(oacked || blocks > 0 ? { blksize } : {}), ...r, retransmissions, durationMs: performance.now() - start });
    };
    const terminate = (): void => send(encodeError(TFTP_ERROR_CODE.NOT_DEFINED, EARLY_TERMINATE));
    let quietSince = performance.now();
    const ticker = setInterval(() => {
      if (stalled || performance.now() - quietSince < o.retransmitMs) return;
      quietSince = performance.now();
      retransmissions += 1;
      send(last);
    }, Math.max(20, Math.floor(o.retransmitMs / 4)));
    const deadline = setTimeout(() => {
      if (tid !== undefined) send(encodeError(TFTP_ERROR_CODE.NOT_DEFINED, 'Timeout'));
      finish({ outcome: 'timeout', serverMessage: undefined });
    }, o.fileTimeoutMs);
    function onAbort(): void {
      if (tid !== undefined) send(encodeError(TFTP_ERROR_CODE.NOT_DEFINED, 'Transfer aborted'));
      finish({ outcome: 'timeout', serverMessage: 'aborted by the caller' });
    }
    o.signal?.addEventListener('abort', onAbort, { once: true });

    function onMessage(msg: Buffer, from: { address: string; port: number }): void {
      if (settled || from.address !== o.server) return;
      if (tid !== undefined && from.port !== tid) return;
      if (stalled || o.loseReceived?.()) return;
      tid = from.port;
      quietSince = performance.now();
      const p = decodeTftpPacket(msg);
      switch (p.op) {
        case 'error': {
          const outcome = p.code === TFTP_ERROR_CODE.FILE_NOT_FOUND ? 'not-found' : p.code === TFTP_ERROR_CODE.ACCESS_VIOLATION ? 'denied' : 'error';
          finish({ outcome, errorCode: p.code, serverMessage: p.message });
          return;
        }
        case 'oack': {
          if (blocks > 0) return;
          if (oacked) {
            send(last); // our ACK 0 was lost
            return;
          }
          oacked = true;
          if (p.options.blksize && /^[0-9]+$/.test(p.options.blksize)) blksize = Number(p.options.blksize);
          if (p.options.tsize && /^[0-9]+$/.test(p.options.tsize)) tsize = Number(p.options.tsize);
          if (o.mode === 'probe') {
            terminate();
            finish({ outcome: 'probed' });
            return;
          }
          last = encodeAck(0);
          send(last);
          return;
        }
        case 'data': {
          if (p.block !== expected) {
            if (blocks > 0 && p.block === ((expected - 1) & 0xffff)) send(last);
            return;
          }
          if (o.mode !== 'get') {
            // A server that ignored the options answers with block 1 straight away.
            bytes = p.data.length;
            terminate();
            finish({ outcome: 'probed' });
            return;
          }
          if (o.stallAfterBytes !== undefined && bytes >= o.stallAfterBytes) {
            stalled = true;
            return;
          }
          blocks += 1;
          bytes += p.data.length;
          o.sink?.(p.data);
          last = encodeAck(p.block);
          if (!o.loseAck?.()) send(last);
          if (p.data.length < blksize) {
            finish({ outcome: 'sent' });
            return;
          }
          expected = (expected + 1) & 0xffff;
          return;
        }
        default:
          return;
      }
    }
    o.socket.on('message', onMessage);
    send(last);
  });
}
