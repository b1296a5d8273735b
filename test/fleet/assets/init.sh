#!/bin/bash
# The "power-on" of one fake Pi (pinet test fleet).
#
# Runs as PID 1 of the Pi's fresh PID, mount, UTS and IPC namespaces, inside
# the Pi's network namespace, with the fleet's state tmpfs visible. It plays
# the bootloader (flashes a staged EEPROM update), then the OS's early boot
# (root overlay, /proc, /sys, /dev, /run, the boot partition per /etc/fstab,
# the rpi-eeprom-update service), and finally becomes the Pi's sshd, which
# stays PID 1 until the Pi reboots (its PID namespace then ends).
#
# Arguments: the Pi's state directory, the fleet's state directory, the
# directory of these assets on the host. Settings come from $1/pi.env,
# written by the fleet. Nothing the Pi wrote is executed or followed here:
# files of the Pi's disk are read only when they are regular files, and an
# NFS path must resolve inside its export. Builtins are preferred over
# commands: every process started here costs boot time, times fifty Pis.
set -euo pipefail

P=$1
FLEET=$2
ASSETS=$3
# shellcheck source=/dev/null
. "$P/pi.env"

exec </dev/null >>"$P/console.log" 2>&1

boot_no=0
read -r boot_no < "$P/boot-count" || true
boot_no=$(( boot_no + 1 ))
echo "$boot_no" > "$P/boot-count"
log() { printf 'boot %s: %s\n' "$boot_no" "$*" >> "$P/boot.log"; echo "init: $*"; }

regular() { [ -f "$1" ] && [ ! -L "$1" ]; }

# The value of KEY=... in a file of the Pi (last one wins), without sourcing it.
setting() {
  local line value=
  regular "$1" || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line#"${line%%[![:space:]]*}"}
    [[ "$line" == "$2="* ]] || continue
    value=${line#"$2="}; value=${value%%[[:space:]]*}; value=${value//[\"\']/}
  done < "$1"
  printf '%s' "$value"
}

# A device-tree cell: a 32-bit big-endian number.
be32() {
  local hex
  printf -v hex '%08x' "$1"
  printf "\\x${hex:0:2}\\x${hex:2:2}\\x${hex:4:2}\\x${hex:6:2}"
}

printf '%s' "$PI_NAME" > /proc/sys/kernel/hostname

VC="$P/sysfw/fake-videocore"
CHOSEN="$P/sysfw/devicetree/base/chosen/bootloader"

# --- 1. The bootloader --------------------------------------------------------
# A staged update (rpi-eeprom-update: pieeprom.upd + pieeprom.sig, plus
# recovery.bin) in the boot partition the Pi last booted with is flashed when
# its digest matches; recovery.bin then renames itself recovery.000. The
# EEPROM's config is what the fake VideoCore reports (vcgencmd).
if [ -n "$EEPROM_CHIP" ] && [ -s "$P/last-boot-src" ]; then
  read -r src < "$P/last-boot-src" || true
  if regular "$src/pieeprom.upd" && regular "$src/pieeprom.sig"; then
    read -r want < "$src/pieeprom.sig" || true
    have=$(sha256sum < "$src/pieeprom.upd")
    have=${have%% *}
    self_update=0
    [[ "$(< "$VC/bootloader_config")" == *$'\n'ENABLE_SELF_UPDATE=1* ]] && self_update=1
    if [ "$BOARD_IS_CM4" = 1 ] && [ "$self_update" = 0 ]; then
      log "bootloader: the CM4 ROM does not run recovery.bin from eMMC and self-update is off; pieeprom.upd ignored"
    elif [ "$want" != "$have" ]; then
      log "bootloader: pieeprom.sig does not match pieeprom.upd; update not applied"
    elif python3 "$ASSETS/fake_eeprom.py" extract "$src/pieeprom.upd" > "$VC/bootloader_config.new" \
        && build=$(python3 "$ASSETS/fake_eeprom.py" build-timestamp "$src/pieeprom.upd"); then
      mv "$VC/bootloader_config.new" "$VC/bootloader_config"
      update=$build
      while IFS= read -r line; do
        [[ "$line" =~ ^ts:\ ([0-9]+)$ ]] && update=${BASH_REMATCH[1]}
      done < "$src/pieeprom.sig"
      be32 "$build" > "$CHOSEN/build-timestamp"
      be32 "$update" > "$CHOSEN/update-timestamp"
      {
        (export TZ=UTC; printf '%(%Y/%m/%d %H:%M:%S)T\n' "$build")
        printf 'version %s (release)\n' "$(printf %s "$build" | sha1sum | cut -c 1-40)"
        printf 'timestamp %s\nupdate-time %s\ncapabilities 0x0000007f\n' "$build" "$update"
      } > "$VC/bootloader_version"
      if regular "$src/recovery.bin"; then
        mv -fT "$src/recovery.bin" "$src/recovery.000" || log "bootloader: could not rename recovery.bin"
      fi
      log "bootloader: EEPROM updated from $src/pieeprom.upd"
    else
      rm -f "$VC/bootloader_config.new"
      log "bootloader: pieeprom.upd is not a valid EEPROM image; update not applied"
    fi
  fi
fi

# --- 1b. The network boot, when a test installed netboot-hook.ts -----------------
# The hook plays this Pi's bootloader (test/netboot's emulator) with the EEPROM
# config just flashed, against the real dnsmasq on the fleet's LAN. The Pi goes
# on only when it answers "boot ..."; otherwise it halts here, as the firmware
# does on a fatal error (no sshd).
if [ -p "$P/netboot.gate" ] && [ -p "$P/netboot.ready" ]; then
  printf '%s\n' "$boot_no" > "$P/netboot.ready"
  verdict='halt: the netboot hook did not answer'
  IFS= read -r verdict < "$P/netboot.gate" || true
  log "bootloader: $verdict"
  if [[ "$verdict" != boot* ]]; then exec sleep infinity; fi
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
    if [ "$source" = '*' ]; then
      rest=${path##*/}
    elif [ "$spec" = "$source" ]; then
      rest=.
    elif [[ "$spec" == "$source"/* ]]; then
      rest=${spec#"$source"/}
    else
      continue
    fi
    [ -n "$rest" ] || return 2
    if [ "$rest" != . ]; then
      case "/$rest/" in */../*|*/./*|*//*) return 2 ;; esac
    fi
    candidate=$(realpath -e -- "$dir/$rest" 2>/dev/null) || return 2
    dir=$(realpath -e -- "$dir" 2>/dev/null) || return 2
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
  while read -r spec file type _ || [ -n "$spec" ]; do
    [[ -z "$spec" || "$spec" == \#* || -z "$type" ]] && continue
    if [ "$file" = "$BOOT_MOUNT" ]; then boot_spec=$spec; boot_type=$type; break; fi
  done < "$R/etc/fstab"
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
mount --bind -o ro "$P/cpuinfo" "$R/proc/cpuinfo"
if [ -f "$P/cmdline-override" ]; then
  cmdline_file="$P/cmdline-override"
else
  # The firmware's prefix, then the first line of cmdline.txt (as the kernel got it).
  cmdline=
  if [ -n "$boot_src" ] && regular "$boot_src/cmdline.txt"; then IFS= read -r cmdline < "$boot_src/cmdline.txt" || true; fi
  IFS= read -r -d "" prefix < "$P/cmdline-prefix" || true
  printf '%s%s\n' "$prefix" "$cmdline" > "$P/cmdline"
  cmdline_file="$P/cmdline"
fi
mount --bind -o ro "$cmdline_file" "$R/proc/cmdline"
for f in sys sysrq-trigger irq bus; do
  if [ -e "$R/proc/$f" ]; then mount --bind -o ro "$R/proc/$f" "$R/proc/$f"; fi
done

mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount --bind -o ro "$P/sysfw" "$R/sys/firmware"
mount --bind -o ro "$P/sysblock" "$R/sys/block"

mount --bind "$P/dev" "$R/dev"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$R/dev/pts"
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
  if [ "$BOARD_IS_CM4" != 1 ] || [ "$(setting "$R/etc/default/rpi-eeprom-update" CM4_ENABLE_RPI_EEPROM_UPDATE)" = 1 ]; then
    shopt -s nullglob nocaseglob
    stale=()
    for f in "$boot_src"/pieeprom.upd "$boot_src"/pieeprom.sig "$boot_src"/pieeprom.bin "$boot_src"/recovery.bin \
             "$boot_src"/vl805.bin "$boot_src"/vl805.sig "$boot_src"/recovery.[0-9][0-9][0-9]; do
      if [ -e "$f" ] || [ -L "$f" ]; then stale+=("$f"); fi
    done
    shopt -u nullglob nocaseglob
    if [ "${#stale[@]}" -gt 0 ]; then
      rm -f -- "${stale[@]}"
      log "rpi-eeprom-update: removed ${stale[*]##*/}"
    fi
  fi
fi

log "starting sshd"

# --- 6. Become the Pi -------------------------------------------------------------
cd "$R"
pivot_root . .
umount -l .
cd /
exec setpriv --bounding-set "$CAPS_DROP" -- /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
