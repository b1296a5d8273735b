#!/bin/sh
# Everything pinet needs to know about a Pi, in one round trip (read by
# src/host/detect.ts): identity, cpuinfo, device tree, OS, fstab, mounts,
# network interfaces, the bootloader config (also a staged update's), the
# boot partition's listing and text files, installed kernel hooks, backups.
# Privileged reads go through `sudo -n` when the login user is not root.
# Arguments: BACKUP_DIR HOOK_FILE...
#   BACKUP_DIR  where enroll keeps backups on the Pi (listed)
#   HOOK_FILE   pinet's kernel hook files (their directories are listed, they are read)
backups=$1
shift

if [ "$(id -u)" = 0 ]; then S=; SUDO=root
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then S="sudo -n"; SUDO=ok
elif command -v sudo >/dev/null 2>&1; then S=; SUDO=password
else S=; SUDO=absent; fi

section id; id -u; id -un; echo "$SUDO"; hostname 2>/dev/null || cat /etc/hostname 2>/dev/null
section cpuinfo; cat /proc/cpuinfo 2>/dev/null
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
  printf '%s %s %s %s\n' "${i##*/}" "$(cat "$i/address" 2>/dev/null)" "$(cat "$i/type" 2>/dev/null)" "$w"
done
section eeprom-tool; command -v rpi-eeprom-config 2>/dev/null
section eeprom
if command -v rpi-eeprom-config >/dev/null 2>&1; then $S rpi-eeprom-config 2>&1; echo "rc=$?"; fi
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
    section eeprom-pending; $S rpi-eeprom-config "$D/pieeprom.upd" 2>&1; echo "rc=$?"
  fi
fi
section otp
if ! grep -q '^Serial' /proc/cpuinfo 2>/dev/null && command -v vcgencmd >/dev/null 2>&1; then $S vcgencmd otp_dump 2>/dev/null | grep '^28:'; fi
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
section backups; ls -1 "$backups" 2>/dev/null
rec end
