/**
 * The VM lab's cached image: a bookworm amd64 root file system (every role:
 * Pi, NFS server, boot server) and a Pi SD card made from it (build.sh).
 * Built once per machine under /var/cache/pinet-test/vm/<hash>/, where the
 * hash covers everything that goes in (the scripts, the guest files, the fake
 * fleet's EEPROM tools and boot files); built in a temporary directory and
 * renamed when complete; a lock (flock) makes a second test process wait for
 * the first one's build instead of building it again.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BOARDS } from '../fleet/boards.js';
import { deterministicBytes } from '../fleet/bytes.js';
import { ASSETS_DIR, writeEepromLayer } from '../fleet/layers.js';
import { OS_IMAGES } from '../fleet/os-images.js';

const run = promisify(execFile);
const HERE = fileURLToPath(new URL('./image/', import.meta.url));
export const CACHE_ROOT = process.env.PINET_VM_CACHE ?? '/var/cache/pinet-test/vm';

/** What the Pi's SD card runs: Ubuntu 24.04's boot layout around a real Debian kernel. */
export const PI_OS = OS_IMAGES['ubuntu-2404'];
export const PI_BOARD = BOARDS.pi4;

/** The kernel command line of the image's cmdline.txt (Ubuntu's, without `quiet splash`, so the console shows the boot). */
export const SD_CMDLINE = PI_OS.cmdline('')
  .replace(/\s*\bquiet\b/, '')
  .replace(/\s*\bsplash\b/, '')
  .trim();

export interface LabImage {
  dir: string;
  hash: string;
  /** The root file system (template of an NFS root; /boot holds both kernels). */
  rootfs: string;
  /** The SD card (raw, 2 GiB): p1 FAT system-boot, p2 ext4 writable. */
  sdRaw: string;
  bootPartition: { offset: number; size: number };
  /** The kernel the image boots, and the one a kernel update installs. */
  kernels: { old: string; new: string };
  /** How long the build took, when this call built it. */
  builtInMs: number | null;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out.sort();
}

/** Lay out build.sh's inputs in `dir`: scripts, guest files, EEPROM layer, boot files. */
async function prepareInputs(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await copyFile(join(HERE, 'build.sh'), join(dir, 'build.sh'));
  await copyFile(join(HERE, 'customize.sh'), join(dir, 'customize.sh'));
  await run('cp', ['-R', join(HERE, 'guest'), join(dir, 'guest')]);
  const g = (p: string) => join(dir, 'guest', p);
  const put = async (path: string, text: string) => {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  };
  // Ubuntu's fstab, flash-kernel and its hooks, as the fake fleet has them.
  await put(g('etc/fstab'), PI_OS.fstab(''));
  await put(g('usr/sbin/flash-kernel'), PI_OS.etc['/usr/sbin/flash-kernel']!);
  await put(g('etc/kernel/postinst.d/zz-flash-kernel'), PI_OS.postinstHooks['zz-flash-kernel']!);
  await put(g('etc/initramfs/post-update.d/flash-kernel'), PI_OS.postUpdateHooks['flash-kernel']!);
  await put(g('etc/default/rpi-eeprom-update'), PI_OS.etc['/etc/default/rpi-eeprom-update']!);
  // The fake fleet's EEPROM tools and images, and its vcgencmd.
  await writeEepromLayer(join(dir, 'eeprom'));
  await copyFile(join(ASSETS_DIR, 'vcgencmd'), join(dir, 'eeprom/usr/bin/vcgencmd'));
  // The boot partition's firmware files (placeholders of a few KB), config.txt, cmdline.txt.
  for (const f of PI_OS.bootFiles(PI_BOARD, '')) {
    if (f.path === 'vmlinuz' || f.path === 'initrd.img') continue; // flash-kernel installs the real ones
    let data: Buffer | string;
    if (f.path === 'cmdline.txt') data = SD_CMDLINE + '\n';
    else if (f.path === 'config.txt') data = PI_OS.configTxt(PI_BOARD);
    else if (f.text !== undefined) data = f.text;
    else data = deterministicBytes(`vm-lab/${f.path}`, f.size ?? 16_384);
    await put(join(dir, 'boot', f.path), '');
    await writeFile(join(dir, 'boot', f.path), data);
  }
}

async function hashInputs(dir: string): Promise<string> {
  const h = createHash('sha256');
  h.update('pinet-vm-lab-image/1\n');
  for (const f of await listFiles(dir)) {
    h.update(relative(dir, f) + '\0');
    h.update(await readFile(f));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

async function describe(dir: string, hash: string, builtInMs: number | null): Promise<LabImage> {
  const [offset, size] = (await readFile(join(dir, 'boot-offset'), 'utf8')).trim().split(/\s+/).map(Number);
  const [old, neu] = (await readFile(join(dir, 'kernels'), 'utf8')).trim().split(/\s+/);
  if (!old || !neu || offset === undefined || size === undefined) throw new Error(`VM lab image ${dir} is incomplete`);
  return {
    dir,
    hash,
    rootfs: join(dir, 'rootfs'),
    sdRaw: join(dir, 'sd.raw'),
    bootPartition: { offset, size },
    kernels: { old, new: neu },
    builtInMs,
  };
}

let ensured: Promise<LabImage> | undefined;

/**
 * The image, from the cache or built now (a few minutes; the build's log is
 * `<cache>/<hash>.log`). Concurrent callers wait for one build: other
 * processes on the cache's lock, callers in this process (two labs starting
 * at once) on the same promise.
 */
export function ensureImage(opts: { log?: (line: string) => void } = {}): Promise<LabImage> {
  ensured ??= findOrBuild(opts).catch((err: unknown) => {
    ensured = undefined;
    throw err;
  });
  return ensured;
}

async function findOrBuild(opts: { log?: (line: string) => void }): Promise<LabImage> {
  await mkdir(CACHE_ROOT, { recursive: true });
  const inputs = join(CACHE_ROOT, `.inputs-${process.pid}`);
  await rm(inputs, { recursive: true, force: true });
  try {
    await prepareInputs(inputs);
    const hash = await hashInputs(inputs);
    const final = join(CACHE_ROOT, hash);
    if (await exists(join(final, 'complete'))) return describe(final, hash, null);
    opts.log?.(`building the VM lab image ${final} (a few minutes, once per machine)`);
    const started = Date.now();
    // The lock is held by a shell that builds only when the result is still
    // missing; a second process blocks on the lock, then finds it complete.
    const script = [
      'set -eu',
      'final=$1; inputs=$2; log=$3',
      '[ -e "$final/complete" ] && exit 0',
      'tmp=$final.tmp.$$',
      'rm -rf "$final".tmp.*; mkdir -p "$tmp"',
      'if ! sh "$inputs/build.sh" "$inputs" "$tmp" > "$log" 2>&1; then rm -rf "$tmp"; echo "image build failed; see $log" >&2; tail -n 30 "$log" >&2; exit 1; fi',
      'touch "$tmp/complete"',
      'rm -rf "$final"',
      'mv "$tmp" "$final"',
    ].join('\n');
    await run('flock', [join(CACHE_ROOT, '.lock'), 'sh', '-c', script, 'build', final, inputs, join(CACHE_ROOT, `${hash}.log`)], {
      maxBuffer: 16 * 1024 * 1024,
    });
    return describe(final, hash, Date.now() - started);
  } finally {
    await rm(inputs, { recursive: true, force: true });
  }
}
