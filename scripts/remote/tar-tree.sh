#!/bin/sh
# pinet: raw
# Streams a directory tree as a tar archive on stdout (src/remote/tree.ts):
# everything but the excluded names (MODE all), or only the NUL-separated
# relative paths read from stdin (MODE list). Exit 3: no such directory.
# Arguments: DIR MODE EXCLUDE...
dir=$1 mode=$2
shift 2
cd -- "$dir" || exit 3
if [ "$mode" = list ]; then
  exec tar --null --no-recursion -T - -cf -
fi
n=$#
for p do
  case $p in
    */*) set -- "$@" -o -path "./$p" ;;
    *) set -- "$@" -o -name "$p" ;;
  esac
done
shift "$n"
find . \( -name '' "$@" \) -prune -o -print0 | tar --null --no-recursion -T - -cf -
