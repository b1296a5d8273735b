/**
 * Deterministic pseudo-random file contents for the fake Pis' big files
 * (kernels, initramfs, firmware): the same label always gives the same bytes,
 * different labels (a Pi's serial and the file's path) give different ones.
 * AES-128-CTR over zeros is fast enough to fill megabytes per Pi.
 */
import { createCipheriv, createHash } from 'node:crypto';

export function deterministicBytes(label: string, size: number): Buffer {
  const digest = createHash('sha256').update(label).digest();
  const cipher = createCipheriv('aes-128-ctr', digest.subarray(0, 16), digest.subarray(16, 32));
  const out = cipher.update(Buffer.alloc(size));
  // A readable first line says what the file is, like a real file's magic would.
  const header = Buffer.from(`FAKE-PI ${label}\n`);
  header.copy(out, 0, 0, Math.min(header.length, size));
  return out;
}
