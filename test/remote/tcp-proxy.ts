/**
 * A loopback TCP relay in front of a test sshd, to break connections on
 * purpose: `cut()` resets them at once, `cutAfter(n)` when n more bytes went
 * from client to server, `blackhole()` stops forwarding silently (the peer
 * just goes quiet, like a pulled cable).
 */
import { createServer, type Server, Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Client → server bytes forwarded so far. */
  bytesUp(): number;
  cut(): void;
  cutAfter(bytes: number): void;
  blackhole(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let up = 0;
  let cutAt: number | undefined;
  let holed = false;
  const cut = (): void => {
    for (const [a, b] of pairs) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
    pairs.clear();
  };
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    upstream.connect(targetPort, '127.0.0.1');
    client.on('data', (d: Buffer) => {
      if (holed) return;
      up += d.length;
      upstream.write(d);
      if (cutAt !== undefined && up >= cutAt) {
        cutAt = undefined;
        cut();
      }
    });
    upstream.on('data', (d: Buffer) => {
      if (!holed) client.write(d);
    });
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    bytesUp: () => up,
    cut,
    cutAfter: (bytes) => {
      cutAt = up + bytes;
    },
    blackhole: () => {
      holed = true;
    },
    close: async () => {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
