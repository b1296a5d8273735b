# shellcheck shell=sh
# Rewriting /etc/fstab safely (needs lib/lock.sh): only when it is still
# what pinet planned from, atomically, keeping its mode and owner, with an
# undo copy until the script ends. Sets $ERR and returns 1 on failure.
FSTAB_DONE='' ERR=''
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
