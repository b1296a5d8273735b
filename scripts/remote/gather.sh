#!/bin/sh
# pinet: uses lib/bootloader.sh lib/hash.sh
# Everything pinet needs to know about a Pi, in one round trip (read by
# src/host/detect.ts): identity, cpuinfo, device tree, OS, fstab, mounts,
# network interfaces, the bootloader config (also a staged update's), the
# boot partition's listing and text files, installed kernel hooks, backups.
# Privileged reads go through `sudo -n` when the login user is not root.
# Arguments: BACKUP_DIR KNOWN HASH HOOK_FILE...
#   BACKUP_DIR  where enroll keeps backups on the Pi (listed)
#   KNOWN       SHA-256s (hex, space-separated) of staged updates whose config
#               pinet knows: such a pieeprom.upd is hashed, not read
#   HASH        1: also hash every boot file (a Pi's first enroll copies them
#               all: hashed here, in the same round trip, not in another)
#   HOOK_FILE   pinet's kernel hook files (their directories are listed, they are read)
backups=$1
known=$2
hash_boot=$3
shift 3

# Few processes: on a fleet, every fork is paid fifty times (shell builtins
# read the small files).
me=$(id)
uid=${me#uid=}
uid=${uid%%[!0-9]*}
case $me in "uid=$uid("*) uname=${me#"uid=$uid("}; uname=${uname%%)*} ;; *) uname= ;; esac

if [ "$uid" = 0 ]; then S=; SUDO=root
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then S="sudo -n"; SUDO=ok
elif command -v sudo >/dev/null 2>&1; then S=; SUDO=password
else S=; SUDO=absent; fi

h=
read -r h 2>/dev/null < /proc/sys/kernel/hostname || h=$(cat /etc/hostname 2>/dev/null)
section id; echo "$uid"; [ -n "$uname" ] && echo "$uname"; echo "$SUDO"; echo "$h"
cpu=$(cat /proc/cpuinfo 2>/dev/null)
section cpuinfo; [ -n "$cpu" ] && printf '%s\n' "$cpu"
section dt-serial; tr -d '\000' 2>/dev/null < /sys/firmware/devicetree/base/serial-number
section dt-model; tr -d '\000' 2>/dev/null < /sys/firmware/devicetree/base/model
section os-release; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
section rpi-issue; [ -e /etc/rpi-issue ] && head -c 4096 /etc/rpi-issue
section fstab; cat /etc/fstab 2>/dev/null
section mounts; cat /proc/mounts 2>/dev/null
section net
for i in /sys/class/net/*; do
  [ -e "$i/address" ] || continue
  w=0
  if [ -e "$i/wireless" ] || [ -e "$i/phy80211" ]; then w=1; fi
  a=
  t=
  read -r a 2>/dev/null < "$i/address"
  read -r t 2>/dev/null < "$i/type"
  printf '%s %s %s %s\n' "${i##*/}" "$a" "$t" "$w"
done
section eeprom-tool; command -v rpi-eeprom-config 2>/dev/null
section eeprom
# Read without starting Python where rpi-eeprom-config reads it (lib/bootloader.sh).
if command -v rpi-eeprom-config >/dev/null 2>&1; then
  if current_bootloader_config ""; then echo "rc=0"
  else $S rpi-eeprom-config 2>&1; echo "rc=$?"; fi
fi
section eeprom-defaults; cat /etc/default/rpi-eeprom-update 2>/dev/null
if [ -f /boot/firmware/config.txt ] || mountpoint -q /boot/firmware 2>/dev/null; then D=/boot/firmware
elif [ -f /boot/config.txt ]; then D=/boot
else D=; fi
section boot-dir; echo "$D"
if [ -n "$D" ]; then
  section boot-list; find "$D" -xdev -mindepth 1 -printf '%y %m %U %G %s %T@ %P\0' 2>/dev/null
  for f in "$D"/*.txt; do
    [ -f "$f" ] || continue
    section "txt:${f##*/}"; head -c 65536 "$f"
  done
  if [ -f "$D/pieeprom.upd" ] && command -v rpi-eeprom-config >/dev/null 2>&1; then
    # A staged update whose SHA-256 pinet knows (it read that file before)
    # is not read again: rpi-eeprom-config is Python, the hash is cheap.
    sum=$($S sha256sum "$D/pieeprom.upd" 2>/dev/null) || sum=
    sum=${sum%% *}
    section eeprom-pending-sha256; echo "$sum"
    hit=
    if [ -n "$sum" ]; then case " $known " in *" $sum "*) hit=1 ;; esac; fi
    if [ -z "$hit" ]; then
      section eeprom-pending; $S rpi-eeprom-config "$D/pieeprom.upd" 2>&1; echo "rc=$?"
    fi
  fi
fi
if [ -n "$D" ] && [ "$hash_boot" = 1 ] && command -v python3 >/dev/null 2>&1; then
  section boot-hashes
  (cd "$D" && find . -xdev -type f -print0 | hash_names) || true
fi
section otp
case "
$cpu" in
  *"
Serial"*) ;;
  *) command -v vcgencmd >/dev/null 2>&1 && $S vcgencmd otp_dump 2>/dev/null | grep '^28:' ;;
esac
section hooks
listed=
for h in "$@"; do
  d=${h%/*}
  case " $listed " in *" $d "*) continue ;; esac
  listed="$listed $d"
  for f in "$d"/*; do [ -e "$f" ] && printf '%s\n' "$f"; done
done
for h in "$@"; do
  [ -f "$h" ] && { section "hook:$h"; cat "$h"; }
done
section backups
for b in "$backups"/*; do [ -e "$b" ] && printf '%s\n' "${b##*/}"; done
rec end
