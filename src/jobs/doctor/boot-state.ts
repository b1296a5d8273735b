/**
 * What doctor reads on a Pi besides detect's facts, to tell "a reboot is
 * still pending" from "the NFS mount failed at boot": when the Pi last booted
 * (PID 1's age), when /etc/fstab last changed, which directory (device
 * and inode) is mounted at each boot mount point, and which local boot media
 * (SD card or eMMC, USB disks, NVMe) are attached, since a bootable one that
 * BOOT_ORDER tries before NETWORK always wins. scripts/remote/boot-state.sh
 * reads them, on the connection detect already uses; this module parses it.
 */

export interface BootState {
  /** When the Pi last booted (seconds since the epoch, by the Pi's clock; PID 1's start). */
  bootedAt?: number;
  /** When /etc/fstab last changed (same clock). */
  fstabChangedAt?: number;
  /** Mount point → "device:inode" of the directory mounted there. */
  dirs: Record<string, string>;
  /** The local boot media attached (empty: none); undefined when /sys/block could not be read. */
  media?: LocalMedium[];
}

/** A disk the bootloader could boot from instead of the network. */
export interface LocalMedium {
  /** The kernel's name: `mmcblk0`, `sda`, `nvme0n1`. */
  name: string;
  kind: 'sd' | 'emmc' | 'usb' | 'nvme';
  /** Size in bytes (/sys/block/<name>/size counts 512-byte sectors). */
  bytes: number;
}

/** The medium a /sys/block entry stands for, or undefined for anything else (eMMC boot areas, loop devices, an empty card reader). */
export function parseMedium(name: string, sectors: string | undefined, type: string | undefined): LocalMedium | undefined {
  const bytes = sectors !== undefined && /^\d+$/.test(sectors) ? Number(sectors) * 512 : undefined;
  if (bytes === 0) return undefined; // a reader without a card
  const medium = (kind: LocalMedium['kind']): LocalMedium => ({ name, kind, bytes: bytes ?? 0 });
  if (/^mmcblk\d+$/.test(name)) return medium(type === 'MMC' ? 'emmc' : 'sd');
  if (/^sd[a-z]+$/.test(name)) return medium('usb');
  if (/^nvme\d+n\d+$/.test(name)) return medium('nvme');
  return undefined;
}

const num = (s: string | undefined): number | undefined => (s !== undefined && /^\d+(\.\d+)?$/.test(s) ? Number(s) : undefined);

export function parseBootState(text: string): BootState {
  const kv = new Map<string, string>();
  const dirs: Record<string, string> = {};
  const media: LocalMedium[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+) ?(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'dir') {
      const d = /^(\d+:\d+) (\/\S*)$/.exec(m[2]!);
      if (d) dirs[d[2]!] = d[1]!;
    } else if (m[1] === 'block') {
      const [name, sectors, type] = m[2]!.split(' ');
      const medium = name ? parseMedium(name, sectors || undefined, type || undefined) : undefined;
      if (medium) media.push(medium);
    } else kv.set(m[1]!, m[2]!);
  }
  const out: BootState = { dirs };
  if (kv.has('blocks-read')) out.media = media;
  const booted = num(kv.get('booted'));
  if (booted !== undefined) out.bootedAt = booted;
  const fstab = num(kv.get('fstab-mtime'));
  if (fstab !== undefined) out.fstabChangedAt = fstab;
  return out;
}

/** Did /etc/fstab change after the last boot? Undefined when either time is unknown. */
export function fstabChangedSinceBoot(s: BootState | undefined): boolean | undefined {
  if (s?.bootedAt === undefined || s.fstabChangedAt === undefined) return undefined;
  return s.fstabChangedAt > s.bootedAt;
}
