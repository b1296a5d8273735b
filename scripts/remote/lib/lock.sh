# shellcheck shell=sh
# What every script that changes a host starts with: a umask, a cleanup on
# exit, and take_lock STATE_DIR: a lock directory holding our PID keeps two
# pinet runs from changing one host at once (taken over when its process is
# gone). atomic replaces a file: temporary file in the same directory,
# fsync, rename, so a dropped connection leaves the old or the new file.
# The functions run in the caller's shell (no subshell), so the variables
# they set survive them; the cleanup removes what they left half done.
umask 022
LOCK='' U='' EEPROM_T='' t=''
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
