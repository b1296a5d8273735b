#!/bin/sh
# Lists a directory tree with size, mode and mtime of every entry and the
# SHA-256 of every file (src/remote/tree.ts). Section "listing": per entry
# "<type> <size> <mode> <mtime>\0<path>\0<link target>\0"; section "sums":
# sha256sum's lines. Names may hold anything but NUL: they never pass
# through a shell line.
# Arguments: DIR EXCLUDE...   (EXCLUDE: a find -name pattern, or a path with "/" relative to DIR)
dir=$1
shift
cd -- "$dir" 2>/dev/null || { step_fail list "no such directory"; exit 1; }
n=$#
for p do
  case $p in
    */*) set -- "$@" -o -path "./$p" ;;
    *) set -- "$@" -o -name "$p" ;;
  esac
done
shift "$n"
section listing
find . \( -name '' "$@" \) -prune -o -printf '%y %s %m %T@\0%p\0%l\0' || { step_fail list "find failed"; exit 1; }
section sums
find . \( -name '' "$@" \) -prune -o -type f -print0 | xargs -0 -r sha256sum -- || { step_fail list "sha256sum failed"; exit 1; }
rec end
