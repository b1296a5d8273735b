/**
 * The TCP relay that makes a fake Pi's sshd reachable as 127.0.0.1:<port>
 * on the host without giving the host any new address: the listening socket
 * was created in the host's network namespace (and handed over as a file
 * descriptor); the relay process lives in the fleet's LAN namespace and
 * connects to the Pi's address there.
 *
 * Fault injection for tests: cut every live connection (like a network
 * failure), throttle the bandwidth (per Pi, each direction), and block new
 * connections (drop: accepted and never answered; reset: reset at once).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';

/** Bytes per second for one direction of one Pi, shared by its connections. */
class Limiter {
  bytesPerSecond: number | null = null;
  private next = 0;
  readonly pumps = new Set<Pump>();
  /**
   * Bytes that crossed the Pi's side of the relay in this direction, all
   * connections together: read from the Pi's socket (from the Pi), or
   * written to it (to the Pi).
   */
  bytes = 0;
  constructor(readonly countAt: 'read' | 'write') {}

  /** Milliseconds to wait before sending `bytes` so the rate holds. */
  delayFor(bytes: number): number {
    if (this.bytesPerSecond === null) return 0;
    const now = performance.now();
    const start = Math.max(now, this.next);
    this.next = start + (bytes * 1000) / this.bytesPerSecond;
    return this.next - now;
  }

  set(bytesPerSecond: number | null): void {
    this.bytesPerSecond = bytesPerSecond;
    this.next = 0;
    for (const p of this.pumps) p.kick();
  }
}

const HIGH_WATER = 256 * 1024;

/** Copies one direction of a connection, through the limiter, keeping order and back-pressure. */
class Pump {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private held: Buffer | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ended = false;

  constructor(
    private readonly src: net.Socket,
    private readonly dst: net.Socket,
    private readonly limiter: Limiter,
  ) {
    limiter.pumps.add(this);
    src.on('data', (chunk: Buffer) => this.onData(chunk));
    src.on('end', () => {
      this.ended = true;
      // A chunk held back by the rate is sent first (release() flushes the rest).
      if (this.timer === null) this.flush();
    });
    src.on('close', () => this.stop());
    dst.on('close', () => this.stop());
  }

  private onData(chunk: Buffer): void {
    if (this.limiter.countAt === 'read') this.limiter.bytes += chunk.length;
    if (this.limiter.bytesPerSecond === null && this.queue.length === 0 && this.held === null) {
      this.write(chunk);
      if (this.dst.writableNeedDrain) {
        this.src.pause();
        this.dst.once('drain', () => this.src.resume());
      }
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued > HIGH_WATER) this.src.pause();
    if (this.timer === null) this.flush();
  }

  private write(chunk: Buffer): void {
    if (this.limiter.countAt === 'write') this.limiter.bytes += chunk.length;
    this.dst.write(chunk);
  }

  /** Send what the rate allows now; schedule the rest. */
  private flush(): void {
    this.timer = null;
    while (this.queue.length > 0 && !this.dst.destroyed) {
      const rate = this.limiter.bytesPerSecond;
      const piece = rate === null ? Infinity : Math.max(256, Math.floor(rate / 20));
      let chunk = this.queue[0]!;
      if (chunk.length > piece) {
        this.queue[0] = chunk.subarray(piece);
        chunk = chunk.subarray(0, piece);
      } else {
        this.queue.shift();
      }
      this.queued -= chunk.length;
      const delay = this.limiter.delayFor(chunk.length);
      if (delay > 1) {
        this.held = chunk;
        this.timer = setTimeout(() => this.release(), delay);
        return;
      }
      this.write(chunk);
    }
    if (this.queued <= HIGH_WATER && this.src.isPaused() && !this.src.destroyed) this.src.resume();
    if (this.ended && this.queue.length === 0 && !this.dst.destroyed) this.dst.end();
  }

  private release(): void {
    if (this.held && !this.dst.destroyed) this.write(this.held);
    this.held = null;
    this.flush();
  }

  /** The rate changed: stop waiting for the old one. */
  kick(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.release();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.limiter.pumps.delete(this);
  }
}

interface Connection {
  client: net.Socket;
  upstream: net.Socket | null;
}

export type BlockMode = 'drop' | 'reset' | null;

export interface RelayStats {
  /** Connections accepted since the fleet started. */
  accepted: number;
  /** Connections open now. */
  active: number;
  /**
   * TCP payload bytes the Pi sent through its relay (read from its sshd and
   * passed on to the client) since the fleet started: the bytes that crossed
   * the boot server's link from this Pi, without TCP/IP headers.
   */
  bytesFromPi: number;
  /** TCP payload bytes passed on to the Pi's sshd since the fleet started. */
  bytesToPi: number;
}

/** The relay of one Pi. */
export class PiRelay {
  private readonly conns = new Set<Connection>();
  private readonly blackholed = new Set<net.Socket>();
  private readonly toPi = new Limiter('write');
  private readonly fromPi = new Limiter('read');
  private accepted = 0;
  private block: BlockMode = null;

  constructor(
    private readonly server: net.Server,
    private readonly target: { host: string; port: number },
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    client.setNoDelay(true);
    client.on('error', () => undefined);
    if (this.block === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const conn: Connection = { client, upstream: null };
    this.conns.add(conn);
    client.on('close', () => {
      this.conns.delete(conn);
      if (conn.upstream && !this.blackholed.has(conn.upstream)) conn.upstream.destroy();
    });
    if (this.block === 'drop') {
      client.pause();
      return;
    }
    const upstream = net.connect({ host: this.target.host, port: this.target.port, allowHalfOpen: true });
    conn.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('error', () => {
      if (!client.destroyed) client.resetAndDestroy();
    });
    upstream.on('close', () => {
      if (!client.destroyed && !client.writableEnded) client.end();
    });
    new Pump(client, upstream, this.toPi);
    new Pump(upstream, client, this.fromPi);
  }

  /**
   * Drop every live connection like a network failure: the client sees a
   * reset. `reset` resets the Pi's side too (sshd notices at once);
   * `blackhole` leaves the Pi's side open and silent, as when a cable is
   * pulled (the Pi's session goes on until the Pi gives up or reboots).
   */
  cut(mode: 'reset' | 'blackhole' = 'reset'): number {
    let n = 0;
    for (const conn of [...this.conns]) {
      n++;
      if (conn.upstream && !conn.upstream.destroyed) {
        if (mode === 'reset') conn.upstream.resetAndDestroy();
        else {
          conn.upstream.removeAllListeners('data');
          conn.upstream.pause();
          conn.upstream.on('close', () => this.blackholed.delete(conn.upstream!));
          this.blackholed.add(conn.upstream);
        }
      }
      if (!conn.client.destroyed) conn.client.resetAndDestroy();
      this.conns.delete(conn);
    }
    return n;
  }

  throttle(bytesPerSecond: number | null): void {
    if (bytesPerSecond !== null && !(Number.isFinite(bytesPerSecond) && bytesPerSecond > 0)) {
      throw new Error(`throttle: bytes per second must be a positive number or null, not ${bytesPerSecond}`);
    }
    this.toPi.set(bytesPerSecond);
    this.fromPi.set(bytesPerSecond);
  }

  /** Block new connections (connections already held by `drop` stay silent until cut). */
  setBlock(mode: BlockMode): void {
    this.block = mode;
  }

  stats(): RelayStats {
    return { accepted: this.accepted, active: this.conns.size, bytesFromPi: this.fromPi.bytes, bytesToPi: this.toPi.bytes };
  }

  close(): void {
    this.server.close();
    this.cut('reset');
    for (const s of this.blackholed) s.destroy();
    this.blackholed.clear();
  }
}
