/**
 * Reading the tar stream of a remote copy: tar-stream parses the archive
 * (GNU, ustar and pax headers, long names, base-256 numbers); this module
 * adds what pinet needs on top: entries as plain records with their data
 * streamed as it arrives (large files never sit in memory), names that are
 * not valid UTF-8 refused rather than silently changed, sparse and
 * multi-volume entries refused, an archive cut short or without its end
 * marker reported, and every failure as a TarFormatError. Path safety
 * (no absolute names, no "..", no writing through links) is checked where
 * entries are written, in tree.ts.
 */
import tarStream from 'tar-stream';

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

const TYPES: Record<string, TarEntryType> = { file: 'file', 'contiguous-file': 'file', directory: 'directory', symlink: 'symlink', link: 'hardlink' };
const REFUSED = new Set(['gnu-sparse', 'gnu-multivolume']);
const END_MARKER = 1024;
const noop = (): void => undefined;

function checkName(name: string, what: string): string {
  if (name.includes('\uFFFD')) throw new TarFormatError(`${what} is not valid UTF-8 (${JSON.stringify(name)})`);
  return name;
}

function explain(err: unknown): TarFormatError {
  if (err instanceof TarFormatError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/invalid tar header/i.test(msg)) return new TarFormatError('bad tar header checksum (the stream is corrupted)');
  if (/unexpected end/i.test(msg)) return new TarFormatError('the archive ended in the middle of an entry');
  return new TarFormatError(`the archive cannot be read: ${msg}`);
}

/**
 * Reads an archive from `source`, calling `onEntry` for every member in
 * order; the callback may consume `data` (the rest is skipped).
 */
export async function readTar(source: AsyncIterable<Buffer>, onEntry: (entry: TarEntry, data: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
  const extract = tarStream.extract();
  let failure: unknown;
  const finished = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      void (async () => {
        if (REFUSED.has(header.type ?? '')) throw new TarFormatError(`unsupported tar entry type ${JSON.stringify(header.type)}`);
        const type = TYPES[header.type ?? 'file'] ?? 'other';
        const entry: TarEntry = {
          name: checkName(header.name, 'a file name'),
          type,
          mode: (header.mode ?? 0) & 0o7777,
          size: type === 'file' || type === 'other' ? (header.size ?? 0) : 0,
          mtime: (header.mtime?.getTime() ?? 0) / 1000,
          linkName: header.linkname ? checkName(header.linkname, 'a link target') : '',
        };
        await onEntry(entry, stream as unknown as AsyncIterable<Buffer>);
        for await (const _ of stream as unknown as AsyncIterable<Buffer>) {
          // skip what the callback left
        }
      })().then(
        () => next(),
        (err: unknown) => {
          failure ??= err;
          extract.destroy(explain(err));
        },
      );
    });
    extract.on('finish', resolve);
    extract.on('close', () => (failure !== undefined ? reject(explain(failure)) : resolve()));
    extract.on('error', (err: unknown) => reject(explain(failure ?? err)));
  });
  finished.catch(() => undefined);

  let tail = Buffer.alloc(0);
  try {
    for await (const chunk of source) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      tail = Buffer.concat([tail, buf]).subarray(-END_MARKER);
      if (!extract.write(buf)) await Promise.race([new Promise<void>((resolve) => extract.once('drain', () => resolve())), finished.then(noop, noop)]);
      if (failure !== undefined || extract.destroyed) break;
    }
  } finally {
    if (!extract.destroyed) extract.end(Buffer.alloc(0));
  }
  await finished;
  if (tail.length < END_MARKER || tail.some((b) => b !== 0)) throw new TarFormatError('the archive ended without its end marker');
}
