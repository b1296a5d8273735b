#!/bin/sh
# pinet: uses lib/lock.sh lib/fstab.sh lib/eeprom.sh
# The Pi's half of `pinet rollback` (src/jobs/rollback/), in one round trip
# and under the Pi's lock: restore /etc/fstab, remove pinet's kernel hooks,
# cancel the bootloader update enroll staged (`rpi-eeprom-update -r`) or
# apply the saved config. Reports "done <step>"; on a failure "fail <step>
# <message>", restores /etc/fstab and exits 1.
# Arguments: STATE_DIR BOOT_DIR NEW_FSTAB EEPROM_ACTION EEPROM_TEXT HOOK_FILE...
#   NEW_FSTAB      empty: fstab stays
#   EEPROM_ACTION  cancel, apply (EEPROM_TEXT) or empty
STATE=$1 D=$2 NEW_FSTAB=$3 EEPROM_ACTION=$4 EEPROM_TEXT=$5
shift 5
take_lock "$STATE"
fail() { step_fail "$1" "$2"; undo_fstab; exit 1; }
if [ -n "$NEW_FSTAB" ]; then
  write_fstab "$NEW_FSTAB" "" || fail fstab "$ERR"
  step_done fstab
fi
for h in "$@"; do rm -f "$h" || fail hooks "cannot remove $h"; done
[ $# -gt 0 ] && step_done hooks
case $EEPROM_ACTION in
  cancel) rpi-eeprom-update -r >/dev/null 2>&1 || fail bootloader "rpi-eeprom-update -r failed"; step_done bootloader ;;
  apply) apply_eeprom "$EEPROM_TEXT" "$D" || fail bootloader "$ERR"; step_done bootloader ;;
esac
rec end
