/**
 * The TFTP client against a fake server on 127.0.0.1 that can misbehave in
 * every way RFC 1350/2347-2349 allow for (and some they do not).
 */
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TftpError, tftpGet, tftpProbe } from '../../src/net/tftp.js';
import { UsageError } from '../../src/errors.js';
import { startFakeTftpServer, type FakeTftpOptions, type FakeTftpServer } from './helpers/fake-tftp-server.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let servers: FakeTftpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serve(o: FakeTftpOptions): Promise<FakeTftpServer> {
  const s = await startFakeTftpServer(o);
  servers.push(s);
  return s;
}

const FILE = randomBytes(5000);

describe('tftpGet', () => {
  it('negotiates blksize and tsize with an OACK and acknowledges it with ACK 0', async () => {
    const srv = await serve({ files: { 'bf9fed6f/start4.elf': FILE } });
    const r = await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'bf9fed6f/start4.elf', blksize: 1468, timeoutMs: 500, retries: 2 });
    expect(srv.requests).toEqual([{ file: 'bf9fed6f/start4.elf', mode: 'octet', options: { blksize: '1468', tsize: '0' } }]);
    expect(r.optionsAcknowledged).toBe(true);
    expect(r.blksize).toBe(1468);
    expect(r.tsize).toBe(FILE.length);
    expect(r.size).toBe(FILE.length);
    expect(r.data?.equals(FILE)).toBe(true);
    expect(r.sha256).toBe(sha(FILE));
    // ACK 0 for the OACK, then one ACK per block: 5000 bytes = 3 full blocks + 1 short.
    await vi.waitFor(() => expect(srv.acks).toEqual([0, 1, 2, 3, 4]));
    expect(r.retransmissions).toBe(0);
    expect(r.durationMs).toBeGreaterThan(0);
    expect(r.bytesPerSecond).toBeGreaterThan(0);
  });

  it('accepts a smaller blksize from the server', async () => {
    const srv = await serve({ files: { f: FILE }, maxBlksize: 1024 });
    const r = await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', blksize: 1468, timeoutMs: 500, retries: 2 });
    expect(r.blksize).toBe(1024);
    expect(r.data?.equals(FILE)).toBe(true);
  });

  it('works with a server that ignores options (plain DATA 1, 512-byte blocks)', async () => {
    const srv = await serve({ files: { f: FILE }, ignoreOptions: true });
    const r = await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', timeoutMs: 500, retries: 2 });
    expect(r.optionsAcknowledged).toBe(false);
    expect(r.blksize).toBe(512);
    expect(r.tsize).toBeUndefined();
    expect(r.data?.equals(FILE)).toBe(true);
    await vi.waitFor(() => expect(srv.acks).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
  });

  it('sends no options when asked not to', async () => {
    const srv = await serve({ files: { f: FILE } });
    const r = await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', blksize: false, tsize: false, timeoutMs: 500, retries: 2 });
    expect(srv.requests[0]!.options).toEqual({});
    expect(r.optionsAcknowledged).toBe(false);
    expect(r.sha256).toBe(sha(FILE));
  });

  it('sends the RFC 2349 timeout option when asked and accepts its echo', async () => {
    const srv = await serve({ files: { f: FILE } });
    const r = await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', serverTimeoutSec: 3, timeoutMs: 500, retries: 2 });
    expect(srv.requests[0]!.options).toMatchObject({ timeout: '3' });
    expect(r.sha256).toBe(sha(FILE));
  });

  for (const [name, size] of [
    ['an exact multiple of blksize ends with an empty block', 512 * 4],
    ['an empty file is one empty block', 0],
    ['a file shorter than one block', 17],
  ] as const) {
    it(`${name} (${size} bytes)`, async () => {
      const content = randomBytes(size);
      const srv = await serve({ files: { f: content } });
      const r = await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', blksize: 512, timeoutMs: 500, retries: 2 });
      expect(r.size).toBe(size);
      expect(r.data?.equals(content)).toBe(true);
      await vi.waitFor(() => expect(srv.acks.at(-1)).toBe(Math.floor(size / 512) + 1));
    });
  }

  it('streams blocks to onData and keeps no copy', async () => {
    const srv = await serve({ files: { f: FILE } });
    const chunks: Buffer[] = [];
    const r = await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', blksize: 1000, onData: (c) => chunks.push(c), timeoutMs: 500, retries: 2 });
    expect(r.data).toBeUndefined();
    expect(chunks.map((c) => c.length)).toEqual([1000, 1000, 1000, 1000, 1000, 0]);
    expect(Buffer.concat(chunks).equals(FILE)).toBe(true);
    expect(r.sha256).toBe(sha(FILE));
  });

  it('sends its request again when the first one is lost', async () => {
    const srv = await serve({ files: { f: FILE }, ignoreRequests: 1 });
    const r = await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', timeoutMs: 100, retries: 3 });
    expect(srv.requests).toHaveLength(2);
    expect(r.retransmissions).toBe(1);
    expect(r.sha256).toBe(sha(FILE));
  });

  it('acknowledges again when a DATA packet is lost, and the server resends it', async () => {
    const srv = await serve({ files: { f: FILE }, dropData: [1, 3] });
    const r = await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', blksize: 1024, timeoutMs: 100, retries: 3 });
    expect(r.retransmissions).toBe(2);
    expect(r.data?.equals(FILE)).toBe(true);
    // ACK 0 and ACK 2 went out twice.
    await vi.waitFor(() => expect(srv.acks).toEqual([0, 0, 1, 2, 2, 3, 4, 5]));
  });

  it('acknowledges a duplicate block again (its ACK was lost) and stores it once', async () => {
    const srv = await serve({ files: { f: FILE }, dropAck: [2], retransmitMs: 50 });
    const r = await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', blksize: 1024, timeoutMs: 2000, retries: 1 });
    expect(r.data?.equals(FILE)).toBe(true);
    expect(srv.acks.filter((a) => a === 2)).toHaveLength(2);
    expect(r.retransmissions).toBe(0);
  });

  it('ignores duplicated blocks sent back to back', async () => {
    const srv = await serve({ files: { f: FILE }, duplicateData: [1, 2, 5] });
    const r = await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', blksize: 1024, timeoutMs: 500, retries: 2 });
    expect(r.size).toBe(FILE.length);
    expect(r.data?.equals(FILE)).toBe(true);
  });

  it('answers a packet from a wrong transfer ID with ERROR 5 and ignores its data', async () => {
    const srv = await serve({ files: { f: FILE }, strayAtBlock: 2 });
    const r = await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', blksize: 1024, timeoutMs: 500, retries: 2 });
    expect(r.data?.equals(FILE)).toBe(true);
    await vi.waitFor(() => expect(srv.strayReplies).toHaveLength(1));
    const reply = srv.strayReplies[0]!;
    expect(reply.readUInt16BE(0)).toBe(5);
    expect(reply.readUInt16BE(2)).toBe(5);
  });

  it('counts block numbers past 65535 (wrapping to 0) on big files with small blocks', async () => {
    // 65536 full blocks of 8 bytes + a short one: the block number wraps once.
    const big = randomBytes(8 * 65536 + 3);
    const srv = await serve({ files: { big } });
    // 65538 round trips: give each packet time on a loaded machine (CI shares its 2 CPUs with VMs).
    const r = await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'big', blksize: 8, timeoutMs: 5000, retries: 5 });
    expect(r.size).toBe(big.length);
    expect(r.sha256).toBe(sha(big));
    // ACK 0 for the OACK, ACK 1..65535, then block 65536 travels as 0 and the last one (65537) as 1.
    await vi.waitFor(() => expect(srv.acks).toHaveLength(65538));
    expect(srv.acks.slice(65534)).toEqual([65534, 65535, 0, 1]);
  });

  it('turns the server error into a TftpError with its code and exact message', async () => {
    const message = 'cannot access /srv/netboot/bf9fed6f/vmlinuz: Permission denied';
    const srv = await serve({ files: {}, errors: { 'bf9fed6f/vmlinuz': [2, message] } });
    const err = await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'bf9fed6f/vmlinuz', timeoutMs: 500, retries: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TftpError);
    const e = err as TftpError;
    expect(e.kind).toBe('server');
    expect(e.code).toBe(2);
    expect(e.serverMessage).toBe(message);
    expect(e.file).toBe('bf9fed6f/vmlinuz');
    expect(e.message).toBe(
      `TFTP server 127.0.0.1:${srv.port} answered "bf9fed6f/vmlinuz" with error 2 (access violation): "${message}"`,
    );
    expect(e.hint).toMatch(/chmod/);
  });

  it('shows control characters in a server message escaped, keeping the raw text', async () => {
    const srv = await serve({ files: {}, errors: { f: [0, 'evil\x1b[31m\nline'] } });
    const e = (await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', timeoutMs: 500, retries: 1 }).catch((x: unknown) => x)) as TftpError;
    expect(e.serverMessage).toBe('evil\x1b[31m\nline');
    expect(e.message).toContain('"evil\\x1b[31m\\x0aline"');
    expect(e.message).not.toMatch(/[\x00-\x1f]/);
  });

  it('fails with a timeout naming server and file when nobody answers', async () => {
    const srv = await serve({ files: { f: FILE }, ignoreRequests: 1000 });
    const e = (await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'bf9fed6f/start4.elf', timeoutMs: 30, retries: 2 }).catch((x: unknown) => x)) as TftpError;
    expect(e).toBeInstanceOf(TftpError);
    expect(e.kind).toBe('timeout');
    expect(e.message).toBe(`TFTP server 127.0.0.1:${srv.port} did not answer the request for "bf9fed6f/start4.elf" (3 tries, 30 ms apart)`);
    expect(srv.requests).toHaveLength(3);
  });

  it('fails with a timeout when the transfer stalls, saying where', async () => {
    const srv = await serve({ files: { f: FILE }, stopAfterBlock: 2 });
    const e = (await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', blksize: 1024, timeoutMs: 30, retries: 1 }).catch((x: unknown) => x)) as TftpError;
    expect(e.kind).toBe('timeout');
    expect(e.message).toContain('stalled after 2048 bytes (block 2)');
  });

  it('rejects an OACK with options it did not ask for or a blksize larger than asked', async () => {
    const bads: Record<string, string>[] = [{ blksize: '1024', windowsize: '4' }, { blksize: '9000' }, { blksize: '4' }, { tsize: 'lots' }];
    for (const bad of bads) {
      const srv = await serve({ files: { f: FILE }, oack: bad });
      const e = (await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', blksize: 1024, timeoutMs: 300, retries: 1 }).catch((x: unknown) => x)) as TftpError;
      expect(e.kind, JSON.stringify(bad)).toBe('protocol');
      await vi.waitFor(() => expect(srv.errorsReceived[0]?.[0], JSON.stringify(bad)).toBe(8));
    }
  });

  it('fails when the server sends more or less than the tsize it announced', async () => {
    for (const tsize of ['10', '999999']) {
      const srv = await serve({ files: { f: FILE }, oack: { blksize: '1024', tsize } });
      const e = (await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', blksize: 1024, timeoutMs: 300, retries: 1 }).catch((x: unknown) => x)) as TftpError;
      expect(e.kind).toBe('protocol');
      expect(e.message).toMatch(/announced/);
    }
  });

  it('stops at maxBytes', async () => {
    const srv = await serve({ files: { f: FILE }, ignoreOptions: true });
    const e = (await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', maxBytes: 1000, timeoutMs: 300, retries: 1 }).catch((x: unknown) => x)) as TftpError;
    expect(e.kind).toBe('protocol');
    expect(e.message).toMatch(/limit of 1000 bytes/);
  });

  it('stops at once on abort and tells the server', async () => {
    const srv = await serve({ files: { f: FILE }, stopAfterBlock: 1 });
    const ac = new AbortController();
    const p = tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', blksize: 1024, timeoutMs: 60_000, retries: 5, signal: ac.signal });
    await vi.waitFor(() => expect(srv.acks).toContain(1)); // mid-transfer: block 1 arrived, block 2 never comes
    ac.abort();
    const e = (await p.catch((x: unknown) => x)) as TftpError;
    expect(e.kind).toBe('aborted');
    await vi.waitFor(() => expect(srv.errorsReceived).toEqual([[0, 'Transfer aborted']]));
  });

  it('rejects at once with an already aborted signal', async () => {
    const e = (await tftpGet({ server: '127.0.0.1', port: 9, file: 'f', signal: AbortSignal.abort() }).catch((x: unknown) => x)) as TftpError;
    expect(e.kind).toBe('aborted');
  });

  it('treats garbage from the server as a protocol error', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    sock.on('message', (_m, from) => sock.send(Buffer.from([0, 9, 1, 2, 3]), from.port, from.address));
    try {
      const e = (await tftpGet({ server: '127.0.0.1', port: sock.address().port, file: 'f', timeoutMs: 300, retries: 1 }).catch((x: unknown) => x)) as TftpError;
      expect(e.kind).toBe('protocol');
      expect(e.message).toMatch(/unknown TFTP opcode 9/);
    } finally {
      sock.close();
    }
  });

  it('validates its options before sending anything', async () => {
    for (const bad of [
      { blksize: 7 },
      { blksize: 65465 },
      { blksize: 1.5 },
      { file: '' },
      { file: 'a\0b' },
      { file: 'x'.repeat(600) },
      { file: 'snowman-\u2603' },
      { port: 0 },
      { port: 70000 },
      { timeoutMs: 0 },
      { retries: -1 },
      { server: ' ' },
    ]) {
      await expect(tftpGet({ server: '127.0.0.1', file: 'f', ...bad }), JSON.stringify(bad)).rejects.toBeInstanceOf(UsageError);
    }
  });

  it('accepts the blksize bounds 8 and 65464', async () => {
    const srv = await serve({ files: { f: FILE } });
    for (const blksize of [8, 65464]) {
      const r = await tftpGet({ server: '127.0.0.1', port: srv.port, file: 'f', blksize, timeoutMs: 1000, retries: 2 });
      expect(r.blksize).toBe(blksize);
      expect(r.sha256).toBe(sha(FILE));
    }
  });
});

describe('tftpProbe', () => {
  it('reads the size from the OACK and ends with ERROR 0 "Early terminate", like the Pi bootloader', async () => {
    const srv = await serve({ files: { 'bf9fed6f/start4.elf': FILE } });
    const r = await tftpProbe({ server: '127.0.0.1', port: srv.port, file: 'bf9fed6f/start4.elf', timeoutMs: 500, retries: 1 });
    expect(r).toMatchObject({ ok: true, size: FILE.length, optionsAcknowledged: true });
    expect(srv.requests[0]!.options).toMatchObject({ tsize: '0' });
    await vi.waitFor(() => expect(srv.errorsReceived).toEqual([[0, 'Early terminate']]));
    expect(srv.acks).toEqual([]);
  });

  it('reports the server error (file not found) as a result', async () => {
    const srv = await serve({ files: {}, errors: { x: [1, 'file /srv/x not found for 127.0.0.1'] } });
    const r = await tftpProbe({ server: '127.0.0.1', port: srv.port, file: 'x', timeoutMs: 500, retries: 1 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(1);
    expect(r.error.serverMessage).toBe('file /srv/x not found for 127.0.0.1');
  });

  it('reports a timeout as a result', async () => {
    const srv = await serve({ files: {}, ignoreRequests: 100 });
    const r = await tftpProbe({ server: '127.0.0.1', port: srv.port, file: 'x', timeoutMs: 20, retries: 1 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.kind).toBe('timeout');
  });

  it('knows only that the file exists when the server ignores options', async () => {
    const srv = await serve({ files: { big: FILE, small: Buffer.from('tiny') }, ignoreOptions: true });
    const big = await tftpProbe({ server: '127.0.0.1', port: srv.port, file: 'big', timeoutMs: 500, retries: 1 });
    const small = await tftpProbe({ server: '127.0.0.1', port: srv.port, file: 'small', timeoutMs: 500, retries: 1 });
    expect(big).toMatchObject({ ok: true, size: undefined, optionsAcknowledged: false });
    expect(small).toMatchObject({ ok: true, size: 4, optionsAcknowledged: false });
  });
});
