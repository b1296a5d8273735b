# shellcheck shell=sh
# Staging a bootloader config with rpi-eeprom-config --apply (needs
# lib/lock.sh). Sets $ERR and returns 1 on failure.
# apply_eeprom CONTENT BOOT_DIR: rpi-eeprom-config --apply, and check that an update was staged.
apply_eeprom() {
  EEPROM_T=$(mktemp /tmp/pinet-bootloader.XXXXXX) || { ERR="cannot create a temporary file"; return 1; }
  printf '%s' "$1" > "$EEPROM_T" || { ERR="cannot write $EEPROM_T"; return 1; }
  out=$(rpi-eeprom-config --apply "$EEPROM_T" 2>&1) || { ERR="rpi-eeprom-config --apply failed: $(printf '%s' "$out" | tail -n 1)"; return 1; }
  [ -f "$2/pieeprom.upd" ] || { ERR="rpi-eeprom-config --apply staged no update in $2 (is rpi-eeprom-update disabled?)"; return 1; }
}
