#!/bin/sh
# mmdebstrap's customize hook for the VM lab's image (see build.sh): runs on
# the host with the new root file system as $1 and the inputs directory as $2.
# Installs two real Debian kernels (the newest two ABIs the archive has: the
# "old" one is what the Pi boots, the "new" one is what a kernel update inside
# a test installs), the lab's guest files, the fake fleet's EEPROM tools, a
# Pi user, and lays out /boot/firmware like Ubuntu's on a Pi (flash-kernel's
# vmlinuz and initrd.img).
set -eu
R=$1
IN=$2

in_root() { chroot "$R" "$@"; }

# The lab's own files (systemd units, scripts, fstab, flash-kernel, hooks)
# first, so the initramfs built by the kernel packages already sees them.
cp -R "$IN/guest/." "$R/"
# The fake fleet's EEPROM tools and images (test/fleet/assets, layers.ts).
cp -R "$IN/eeprom/." "$R/"
chmod 0755 "$R/usr/bin/vcgencmd" "$R/usr/bin/rpi-eeprom-config" "$R/usr/bin/rpi-eeprom-update" \
  "$R/usr/bin/rpi-eeprom-digest" "$R/usr/sbin/flash-kernel" "$R/usr/local/sbin/"*
chmod 0755 "$R/etc/kernel/postinst.d/zz-flash-kernel" "$R/etc/initramfs/post-update.d/flash-kernel"

mkdir -p "$R/boot/firmware"
kernels=$(in_root apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-amd64$' | cut -d ' ' -f 1 | sort -V | tail -n 2)
old=$(printf '%s\n' "$kernels" | head -n 1)
new=$(printf '%s\n' "$kernels" | tail -n 1)
if [ -z "$old" ] || [ "$old" = "$new" ]; then
  echo "customize.sh: need two kernel packages, found: $kernels" >&2
  exit 1
fi
old=${old#linux-image-}
new=${new#linux-image-}
DEBIAN_FRONTEND=noninteractive in_root apt-get install -y --no-install-recommends "linux-image-$old" "linux-image-$new"
mkdir -p "$R/etc/pinet-lab"
printf '%s %s\n' "$old" "$new" > "$R/etc/pinet-lab/kernels"

# Ubuntu installs its kernels 0600 root (the permission pitfall of netboot).
chmod 0600 "$R/boot/vmlinuz-$old" "$R/boot/vmlinuz-$new"

# The Pi's boot partition: the firmware files, then flash-kernel installs the
# old kernel as vmlinuz/initrd.img (no .bak: nothing older to keep).
find "$R/boot/firmware" -mindepth 1 -delete
cp -R "$IN/boot/." "$R/boot/firmware/"
in_root /usr/sbin/flash-kernel "$old"
rm -f "$R/boot/firmware/vmlinuz.bak" "$R/boot/firmware/initrd.img.bak"

# A Pi's users: root and pi (passwordless sudo); keys come at boot (identity).
in_root useradd -m -u 1000 -U -s /bin/bash pi
printf 'pi ALL=(ALL) NOPASSWD: ALL\n' > "$R/etc/sudoers.d/010_pi-nopasswd"
chmod 0440 "$R/etc/sudoers.d/010_pi-nopasswd"
rm -f "$R"/etc/ssh/ssh_host_*

# Services: the identity first; no timers or daemons a test does not ask for.
in_root systemctl enable pinet-lab-identity.service pinet-lab-network.service pinet-lab-eeprom.service
in_root systemctl disable nfs-server.service dnsmasq.service nfs-ganesha.service apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer e2scrub_reap.service fstrim.timer 2>/dev/null || true
in_root systemctl mask systemd-timesyncd.service getty-static.service getty@.service nfs-blkmap.service \
  systemd-binfmt.service proc-sys-fs-binfmt_misc.automount systemd-pstore.service \
  systemd-sysusers.service systemd-machine-id-commit.service systemd-update-utmp.service \
  systemd-update-utmp-runlevel.service systemd-fsck-root.service 2>/dev/null || true
in_root systemctl set-default multi-user.target

rm -rf "$R/var/cache/apt/archives/"*.deb "$R/var/lib/apt/lists/"* 2>/dev/null || true
