/**
 * The relay in front of each fake Pi, on loopback sockets (no root needed):
 * bytes pass unchanged both ways; cut, throttle and block act on them.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PiRelay } from './relay.js';
import { until } from './wait.js';

interface Rig {
  relay: PiRelay;
  port: number;
  /** Connections the "Pi" (upstream server) accepted. */
  upstream: net.Socket[];
  close(): void;
}

const rigs: Rig[] = [];
afterEach(() => {
  for (const r of rigs.splice(0)) r.close();
});

/** An upstream server running `onConn`, and a relay in front of it. */
async function rig(onConn: (s: net.Socket) => void): Promise<Rig> {
  const upstream: net.Socket[] = [];
  const target = net.createServer({ allowHalfOpen: true }, (s) => {
    upstream.push(s);
    s.on('error', () => undefined);
    onConn(s);
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const front = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const relay = new PiRelay(front, { host: '127.0.0.1', port: (target.address() as net.AddressInfo).port });
  const r: Rig = {
    relay,
    port: (front.address() as net.AddressInfo).port,
    upstream,
    close: () => {
      relay.close();
      for (const s of upstream) s.destroy();
      target.close();
    },
  };
  rigs.push(r);
  return r;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the socket receives until it ends or fails. */
function collect(s: net.Socket): { data: () => Buffer; done: Promise<{ error: string | null }> } {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  const done = new Promise<{ error: string | null }>((resolve) => {
    s.once('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    s.once('close', () => resolve({ error: null }));
  });
  return { data: () => Buffer.concat(chunks), done };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('fleet relay', () => {
  it('passes bytes both ways unchanged, with half-close', async () => {
    const r = await rig((s) => s.pipe(s));
    const payload = randomBytes(3 * 1024 * 1024);
    const c = await connect(r.port);
    const got = collect(c);
    c.end(payload);
    await got.done;
    expect(sha(got.data())).toBe(sha(payload));
    expect((r.relay.stats()).accepted).toBe(1);
  });

  it('counts the bytes each way: exactly what the Pi received and sent, throttled or not', async () => {
    const reply = randomBytes(2 * 1024 * 1024 + 17);
    const r = await rig((s) => {
      let n = 0;
      s.on('data', (d: Buffer) => {
        n += d.length;
        if (n === 1_000_003) s.end(reply);
      });
    });
    expect(r.relay.stats()).toMatchObject({ bytesFromPi: 0, bytesToPi: 0 });
    const c = await connect(r.port);
    const got = collect(c);
    c.write(randomBytes(1_000_003));
    await got.done;
    expect(got.data().length).toBe(reply.length);
    expect(r.relay.stats()).toMatchObject({ bytesFromPi: reply.length, bytesToPi: 1_000_003 });

    // A throttled second connection adds its own bytes to the same counters.
    r.relay.throttle(4 * 1024 * 1024);
    const c2 = await connect(r.port);
    const got2 = collect(c2);
    c2.write(randomBytes(1_000_003));
    await got2.done;
    expect(sha(got2.data())).toBe(sha(reply));
    expect(r.relay.stats()).toMatchObject({ accepted: 2, bytesFromPi: 2 * reply.length, bytesToPi: 2 * 1_000_003 });
  });

  it('cuts live connections: the client sees a reset, the Pi side closes', async () => {
    const r = await rig(() => undefined);
    const c = await connect(r.port);
    const got = collect(c);
    await until('the relayed connection', () => r.upstream.length === 1);
    const piSide = r.upstream[0]!;
    const piClosed = new Promise<void>((resolve) => piSide.once('close', () => resolve()));
    expect(r.relay.stats().active).toBe(1);
    expect(r.relay.cut()).toBe(1);
    expect((await got.done).error).toBe('ECONNRESET');
    await piClosed;
    expect(r.relay.stats().active).toBe(0);
  });

  it('blackholes: the client is reset but the Pi side stays open', async () => {
    const r = await rig(() => undefined);
    const c = await connect(r.port);
    const got = collect(c);
    await until('the relayed connection', () => r.upstream.length === 1);
    expect(r.relay.cut('blackhole')).toBe(1);
    expect((await got.done).error).toBe('ECONNRESET');
    await new Promise((res) => setTimeout(res, 50));
    expect(r.upstream[0]!.destroyed).toBe(false);
  });

  it('throttles a transfer, and lifting the limit lets the rest through in order', async () => {
    const payload = randomBytes(1024 * 1024);
    const r = await rig((s) => s.end(payload));
    await r.relay.throttle(16 * 1024);
    const c = await connect(r.port);
    const got = collect(c);
    await new Promise((res) => setTimeout(res, 300));
    const early = got.data().length;
    expect(early).toBeGreaterThan(0);
    expect(early).toBeLessThan(payload.length / 4);
    r.relay.throttle(null);
    await got.done;
    expect(sha(got.data())).toBe(sha(payload));
  });

  it('refuses a rate that is not a positive number', async () => {
    const r = await rig(() => undefined);
    expect(() => r.relay.throttle(0)).toThrow(/positive/);
    expect(() => r.relay.throttle(Number.NaN)).toThrow(/positive/);
  });

  it('blocks new connections: reset at once, or dropped without reaching the Pi', async () => {
    const r = await rig((s) => s.end('banner\n'));
    r.relay.setBlock('reset');
    const c1 = net.connect({ host: '127.0.0.1', port: r.port });
    expect((await collect(c1).done).error).toBe('ECONNRESET');

    r.relay.setBlock('drop');
    const c2 = await connect(r.port);
    const got2 = collect(c2);
    c2.write('hello');
    await new Promise((res) => setTimeout(res, 100));
    expect(got2.data().length).toBe(0);
    expect(r.upstream.length).toBe(0);
    r.relay.cut();
    await got2.done;

    r.relay.setBlock(null);
    const c3 = await connect(r.port);
    const got3 = collect(c3);
    await got3.done;
    expect(got3.data().toString()).toBe('banner\n');
    expect(r.relay.stats().accepted).toBe(3);
  });

  it('resets the client when the Pi is not listening (rebooting)', async () => {
    const front = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((res) => front.listen(0, '127.0.0.1', res));
    const dead = net.createServer();
    await new Promise<void>((res) => dead.listen(0, '127.0.0.1', res));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((res) => dead.close(() => res()));
    const relay = new PiRelay(front, { host: '127.0.0.1', port: deadPort });
    const c = net.connect({ host: '127.0.0.1', port: (front.address() as net.AddressInfo).port });
    expect((await collect(c).done).error).toBe('ECONNRESET');
    relay.close();
  });
});
