#!/bin/sh
# Replaces a file atomically with the bytes on stdin (src/remote/files.ts):
# they go into a temporary file next to the target; only when its size and
# SHA-256 match what pinet sent is it given the mode (and, as root, the
# owner) of the old file, fsynced and renamed over the target. A dropped
# connection leaves the old file and no temporary file. Reports "section
# existed" (0 or 1) or "fail write <reason>".
# Arguments: TARGET SIZE SHA256 MODE KEEP   (MODE octal or empty; KEEP 1 to keep the old owner and mode)
target=$1 size=$2 sum=$3 mode=$4 keep=$5
fail() { step_fail write "$1"; exit 1; }
if [ -L "$target" ]; then target=$(readlink -f -- "$target") || fail "cannot resolve the symbolic link"; fi
dir=${target%/*}
[ -n "$dir" ] || dir=/
base=${target##*/}
tmp=$(mktemp "$dir/.$base.pinet-XXXXXX" 2>/dev/null) || tmp=$(mktemp "$dir/.pinet-XXXXXX") || fail "cannot create a temporary file next to it"
trap 'rm -f -- "$tmp"' EXIT
trap 'exit 1' HUP INT TERM PIPE
cat >"$tmp" || fail "cannot write the temporary file"
got=$(wc -c <"$tmp")
[ "$got" -eq "$size" ] || fail "the content did not arrive complete (received $got of $size bytes)"
h=$(sha256sum <"$tmp") || fail "cannot checksum the temporary file"
[ "${h%% *}" = "$sum" ] || fail "the content did not arrive complete (checksum mismatch)"
existed=0
[ -e "$target" ] && existed=1
if [ -n "$mode" ]; then
  chmod "$mode" "$tmp" || fail "cannot set mode or owner"
elif [ "$existed" = 1 ] && [ "$keep" = 1 ]; then
  chmod "$(stat -c %a -- "$target")" "$tmp" || fail "cannot set mode or owner"
else
  # best effort: file systems such as vfat may not take modes at all
  chmod 644 "$tmp" 2>/dev/null || true
fi
if [ "$existed" = 1 ] && [ "$keep" = 1 ] && [ "$(id -u)" = 0 ]; then
  chown "$(stat -c %u:%g -- "$target")" "$tmp" || fail "cannot set mode or owner"
fi
sync -- "$tmp" 2>/dev/null || sync
mv -f -- "$tmp" "$target" || fail "cannot rename the temporary file over it"
trap - EXIT
sync -- "$dir" 2>/dev/null || true
section existed
printf '%s\n' "$existed"
rec end
