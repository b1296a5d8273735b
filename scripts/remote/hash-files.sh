#!/bin/sh
# pinet: uses lib/hash.sh
# Hashes the boot files enroll has to copy (src/remote/tree.ts hashFiles):
# one pass over each file, reading it once for its SHA-256 and its size.
# The relative paths arrive NUL-separated on stdin (names may hold anything
# but NUL), so no name is ever part of a shell line.
#
# Python 3 does it when the host has it (every Pi pinet enrolls has it:
# rpi-eeprom-config is a Python 3 program): hashlib's SHA-256 is OpenSSL's,
# several times faster than coreutils' sha256sum on CPUs with SHA
# instructions, and it reports the bytes it really read and the file's mtime
# after reading, so a file that changed since the listing is seen. Without
# python3, sha256sum hashes them (its lines; sizes come from the listing).
#
# Section "hashes": per file "<sha256> <bytes read> <mtime>\0<path>\0", or
# "! <reason>\0<path>\0" for a file that cannot be read (symbolic links are
# not followed). Section "sums" instead, without python3: sha256sum's lines.
# Arguments: DIR
dir=$1
cd -- "$dir" 2>/dev/null || { step_fail hash "no such directory"; exit 1; }
if command -v python3 >/dev/null 2>&1; then
  section hashes
  hash_names || { step_fail hash "python3 could not hash the files"; exit 1; }
else
  section sums
  xargs -0 -r sha256sum -- || { step_fail hash "sha256sum could not hash the files"; exit 1; }
fi
rec end
