#!/bin/sh
# Reads many files in one round trip (src/remote/files.ts): one section per
# file, in order, named ok, missing or error; an ok section's body is the
# file's exact bytes, an error's the reason. Each file is first copied to a
# private temporary file, so a read error is told apart from content and
# /proc and /sys files work too.
# Arguments: FILE...
d=$(mktemp -d) || { step_fail read "cannot create a temporary directory"; exit 1; }
trap 'rm -rf "$d"' EXIT
for f do
  if [ ! -e "$f" ]; then
    section missing
  elif cat -- "$f" >"$d/c" 2>"$d/e"; then
    section ok
    cat "$d/c"
  else
    section error
    cat "$d/e"
  fi
done
rec end
