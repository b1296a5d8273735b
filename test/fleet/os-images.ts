/**
 * The operating systems a fake Pi runs: what their boot partition, /etc/fstab,
 * cmdline.txt, config.txt, /etc/os-release and kernel-update hooks look like
 * on a real SD card (the OS table of `pi-netboot.md`). Pure data and pure
 * functions.
 */
import type { Board } from './boards.js';

export type OsName = 'ubuntu-2404' | 'rpios-bookworm' | 'rpios-bullseye';

/** One file of the boot partition before sizes and contents are decided. */
export interface BootFileSpec {
  /** Path relative to the boot partition, `/`-separated. */
  path: string;
  /** Text content (config.txt, cmdline.txt, README…); binary files have none. */
  text?: string;
  /** Weight in the share of the boot-files budget (big files), or 0 for a fixed size. */
  weight: number;
  /** Size in bytes for fixed-size binary files. */
  size?: number;
  mode: number;
}

export interface OsImage {
  name: OsName;
  /** Where the boot partition is mounted. */
  bootMount: '/boot/firmware' | '/boot';
  osRelease: string;
  /** Extra files under /etc (path → content). */
  etc: Record<string, string>;
  fstab(partuuid: string): string;
  cmdline(partuuid: string): string;
  configTxt(board: Board): string;
  /** The kernel and initramfs names in the boot partition for this board. */
  kernelFiles(board: Board): { kernel: string; initramfs: string | null };
  bootFiles(board: Board, partuuid: string): BootFileSpec[];
  /** Version of the installed kernel package, e.g. `6.8.0-1004-raspi`. */
  kernelVersion(board: Board): string;
  /**
   * How the OS puts a new kernel into the boot partition: `hooks` (a distro
   * hook in /etc/kernel/postinst.d copies /boot/vmlinuz-VER) or `direct`
   * (the kernel package writes the boot partition file itself).
   */
  kernelInstall: 'hooks' | 'direct';
  /** The distribution's own kernel/initramfs hooks (name → script) in run-parts dirs. */
  postinstHooks: Record<string, string>;
  postUpdateHooks: Record<string, string>;
  /** Mode bits of /boot/vmlinuz-VER as the kernel package installs it. */
  kernelPackageMode: number;
}

const UBUNTU_OS_RELEASE = `PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
`;

function debianOsRelease(version: '11' | '12', codename: string): string {
  return `PRETTY_NAME="Debian GNU/Linux ${version} (${codename})"
NAME="Debian GNU/Linux"
VERSION_ID="${version}"
VERSION="${version} (${codename})"
VERSION_CODENAME=${codename}
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`;
}

const UBUNTU_CONFIG_TXT = `[all]
kernel=vmlinuz
cmdline=cmdline.txt
initramfs initrd.img followkernel

[pi4]
max_framebuffers=2
arm_boost=1

[all]
# Enable the audio output, I2C and SPI interfaces on the GPIO header. These
# parameters change the base device-tree, so they must come *before* any
# other dtoverlay= line
dtparam=audio=on
dtparam=i2c_arm=on
dtparam=spi=on

# Enable the KMS ("full" KMS) graphics overlay, leaving GPU memory as the
# default (the kernel is in control of graphics memory with full KMS)
dtoverlay=vc4-kms-v3d
disable_fw_kms_setup=1

# Comment out the following line if the edges of the desktop appear outside
# the edges of your display
disable_overscan=1

# If you have issues with audio, you may try uncommenting the following line
# which forces the HDMI output into HDMI mode instead of DVI (which doesn't
# support audio output)
#hdmi_drive=2

# Enable the serial pins
enable_uart=1

# Autoload overlays for any recognized cameras or displays that are attached
# to the CSI/DSI ports. This is for libcamera support, *not* for the legacy
# camera stack
camera_auto_detect=1
display_auto_detect=1

# Config settings specific to arm64
arm_64bit=1
dtoverlay=dwc2

[cm4]
# Enable the USB2 outputs on the IO board (assuming your CM4 is plugged into
# such a board)
dtoverlay=dwc2,dr_mode=host

[all]
`;

const BOOKWORM_CONFIG_TXT = `# For more options and information see
# http://rptl.io/configtxt
# Some settings may impact device functionality. See link above for details

# Uncomment some or all of these to enable the optional hardware interfaces
#dtparam=i2c_arm=on
#dtparam=i2s=on
#dtparam=spi=on

# Enable audio (loads snd_bcm2835)
dtparam=audio=on

# Additional overlays and parameters are documented
# /boot/firmware/overlays/README

# Automatically load overlays for detected cameras
camera_auto_detect=1

# Automatically load overlays for detected DSI displays
display_auto_detect=1

# Automatically load initramfs files, if found
auto_initramfs=1

# Enable DRM VC4 V3D driver
dtoverlay=vc4-kms-v3d
max_framebuffers=2

# Don't have the firmware create an initial video= setting in cmdline.txt.
# Use the kernel's default instead.
disable_fw_kms_setup=1

# Run in 64-bit mode
arm_64bit=1

# Disable compensation for displays with overscan
disable_overscan=1

# Run as fast as firmware / board allows
arm_boost=1

[cm4]
# Enable host mode on the 2711 built-in XHCI USB controller.
# This line should be removed if the legacy DWC2 controller is required
# (e.g. for USB device mode) or if USB support is not required.
otg_mode=1

[cm5]
dtoverlay=dwc2,dr_mode=host

[all]
`;

const BULLSEYE_CONFIG_TXT = `# For more options and information see
# http://rpf.io/configtxt
# Some settings may impact device functionality. See link above for details

# uncomment if you get no picture on HDMI for a default "safe" mode
#hdmi_safe=1

# Uncomment some or all of these to enable the optional hardware interfaces
#dtparam=i2c_arm=on
#dtparam=i2s=on
#dtparam=spi=on

# Additional overlays and parameters are documented /boot/overlays/README

# Enable audio (loads snd_bcm2835)
dtparam=audio=on

# Automatically load overlays for detected cameras
camera_auto_detect=1

# Automatically load overlays for detected DSI displays
display_auto_detect=1

# Enable DRM VC4 V3D driver
dtoverlay=vc4-kms-v3d
max_framebuffers=2

# Run in 64-bit mode
arm_64bit=1

# Disable compensation for displays with overscan
disable_overscan=1

[cm4]
# Enable host mode on the 2711 built-in XHCI USB controller.
# This line should be removed if the legacy DWC2 controller is required
# (e.g. for USB device mode) or if USB support is not required.
otg_mode=1

[all]

[pi4]
# Run as fast as firmware / board allows
arm_boost=1

[all]
`;

const OVERLAYS_README = `Overlays are device tree fragments the firmware applies on top of the base
device tree of the board; config.txt names them with dtoverlay=<name>, and
the firmware loads overlays/<name>.dtbo. overlay_map.dtb maps names between
board generations.
`;

/** Device trees shipped on every Raspberry Pi OS / Ubuntu boot partition (a subset). */
const COMMON_DTBS = [
  'bcm2710-rpi-3-b.dtb',
  'bcm2711-rpi-4-b.dtb',
  'bcm2711-rpi-400.dtb',
  'bcm2711-rpi-cm4.dtb',
  'bcm2712-rpi-5-b.dtb',
];

const SHIPPED_OVERLAYS = ['dwc2', 'vc4-kms-v3d', 'vc4-kms-v3d-pi4', 'vc4-kms-v3d-pi5', 'disable-bt', 'disable-wifi', 'i2c-rtc'];

function firmwareFiles(board: Board, kernel: string, initramfs: string | null, extraKernels: string[]): BootFileSpec[] {
  const files: BootFileSpec[] = [
    { path: 'bootcode.bin', weight: 0, size: 52_476, mode: 0o755 },
    { path: 'start.elf', weight: board.startElf === 'start.elf' ? 10 : 4, mode: 0o755 },
    { path: 'start4.elf', weight: board.startElf === 'start4.elf' ? 10 : 4, mode: 0o755 },
    { path: 'fixup.dat', weight: 0, size: 7_314, mode: 0o755 },
    { path: 'fixup4.dat', weight: 0, size: 5_456, mode: 0o755 },
    { path: kernel, weight: 45, mode: 0o755 },
    ...extraKernels.map((k) => ({ path: k, weight: 6, mode: 0o755 })),
    ...(initramfs ? [{ path: initramfs, weight: 30, mode: 0o755 }] : []),
    ...COMMON_DTBS.map((dtb) => ({ path: dtb, weight: 0, size: 54_000 + dtb.length * 37, mode: 0o755 })),
    { path: 'overlays/overlay_map.dtb', weight: 0, size: 5_299, mode: 0o755 },
    { path: 'overlays/README', weight: 0, text: OVERLAYS_README, mode: 0o755 },
    ...SHIPPED_OVERLAYS.map((o) => ({ path: `overlays/${o}.dtbo`, weight: 0, size: 1_100 + o.length * 53, mode: 0o755 })),
  ];
  return files;
}

function bookwormLike(name: 'rpios-bookworm' | 'rpios-bullseye'): OsImage {
  const bullseye = name === 'rpios-bullseye';
  const bootMount = bullseye ? '/boot' : '/boot/firmware';
  const kernelFiles = (board: Board) => ({
    kernel: board.defaultKernel,
    initramfs: bullseye ? null : board.autoInitramfs,
  });
  return {
    name,
    bootMount,
    osRelease: bullseye ? debianOsRelease('11', 'bullseye') : debianOsRelease('12', 'bookworm'),
    etc: {
      '/etc/rpi-issue': bullseye
        ? 'Raspberry Pi reference 2023-05-03\nGenerated using pi-gen, https://github.com/RPi-Distro/pi-gen, 51ee2e0f5d8c4c4b0e1e2a8e2f6a0c5e1d3b9a71, stage2\n'
        : 'Raspberry Pi reference 2024-11-19\nGenerated using pi-gen, https://github.com/RPi-Distro/pi-gen, 891df1e21ed2b6099a2e6a13e26c91dea44b34d4, stage2\n',
      '/etc/debian_version': bullseye ? '11.11\n' : '12.8\n',
      '/etc/default/rpi-eeprom-update': 'FIRMWARE_RELEASE_STATUS="default"\n',
    },
    fstab: (partuuid) =>
      [
        'proc            /proc           proc    defaults          0       0',
        `PARTUUID=${partuuid}-01  ${bootMount.padEnd(14)}  vfat    defaults          0       2`,
        `PARTUUID=${partuuid}-02  /               ext4    defaults,noatime  0       1`,
        '# a swapfile is not a swap partition, no line here',
        '#   use  dphys-swapfile swap[on|off]  for that',
        '',
      ].join('\n'),
    cmdline: (partuuid) =>
      bullseye
        ? `console=serial0,115200 console=tty1 root=PARTUUID=${partuuid}-02 rootfstype=ext4 fsck.repair=yes rootwait\n`
        : `console=serial0,115200 console=tty1 root=PARTUUID=${partuuid}-02 rootfstype=ext4 fsck.repair=yes rootwait cfg80211.ieee80211_regdom=GB\n`,
    configTxt: () => (bullseye ? BULLSEYE_CONFIG_TXT : BOOKWORM_CONFIG_TXT),
    kernelFiles,
    bootFiles: (board, partuuid) => {
      const { kernel, initramfs } = kernelFiles(board);
      const others = ['kernel8.img', 'kernel_2712.img'].filter((k) => k !== kernel);
      const otherInitramfs = bullseye ? [] : ['initramfs8', 'initramfs_2712'].filter((i) => i !== initramfs);
      return [
        ...firmwareFiles(board, kernel, initramfs, [...others, ...otherInitramfs]),
        { path: 'config.txt', weight: 0, text: bullseye ? BULLSEYE_CONFIG_TXT : BOOKWORM_CONFIG_TXT, mode: 0o755 },
        { path: 'cmdline.txt', weight: 0, text: '', mode: 0o755 }, // filled by the caller from cmdline()
        { path: 'issue.txt', weight: 0, text: `Raspberry Pi reference ${bullseye ? '2023-05-03' : '2024-11-19'}\nPARTUUID ${partuuid}\n`, mode: 0o755 },
        { path: 'LICENCE.broadcom', weight: 0, size: 1_594, mode: 0o755 },
      ];
    },
    kernelVersion: (board) => (board.eepromChip === '2712' ? '6.6.51+rpt-rpi-2712' : '6.6.51+rpt-rpi-v8'),
    kernelInstall: bullseye ? 'direct' : 'hooks',
    postinstHooks: bullseye
      ? {}
      : { 'initramfs-tools': HOOK_INITRAMFS_TOOLS, 'z50-raspi-firmware': HOOK_RASPI_FIRMWARE },
    postUpdateHooks: bullseye ? {} : { 'z50-raspi-firmware': HOOK_RASPI_FIRMWARE },
    kernelPackageMode: 0o644,
  };
}

/**
 * The fake of initramfs-tools' kernel hook: like update-initramfs, it runs the
 * /etc/initramfs/post-update.d hooks for the new initramfs (which the fake
 * kernel package already wrote as /boot/initrd.img-VERSION).
 */
const HOOK_INITRAMFS_TOOLS = `#!/bin/sh
# Fake of initramfs-tools' kernel postinst hook (pinet test fleet): the
# initramfs /boot/initrd.img-$1 already exists; run its post-update hooks as
# update-initramfs does.
set -e
version="$1"
[ -e "/boot/initrd.img-$version" ] || exit 0
exec run-parts --arg="$version" --arg="/boot/initrd.img-$version" /etc/initramfs/post-update.d
`;

/**
 * The fake of Ubuntu's flash-kernel hooks: install the kernel and initramfs of
 * a version into /boot/firmware as vmlinuz and initrd.img with the same
 * commands the real flash-kernel runs for a Pi (its "generic" method with
 * Boot-Kernel-Path: `cp` of /boot/vmlinuz-VERSION into a temporary directory,
 * then backup_and_install: `mv` of the old file to .bak and `mv` of the new
 * one into place; functions in flash-kernel 3.x). So the file keeps the
 * source's mode (Ubuntu's kernels are 0600 root), and on an NFS mount the
 * server's rules for rename and for mv's copy across file systems apply, as
 * they do on a real Pi.
 */
const HOOK_FLASH_KERNEL = `#!/bin/sh
# Fake of Ubuntu's flash-kernel hook (pinet test fleet).
set -e
exec /usr/sbin/flash-kernel "$1"
`;

const FLASH_KERNEL = `#!/bin/sh
# Fake flash-kernel (pinet test fleet): installs /boot/vmlinuz-VERSION and
# /boot/initrd.img-VERSION into /boot/firmware as vmlinuz and initrd.img the
# way flash-kernel's generic method does (cp to a temporary directory, then
# mv the old file to .bak and mv the new one into place).
set -e
version="\${1:-}"
if [ -z "$version" ]; then
  version=$(ls /boot/vmlinuz-* 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V | tail -n 1)
fi
fw=/boot/firmware
[ -d "$fw" ] || { echo "flash-kernel: $fw is not a directory" >&2; exit 1; }
tmpdir=$(mktemp -d -t flash-kernel.XXXXXXXX)
trap 'rm -rf "$tmpdir"' EXIT
echo "flash-kernel: installing version $version"
for pair in "vmlinuz-$version:vmlinuz" "initrd.img-$version:initrd.img"; do
  src="/boot/\${pair%%:*}"; name="\${pair#*:}"; dst="$fw/$name"
  [ -e "$src" ] || continue
  cp "$src" "$tmpdir/$name"
  if [ -e "$dst" ]; then echo "Taking backup of $name."; mv "$dst" "$dst.bak"; fi
  echo "Installing new $name."
  mv "$tmpdir/$name" "$dst"
done
`;

/** The fake of Raspberry Pi OS's raspi-firmware kernel hook (z50-raspi-firmware). */
const HOOK_RASPI_FIRMWARE = `#!/bin/sh
# Fake of raspi-firmware's z50-raspi-firmware hook (pinet test fleet): copies
# the kernel or initramfs of a version into /boot/firmware under the name the
# firmware loads (kernel8.img / kernel_2712.img, initramfs8 / initramfs_2712),
# keeping the source file's mode.
set -e
version="$1"; src="$2"
fw=/boot/firmware
[ -d "$fw" ] || exit 0
case "$version" in *-2712) flavour=_2712 ;; *) flavour=8 ;; esac
case "$src" in
  */vmlinuz-*) dst="$fw/kernel$flavour.img"; [ "$flavour" = _2712 ] && dst="$fw/kernel_2712.img" ;;
  */initrd.img-*) dst="$fw/initramfs$flavour" ;;
  *) exit 0 ;;
esac
[ -e "$src" ] || exit 0
cp -p "$src" "$dst.new"
mv "$dst.new" "$dst"
`;

const UBUNTU: OsImage = {
  name: 'ubuntu-2404',
  bootMount: '/boot/firmware',
  osRelease: UBUNTU_OS_RELEASE,
  etc: {
    '/etc/lsb-release': 'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=24.04\nDISTRIB_CODENAME=noble\nDISTRIB_DESCRIPTION="Ubuntu 24.04.1 LTS"\n',
    '/etc/issue': 'Ubuntu 24.04.1 LTS \\n \\l\n\n',
    '/etc/debian_version': 'trixie/sid\n',
    '/etc/default/rpi-eeprom-update': 'FIRMWARE_RELEASE_STATUS="default"\n',
    '/usr/sbin/flash-kernel': FLASH_KERNEL,
  },
  fstab: () => 'LABEL=writable\t/\text4\tdiscard,commit=30,errors=remount-ro\t0\t1\nLABEL=system-boot\t/boot/firmware\tvfat\tdefaults\t0\t1\n',
  cmdline: () =>
    'console=serial0,115200 multipath=off dwc_otg.lpm_enable=0 console=tty1 root=LABEL=writable rootfstype=ext4 rootwait fixrtc quiet splash\n',
  configTxt: () => UBUNTU_CONFIG_TXT,
  kernelFiles: () => ({ kernel: 'vmlinuz', initramfs: 'initrd.img' }),
  bootFiles: (board) => [
    ...firmwareFiles(board, 'vmlinuz', 'initrd.img', []).map((f) =>
      // Ubuntu installs its kernels 0600 root; flash-kernel's copy keeps that.
      f.path === 'vmlinuz' ? { ...f, mode: 0o600 } : f,
    ),
    { path: 'config.txt', weight: 0, text: UBUNTU_CONFIG_TXT, mode: 0o755 },
    { path: 'cmdline.txt', weight: 0, text: '', mode: 0o755 },
    {
      path: 'README',
      weight: 0,
      text: 'This is the boot partition of Ubuntu Server for Raspberry Pi, mounted at\n/boot/firmware. config.txt is the bootloader configuration, cmdline.txt the\nkernel command line; vmlinuz and initrd.img are installed by flash-kernel.\n',
      mode: 0o755,
    },
  ],
  kernelVersion: () => '6.8.0-1004-raspi',
  kernelInstall: 'hooks',
  postinstHooks: { 'initramfs-tools': HOOK_INITRAMFS_TOOLS, 'zz-flash-kernel': HOOK_FLASH_KERNEL },
  postUpdateHooks: { 'flash-kernel': HOOK_FLASH_KERNEL },
  kernelPackageMode: 0o600,
};

export const OS_IMAGES: Record<OsName, OsImage> = {
  'ubuntu-2404': UBUNTU,
  'rpios-bookworm': bookwormLike('rpios-bookworm'),
  'rpios-bullseye': bookwormLike('rpios-bullseye'),
};
