#!/bin/sh
# pinet: uses lib/lock.sh lib/fstab.sh lib/eeprom.sh
# The Pi's half of `pinet enroll` (src/jobs/enroll/pi-side.ts), in one round
# trip and under the Pi's lock: back up the originals, write /etc/fstab
# (only if it is still what pinet planned from), install the kernel hooks,
# stage the bootloader config with `rpi-eeprom-config --apply`; then print
# what the Pi now reads back. Each step reports "done <step>"; on a failure
# it reports "fail <step> <message>", undoes its own steps ("undone <step>")
# and exits 1.
# Arguments: STATE_DIR STAMP BOOT_DIR CMDLINE CUR_EEPROM FSTAB_SHA NEW_FSTAB NEW_EEPROM HOOK HOOK_FILE...
#   STATE_DIR  pinet's directory on the Pi (lock, backup/)
#   STAMP      backup name; empty: no backup (not the first enroll)
#   NEW_FSTAB, NEW_EEPROM, HOOK   empty: that step is not planned
STATE=$1 STAMP=$2 D=$3 CMD=$4 CUR_EEPROM=$5 FSTAB_SHA=$6 NEW_FSTAB=$7 NEW_EEPROM=$8 HOOK=$9
shift 9
take_lock "$STATE"
HOOKS_DONE=''
undo() {
  if [ -n "$HOOKS_DONE" ]; then
    for h in "$@"; do rm -f "$h"; done
    step_undone hooks
  fi
  undo_fstab
}
fail() { s=$1 m=$2; shift 2; step_fail "$s" "$m"; undo "$@"; exit 1; }
if [ -n "$STAMP" ]; then
  BK=$STATE/backup/$STAMP
  { mkdir -p "$BK" && chmod 700 "$STATE/backup" "$BK" &&
    cp -p /etc/fstab "$BK/fstab" &&
    { [ ! -f "$D/$CMD" ] || cp -p "$D/$CMD" "$BK/cmdline.txt"; } &&
    printf '%s' "$CUR_EEPROM" > "$BK/bootloader.conf" && sync "$BK"/* "$BK"; } || fail backup "cannot write $BK" "$@"
  step_done backup "$BK"
fi
if [ -n "$NEW_FSTAB" ]; then
  write_fstab "$NEW_FSTAB" "$FSTAB_SHA" || fail fstab "$ERR" "$@"
  step_done fstab
fi
if [ -n "$HOOK" ]; then
  HOOKS_DONE=1
  for h in "$@"; do
    { mkdir -p "$(dirname "$h")" && atomic "$h" 755 "$HOOK"; } || fail hooks "cannot write $h" "$@"
  done
  step_done hooks
fi
if [ -n "$NEW_EEPROM" ]; then
  apply_eeprom "$NEW_EEPROM" "$D" || fail bootloader "$ERR" "$@"
  step_done bootloader
fi
section fstab; cat /etc/fstab
section pending; [ -f "$D/pieeprom.upd" ] && rpi-eeprom-config "$D/pieeprom.upd" 2>&1
section pending-sha256; [ -f "$D/pieeprom.upd" ] && sha256sum "$D/pieeprom.upd" 2>/dev/null | cut -d ' ' -f 1
for h in "$@"; do section "hook $h"; cat "$h" 2>/dev/null; done
rec end
