/**
 * The TFTP requests of one network-boot attempt: each request gets a fresh
 * socket in the Pi's namespace (bound to the Pi's address), is recorded in
 * order with its outcome, and a `get` lands in the output directory under
 * the file's boot-partition name (written to `<name>.part`, renamed when
 * whole, removed otherwise). A required file that fails throws
 * `RequiredFileFailed`, which ends the attempt at that file.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import type { BootLog } from './log.js';
import type { NamespaceSockets } from './netns-sockets.js';
import { transfer } from './pi-tftp.js';
import type { NetbootFailure, TftpRequestRecord } from './types.js';

export class RequiredFileFailed extends Error {
  constructor(readonly failure: NetbootFailure) {
    super(failure.message);
    this.name = 'RequiredFileFailed';
  }
}

export interface SessionOptions {
  sockets: NamespaceSockets;
  localAddress: string;
  server: string;
  outDir: string;
  blksize: number;
  retransmitMs: number;
  fileTimeoutMs: number;
  log: BootLog;
  /** Shared by every attempt of the boot, so `seq` runs over the whole boot. */
  records: TftpRequestRecord[];
  faults?: TftpFaults;
  signal?: AbortSignal;
}

function describe(r: TftpRequestRecord): string {
  switch (r.outcome) {
    case 'sent':
      return `sent ${r.bytes} bytes`;
    case 'probed':
      return `exists${r.tsize !== undefined ? ` (tsize ${r.tsize})` : ''}`;
    case 'timeout':
      return 'no answer (timeout)';
    default:
      return `error ${r.errorCode}: ${JSON.stringify(r.serverMessage ?? '')}`;
  }
}

/**
 * Packet loss for tests (no netem here): the Nth TFTP packet the Pi
 * receives, or the Nth ACK it sends, counted over the whole boot, is lost,
 * so the real server's retransmissions are exercised.
 */
export class TftpFaults {
  private received = 0;
  private acks = 0;
  lostReceived = 0;
  lostAcks = 0;
  constructor(private readonly o: { loseReceived?: number[]; loseAcks?: number[]; stall?: { file: string; afterBytes: number } }) {}
  /** The byte count after which a `get` of `file` goes silent, when the stall fault names it. */
  stallFor(file: string, kind: string): number | undefined {
    const s = this.o.stall;
    return s && kind === 'get' && file.endsWith(s.file) ? s.afterBytes : undefined;
  }
  loseReceived = (): boolean => {
    const lose = this.o.loseReceived?.includes(++this.received) ?? false;
    if (lose) this.lostReceived += 1;
    return lose;
  };
  loseAck = (): boolean => {
    const lose = this.o.loseAcks?.includes(++this.acks) ?? false;
    if (lose) this.lostAcks += 1;
    return lose;
  };
}

export class TftpSession {
  stage: 'bootloader' | 'firmware' = 'bootloader';
  bytes = 0;

  constructor(private readonly o: SessionOptions) {}

  /** Where a boot-partition name is stored under the output directory (never outside it). */
  localPath(name: string): string {
    const rel = normalize(name).replace(/^(\.\.(\/|$))+/, '').replace(/^\/+/, '');
    return join(this.o.outDir, rel);
  }

  async request(file: string, kind: TftpRequestRecord['kind'], purpose: string, opts: { required: boolean; saveAs?: string }): Promise<TftpRequestRecord> {
    const socket = await this.o.sockets.udp({ address: this.o.localAddress, port: 0 });
    const clientPort = socket.address().port;
    const atMs = this.o.log.now();
    let fd: number | undefined;
    let part: string | undefined;
    let target: string | undefined;
    if (kind === 'get' && opts.saveAs !== undefined) {
      target = this.localPath(opts.saveAs);
      part = `${target}.part`;
      mkdirSync(dirname(part), { recursive: true });
      fd = openSync(part, 'w');
    }
    try {
      const r = await transfer({
        socket,
        server: this.o.server,
        file,
        mode: kind,
        blksize: this.o.blksize,
        retransmitMs: this.o.retransmitMs,
        fileTimeoutMs: this.o.fileTimeoutMs,
        sink: fd === undefined ? undefined : (chunk) => writeSync(fd!, chunk),
        ...(this.o.faults && { loseReceived: this.o.faults.loseReceived, loseAck: this.o.faults.loseAck, stallAfterBytes: this.o.faults.stallFor(file, kind) }),
        signal: this.o.signal,
      });
      if (fd !== undefined) {
        closeSync(fd);
        fd = undefined;
        if (r.outcome === 'sent') renameSync(part!, target!);
        else rmSync(part!, { force: true });
      }
      const record: TftpRequestRecord = {
        seq: this.o.records.length + 1,
        file,
        kind,
        stage: this.stage,
        purpose,
        required: opts.required,
        outcome: r.outcome,
        bytes: r.bytes,
        ...(r.tsize !== undefined && { tsize: r.tsize }),
        ...(r.blksize !== undefined && { blksize: r.blksize }),
        ...(r.errorCode !== undefined && { errorCode: r.errorCode }),
        ...(r.serverMessage !== undefined && { serverMessage: r.serverMessage }),
        clientPort,
        retransmissions: r.retransmissions,
        atMs,
        durationMs: r.durationMs,
        ...(r.outcome === 'sent' && target !== undefined && { savedAs: target }),
      };
      this.o.records.push(record);
      this.bytes += r.outcome === 'sent' ? r.bytes : 0;
      this.o.log.line(`TFTP ${kind === 'get' ? 'GET  ' : kind === 'probe' ? 'PROBE' : 'OPEN '} ${file} (${purpose}): ${describe(record)}`);
      const ok = kind === 'get' ? r.outcome === 'sent' : r.outcome === 'probed';
      if (!ok && opts.required) {
        const words = r.outcome === 'timeout' ? `no answer from ${this.o.server} within ${this.o.fileTimeoutMs} ms` : `TFTP error ${r.errorCode}: ${r.serverMessage ?? ''}`;
        throw new RequiredFileFailed({
          file,
          purpose,
          outcome: r.outcome,
          ...(r.errorCode !== undefined && { errorCode: r.errorCode }),
          ...(r.serverMessage !== undefined && { serverMessage: r.serverMessage }),
          message: `${file} (${purpose}): ${words}`,
          stage: this.stage,
        });
      }
      return record;
    } finally {
      if (fd !== undefined) {
        closeSync(fd);
        rmSync(part!, { force: true });
      }
      socket.close();
    }
  }
}
