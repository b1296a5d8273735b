# shellcheck shell=sh
# Reading a Pi's bootloader config without rpi-eeprom-config's Python
# start-up (gather.sh; tested in test/remote/bootloader-read.test.ts).
#
# current_bootloader_config ROOT: prints what `rpi-eeprom-config` prints with
# no argument, read where it reads it (rpi-eeprom's read_current_config):
# the nvmem device that the device tree's blconfig alias names (NUL bytes
# dropped, should the device be longer than the text), else
# `vcgencmd bootloader_config`. ROOT is prefixed to /sys (empty on a Pi).
# Privileged reads go through $S ("sudo -n" or empty). Returns 1, printing
# nothing, when neither answers (or sudo allows only rpi-eeprom-config):
# then rpi-eeprom-config itself is asked, so its own error is the one
# reported. The output always ends with a newline.
current_bootloader_config() {
  cbc_dt=$1/sys/firmware/devicetree/base
  cbc_out=
  if [ -r "$cbc_dt/aliases/blconfig" ]; then
    cbc_node=$(readlink -f "$cbc_dt/$(tr -d '\000' < "$cbc_dt/aliases/blconfig")")
    for cbc_dev in "$1"/sys/bus/nvmem/devices/*; do
      [ -e "$cbc_dev/of_node" ] || continue
      [ "$(readlink -f "$cbc_dev/of_node")" = "$cbc_node" ] || continue
      cbc_out=$(${S:-} cat "$cbc_dev/nvmem" 2>/dev/null | tr -d '\000' && echo .) && break
      cbc_out=
    done
  fi
  [ -n "$cbc_out" ] && [ "$cbc_out" != . ] || cbc_out=$(${S:-} vcgencmd bootloader_config 2>/dev/null && echo .) || cbc_out=
  case $cbc_out in error=*) cbc_out= ;; esac
  if [ -z "$cbc_out" ] || [ "$cbc_out" = . ]; then return 1; fi
  cbc_out=${cbc_out%.}
  printf '%s' "$cbc_out"
  case $cbc_out in *'
') ;; *) echo ;; esac
}
