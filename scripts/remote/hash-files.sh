#!/bin/sh
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
  python3 -I -S -c '
import hashlib, os, stat, sys
out = sys.stdout.buffer
buf = bytearray(1 << 20)
view = memoryview(buf)
for name in sys.stdin.buffer.read().split(b"\0"):
    if not name:
        continue
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(0, "not a regular file")
            h = hashlib.sha256()
            size = 0
            while True:
                n = os.readv(fd, [buf])
                if n == 0:
                    break
                h.update(view[:n])
                size += n
            mtime = int(os.fstat(fd).st_mtime)
        finally:
            os.close(fd)
    except OSError as e:
        out.write(b"! " + (e.strerror or str(e)).encode("utf-8", "replace") + b"\0" + name + b"\0")
        continue
    out.write(b"%s %d %d\0" % (h.hexdigest().encode(), size, mtime) + name + b"\0")
out.flush()
' || { step_fail hash "python3 could not hash the files"; exit 1; }
else
  section sums
  xargs -0 -r sha256sum -- || { step_fail hash "sha256sum could not hash the files"; exit 1; }
fi
rec end
