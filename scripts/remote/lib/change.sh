# shellcheck shell=sh
# Functions of the scripts that change a Pi (enroll-apply.sh, rollback.sh).
# take_lock STATE_DIR: a lock directory holding our PID keeps two pinet runs
# from changing one Pi at once (taken over when its process is gone).
# Files are replaced atomically (temporary file in the same directory,
# fsync, rename), so a dropped connection leaves the old or the new file.
# The functions set $ERR and return 1 on failure; they run in the caller's
# shell (no subshell), so $U and $FSTAB_DONE survive them.
umask 022
LOCK='' U='' FSTAB_DONE='' EEPROM_T='' ERR='' t=''
cleanup() {
  [ -n "$t" ] && rm -f "$t"
  [ -n "$U" ] && rm -f "$U"
  [ -n "$EEPROM_T" ] && rm -f "$EEPROM_T"
  [ -n "$LOCK" ] && rm -rf "$LOCK"
}
trap cleanup EXIT
trap 'exit 129' HUP INT TERM PIPE

take_lock() {
  mkdir -p "$1" || { step_fail lock "cannot create $1"; exit 1; }
  if ! mkdir "$1/.lock" 2>/dev/null; then
    p=$(cat "$1/.lock/pid" 2>/dev/null)
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then step_fail lock "another pinet run (pid $p) is changing this Pi"; exit 1; fi
    rm -rf "$1/.lock"
    mkdir "$1/.lock" || { step_fail lock "cannot lock $1"; exit 1; }
  fi
  LOCK=$1/.lock
  echo $$ > "$LOCK/pid"
}

# atomic TARGET MODE CONTENT
atomic() {
  t=$(mktemp "$(dirname "$1")/.pinet.XXXXXX") || return 1
  if printf '%s' "$3" > "$t" && chmod "$2" "$t" && sync "$t" && mv -f "$t" "$1"; then
    t=''
    sync "$(dirname "$1")"
    return 0
  fi
  rm -f "$t"
  return 1
}

# write_fstab CONTENT EXPECTED_SHA256: keeps an undo copy in $U, and the old file's mode and owner.
write_fstab() {
  if [ -n "$2" ] && [ "$(sha256sum < /etc/fstab | cut -d' ' -f1)" != "$2" ]; then
    ERR="/etc/fstab changed since pinet read it; run pinet again"; return 1
  fi
  if ! U=$(mktemp /etc/.fstab.pinet-undo.XXXXXX) || ! cp -p /etc/fstab "$U"; then ERR="cannot save a copy of /etc/fstab"; return 1; fi
  t=$(mktemp /etc/.fstab.pinet.XXXXXX) || { ERR="cannot create a temporary file in /etc"; return 1; }
  if printf '%s' "$1" > "$t" && chmod --reference=/etc/fstab "$t" && chown --reference=/etc/fstab "$t" && sync "$t" && mv -f "$t" /etc/fstab; then
    t=''; FSTAB_DONE=1; sync /etc; return 0
  fi
  rm -f "$t"; ERR="cannot write /etc/fstab"; return 1
}

undo_fstab() {
  if [ -n "$FSTAB_DONE" ] && [ -n "$U" ]; then
    mv -f "$U" /etc/fstab && U= && sync /etc && step_undone fstab
  fi
}

# apply_eeprom CONTENT BOOT_DIR: rpi-eeprom-config --apply, and check that an update was staged.
apply_eeprom() {
  EEPROM_T=$(mktemp /tmp/pinet-bootloader.XXXXXX) || { ERR="cannot create a temporary file"; return 1; }
  printf '%s' "$1" > "$EEPROM_T" || { ERR="cannot write $EEPROM_T"; return 1; }
  out=$(rpi-eeprom-config --apply "$EEPROM_T" 2>&1) || { ERR="rpi-eeprom-config --apply failed: $(printf '%s' "$out" | tail -n 1)"; return 1; }
  [ -f "$2/pieeprom.upd" ] || { ERR="rpi-eeprom-config --apply staged no update in $2 (is rpi-eeprom-update disabled?)"; return 1; }
}
