/**
 * A small streaming reader for tar archives as GNU tar writes them (the
 * default "gnu" format, and ustar/pax as written by other tars).
 *
 * It understands 512-byte headers with octal or base-256 numbers and a
 * verified checksum, the ustar name prefix, GNU long names and link names
 * (`L`/`K` entries) and pax extended headers (`x`: path, linkpath, size,
 * mtime). Entry names are returned as the bytes' UTF-8 text; names that are
 * not valid UTF-8 are refused rather than silently changed. Sparse files
 * and multi-volume archives are refused. The data of each entry is handed
 * out as a stream of chunks while it arrives, so large files never sit in
 * memory.
 */

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  /** The name as stored, e.g. "./overlays/x.dtbo" or "./dir/". */
  name: string;
  type: TarEntryType;
  mode: number;
  size: number;
  /** Seconds since the epoch (fractional with pax headers). */
  mtime: number;
  /** Target of a symlink or hard link. */
  linkName: string;
}

export class TarFormatError extends Error {}

const BLOCK = 512;

/** Pulls exact byte counts out of a chunked stream. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  private ended = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.it.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    return true;
  }

  /** Exactly n bytes, or null at a clean end of stream (no bytes left). */
  async readExact(n: number): Promise<Buffer | null> {
    while (this.buf.length < n) {
      if (!(await this.fill())) {
        if (this.buf.length === 0) return null;
        throw new TarFormatError('the archive ended in the middle of an entry');
      }
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Yields n bytes in the chunks they arrive in. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill())) {
        throw new TarFormatError('the archive ended in the middle of a file');
      }
      const take = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      left -= take;
      yield out;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n)) {
      // discard
    }
  }

  /** Drains the rest of the stream (so the sender is not blocked). */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (await this.fill()) this.buf = Buffer.alloc(0);
  }
}

/** An octal (NUL/space padded) or base-256 numeric header field. */
export function parseNumber(field: Buffer): number {
  const first = field[0] ?? 0;
  if (first & 0x80) {
    // GNU base-256: big-endian two's complement with the top bit as the marker.
    let v = first & 0x3f;
    if (first & 0x40) throw new TarFormatError('negative number in tar header');
    for (let i = 1; i < field.length; i++) v = v * 256 + (field[i] ?? 0);
    return v;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`bad number ${JSON.stringify(text)} in tar header`);
  return parseInt(text, 8);
}

function cString(field: Buffer): Buffer {
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

function utf8Name(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) {
    throw new TarFormatError(`a file name is not valid UTF-8 (${JSON.stringify(bytes.toString('latin1'))})`);
  }
  return text;
}

function checksumOk(header: Buffer): boolean {
  const stored = parseNumber(header.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
  return sum === stored;
}

/** Parses pax extended header records: "<len> key=value\n". */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    if (sp < 0) break;
    const len = Number(data.subarray(off, sp).toString('latin1'));
    if (!Number.isInteger(len) || len <= 0 || off + len > data.length) throw new TarFormatError('bad pax header');
    const record = data.subarray(sp + 1, off + len - 1); // without the final newline
    const eq = record.indexOf(0x3d);
    if (eq > 0) out.set(record.subarray(0, eq).toString('utf8'), Buffer.from(record.subarray(eq + 1)));
    off += len;
  }
  return out;
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/**
 * Reads an archive from `source`, calling `onEntry` for every member. The
 * callback must consume `data` completely (or not touch it: the rest is
 * skipped).
 */
export async function readTar(
  source: AsyncIterable<Buffer>,
  onEntry: (entry: TarEntry, data: AsyncIterable<Buffer>) => Promise<void>,
): Promise<void> {
  const reader = new ByteReader(source);
  let longName: Buffer | undefined;
  let longLink: Buffer | undefined;
  let pax = new Map<string, Buffer>();
  for (;;) {
    const header = await reader.readExact(BLOCK);
    if (header === null) throw new TarFormatError('the archive ended without its end marker');
    if (header.every((b) => b === 0)) {
      await reader.drain();
      return;
    }
    if (!checksumOk(header)) throw new TarFormatError('bad tar header checksum (the stream is corrupted)');
    const flag = String.fromCharCode(header[156] ?? 0);
    let size = parseNumber(header.subarray(124, 136));
    const meta = async (): Promise<Buffer> => {
      const data = (await reader.readExact(size + padding(size))) ?? Buffer.alloc(0);
      return data.subarray(0, size);
    };
    if (flag === 'L') {
      longName = cString(await meta());
      continue;
    }
    if (flag === 'K') {
      longLink = cString(await meta());
      continue;
    }
    if (flag === 'x') {
      pax = parsePax(await meta());
      continue;
    }
    if (flag === 'g') {
      await meta();
      continue;
    }
    if (flag === 'S' || flag === 'M' || flag === 'V') throw new TarFormatError(`unsupported tar entry type ${JSON.stringify(flag)}`);

    const magic = header.subarray(257, 263).toString('latin1');
    let nameBytes = cString(header.subarray(0, 100));
    if (magic === 'ustar\0') {
      const prefix = cString(header.subarray(345, 500));
      if (prefix.length > 0) nameBytes = Buffer.concat([prefix, Buffer.from('/'), nameBytes]);
    }
    if (longName) nameBytes = longName;
    let linkBytes = longLink ?? cString(header.subarray(157, 257));
    const paxPath = pax.get('path');
    if (paxPath) nameBytes = paxPath;
    const paxLink = pax.get('linkpath');
    if (paxLink) linkBytes = paxLink;
    let mtime = parseNumber(header.subarray(136, 148));
    const paxMtime = pax.get('mtime');
    if (paxMtime && /^[0-9]+(\.[0-9]+)?$/.test(paxMtime.toString('latin1'))) mtime = Number(paxMtime.toString('latin1'));
    const paxSize = pax.get('size');
    if (paxSize && /^[0-9]+$/.test(paxSize.toString('latin1'))) size = Number(paxSize.toString('latin1'));
    longName = undefined;
    longLink = undefined;
    pax = new Map();

    const type: TarEntryType =
      flag === '0' || flag === '\0' || flag === '7'
        ? 'file'
        : flag === '5'
          ? 'directory'
          : flag === '2'
            ? 'symlink'
            : flag === '1'
              ? 'hardlink'
              : 'other';
    const dataSize = type === 'file' || type === 'other' ? size : 0;
    const entry: TarEntry = {
      name: utf8Name(nameBytes),
      type,
      mode: parseNumber(header.subarray(100, 108)) & 0o7777,
      size: dataSize,
      mtime,
      linkName: linkBytes.length > 0 ? utf8Name(linkBytes) : '',
    };
    let consumed = 0;
    const body = (async function* (): AsyncGenerator<Buffer> {
      for await (const chunk of reader.chunks(dataSize)) {
        consumed += chunk.length;
        yield chunk;
      }
    })();
    await onEntry(entry, body);
    if (consumed < dataSize) await reader.skip(dataSize - consumed);
    await reader.skip(padding(dataSize));
  }
}
