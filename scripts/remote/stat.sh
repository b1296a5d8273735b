#!/bin/sh
# stat(2) of many paths in one round trip (src/remote/files.ts): in section
# "stat", one line per path, in order: "ok <hex mode> <uid> <gid> <size>
# <mtime>", "missing" or "error".
# Arguments: STAT_OPTION PATH...   (STAT_OPTION: -L to follow a final symlink, or empty)
opt=$1
shift
section stat
for f do
  if s=$(stat ${opt:+"$opt"} -c '%f %u %g %s %Y' -- "$f" 2>/dev/null); then
    printf 'ok %s\n' "$s"
  elif [ -e "$f" ] || [ -L "$f" ]; then
    printf 'error\n'
  else
    printf 'missing\n'
  fi
done
rec end
