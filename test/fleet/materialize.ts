/**
 * Writing fake Pis to disk: a file tree (pi-image.ts) into a directory, the
 * overlayfs whiteouts and opaque directories that hide the host's files, and
 * the state directory one Pi boots from (assets/init.sh reads it).
 *
 * Node has no mknod() or setxattr(), so whiteouts (character device 0/0) and
 * opaque markers (xattr trusted.overlay.opaque=y) are made by one python3
 * call per batch.
 */
import { execFile } from 'node:child_process';
import { chmod, chown, lchown, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { shellQuote } from '../../src/util/shell.js';
import { deterministicBytes } from './bytes.js';
import type { FileTree, GeneratedFile, PiImage } from './pi-image.js';

const run = promisify(execFile);

/** Write a tree under `dest` (paths of the tree are absolute within it). Returns the whiteouts to make. */
export async function writeTree(dest: string, tree: FileTree): Promise<string[]> {
  for (const d of tree.dirs) {
    const p = join(dest, d.path);
    await mkdir(p, { recursive: true });
    await chown(p, d.uid, d.gid);
    await chmod(p, d.mode);
  }
  await Promise.all([
    ...tree.files.map(async (f) => {
      const p = join(dest, f.path);
      await writeFile(p, f.data);
      await chown(p, f.uid, f.gid);
      await chmod(p, f.mode);
    }),
    ...tree.generated.map(async (g) => {
      const p = join(dest, g.path);
      await writeFile(p, deterministicBytes(g.label, g.size));
      await chmod(p, g.mode);
    }),
    ...tree.links.map(async (l) => {
      const p = join(dest, l.path);
      await rm(p, { force: true });
      await symlink(l.target, p);
      await lchown(p, 0, 0);
    }),
  ]);
  return tree.whiteouts.map((w) => join(dest, w));
}

/** A character device node to create. */
export interface DeviceNode {
  path: string;
  major: number;
  minor: number;
  mode: number;
}

/**
 * Make overlayfs whiteouts, opaque directories (absolute path → mode) and
 * device nodes, in one python3 call.
 */
export async function makeSpecialNodes(whiteouts: string[], opaque: Record<string, number>, devices: DeviceNode[] = []): Promise<void> {
  if (whiteouts.length === 0 && Object.keys(opaque).length === 0 && devices.length === 0) return;
  const script = [
    'import json, os, stat, sys',
    'spec = json.load(sys.stdin)',
    'for p in spec["whiteouts"]:',
    '    os.makedirs(os.path.dirname(p), exist_ok=True)',
    '    if os.path.lexists(p): os.remove(p)',
    '    os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(0, 0))',
    'for p, mode in spec["opaque"].items():',
    '    os.makedirs(p, exist_ok=True)',
    '    os.chmod(p, mode)',
    '    os.setxattr(p, "trusted.overlay.opaque", b"y")',
    'for d in spec["devices"]:',
    '    os.mknod(d["path"], stat.S_IFCHR | d["mode"], os.makedev(d["major"], d["minor"]))',
    '    os.chmod(d["path"], d["mode"])',
  ].join('\n');
  await new Promise<void>((resolve, reject) => {
    const child = execFile('python3', ['-c', script], (err, _stdout, stderr) => {
      if (err) reject(new Error(`cannot make overlayfs whiteouts/opaque dirs (python3): ${stderr || err.message}`));
      else resolve();
    });
    child.stdin?.end(JSON.stringify({ whiteouts, opaque, devices }));
  });
}

/** Settings of one Pi for init.sh, as a shell file of quoted assignments. */
export function renderPiEnv(values: Record<string, string>): string {
  return (
    Object.entries(values)
      .map(([k, v]) => {
        if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new Error(`bad pi.env key ${k}`);
        return `${k}=${shellQuote(v)}`;
      })
      .join('\n') + '\n'
  );
}

/** Capabilities a fake Pi's processes never get (they could reach the host). */
export const DROPPED_CAPS = [
  'sys_time',
  'sys_boot',
  'sys_module',
  'sys_admin',
  'sys_rawio',
  'mknod',
  'syslog',
  'sys_pacct',
  'sys_tty_config',
  'mac_admin',
  'mac_override',
  'audit_control',
  'audit_read',
  'wake_alarm',
  'block_suspend',
  'bpf',
  'perfmon',
  'checkpoint_restore',
];

export const CAPS_DROP_ARG = DROPPED_CAPS.map((c) => `-${c}`).join(',');

export interface PiStateSettings {
  /** overlayfs lowerdir (the fleet's layers, then /). */
  lower: string;
}

/** The Pi's /dev: the usual character devices; devpts and /dev/shm are mounted at boot. */
const DEV_NODES: Array<[string, number, number]> = [
  ['null', 1, 3],
  ['zero', 1, 5],
  ['full', 1, 7],
  ['random', 1, 8],
  ['urandom', 1, 9],
  ['tty', 5, 0],
];
const DEV_LINKS: Array<[string, string]> = [
  ['ptmx', 'pts/ptmx'],
  ['fd', '/proc/self/fd'],
  ['stdin', '/proc/self/fd/0'],
  ['stdout', '/proc/self/fd/1'],
  ['stderr', '/proc/self/fd/2'],
];

/**
 * Write the state directory of one Pi: its upper layer, boot partition,
 * firmware view, /dev, cpuinfo and pi.env. Returns the special nodes still
 * to make (makeSpecialNodes, once for the whole fleet).
 */
export async function writePiState(
  dir: string,
  image: PiImage,
  settings: PiStateSettings,
): Promise<{ whiteouts: string[]; devices: DeviceNode[]; sharedBoot: GeneratedFile[] }> {
  const id = image.identity;
  // A real boot partition is an overlay (boot-layers.ts): the Pi's own files go to boot-upper.
  const real = id.bootImage === 'real';
  const subs = ['upper', 'work', 'root', 'boot', 'sysfw', 'sysblock', 'dev/pts', 'dev/shm', ...(real ? ['boot-upper', 'boot-work'] : [])];
  for (const sub of subs) await mkdir(join(dir, sub), { recursive: true });
  await chmod(join(dir, real ? 'boot-upper' : 'boot'), 0o755);
  await chmod(join(dir, 'dev/shm'), 0o1777);
  const sharedBoot = image.boot.generated.filter((g) => g.shared === true);
  const ownBoot = { ...image.boot, generated: image.boot.generated.filter((g) => g.shared !== true) };
  const whiteouts = [
    ...(await writeTree(join(dir, 'upper'), image.root)),
    ...(await writeTree(join(dir, real ? 'boot-upper' : 'boot'), ownBoot)),
    ...(await writeTree(join(dir, 'sysfw'), image.sysfw)),
    ...(await writeTree(join(dir, 'sysblock'), image.sysblock)),
  ];
  await Promise.all(DEV_LINKS.map(([name, target]) => symlink(target, join(dir, 'dev', name))));
  await writeFile(join(dir, 'cpuinfo'), image.cpuinfo);
  await writeFile(join(dir, 'cmdline-prefix'), image.cmdline.prefix);
  if (image.cmdline.override !== null) await writeFile(join(dir, 'cmdline-override'), image.cmdline.override);
  await writeFile(join(dir, 'boot.log'), '');
  await writeFile(join(dir, 'console.log'), '');
  await writeFile(join(dir, 'last-boot-src'), '');
  const boardType = (Number.parseInt(id.revision, 16) >> 4) & 0xff;
  await writeFile(
    join(dir, 'pi.env'),
    renderPiEnv({
      PI_NAME: id.name,
      BOOT_MOUNT: id.os.bootMount,
      LOWER: settings.lower,
      EEPROM_CHIP: id.bootloaderConfig !== null ? (id.board.eepromChip ?? '') : '',
      BOARD_IS_CM4: boardType === 0x14 || boardType === 0x15 ? '1' : '0',
      CAPS_DROP: CAPS_DROP_ARG,
    }),
  );
  return { whiteouts, devices: DEV_NODES.map(([name, major, minor]) => ({ path: join(dir, 'dev', name), major, minor, mode: 0o666 })), sharedBoot };
}

/** Run a command and return its stdout; errors carry the command's stderr. */
export async function runTool(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}
