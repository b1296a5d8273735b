/**
 * Boot partitions for the emulator's tests: the files a Pi 4's
 * `/boot/firmware` holds, laid out as Ubuntu 24.04 or Raspberry Pi OS lay
 * them out (names and config.txt as on those images; contents random, sizes
 * small but on the right side of one TFTP block, so dnsmasq logs the same
 * "sent" / "failed sending" pattern as the seed article's real boot).
 * Written with explicit modes (0644 files, 0755 directories): dnsmasq's
 * unprivileged TFTP user must be able to read them, whatever the umask.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export type PartitionFiles = Record<string, Buffer | string>;

/** Ubuntu's config.txt for a Pi 4 (the parts that decide the boot files), as in the seed article's setup. */
export const UBUNTU_CONFIG = [
  '[all]',
  'kernel=vmlinuz',
  'cmdline=cmdline.txt',
  'initramfs initrd.img followkernel',
  '',
  '[pi4]',
  'max_framebuffers=2',
  'arm_boost=1',
  '',
  '[all]',
  '# Enable the audio output, I2C and SPI interfaces on the GPIO header.',
  'dtparam=audio=on',
  'dtoverlay=dwc2',
  'dtoverlay=disable-bt',
  'dtoverlay=disable-wifi',
  'arm_64bit=1',
  '',
].join('\n');

export const RPIOS_CONFIG = ['dtparam=audio=on', 'camera_auto_detect=1', 'display_auto_detect=1', 'auto_initramfs=1', 'dtoverlay=vc4-kms-v3d', 'max_framebuffers=2', 'arm_64bit=1', '', '[cm4]', 'otg_mode=1', '', '[all]', ''].join('\n');

/** Sizes chosen around TFTP's 1468-byte block: "sent" below, "failed sending" above (for the firmware's open). */
export function ubuntuPartition(cmdline = 'console=serial0,115200 root=/dev/nfs nfsroot=10.86.5.10:/picluster-root/bf9fed6f,vers=3 ip=dhcp rw'): PartitionFiles {
  return {
    'start4.elf': randomBytes(220_000),
    'fixup4.dat': randomBytes(5_400),
    'config.txt': UBUNTU_CONFIG,
    'cmdline.txt': `${cmdline}\n`,
    vmlinuz: randomBytes(180_000),
    'initrd.img': randomBytes(120_000),
    'bcm2711-rpi-4-b.dtb': randomBytes(52_000),
    'bcm2711-rpi-400.dtb': randomBytes(52_000),
    'bcm2711-rpi-cm4.dtb': randomBytes(52_000),
    'overlays/overlay_map.dtb': randomBytes(5_200),
    'overlays/dwc2.dtbo': randomBytes(1_200),
    'overlays/disable-bt.dtbo': randomBytes(1_700),
    'overlays/disable-wifi.dtbo': randomBytes(800),
  };
}

export function rpiosPartition(cmdline = 'console=serial0,115200 console=tty1 root=PARTUUID=6c586e13-02 rootfstype=ext4 fsck.repair=yes rootwait'): PartitionFiles {
  return {
    'start4.elf': randomBytes(220_000),
    'fixup4.dat': randomBytes(5_400),
    'config.txt': RPIOS_CONFIG,
    'cmdline.txt': `${cmdline}\n`,
    'kernel8.img': randomBytes(200_000),
    initramfs8: randomBytes(90_000),
    'bcm2711-rpi-4-b.dtb': randomBytes(52_000),
    'bcm2711-rpi-400.dtb': randomBytes(52_000),
    'bcm2711-rpi-cm4.dtb': randomBytes(52_000),
    'overlays/overlay_map.dtb': randomBytes(5_200),
    'overlays/vc4-kms-v3d.dtbo': randomBytes(3_000),
  };
}

/** Write `files` under `dir` (created), 0644 files in 0755 directories; `null` leaves a name out. */
export async function writePartition(dir: string, files: Record<string, Buffer | string | null>): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  for (const [name, content] of Object.entries(files)) {
    if (content === null) continue;
    const path = join(dir, name);
    if (dirname(path) !== dir) {
      await mkdir(dirname(path), { recursive: true });
      await chmod(dirname(path), 0o755);
    }
    await writeFile(path, content);
    await chmod(path, 0o644);
  }
}
