#!/bin/bash
# The "power-on" of one fake Pi (pinet test fleet).
#
# Runs as PID 1 of the Pi's fresh PID, mount, UTS and IPC namespaces, inside
# the Pi's network namespace, with the fleet's state tmpfs visible. It plays
# the bootloader (applies a staged EEPROM update), then the OS's early boot
# (root overlay, /proc, /sys, /dev, /run, the boot partition per /etc/fstab,
# the rpi-eeprom-update service), and finally becomes the Pi's sshd, which
# stays PID 1 until the Pi reboots (its PID namespace then ends).
#
# Arguments: the Pi's state directory, the fleet's state directory, the
# directory of these assets on the host. Settings come from $1/pi.env,
# written by the fleet. Nothing the Pi wrote is ever executed or followed
# here: files from the Pi's disk are read only when they are regular files.
set -euo pipefail

P=$1
FLEET=$2
ASSETS=$3
# shellcheck source=/dev/null
. "$P/pi.env"

exec </dev/null >>"$P/console.log" 2>&1

boot_no=$(( $(cat "$P/boot-count" 2>/dev/null || echo 0) + 1 ))
echo "$boot_no" > "$P/boot-count"
log() { printf 'boot %s: %s\n' "$boot_no" "$*" >> "$P/boot.log"; echo "init: $*"; }

regular() { [ -f "$1" ] && [ ! -L "$1" ]; }

# The value of KEY=... in a file of the Pi (last one wins), without sourcing it.
setting() {
  regular "$1" || return 0
  sed -n "s/^[[:space:]]*$2=[\"']\{0,1\}\([^\"']*\)[\"']\{0,1\}[[:space:]]*\$/\1/p" "$1" | tail -n 1
}

be32() { printf "\\x$(printf %02x $(( ($1 >> 24) & 255 )))\\x$(printf %02x $(( ($1 >> 16) & 255 )))\\x$(printf %02x $(( ($1 >> 8) & 255 )))\\x$(printf %02x $(( $1 & 255 )))"; }

hostname "$PI_NAME"

# --- 1. The bootloader --------------------------------------------------------
# A staged update (rpi-eeprom-update: pieeprom.upd + pieeprom.sig, plus
# recovery.bin) in the boot partition the Pi last booted with is flashed when
# its digest matches; recovery.bin then renames itself recovery.000.
if [ -n "$EEPROM_CHIP" ] && [ -s "$P/last-boot-src" ]; then
  src=$(cat "$P/last-boot-src")
  if regular "$src/pieeprom.upd" && regular "$src/pieeprom.sig"; then
    want=$(head -n 1 "$src/pieeprom.sig")
    have=$(sha256sum < "$src/pieeprom.upd" | cut -d ' ' -f 1)
    self_update=$(grep -c '^ENABLE_SELF_UPDATE=1' "$P/eeprom/bootconf.txt" || true)
    if [ "$BOARD_IS_CM4" = 1 ] && [ "$self_update" = 0 ]; then
      log "bootloader: CM4 ROM does not run recovery.bin from eMMC and self-update is off; pieeprom.upd ignored"
    elif [ "$want" != "$have" ]; then
      log "bootloader: pieeprom.sig does not match pieeprom.upd; update not applied"
    elif python3 "$ASSETS/fake_eeprom.py" extract "$src/pieeprom.upd" > "$P/eeprom/bootconf.new" \
        && python3 "$ASSETS/fake_eeprom.py" build-timestamp "$src/pieeprom.upd" > "$P/eeprom/build-timestamp.new"; then
      mv "$P/eeprom/bootconf.new" "$P/eeprom/bootconf.txt"
      mv "$P/eeprom/build-timestamp.new" "$P/eeprom/build-timestamp"
      ts=$(sed -n 's/^ts: //p' "$src/pieeprom.sig" | head -n 1)
      [[ "$ts" =~ ^[0-9]+$ ]] && echo "$ts" > "$P/eeprom/update-timestamp"
      if regular "$src/recovery.bin"; then
        mv -fT "$src/recovery.bin" "$src/recovery.000"
      fi
      log "bootloader: EEPROM updated from $src/pieeprom.upd"
    else
      rm -f "$P/eeprom/bootconf.new" "$P/eeprom/build-timestamp.new"
      log "bootloader: pieeprom.upd is not a valid EEPROM image; update not applied"
    fi
  fi
fi

# --- 2. The root file system ---------------------------------------------------
R="$P/root"
mount -t overlay pi-root -o "lowerdir=$LOWER,upperdir=$P/upper,workdir=$P/work,xino=on" "$R"

# --- 3. The boot partition, as /etc/fstab says -----------------------------------
# An NFS line (server:/path/dir) is served by a host directory the test
# configured as that export (nfs-exports: "<server:/path>\t<host dir>", or
# "*\t<dir>" for "any server:/.../<name> is <dir>/<name>").
resolve_nfs() {
  local spec=$1 server path source dir rest candidate
  [[ "$spec" == *:/* ]] || return 1
  server=${spec%%:*}; path=${spec#*:}
  [ -n "$server" ] || return 1
  while IFS=$'\t' read -r source dir; do
    [ -n "$source" ] || continue
    rest=
    if [ "$source" = '*' ]; then
      rest=${path##*/}
    elif [ "$spec" = "$source" ]; then
      rest=.
    elif [[ "$spec" == "$source"/* ]]; then
      rest=${spec#"$source"/}
    else
      continue
    fi
    case "/$rest/" in */../*|*/./*) [ "$rest" = . ] || return 2 ;; esac
    [ -n "$rest" ] || return 2
    candidate=$(realpath -e -- "$dir/$rest" 2>/dev/null) || return 2
    dir=$(realpath -e -- "$dir") || return 2
    [ -d "$candidate" ] || return 2
    case "$candidate/" in "$dir"/*) printf '%s\n' "$candidate"; return 0 ;; esac
    return 2
  done < "$FLEET/nfs-exports"
  return 2
}

boot_src=
boot_spec=
boot_type=
if regular "$R/etc/fstab"; then
  read -r boot_spec boot_type < <(awk -v mp="$BOOT_MOUNT" '$1 !~ /^#/ && NF >= 3 && $2 == mp { print $1, $3; exit }' "$R/etc/fstab") || true
fi
case "$boot_type" in
  nfs|nfs4)
    if boot_src=$(resolve_nfs "$boot_spec"); then
      log "mounted $boot_spec on $BOOT_MOUNT (nfs, served from $boot_src)"
    else
      boot_src=
      log "mount.nfs: mounting $boot_spec failed, reason given by server: No such file or directory ($BOOT_MOUNT left empty)"
    fi
    ;;
  '')
    log "no $BOOT_MOUNT line in /etc/fstab: boot partition not mounted"
    ;;
  *)
    boot_src="$P/boot"
    log "mounted $boot_spec on $BOOT_MOUNT ($boot_type, the SD card)"
    ;;
esac

# --- 4. /proc, /sys, /dev, /run ---------------------------------------------------
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
cp "$P/cpuinfo" "$P/cpuinfo.live"
mount --bind "$P/cpuinfo.live" "$R/proc/cpuinfo"
mount -o remount,bind,ro "$R/proc/cpuinfo"
if [ -f "$P/cmdline-override" ]; then
  cp "$P/cmdline-override" "$P/cmdline.live"
else
  { cat "$P/cmdline-prefix"; if [ -n "$boot_src" ] && regular "$boot_src/cmdline.txt"; then head -c 4096 "$boot_src/cmdline.txt" | head -n 1; else echo; fi; } > "$P/cmdline.live"
fi
mount --bind "$P/cmdline.live" "$R/proc/cmdline"
mount -o remount,bind,ro "$R/proc/cmdline"
for f in sys sysrq-trigger irq bus fs; do
  if [ -e "$R/proc/$f" ]; then
    mount --bind "$R/proc/$f" "$R/proc/$f"
    mount -o remount,bind,ro "$R/proc/$f"
  fi
done

mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
# The firmware's view: the device tree and the VideoCore's answers (vcgencmd).
vc="$P/sysfw/fake-videocore"
mkdir -p "$vc" "$P/sysfw/devicetree/base/chosen/bootloader"
cp "$P/otp_dump" "$vc/otp_dump"
if [ -n "$EEPROM_CHIP" ]; then
  cp "$P/eeprom/bootconf.txt" "$vc/bootloader_config"
  build=$(cat "$P/eeprom/build-timestamp"); update=$(cat "$P/eeprom/update-timestamp")
  be32 "$build" > "$P/sysfw/devicetree/base/chosen/bootloader/build-timestamp"
  be32 "$update" > "$P/sysfw/devicetree/base/chosen/bootloader/update-timestamp"
  {
    date -u -d "@$build" '+%Y/%m/%d %H:%M:%S'
    echo "version $(printf %s "$build" | sha1sum | cut -c 1-40) (release)"
    echo "timestamp $build"
    echo "update-time $update"
    echo "capabilities 0x0000007f"
  } > "$vc/bootloader_version"
fi
mount --bind "$P/sysfw" "$R/sys/firmware"
mount -o remount,bind,ro "$R/sys/firmware"

mount -t tmpfs -o mode=0755,size=1m,nosuid dev "$R/dev"
mknod -m 666 "$R/dev/null" c 1 3
mknod -m 666 "$R/dev/zero" c 1 5
mknod -m 666 "$R/dev/full" c 1 7
mknod -m 666 "$R/dev/random" c 1 8
mknod -m 666 "$R/dev/urandom" c 1 9
mknod -m 666 "$R/dev/tty" c 5 0
mkdir -m 0755 "$R/dev/pts"
mkdir -m 1777 "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=16m shm "$R/dev/shm"

mount -t tmpfs -o mode=0755,nosuid,nodev,size=32m run "$R/run"
mkdir -m 0755 "$R/run/sshd"
mkdir -m 1777 "$R/run/lock"

if [ -n "$boot_src" ]; then
  mount --bind "$boot_src" "$R$BOOT_MOUNT"
fi
printf '%s' "$boot_src" > "$P/last-boot-src"

# --- 5. rpi-eeprom-update.service -----------------------------------------------
# At every boot it runs `rpi-eeprom-update -s -a`, which removes the files of a
# previous update from the boot partition -- unless the script stops early,
# as it does on a CM4 without CM4_ENABLE_RPI_EEPROM_UPDATE=1.
if [ -n "$EEPROM_CHIP" ] && [ -n "$boot_src" ]; then
  cm4_enable=$(setting "$R/etc/default/rpi-eeprom-update" CM4_ENABLE_RPI_EEPROM_UPDATE)
  if [ "$BOARD_IS_CM4" != 1 ] || [ "$cm4_enable" = 1 ]; then
    for f in pieeprom.upd pieeprom.sig pieeprom.bin recovery.bin vl805.bin vl805.sig; do
      rm -f -- "$boot_src/$f"
    done
    find "$boot_src" -maxdepth 1 -type f -iname 'recovery.[0-9][0-9][0-9]' -delete
  fi
fi

log "starting sshd"

# --- 6. Become the Pi -------------------------------------------------------------
cd "$R"
pivot_root . .
umount -l .
cd /
exec setpriv --bounding-set "$CAPS_DROP" -- /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
