/**
 * Shell functions shared by the scripts enroll and rollback run on a Pi.
 *
 * The scripts are constants; every value reaches them as a positional
 * parameter. `$B` (a random boundary) prefixes the lines pinet reads back:
 * `done <step>`, `undone <step>`, `fail <step> <message>`, `section <name>`.
 * A lock directory under /var/lib/pinet (with the holder's PID, taken over
 * when that process is gone) keeps two pinet runs from changing one Pi at
 * once. Files are replaced atomically: temporary file in the same directory,
 * fsync, rename, so a dropped connection leaves the old or the new file.
 */
export const REMOTE_PRELUDE = `
say() { printf '%s %s\\n' "$B" "$*"; }
umask 022
L=/var/lib/pinet/.lock
mkdir -p /var/lib/pinet || { say "fail lock cannot create /var/lib/pinet"; exit 1; }
if ! mkdir "$L" 2>/dev/null; then
  p=$(cat "$L/pid" 2>/dev/null)
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then say "fail lock another pinet run (pid $p) is changing this Pi"; exit 1; fi
  rm -rf "$L"; mkdir "$L" || { say "fail lock cannot lock /var/lib/pinet"; exit 1; }
fi
echo $$ > "$L/pid"
U= FSTAB_DONE= EEPROM_T= ERR= t=
cleanup() { [ -n "$t" ] && rm -f "$t"; [ -n "$U" ] && rm -f "$U"; [ -n "$EEPROM_T" ] && rm -f "$EEPROM_T"; rm -rf "$L"; }
trap cleanup EXIT
trap 'exit 129' HUP INT TERM PIPE
atomic() { # atomic TARGET MODE CONTENT
  t=$(mktemp "$(dirname "$1")/.pinet.XXXXXX") || return 1
  printf '%s' "$3" > "$t" && chmod "$2" "$t" && sync "$t" && mv -f "$t" "$1" && t= && sync "$(dirname "$1")" || { rm -f "$t"; return 1; }
}
# write_fstab CONTENT EXPECTED_SHA256: keeps an undo copy in $U, mode and owner of the old file.
# These functions set $ERR and return 1 on failure (no subshell: $U and $FSTAB_DONE must survive).
write_fstab() {
  if [ -n "$2" ] && [ "$(sha256sum < /etc/fstab | cut -d' ' -f1)" != "$2" ]; then
    ERR="/etc/fstab changed since pinet read it; run pinet again"; return 1
  fi
  U=$(mktemp /etc/.fstab.pinet-undo.XXXXXX) && cp -p /etc/fstab "$U" || { ERR="cannot save a copy of /etc/fstab"; return 1; }
  t=$(mktemp /etc/.fstab.pinet.XXXXXX) || { ERR="cannot create a temporary file in /etc"; return 1; }
  if printf '%s' "$1" > "$t" && chmod --reference=/etc/fstab "$t" && chown --reference=/etc/fstab "$t" && sync "$t" && mv -f "$t" /etc/fstab; then
    t=; FSTAB_DONE=1; sync /etc; return 0
  fi
  rm -f "$t"; ERR="cannot write /etc/fstab"; return 1
}
undo_fstab() { if [ -n "$FSTAB_DONE" ] && [ -n "$U" ]; then mv -f "$U" /etc/fstab && U= && sync /etc && say "undone fstab"; fi; }
# apply_eeprom CONTENT BOOTDIR: rpi-eeprom-config --apply, and check that an update was staged
apply_eeprom() {
  EEPROM_T=$(mktemp /tmp/pinet-bootloader.XXXXXX) || { ERR="cannot create a temporary file"; return 1; }
  printf '%s' "$1" > "$EEPROM_T" || { ERR="cannot write $EEPROM_T"; return 1; }
  out=$(rpi-eeprom-config --apply "$EEPROM_T" 2>&1) || { ERR="rpi-eeprom-config --apply failed: $(printf '%s' "$out" | tail -n 1)"; return 1; }
  [ -f "$2/pieeprom.upd" ] || { ERR="rpi-eeprom-config --apply staged no update in $2 (is rpi-eeprom-update disabled?)"; return 1; }
}
`;
