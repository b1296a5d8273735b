#!/bin/sh
# Builds the VM lab's image (pinet tests, test/vm): one Debian bookworm amd64
# root file system that serves every role (a Pi's OS, an NFS server, a boot
# server), and from it a "Pi SD card" disk image.
#
# Usage: build.sh INPUTS OUT
#   INPUTS  the directory images.ts prepared: this script, customize.sh,
#           guest/ (files for the image), eeprom/ (the fake fleet's EEPROM
#           layer), boot/ (the Pi boot partition's firmware files).
#   OUT     an empty directory; on success it holds
#             rootfs/       the root file system (the NFS root template)
#             sd.raw        the SD card: MBR, p1 FAT "system-boot" (the Pi's
#                           /boot/firmware), p2 ext4 "writable" (the root)
#             kernels       "<old> <new>": the kernel versions installed
#             boot-offset   byte offset and size of p1 in sd.raw
# Needs root, mmdebstrap, mkfs.ext4, mkfs.vfat, mtools, sfdisk.
set -eu

INPUTS=$1
OUT=$2
MIRROR=${PINET_VM_MIRROR:-http://deb.debian.org/debian}
SECURITY=${PINET_VM_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

# Everything the roles need, nothing more (minbase + these).
# dnsmasq (the service, not only dnsmasq-base) and NFS-Ganesha: the boot server and the NFS server of
# pinet server setup's tests, installed as a user installs them (their units disabled in customize.sh).
PKGS=initramfs-tools,systemd-sysv,udev,kmod,nfs-common,openssh-server,iproute2,dnsmasq-base,dnsmasq,nfs-kernel-server,nfs-ganesha,nfs-ganesha-vfs,python3-minimal,sudo,procps,iputils-ping

# Files nobody reads in a test VM; kernel modules for hardware a VM never has
# (they also keep the initramfs, built with MODULES=most, small).
set -- \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*'
for d in drivers/gpu drivers/media drivers/net/wireless drivers/net/ethernet drivers/infiniband \
  drivers/staging drivers/iio drivers/bluetooth drivers/isdn drivers/input/joystick drivers/input/touchscreen \
  drivers/hwmon drivers/mtd drivers/scsi/qla2xxx drivers/scsi/lpfc drivers/scsi/mpt3sas drivers/net/can \
  drivers/thunderbolt drivers/usb/serial drivers/usb/gadget drivers/video drivers/hid sound net/wireless \
  net/mac80211 net/bluetooth fs/ocfs2 fs/gfs2 fs/xfs fs/btrfs fs/ubifs; do
  set -- "$@" --dpkgopt="path-exclude=/lib/modules/*/kernel/$d/*"
done

export PINET_VM_INPUTS="$INPUTS"
# shellcheck disable=SC2016 # mmdebstrap's hook shell expands these, not this one
mmdebstrap --variant=minbase --include="$PKGS" "$@" \
  --customize-hook='sh "$PINET_VM_INPUTS/customize.sh" "$1" "$PINET_VM_INPUTS"' \
  bookworm "$OUT/rootfs" \
  "deb $MIRROR bookworm main" \
  "deb $SECURITY bookworm-security main"

# The boot partition: the firmware files, then what flash-kernel put into the
# image's /boot/firmware (vmlinuz, initrd.img), config.txt and cmdline.txt.
BOOT_MB=256
DISK_MB=2048 # QEMU's sd-card wants a power of two
ROOT_MB=$((DISK_MB - BOOT_MB - 1))
fat=$OUT/boot.fat
rm -f "$fat"
mkfs.vfat -C -n system-boot -F 32 "$fat" $((BOOT_MB * 1024)) >/dev/null
(cd "$OUT/rootfs/boot/firmware" && MTOOLS_SKIP_CHECK=1 mcopy -s -p -Q -i "$fat" ./* ::/)
find "$OUT/rootfs/boot/firmware" -mindepth 1 -delete

ext=$OUT/root.ext4
rm -f "$ext"
mkfs.ext4 -q -F -L writable -d "$OUT/rootfs" "$ext" "${ROOT_MB}M"

disk=$OUT/sd.raw
rm -f "$disk"
truncate -s "${DISK_MB}M" "$disk"
# Like a Pi image: MBR, p1 FAT32 (LBA) from 1 MiB, p2 Linux after it.
printf 'label: dos\nlabel-id: 0x5049d15c\nstart=2048, size=%s, type=c\nstart=%s, type=83\n' \
  $((BOOT_MB * 2048)) $(((BOOT_MB + 1) * 2048)) | sfdisk -q "$disk"
dd if="$fat" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$ext" of="$disk" bs=1M seek=$((BOOT_MB + 1)) conv=notrunc,sparse status=none
rm -f "$fat" "$ext"
printf '%s %s\n' $((1024 * 1024)) $((BOOT_MB * 1024 * 1024)) > "$OUT/boot-offset"
cp "$OUT/rootfs/etc/pinet-lab/kernels" "$OUT/kernels"
