#!/bin/sh
# What doctor reads on a Pi besides detect's facts (src/doctor/boot-state.ts),
# in section "state", one "key value" line each; a fact it cannot read is
# left empty: when the Pi booted (now minus PID 1's age: the uptime minus
# its start, field 22 of /proc/1/stat in clock ticks; right in a container
# too), when /etc/fstab last changed, which directory (device:inode) is
# mounted at each boot mount point, and the local boot media attached.
# Arguments: none.
section state
now=$(date +%s.%N)
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
awk -v hz="$hz" -v now="$now" 'NR == FNR { up = $1; next } { sub(/^.*\) /, ""); split($0, f, " "); printf "booted %.2f\n", now - (up - f[20] / hz) }' /proc/uptime /proc/1/stat 2>/dev/null
printf 'fstab-mtime %s\n' "$(date -r /etc/fstab +%s.%N 2>/dev/null)"
for d in /boot/firmware /boot; do printf 'dir %s %s\n' "$(stat -L -c '%d:%i' "$d" 2>/dev/null)" "$d"; done
for b in /sys/block/mmcblk* /sys/block/sd* /sys/block/nvme*; do
  [ -d "$b" ] && printf 'block %s %s %s\n' "${b##*/}" "$(cat "$b/size" 2>/dev/null)" "$(cat "$b/device/type" 2>/dev/null)"
done
echo blocks-read
rec end
