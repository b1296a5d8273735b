/**
 * What one fake Pi is made of, decided before anything is written: its
 * identity (serial, MAC, revision, partition UUID) and the files of its root
 * file system layer, its boot partition, its /proc/cpuinfo and its firmware
 * view (/sys/firmware). Pure functions: the fleet writes the result to disk
 * (materialize.ts), unit tests inspect it directly.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { BOARDS, dtStrings, dtU32, dtU64, modelForRevision, parseRevision, renderCpuinfo, renderOtpDump } from './boards.js';
import type { Board } from './boards.js';
import { OS_IMAGES } from './os-images.js';
import type { BootFileSpec, OsImage, OsName } from './os-images.js';
import { previousKernelVersion, REAL_BOOT_OSES, realBootLayout } from './real-boot.js';
import type { BootImage } from './real-boot.js';
import { variantNamed } from './variants.js';
import type { VariantName } from './variants.js';

/** How a test replaces a file of a fake Pi: new content, a transform of the default, or null to remove it. */
export type FileOverride =
  | string
  | Buffer
  | { content: string | Buffer; mode?: number; uid?: number; gid?: number }
  | ((current: string) => string)
  | null;

/** One fake Pi as a test asks for it. Everything but name and variant is optional. */
export interface PiSpec {
  name: string;
  variant: VariantName;
  /** 16 lowercase hex digits, as /proc/cpuinfo prints it. */
  serial?: string;
  /** Lowercase, colon-separated. */
  mac?: string;
  /** New-style revision code (hex), e.g. `c03112`. */
  revision?: string;
  /** The `Model` text; derived from the revision when absent. */
  model?: string;
  /** The operating system, when not the variant's. */
  os?: OsName;
  /** The bootloader config the EEPROM holds (what rpi-eeprom-config prints). */
  bootloaderConfig?: string;
  /**
   * The local disks attached, as /sys/block shows them: `sd` (mmcblk0, an SD
   * card), `emmc` (mmcblk0 of a Compute Module), `usb` (sda), `nvme`
   * (nvme0n1). Default: the eMMC on a CM4, an SD card on other boards; `[]`
   * for a Pi whose card was removed.
   */
  storage?: StorageKind[];
  /**
   * The boot partition: `small` (the fleet's `bootFilesMB`, every big file
   * unique to the Pi) or `real` (the real layout and sizes of the OS's
   * image, files identical across Pis on the same kernel; see
   * real-boot.ts). Default: the fleet's `bootImage`, else small.
   */
  bootImage?: BootImage;
  /** The kernel the Pi runs, e.g. `6.8.0-1010-raspi` (default the OS image's). */
  kernelVersion?: string;
  /**
   * Real Ubuntu boot partitions: the kernel of flash-kernel's .bak set (default:
   * the image's kernel when `kernelVersion` is newer, else the one before it).
   */
  previousKernelVersion?: string;
  /**
   * Real boot partitions: the Pi built its initramfs itself (update-initramfs
   * after a kernel upgrade), so its initrd.img/initramfs bytes are its own
   * even on the same kernel (default false: as written by the image).
   */
  ownInitramfs?: boolean;
  /**
   * Files to add, change or remove, by absolute path as the Pi sees them:
   * anything under the boot partition, `/proc/cpuinfo`, `/proc/cmdline`,
   * `/sys/firmware/...`, `/sys/block/...`, or any other path of the root file system.
   */
  files?: Record<string, FileOverride>;
}

export type StorageKind = 'sd' | 'emmc' | 'usb' | 'nvme';

/** /sys/block/<name>: the kernel's name, size in 512-byte sectors and, for MMC, device/type. */
const STORAGE: Readonly<Record<StorageKind, { name: string; sectors: number; type?: string }>> = {
  sd: { name: 'mmcblk0', sectors: 62_333_952, type: 'SD' }, // a 32 GB card
  emmc: { name: 'mmcblk0', sectors: 61_071_360, type: 'MMC' }, // 32 GB eMMC
  usb: { name: 'sda', sectors: 125_045_424 }, // a 64 GB stick
  nvme: { name: 'nvme0n1', sectors: 500_118_192 }, // a 256 GB SSD
};

export interface PiIdentity {
  index: number;
  name: string;
  variant: VariantName;
  board: Board;
  os: OsImage;
  serial: string;
  serial8: string;
  mac: string;
  revision: string;
  model: string;
  partuuid: string;
  bootloaderConfig: string | null;
  kernelVersion: string;
  storage: StorageKind[];
  bootImage: BootImage;
  /** The .bak kernel of a real Ubuntu boot partition. */
  previousKernelVersion: string | null;
  ownInitramfs: boolean;
}

export interface ImageFile {
  path: string;
  data: Buffer;
  mode: number;
  uid: number;
  gid: number;
}
export interface ImageDir {
  path: string;
  mode: number;
  uid: number;
  gid: number;
}
export interface ImageLink {
  path: string;
  target: string;
}
/** A big boot file with deterministic pseudo-random content (see bytes.ts). */
export interface GeneratedFile {
  path: string;
  size: number;
  mode: number;
  /** Seed of the content: the same label gives the same bytes. */
  label: string;
  /** Stored once for the fleet and shared read-only by every Pi that has it (real boot partitions). */
  shared?: boolean;
}

export interface FileTree {
  dirs: ImageDir[];
  files: ImageFile[];
  links: ImageLink[];
  /** Paths hidden from the layers below (overlayfs whiteouts). */
  whiteouts: string[];
  generated: GeneratedFile[];
}

export interface PiImage {
  identity: PiIdentity;
  /** The Pi's own (upper) layer of its root file system. */
  root: FileTree;
  /** The local boot partition ("the SD card"), paths relative to it. */
  boot: FileTree;
  /** /sys/firmware, paths relative to it. */
  sysfw: FileTree;
  /** /sys/block, paths relative to it: the attached disks. */
  sysblock: FileTree;
  cpuinfo: string;
  /**
   * /proc/cmdline: the firmware's prefix followed by the boot partition's
   * cmdline.txt at boot time, or a fixed override text.
   */
  cmdline: { prefix: string; override: string | null };
}

/** Host account data the Pi's accounts are derived from. */
export interface HostAccounts {
  passwd: string;
  group: string;
  skel: Record<string, Buffer>;
}

export interface ImageContext {
  clientPublicKey: string;
  hostKey: { privateKey: string; publicKey: string };
  accounts: HostAccounts;
  /** Total size of the boot partition's files, in bytes. */
  bootFilesBytes: number;
}

/** The uid/gid of the two non-root users every fake Pi has. */
export const PI_UID = 1000;
export const LOCKED_UID = 1001;
/** Password of `pi` and `locked` (sha512-crypt of "raspberry"; key login only, sudo asks `locked` for it). */
const PASSWORD_HASH = '$6$fakepisalt$Bc4.euadKykoNu9GU70FLhpVWFNKWasHVIiWHx/rAye94t/NZOmensYfhL.4pRteM/3VJmzQvIt7dfydH2BKt.';

export const EEPROM_IMAGES = {
  '2711': { dir: '/usr/lib/firmware/raspberrypi/bootloader-2711/default', file: 'pieeprom-2025-05-08.bin', size: 524288, timestamp: 1746717695 },
  '2712': { dir: '/usr/lib/firmware/raspberrypi/bootloader-2712/default', file: 'pieeprom-2025-05-08.bin', size: 2097152, timestamp: 1746713597 },
} as const;

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

function hash(label: string): string {
  return createHash('sha256').update(label).digest('hex');
}

/** Validate a Pi name: it becomes a hostname and an ssh `Host` alias. */
export function checkPiName(name: unknown): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new Error(
      `fake Pi name ${JSON.stringify(name)} is not a valid host name: use 1-32 lowercase letters, digits and inner dashes (e.g. pi-01)`,
    );
  }
  return name;
}

function checkHex(what: string, value: string, re: RegExp, example: string): string {
  if (!re.test(value)) {
    throw new Error(`fake Pi ${what} ${JSON.stringify(value)} is invalid: expected e.g. ${example}`);
  }
  return value;
}

/**
 * Resolve a spec into the identity of the Pi: defaults derived from the name
 * (deterministic across runs), unique within the fleet (`taken` collects the
 * serials and MACs already used).
 */
export function resolveIdentity(spec: PiSpec, index: number, taken: Set<string>, defaults: { bootImage?: BootImage } = {}): PiIdentity {
  const name = checkPiName(spec.name);
  const variant = variantNamed(spec.variant);
  const board = BOARDS[variant.board];
  const osName = spec.os ?? variant.os;
  const os = OS_IMAGES[osName];
  if (!os) throw new Error(`fake Pi ${name}: unknown os ${JSON.stringify(osName)}; known: ${Object.keys(OS_IMAGES).join(', ')}`);

  let serial = spec.serial;
  if (serial === undefined) {
    for (let n = 0; serial === undefined || taken.has(`serial8:${serial.slice(-8)}`); n++) {
      const h = hash(`serial/${name}/${variant.name}/${n}`);
      serial = board.serialPrefix ? board.serialPrefix + h.slice(0, 8) : (h[0] === '0' ? 'a' : '') + h.slice(h[0] === '0' ? 1 : 0, 16);
    }
  }
  checkHex('serial', serial, /^[0-9a-f]{16}$/, '10000000bf9fed6f (16 lowercase hex digits)');
  if (taken.has(`serial8:${serial.slice(-8)}`)) throw new Error(`fake Pi ${name}: serial ${serial} is used by another Pi of the fleet`);

  let mac = spec.mac;
  if (mac === undefined) {
    for (let n = 0; mac === undefined || taken.has(`mac:${mac}`); n++) {
      const tail = board.oui === 'b8:27:eb' && n === 0 ? serial.slice(-6) : hash(`mac/${name}/${n}`).slice(0, 6);
      mac = `${board.oui}:${tail.slice(0, 2)}:${tail.slice(2, 4)}:${tail.slice(4, 6)}`;
    }
  }
  checkHex('MAC address', mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'dc:a6:32:01:36:c2 (lowercase, colon-separated)');
  if (Number.parseInt(mac.slice(0, 2), 16) & 1) throw new Error(`fake Pi ${name}: MAC ${mac} is a multicast address`);
  if (taken.has(`mac:${mac}`)) throw new Error(`fake Pi ${name}: MAC ${mac} is used by another Pi of the fleet`);

  const revision = spec.revision ?? board.revision;
  checkHex('revision', revision, /^[0-9a-f]{6,8}$/, 'd03114');
  parseRevision(revision);
  const model = spec.model ?? modelForRevision(revision);
  if (/[\0\n\r]/.test(model)) throw new Error(`fake Pi ${name}: model text must be one line`);

  const bootloaderConfig = spec.bootloaderConfig ?? variant.bootloaderConfig;
  if (bootloaderConfig !== null) {
    if (spec.bootloaderConfig !== undefined && variant.bootloaderConfig === null) {
      throw new Error(`fake Pi ${name}: variant ${variant.name} has no EEPROM bootloader; drop bootloaderConfig`);
    }
    if (bootloaderConfig.includes('\0')) throw new Error(`fake Pi ${name}: bootloader config contains a NUL byte`);
    if (Buffer.byteLength(bootloaderConfig) > 4076) {
      throw new Error(`fake Pi ${name}: bootloader config is ${Buffer.byteLength(bootloaderConfig)} bytes; the EEPROM holds at most 4076`);
    }
  }

  const bootImage = spec.bootImage ?? defaults.bootImage ?? 'small';
  if (bootImage !== 'small' && bootImage !== 'real') throw new Error(`fake Pi ${name}: bootImage must be small or real, not ${JSON.stringify(bootImage)}`);
  if (bootImage === 'real' && !REAL_BOOT_OSES.includes(os.name)) {
    throw new Error(`fake Pi ${name}: there is no real boot partition for ${os.name}; real ones exist for ${REAL_BOOT_OSES.join(', ')}`);
  }
  const imageKernel = os.kernelVersion(board);
  const kernelVersion = checkKernelVersion(name, spec.kernelVersion ?? imageKernel);
  const previous =
    spec.previousKernelVersion !== undefined
      ? checkKernelVersion(name, spec.previousKernelVersion)
      : kernelVersion !== imageKernel
        ? imageKernel
        : previousKernelVersion(imageKernel);

  taken.add(`serial8:${serial.slice(-8)}`);
  taken.add(`mac:${mac}`);
  return {
    index,
    name,
    variant: variant.name,
    board,
    os,
    serial,
    serial8: serial.slice(-8),
    mac,
    revision,
    model,
    partuuid: hash(`partuuid/${name}`).slice(0, 8),
    bootloaderConfig,
    kernelVersion,
    storage: resolveStorage(name, spec.storage ?? [board.name === 'cm4' ? 'emmc' : 'sd']),
    bootImage,
    previousKernelVersion: os.name === 'ubuntu-2404' ? previous : null,
    ownInitramfs: spec.ownInitramfs ?? false,
  };
}

function checkKernelVersion(name: string, version: string): string {
  if (!/^[0-9][0-9A-Za-z.+~-]*$/.test(version)) throw new Error(`fake Pi ${name}: kernel version ${JSON.stringify(version)} is not a package version (e.g. 6.8.0-1010-raspi)`);
  return version;
}

function resolveStorage(name: string, kinds: StorageKind[]): StorageKind[] {
  for (const k of kinds) if (!(k in STORAGE)) throw new Error(`fake Pi ${name}: unknown storage ${JSON.stringify(k)}; known: ${Object.keys(STORAGE).join(', ')}`);
  if (kinds.includes('sd') && kinds.includes('emmc')) throw new Error(`fake Pi ${name}: sd and emmc are both mmcblk0; give one`);
  return [...new Set(kinds)];
}

/** A tree under construction; later additions of the same path replace earlier ones. */
class TreeBuilder {
  private readonly entries = new Map<string, { kind: 'dir' | 'file' | 'link' | 'whiteout' | 'generated'; value: unknown }>();

  dir(path: string, mode = 0o755, uid = 0, gid = 0): void {
    this.entries.set(path, { kind: 'dir', value: { path, mode, uid, gid } satisfies ImageDir });
  }
  file(path: string, data: string | Buffer, mode = 0o644, uid = 0, gid = 0): void {
    this.parents(path);
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.entries.set(path, { kind: 'file', value: { path, data: buf, mode, uid, gid } satisfies ImageFile });
  }
  link(path: string, target: string): void {
    this.parents(path);
    this.entries.set(path, { kind: 'link', value: { path, target } satisfies ImageLink });
  }
  generated(path: string, size: number, mode: number, label: string, shared = false): void {
    this.parents(path);
    this.entries.set(path, { kind: 'generated', value: { path, size, mode, label, ...(shared ? { shared } : {}) } satisfies GeneratedFile });
  }
  whiteout(path: string): void {
    this.entries.set(path, { kind: 'whiteout', value: path });
  }
  remove(path: string): boolean {
    return this.entries.delete(path);
  }
  textOf(path: string): string | undefined {
    const e = this.entries.get(path);
    return e?.kind === 'file' ? (e.value as ImageFile).data.toString('utf8') : undefined;
  }
  has(path: string): boolean {
    return this.entries.has(path);
  }
  modeOf(path: string): { mode: number; uid: number; gid: number } | undefined {
    const e = this.entries.get(path);
    if (e?.kind === 'file') return e.value as ImageFile;
    if (e?.kind === 'generated') return { mode: (e.value as GeneratedFile).mode, uid: 0, gid: 0 };
    return undefined;
  }
  private parents(path: string): void {
    for (let dir = posix.dirname(path); dir !== '/' && dir !== '.' && dir !== ''; dir = posix.dirname(dir)) {
      if (!this.entries.has(dir)) this.entries.set(dir, { kind: 'dir', value: { path: dir, mode: 0o755, uid: 0, gid: 0 } });
    }
  }
  build(): FileTree {
    const tree: FileTree = { dirs: [], files: [], links: [], whiteouts: [], generated: [] };
    for (const e of this.entries.values()) {
      if (e.kind === 'dir') tree.dirs.push(e.value as ImageDir);
      else if (e.kind === 'file') tree.files.push(e.value as ImageFile);
      else if (e.kind === 'link') tree.links.push(e.value as ImageLink);
      else if (e.kind === 'generated') tree.generated.push(e.value as GeneratedFile);
      else tree.whiteouts.push(e.value as string);
    }
    tree.dirs.sort((a, b) => a.path.split('/').length - b.path.split('/').length);
    return tree;
  }
}

/** The Pi's accounts: the host's system accounts, without its human users, plus root, pi and locked. */
export function renderAccounts(host: HostAccounts): { passwd: string; group: string; shadow: string; gshadow: string } {
  const human = (id: string) => {
    const n = Number(id);
    return n >= 1000 && n < 60000;
  };
  const hostUsers = host.passwd.split('\n').filter((l) => l.trim() !== '');
  const dropped = new Set(['pi', 'locked', ...hostUsers.filter((l) => human(l.split(':')[2] ?? '')).map((l) => l.split(':')[0] ?? '')]);
  const passwdLines = hostUsers.filter((l) => !dropped.has(l.split(':')[0] ?? ''));
  passwdLines.push(`pi:x:${PI_UID}:${PI_UID}:,,,:/home/pi:/bin/bash`);
  passwdLines.push(`locked:x:${LOCKED_UID}:${LOCKED_UID}:Sudo needs a password,,,:/home/locked:/bin/bash`);

  const groups = host.group
    .split('\n')
    .filter((l) => l.trim() !== '')
    .filter((l) => !human(l.split(':')[2] ?? ''))
    .filter((l) => !['pi', 'locked'].includes(l.split(':')[0] ?? ''))
    .map((l) => l.split(':'));
  const usedGids = new Set(groups.map((g) => Number(g[2])));
  let free = 995;
  const piGroups = ['adm', 'dialout', 'cdrom', 'sudo', 'audio', 'video', 'plugdev', 'games', 'users', 'input', 'render', 'netdev', 'gpio', 'i2c', 'spi'];
  for (const name of piGroups) {
    if (!groups.some((g) => g[0] === name)) {
      while (usedGids.has(free)) free--;
      usedGids.add(free);
      groups.push([name, 'x', String(free), '']);
    }
  }
  for (const g of groups) {
    const members = (g[3] ?? '').split(',').filter((m) => m !== '' && !dropped.has(m));
    if (piGroups.includes(g[0] ?? '')) members.push('pi');
    if (g[0] === 'sudo' || g[0] === 'users') members.push('locked');
    g[3] = members.join(',');
  }
  groups.push(['pi', 'x', String(PI_UID), '']);
  groups.push(['locked', 'x', String(LOCKED_UID), '']);

  const shadow = passwdLines.map((l) => {
    const user = l.split(':')[0];
    const pw = user === 'pi' || user === 'locked' ? PASSWORD_HASH : '*';
    return `${user}:${pw}:20000:0:99999:7:::`;
  });
  return {
    passwd: passwdLines.join('\n') + '\n',
    group: groups.map((g) => g.join(':')).join('\n') + '\n',
    shadow: shadow.join('\n') + '\n',
    gshadow: groups.map((g) => `${g[0]}:!::${g[3] ?? ''}`).join('\n') + '\n',
  };
}

export function renderSshdConfig(): string {
  return [
    '# sshd configuration of a pinet fake Pi (generated by test/fleet)',
    'Port 22',
    'ListenAddress 0.0.0.0',
    'HostKey /etc/ssh/ssh_host_ed25519_key',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'AuthorizedKeysFile .ssh/authorized_keys',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'UseDNS no',
    'PrintMotd no',
    'AcceptEnv LANG LC_*',
    'MaxStartups 64:30:128',
    'MaxSessions 64',
    'PidFile none',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    '',
  ].join('\n');
}

/** Split the boot-files budget over the big files by weight; fixed-size and text files keep theirs. */
export function bootFileSizes(specs: BootFileSpec[], budget: number): Map<string, number> {
  const sizes = new Map<string, number>();
  let fixed = 0;
  let weights = 0;
  for (const s of specs) {
    if (s.weight > 0) weights += s.weight;
    else {
      const size = s.text !== undefined ? Buffer.byteLength(s.text) : (s.size ?? 0);
      sizes.set(s.path, size);
      fixed += size;
    }
  }
  const share = Math.max(0, budget - fixed);
  for (const s of specs) {
    if (s.weight > 0) sizes.set(s.path, Math.max(4096, Math.floor((share * s.weight) / weights)));
  }
  return sizes;
}

function applyOverride(tree: TreeBuilder, path: string, override: FileOverride, what: string, layered: boolean): void {
  if (override === null) {
    if (tree.remove(path)) return;
    if (!layered) throw new Error(`${what}: cannot remove ${path}: the fake Pi has no such file`);
    tree.whiteout(path);
    return;
  }
  const current = tree.modeOf(path);
  if (typeof override === 'function') {
    const text = tree.textOf(path);
    if (text === undefined) throw new Error(`${what}: cannot transform ${path}: the fake Pi has no text file there`);
    tree.file(path, override(text), current?.mode ?? 0o644, current?.uid ?? 0, current?.gid ?? 0);
  } else if (typeof override === 'string' || Buffer.isBuffer(override)) {
    tree.file(path, override, current?.mode ?? 0o644, current?.uid ?? 0, current?.gid ?? 0);
  } else {
    tree.file(path, override.content, override.mode ?? current?.mode ?? 0o644, override.uid ?? current?.uid ?? 0, override.gid ?? current?.gid ?? 0);
  }
}

/** Check an override path: absolute, normalised, one line. */
export function checkPiPath(path: string): string {
  if (!path.startsWith('/') || posix.normalize(path) !== path || path.endsWith('/') || /[\0\n\r]/.test(path) || path.split('/').includes('..')) {
    throw new Error(`fake Pi file path ${JSON.stringify(path)} must be absolute and normalised (e.g. /etc/fstab)`);
  }
  return path;
}

/** `vcgencmd bootloader_version` text for a bootloader built and updated at these times. */
export function renderBootloaderVersion(built: number, updated: number): string {
  const d = new Date(built * 1000).toISOString();
  const date = `${d.slice(0, 10).replaceAll('-', '/')} ${d.slice(11, 19)}`;
  const version = createHash('sha1').update(String(built)).digest('hex');
  return `${date}\nversion ${version} (release)\ntimestamp ${built}\nupdate-time ${updated}\ncapabilities 0x0000007f\n`;
}

/** Build everything a Pi is made of. `files` overrides are applied last. */
export function buildPiImage(id: PiIdentity, ctx: ImageContext, files: Record<string, FileOverride> = {}): PiImage {
  const { board, os } = id;
  const root = new TreeBuilder();
  const boot = new TreeBuilder();
  const sysfw = new TreeBuilder();
  const sysblock = new TreeBuilder();

  // Accounts, sudo, ssh.
  const acc = renderAccounts(ctx.accounts);
  root.file('/etc/passwd', acc.passwd, 0o644);
  root.file('/etc/group', acc.group, 0o644);
  root.file('/etc/shadow', acc.shadow, 0o640, 0, 42);
  root.file('/etc/gshadow', acc.gshadow, 0o640, 0, 42);
  root.file('/etc/sudoers.d/010_pi-nopasswd', 'pi ALL=(ALL) NOPASSWD: ALL\n', 0o440);
  root.file('/etc/sudoers.d/020_locked', '# locked may use sudo, but only with its password\nlocked ALL=(ALL:ALL) ALL\n', 0o440);
  root.dir('/etc/ssh', 0o755);
  root.file('/etc/ssh/sshd_config', renderSshdConfig(), 0o644);
  root.file('/etc/ssh/ssh_host_ed25519_key', ctx.hostKey.privateKey, 0o600);
  root.file('/etc/ssh/ssh_host_ed25519_key.pub', ctx.hostKey.publicKey, 0o644);
  root.file('/etc/ssh/ssh_config', 'Host *\n    SendEnv LANG LC_*\n    HashKnownHosts yes\n', 0o644);
  const users: Array<[string, string, number]> = [
    ['root', '/root', 0],
    ['pi', '/home/pi', PI_UID],
    ['locked', '/home/locked', LOCKED_UID],
  ];
  for (const [, home, uid] of users) {
    root.dir(home, uid === 0 ? 0o700 : 0o750, uid, uid);
    for (const [name, data] of Object.entries(ctx.accounts.skel)) root.file(`${home}/${name}`, data, 0o644, uid, uid);
    root.dir(`${home}/.ssh`, 0o700, uid, uid);
    root.file(`${home}/.ssh/authorized_keys`, ctx.clientPublicKey.trim() + '\n', 0o600, uid, uid);
  }

  // Identity of the OS.
  root.file('/etc/hostname', `${id.name}\n`);
  root.file('/etc/hosts', `127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n\n127.0.1.1\t${id.name}\n`);
  root.file('/usr/lib/os-release', os.osRelease);
  root.link('/etc/os-release', '../usr/lib/os-release');
  root.file('/etc/fstab', os.fstab(id.partuuid));
  for (const [path, text] of Object.entries(os.etc)) {
    if (path === '/etc/default/rpi-eeprom-update' && id.bootloaderConfig === null) continue;
    root.file(path, text, path.startsWith('/usr/sbin/') ? 0o755 : 0o644);
  }
  root.file('/etc/machine-id', hash(`machine-id/${id.name}`).slice(0, 32) + '\n', 0o444);

  // Kernel hooks of the distribution (the dirs are opaque in the fleet's hide layer).
  root.dir('/etc/kernel/postinst.d');
  root.dir('/etc/initramfs/post-update.d');
  for (const [n, s] of Object.entries(os.postinstHooks)) root.file(`/etc/kernel/postinst.d/${n}`, s, 0o755);
  for (const [n, s] of Object.entries(os.postUpdateHooks)) root.file(`/etc/initramfs/post-update.d/${n}`, s, 0o755);

  // /boot of the root file system: the kernel package's files and the mount point.
  root.dir('/boot', 0o755);
  root.dir(os.bootMount, 0o755);
  if (os.bootMount === '/boot/firmware') {
    const v = id.kernelVersion;
    root.generated(`/boot/vmlinuz-${v}`, 65536, os.kernelPackageMode, `kernel-package/${id.serial}/${v}`);
    root.generated(`/boot/initrd.img-${v}`, 65536, 0o644, `initrd-package/${id.serial}/${v}`);
    root.file(`/boot/config-${v}`, `# Linux/arm64 ${v} Kernel Configuration\nCONFIG_ARM64=y\nCONFIG_ROOT_NFS=y\n`);
    root.file(`/boot/System.map-${v}`, `ffffffc080000000 T _text\n`, 0o600);
    root.link('/boot/vmlinuz', `vmlinuz-${v}`);
    root.link('/boot/initrd.img', `initrd.img-${v}`);
  }
  if (id.bootloaderConfig !== null) root.dir('/var/lib/raspberrypi/bootloader/backup');

  // The boot partition.
  const partuuid = id.partuuid;
  const specs = os.bootFiles(board, partuuid).map((s) =>
    s.path === 'cmdline.txt' ? { ...s, text: os.cmdline(partuuid) } : s.path === 'config.txt' ? { ...s, text: os.configTxt(board) } : s,
  );
  if (id.bootImage === 'real') {
    const readme = specs.find((s) => s.path === 'README')?.text;
    const layout = realBootLayout(
      os.name,
      board,
      { version: id.kernelVersion, previous: id.previousKernelVersion, ownInitramfs: id.ownInitramfs },
      { name: id.name, serial: id.serial },
      { configTxt: os.configTxt(board), cmdline: os.cmdline(partuuid), ...(readme !== undefined ? { readme } : {}) },
    );
    for (const f of layout.shared) boot.generated(`/${f.path}`, f.size, f.mode, f.label, true);
    for (const f of layout.text) boot.file(`/${f.path}`, f.text, f.mode);
  } else {
    const sizes = bootFileSizes(specs, ctx.bootFilesBytes);
    for (const s of specs) {
      if (s.text !== undefined) boot.file(`/${s.path}`, s.text, s.mode);
      else boot.generated(`/${s.path}`, sizes.get(s.path) ?? 4096, s.mode, `boot/${id.serial}/${s.path}`);
    }
  }

  // Firmware view: device tree, and the VideoCore's answers for vcgencmd.
  const dt = '/devicetree/base';
  sysfw.file(`${dt}/model`, dtStrings(id.model), 0o444);
  sysfw.file(`${dt}/serial-number`, dtStrings(id.serial), 0o444);
  sysfw.file(`${dt}/compatible`, dtStrings(...board.compatible), 0o444);
  sysfw.file(`${dt}/system/linux,revision`, dtU32(parseRevision(id.revision)), 0o444);
  sysfw.file(`${dt}/system/linux,serial`, dtU64(id.serial), 0o444);
  // The fake VideoCore (vcgencmd): OTP rows, and for an EEPROM bootloader its
  // running config and version; the bootloader rewrites these when it flashes
  // an update (assets/init.sh).
  const vc = '/fake-videocore';
  sysfw.file(`${vc}/otp_dump`, renderOtpDump(id.serial, id.revision), 0o444);
  if (board.eepromChip && id.bootloaderConfig !== null) {
    const built = EEPROM_IMAGES[board.eepromChip].timestamp;
    const updated = built + 3600;
    sysfw.file(`${dt}/chosen/bootloader/build-timestamp`, dtU32(built), 0o444);
    sysfw.file(`${dt}/chosen/bootloader/update-timestamp`, dtU32(updated), 0o444);
    sysfw.file(`${dt}/chosen/bootloader/boot-mode`, dtU32(1), 0o444);
    sysfw.file(`${vc}/bootloader_config`, id.bootloaderConfig, 0o444);
    sysfw.file(`${vc}/bootloader_version`, renderBootloaderVersion(built, updated), 0o444);
  }

  // The attached disks.
  for (const kind of id.storage) {
    const disk = STORAGE[kind];
    sysblock.file(`/${disk.name}/size`, `${disk.sectors}\n`, 0o444);
    if (disk.type) sysblock.file(`/${disk.name}/device/type`, `${disk.type}\n`, 0o444);
  }

  const cpuinfo = renderCpuinfo(board, id.revision, id.serial, id.model);
  const macUpper = id.mac.toUpperCase();
  const cmdlinePrefix =
    `coherent_pool=1M 8250.nr_uarts=1 snd_bcm2835.enable_headphones=0 bcm2708_fb.fbwidth=0 bcm2708_fb.fbheight=0 ` +
    `bcm2708_fb.fbswap=1 smsc95xx.macaddr=${macUpper} vc_mem.mem_base=0x3ec00000 vc_mem.mem_size=0x40000000  `;

  // Overrides, routed to the tree the path belongs to.
  let cpuinfoText = cpuinfo;
  let cmdlineOverride: string | undefined;
  const what = `fake Pi ${id.name}`;
  const bootPrefix = os.bootMount + '/';
  for (const [rawPath, override] of Object.entries(files)) {
    const path = checkPiPath(rawPath);
    if (path === '/proc/cpuinfo') {
      if (override === null) throw new Error(`${what}: /proc/cpuinfo cannot be removed; give a text without the lines you want gone`);
      cpuinfoText = typeof override === 'function' ? override(cpuinfoText) : typeof override === 'string' || Buffer.isBuffer(override) ? override.toString() : override.content.toString();
    } else if (path === '/proc/cmdline') {
      if (override === null || typeof override === 'function') throw new Error(`${what}: /proc/cmdline takes a text`);
      cmdlineOverride = typeof override === 'string' || Buffer.isBuffer(override) ? override.toString() : override.content.toString();
    } else if (path.startsWith('/sys/firmware/')) {
      applyOverride(sysfw, path.slice('/sys/firmware'.length), override, what, false);
    } else if (path.startsWith('/sys/block/')) {
      applyOverride(sysblock, path.slice('/sys/block'.length), override, what, false);
    } else if (path.startsWith(bootPrefix)) {
      applyOverride(boot, path.slice(os.bootMount.length), override, what, false);
    } else if (path.startsWith('/proc/') || path.startsWith('/sys/') || path.startsWith('/dev/') || path.startsWith('/run/')) {
      throw new Error(`${what}: ${path} is not a file the fleet can set (only /proc/cpuinfo, /proc/cmdline, /sys/firmware/... and /sys/block/...)`);
    } else {
      applyOverride(root, path, override, what, true);
    }
  }
  return {
    identity: id,
    root: root.build(),
    boot: boot.build(),
    sysfw: sysfw.build(),
    sysblock: sysblock.build(),
    cpuinfo: cpuinfoText,
    cmdline: { prefix: cmdlinePrefix, override: cmdlineOverride ?? null },
  };
}
