#!/bin/sh
# pinet: uses lib/lock.sh lib/fstab.sh
# The boot server's own mount of the export (src/jobs/server/), in one
# round trip under pinet's lock: the fstab line (only if /etc/fstab is still
# what pinet planned from; the old line stays as a comment), the mount
# point, the mount itself, then proof that it works: a probe file written
# through the mount, read back, and read as the TFTP server's user (not
# judged from mode bits: on NFS the server decides). If the mount fails,
# /etc/fstab comes back as it was.
# Arguments: STATE_DIR NEW_FSTAB FSTAB_SHA MOUNTPOINT SOURCE TFTP_UID TFTP_GID
#   NEW_FSTAB   empty: /etc/fstab already has the line
STATE=$1 NEW_FSTAB=$2 FSTAB_SHA=$3 MP=$4 SOURCE=$5 TUID=$6 TGID=$7
take_lock "$STATE"
PROBE=''
finish() { [ -n "$PROBE" ] && rm -f "$PROBE"; cleanup; }
trap finish EXIT

now=$(findmnt -n -o SOURCE,FSTYPE --mountpoint "$MP" 2>/dev/null | tail -n 1)
if [ -n "$now" ] && [ "${now%% *}" != "$SOURCE" ]; then
  step_fail mount "$MP is busy: ${now%% *} (${now##* }) is mounted there"; exit 1
fi
if [ -n "$NEW_FSTAB" ]; then
  write_fstab "$NEW_FSTAB" "$FSTAB_SHA" || { step_fail fstab "$ERR"; exit 1; }
  step_done fstab
fi
if [ -e "$MP" ] && [ ! -d "$MP" ]; then undo_fstab; step_fail mount "$MP exists and is not a directory"; exit 1; fi
mkdir -p "$MP" || { undo_fstab; step_fail mount "cannot create $MP"; exit 1; }
if [ -z "$now" ]; then
  if ! out=$(mount "$MP" 2>&1); then
    undo_fstab
    step_fail mount "mount $MP failed: $(printf '%s' "$out" | tail -n 1)"
    exit 1
  fi
  step_done mount
fi
section findmnt; findmnt -n -o SOURCE,FSTYPE,OPTIONS --mountpoint "$MP"

PROBE=$MP/.pinet-probe-$$
word=pinet-probe-$$-$(date +%s)
section probe-write
if printf '%s\n' "$word" > "$PROBE" 2>&1 && chmod 644 "$PROBE" 2>&1 && sync "$PROBE" 2>&1; then echo ok; fi
section probe-read; cat "$PROBE" 2>&1
section probe-tftp-user; setpriv --reuid="$TUID" --regid="$TGID" --clear-groups cat "$PROBE" 2>&1
section probe-owner; stat -c '%u %g %a' "$PROBE" 2>&1
section expected; printf '%s\n' "$word"
rec end
