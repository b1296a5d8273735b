/**
 * An in-process TFTP server on 127.0.0.1 for testing the client, with knobs
 * to misbehave: drop packets, duplicate blocks, answer from a stray port,
 * lie about sizes, ignore options. It builds its packets by hand (not with
 * src/net/tftp-packets.ts) so an encoder bug cannot hide a decoder bug.
 */
import dgram from 'node:dgram';

export interface FakeTftpOptions {
  files: Record<string, Buffer>;
  /** Errors to answer for a file: [code, message]. */
  errors?: Record<string, [number, string]>;
  /** Answer requests with options by plain DATA, as a server without RFC 2347 does. */
  ignoreOptions?: boolean;
  /** Send this OACK instead of the honest one. */
  oack?: Record<string, string>;
  /** Drop the first N requests (the client must send its RRQ again). */
  ignoreRequests?: number;
  /** Blocks whose DATA is not sent the first time (the client must time out and ACK again). */
  dropData?: number[];
  /** Blocks whose first ACK the server does not see (it sends the DATA again after its own timeout). */
  dropAck?: number[];
  /** Blocks sent twice in a row. */
  duplicateData?: number[];
  /** Before sending this block, a stray socket sends a bogus DATA with the same number. */
  strayAtBlock?: number;
  /** Send nothing after this block. */
  stopAfterBlock?: number;
  /** Server retransmission interval (ms); without it the server only resends on a duplicate ACK. */
  retransmitMs?: number;
  /** Cap the block size the server accepts (it answers with the smaller value). */
  maxBlksize?: number;
}

export interface FakeTftpServer {
  port: number;
  requests: { file: string; mode: string; options: Record<string, string> }[];
  /** ERROR packets the server received from clients: [code, message]. */
  errorsReceived: [number, string][];
  /** Packets the stray socket got back (the client's ERROR 5). */
  strayReplies: Buffer[];
  /** Every ACK block number received, in order. */
  acks: number[];
  /** Resolves once the client's packet for the current transfer has been seen (for probe tests). */
  close(): Promise<void>;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}
const data = (block: number, payload: Buffer): Buffer => Buffer.concat([u16(3), u16(block), payload]);
const error = (code: number, message: string): Buffer => Buffer.concat([u16(5), u16(code), Buffer.from(message, 'latin1'), Buffer.alloc(1)]);
const oack = (options: Record<string, string>): Buffer =>
  Buffer.concat([u16(6), ...Object.entries(options).flatMap(([k, v]) => [Buffer.from(`${k}\0`, 'latin1'), Buffer.from(`${v}\0`, 'latin1')])]);

function parseRequest(msg: Buffer): { file: string; mode: string; options: Record<string, string> } | null {
  if (msg.length < 4 || msg.readUInt16BE(0) !== 1) return null;
  const parts = msg.toString('latin1', 2).split('\0');
  parts.pop(); // after the final NUL
  const [file, mode, ...rest] = parts;
  if (file === undefined || mode === undefined) return null;
  const options: Record<string, string> = {};
  for (let i = 0; i + 1 < rest.length; i += 2) options[rest[i]!.toLowerCase()] = rest[i + 1]!;
  return { file, mode, options };
}

export async function startFakeTftpServer(o: FakeTftpOptions): Promise<FakeTftpServer> {
  const listener = dgram.createSocket('udp4');
  const sockets = new Set<dgram.Socket>([listener]);
  const timers = new Set<NodeJS.Timeout>();
  const state: FakeTftpServer = {
    port: 0,
    requests: [],
    errorsReceived: [],
    strayReplies: [],
    acks: [],
    close: async () => {
      for (const t of timers) clearTimeout(t);
      await Promise.all([...sockets].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
  let ignored = 0;
  const dropData = new Set(o.dropData);
  const dropAck = new Set(o.dropAck);
  const duplicate = new Set(o.duplicateData);

  async function newSocket(): Promise<dgram.Socket> {
    const s = dgram.createSocket('udp4');
    sockets.add(s);
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return s;
  }

  async function serve(req: { file: string; options: Record<string, string> }, client: dgram.RemoteInfo): Promise<void> {
    const t = await newSocket();
    const send = (b: Buffer): void => t.send(b, client.port, client.address);
    const known = o.errors?.[req.file];
    const content = o.files[req.file];
    if (known || !content) {
      send(known ? error(known[0], known[1]) : error(1, 'File not found'));
      return;
    }
    const honoured: Record<string, string> = {};
    let blksize = 512;
    if (!o.ignoreOptions) {
      if (req.options.blksize !== undefined) {
        blksize = Math.min(Number(req.options.blksize), o.maxBlksize ?? 65464);
        honoured.blksize = String(blksize);
      }
      if (req.options.tsize !== undefined) honoured.tsize = String(content.length);
      if (req.options.timeout !== undefined) honoured.timeout = req.options.timeout;
    }
    const useOack = o.oack ?? (Object.keys(honoured).length > 0 ? honoured : undefined);
    // `block` is the number of the last packet sent: 0 for the OACK, then DATA blocks (counted past 65535).
    let block = useOack ? 0 : 1;
    const packetFor = (n: number): Buffer => (n === 0 && useOack ? oack(useOack) : data(n, content.subarray((n - 1) * blksize, n * blksize)));
    const lastBlock = Math.floor(content.length / blksize) + 1;
    let timer: NodeJS.Timeout | undefined;
    const transmit = (first: boolean): void => {
      if (o.stopAfterBlock !== undefined && block > o.stopAfterBlock) return;
      if (first && dropData.delete(block)) {
        // lost on the way
      } else {
        if (first && block === o.strayAtBlock) {
          void newSocket().then((stray) => {
            stray.on('message', (m) => state.strayReplies.push(m));
            stray.send(data(block, Buffer.from('bogus data from a stray port')), client.port, client.address, () => {
              send(packetFor(block));
            });
          });
        } else {
          send(packetFor(block));
          if (first && duplicate.has(block)) send(packetFor(block));
        }
      }
      if (o.retransmitMs !== undefined) {
        if (timer) timers.delete(timer), clearTimeout(timer);
        timer = setTimeout(() => transmit(false), o.retransmitMs);
        timers.add(timer);
      }
    };
    t.on('message', (msg, from) => {
      if (from.port !== client.port) return;
      const op = msg.readUInt16BE(0);
      if (op === 5) {
        state.errorsReceived.push([msg.readUInt16BE(2), msg.toString('latin1', 4, msg.indexOf(0, 4))]);
        if (timer) clearTimeout(timer);
        return;
      }
      if (op !== 4) return;
      const ack = msg.readUInt16BE(2);
      state.acks.push(ack);
      if (ack === (block & 0xffff)) {
        if (dropAck.delete(block)) return;
        if (block >= lastBlock) {
          if (timer) clearTimeout(timer);
          return;
        }
        block += 1;
        transmit(true);
      } else if (ack === ((block - 1) & 0xffff) && o.retransmitMs === undefined) {
        transmit(false); // the client timed out waiting: send the current packet again
      }
    });
    transmit(true);
  }

  listener.on('message', (msg, from) => {
    const req = parseRequest(msg);
    if (!req) return;
    state.requests.push(req);
    if (ignored < (o.ignoreRequests ?? 0)) {
      ignored += 1;
      return;
    }
    void serve(req, from);
  });
  await new Promise<void>((r) => listener.bind(0, '127.0.0.1', () => r()));
  state.port = listener.address().port;
  return state;
}
