/**
 * Reading a Pi in one round trip: scripts/remote/gather.sh prints each fact
 * as a section (see src/remote/script.ts for the framing); `parseFindListing`
 * reads the boot partition's listing. Privileged reads (the bootloader
 * config) go through `sudo -n` when the login user is not root and sudo
 * allows it.
 */

export interface BootEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  path: string;
}

/** `find -printf '%y %m %U %G %s %T@ %P\0'` output → entries (names may hold any byte but NUL). */
export function parseFindListing(text: string): BootEntry[] {
  const out: BootEntry[] = [];
  for (const rec of text.split('\0')) {
    const m = /^([a-zA-Z]) ([0-7]+) (\d+) (\d+) (\d+) (\d+)(?:\.\d+)? ([\s\S]+)$/.exec(rec.replace(/^\n/, ''));
    if (!m) continue;
    const y = m[1]!;
    out.push({
      type: y === 'f' ? 'file' : y === 'd' ? 'dir' : y === 'l' ? 'symlink' : 'other',
      mode: parseInt(m[2]!, 8),
      uid: Number(m[3]),
      gid: Number(m[4]),
      size: Number(m[5]),
      mtimeMs: Number(m[6]) * 1000,
      path: m[7]!,
    });
  }
  return out;
}
