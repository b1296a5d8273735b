/**
 * TFTP packet bytes: what the client sends, and how any datagram is read.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeTftpPacket, encodeAck, encodeError, encodeOack, encodeRrq, tftpErrorName } from '../../src/net/tftp-packets.js';
import { checkOack } from '../../src/net/tftp.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('encoding', () => {
  it('writes an RRQ with options exactly as RFC 1350/2347 lay it out', () => {
    expect(encodeRrq('bf9fed6f/start4.elf', { tsize: '0', blksize: '1468' })).toEqual(
      Buffer.concat([Buffer.from([0, 1]), bytes('bf9fed6f/start4.elf\0octet\0tsize\x000\0blksize\x001468\0')]),
    );
  });

  it('writes ACK and ERROR packets', () => {
    expect(encodeAck(65535)).toEqual(Buffer.from([0, 4, 0xff, 0xff]));
    expect(encodeError(0, 'Early terminate')).toEqual(Buffer.concat([Buffer.from([0, 5, 0, 0]), bytes('Early terminate\0')]));
  });

  it('refuses requests that cannot be sent', () => {
    expect(() => encodeRrq('')).toThrow(/empty/);
    expect(() => encodeRrq('a\0b')).toThrow(/NUL/);
    expect(() => encodeRrq('x'.repeat(510))).toThrow(/512/);
    expect(() => encodeRrq('snow\u2603')).toThrow(/Latin-1/);
  });

  it('sends hostile but legal file names byte for byte', () => {
    const name = 'a b/"$(id)";`x`\n\r';
    const d = decodeTftpPacket(encodeRrq(name));
    expect(d).toEqual({ op: 'rrq', file: name, mode: 'octet', options: {} });
  });
});

describe('decoding', () => {
  it('reads an OACK, lower-casing option names', () => {
    expect(decodeTftpPacket(Buffer.concat([Buffer.from([0, 6]), bytes('BLKSIZE\x001468\0tsize\x0012345\0')]))).toEqual({
      op: 'oack',
      options: { blksize: '1468', tsize: '12345' },
    });
  });

  it('reads DATA, including an empty final block', () => {
    expect(decodeTftpPacket(Buffer.from([0, 3, 0, 7, 1, 2]))).toEqual({ op: 'data', block: 7, data: Buffer.from([1, 2]) });
    expect(decodeTftpPacket(Buffer.from([0, 3, 0xff, 0xff]))).toEqual({ op: 'data', block: 65535, data: Buffer.alloc(0) });
  });

  it('reads dnsmasq’s error messages exactly', () => {
    const msg = 'cannot access /tmp/root/bf9fed6f/vmlinuz: Permission denied';
    expect(decodeTftpPacket(Buffer.concat([Buffer.from([0, 5, 0, 2]), bytes(`${msg}\0`)]))).toEqual({ op: 'error', code: 2, message: msg });
  });

  it('reads an ERROR without the final NUL', () => {
    expect(decodeTftpPacket(Buffer.concat([Buffer.from([0, 5, 0, 1]), bytes('gone')]))).toEqual({ op: 'error', code: 1, message: 'gone' });
  });

  const broken: [string, Buffer, RegExp][] = [
    ['empty', Buffer.alloc(0), /too short/],
    ['one byte', Buffer.from([0]), /too short/],
    ['unknown opcode', Buffer.from([0, 9]), /unknown TFTP opcode 9/],
    ['DATA without block', Buffer.from([0, 3, 1]), /without a block number/],
    ['ACK too long', Buffer.from([0, 4, 0, 1, 0]), /ACK packet of 5 bytes/],
    ['ERROR without code', Buffer.from([0, 5, 0]), /without an error code/],
    ['OACK odd list', Buffer.concat([Buffer.from([0, 6]), bytes('blksize\0')]), /malformed/],
    ['OACK unterminated', Buffer.concat([Buffer.from([0, 6]), bytes('blksize\x00512')]), /malformed/],
    ['OACK duplicate option', Buffer.concat([Buffer.from([0, 6]), bytes('tsize\x001\0TSIZE\x002\0')]), /malformed/],
    ['OACK empty name', Buffer.concat([Buffer.from([0, 6]), bytes('\x001\0')]), /malformed/],
    ['RRQ without mode', Buffer.concat([Buffer.from([0, 1]), bytes('file\0')]), /without a terminated file name and mode/],
  ];
  for (const [name, buf, reason] of broken) {
    it(`marks ${name} as invalid`, () => {
      const d = decodeTftpPacket(buf);
      expect(d.op).toBe('invalid');
      if (d.op === 'invalid') expect(d.reason).toMatch(reason);
    });
  }

  it('never throws on random bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (a) => void decodeTftpPacket(Buffer.from(a))));
  });

  it('round-trips OACK options (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z]{1,10}$/), fc.stringMatching(/^[0-9]{1,6}$/)), (opts) => {
        expect(decodeTftpPacket(encodeOack(opts))).toEqual({ op: 'oack', options: opts });
      }),
    );
  });

  it('names every error code', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 99].map(tftpErrorName)).toEqual([
      'not defined',
      'file not found',
      'access violation',
      'disk full',
      'illegal TFTP operation',
      'unknown transfer ID',
      'file already exists',
      'no such user',
      'option negotiation failed',
      'unknown error code 99',
    ]);
  });
});

describe('checkOack', () => {
  const asked = { blksize: '1468', tsize: '0', timeout: '2' };
  it('accepts what was asked, a smaller blksize, and a subset', () => {
    expect(checkOack(asked, { blksize: '1468', tsize: '100', timeout: '2' })).toEqual({ ok: true, blksize: 1468, tsize: 100 });
    expect(checkOack(asked, { blksize: '512' })).toEqual({ ok: true, blksize: 512 });
    expect(checkOack(asked, {})).toEqual({ ok: true });
  });
  it('refuses what RFC 2347-2349 forbid', () => {
    expect(checkOack(asked, { windowsize: '8' })).toMatchObject({ ok: false, reason: expect.stringMatching(/not requested/) });
    expect(checkOack(asked, { blksize: '1469' })).toMatchObject({ ok: false });
    expect(checkOack(asked, { blksize: '7' })).toMatchObject({ ok: false });
    expect(checkOack(asked, { timeout: '5' })).toMatchObject({ ok: false, reason: expect.stringMatching(/timeout 5 differs/) });
    expect(checkOack(asked, { tsize: '-1' })).toMatchObject({ ok: false });
    expect(checkOack(asked, { tsize: '1e3' })).toMatchObject({ ok: false });
    expect(checkOack({ tsize: '0' }, { blksize: '512' })).toMatchObject({ ok: false });
  });
});
