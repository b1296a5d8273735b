/**
 * Shared by the enroll/doctor integration tests: snapshots of a fake Pi and
 * of an export directory, to prove "nothing changed" byte for byte.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FakePi } from '../fleet/fake-pi.js';

/** Every file pinet may touch on a Pi, with content hashes. */
export async function piSnapshot(pi: FakePi): Promise<string> {
  return pi.sh(
    [
      'cd / || exit 1',
      'for f in /etc/fstab /etc/kernel/postinst.d/* /etc/initramfs/post-update.d/*; do [ -f "$f" ] && sha256sum "$f"; done',
      `find ${pi.bootMount} -xdev -type f -printf '%m %s %P\\n' | sort`,
      `sha256sum ${pi.bootMount}/cmdline.txt`,
      'rpi-eeprom-config 2>&1 | sha256sum',
      'ls -A /var/lib/pinet 2>/dev/null',
      'ls -A /etc | grep pinet || true',
    ].join('\n'),
  );
}

/** Path → mode, size and sha256 of everything under `root` ('' when missing). */
export async function treeSnapshot(root: string): Promise<string> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(join(root, rel))).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const st = await lstat(join(root, r));
      if (st.isDirectory()) {
        out.push(`${(st.mode & 0o7777).toString(8)} dir ${r}`);
        await walk(r);
      } else {
        const sum = createHash('sha256').update(await readFile(join(root, r))).digest('hex');
        out.push(`${(st.mode & 0o7777).toString(8)} ${st.size} ${sum} ${st.mtimeMs} ${r}`);
      }
    }
  }
  await walk('');
  return out.join('\n');
}

export function parseJson<T>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`not one JSON document: ${text.slice(0, 500)}`);
  }
}
