/**
 * SHA-256 of text, bytes and files: how pinet tells that two copies of a
 * boot file (or an fstab) are the same.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** A SHA-256 as pinet writes it: 64 lower-case hex digits. */
export function isSha256(s: string): boolean {
  return /^[0-9a-f]{64}$/.test(s);
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
