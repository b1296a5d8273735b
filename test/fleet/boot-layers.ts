/**
 * Real-size boot partitions without real-size memory: the files a Pi's boot
 * partition shares with other Pis (pi-image.ts marks them `shared`) are
 * written once into a read-only tree on the fleet's tmpfs, and each Pi's
 * /boot/firmware is an overlayfs of that tree (lower) and the Pi's own
 * directory (upper). The Pi sees an ordinary writable directory; whatever it
 * writes is copied up into its own layer and stays its own.
 *
 * Pis with the same shared files (same image and kernel) use one tree; a Pi
 * on another kernel gets its own tree, whose files it has in common with
 * other trees (the firmware) are hard links to theirs. Inside one tree every
 * path has its own inode (as on FAT), so tar and rsync see no hard links.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmod, link, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { deterministicBytes } from './bytes.js';
import type { GeneratedFile } from './pi-image.js';

export interface BootTreeRequest {
  /** The Pi's index. */
  pi: number;
  files: GeneratedFile[];
}

export interface BootTrees {
  /** Pi index → its tree's directory, relative to the layers directory. */
  treeOf: Map<number, string>;
  /** Distinct trees written. */
  trees: number;
  /** Bytes written to the tmpfs (each distinct file once). */
  bytes: number;
}

function fileKey(f: GeneratedFile): string {
  return `${f.path}\t${f.label}\t${f.mode.toString(8)}\t${f.size}`;
}

/**
 * Write the shared boot trees under `layersHost/boot-trees/` (the host's path
 * to the fleet's layers directory). Returns which tree each Pi mounts.
 */
export async function writeBootTrees(layersHost: string, requests: BootTreeRequest[]): Promise<BootTrees> {
  const treeOf = new Map<number, string>();
  const trees = new Map<string, GeneratedFile[]>();
  for (const r of requests) {
    if (r.files.length === 0) continue;
    const sorted = [...r.files].sort((a, b) => (a.path < b.path ? -1 : 1));
    const id = createHash('sha256').update(sorted.map(fileKey).join('\n')).digest('hex').slice(0, 16);
    trees.set(id, sorted);
    treeOf.set(r.pi, join('boot-trees', id));
  }
  const written = new Map<string, string>();
  let bytes = 0;
  for (const [id, files] of trees) {
    const root = join(layersHost, 'boot-trees', id);
    const dirs = new Set(files.map((f) => dirname(join(root, f.path))));
    for (const d of [...dirs].sort()) await mkdir(d, { recursive: true, mode: 0o755 });
    // Batches keep memory bounded: at most a few dozen generated files in flight.
    for (let i = 0; i < files.length; i += 32) {
      await Promise.all(
        files.slice(i, i + 32).map(async (f) => {
          const dest = join(root, f.path);
          const key = fileKey(f);
          const first = written.get(key);
          if (first !== undefined) {
            await link(first, dest);
            return;
          }
          written.set(key, dest);
          await writeFile(dest, deterministicBytes(f.label, f.size));
          await chmod(dest, f.mode);
          bytes += f.size;
        }),
      );
    }
  }
  return { treeOf, trees: trees.size, bytes };
}

export interface BootMount {
  /** Paths as the fleet's holder sees them. */
  lower: string;
  upper: string;
  work: string;
  target: string;
}

/**
 * Mount each Pi's boot overlay in the mount namespace of the fleet's holder
 * (where the Pis' mount namespaces are copied from at every boot). The paths
 * go in on stdin, never into the script.
 */
export function mountBootOverlays(holderPid: number, mounts: BootMount[]): Promise<void> {
  if (mounts.length === 0) return Promise.resolve();
  for (const m of mounts) {
    for (const p of [m.lower, m.upper, m.work, m.target]) {
      if (!p.startsWith('/') || /[\s,:\\]/.test(p)) throw new Error(`boot overlay path ${JSON.stringify(p)} must be absolute, without spaces, commas, colons or backslashes`);
    }
  }
  const script = 'while read -r lower upper work target; do mount -t overlay pinet-boot -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$target" || exit 1; done';
  return new Promise((resolve, reject) => {
    const child = execFile('nsenter', [`--mount=/proc/${holderPid}/ns/mnt`, '--', 'sh', '-c', script], (err, _out, stderr) => {
      if (err) reject(new Error(`cannot mount the Pis' boot overlays: ${stderr.trim() || err.message}`));
      else resolve();
    });
    child.stdin!.end(mounts.map((m) => `${m.lower} ${m.upper} ${m.work} ${m.target}\n`).join(''));
  });
}
