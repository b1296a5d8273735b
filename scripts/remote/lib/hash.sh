# shellcheck shell=sh
# hash_names: the SHA-256, the bytes read and the mtime of each file named on
# stdin (NUL-separated, relative to the current directory), each read once,
# with python3 (hashlib's SHA-256 is OpenSSL's, several times faster than
# coreutils' sha256sum on CPUs with SHA instructions; the mtime is taken
# after reading, so a file that changed since it was listed is seen).
# Symbolic links are not followed. Prints per file
# "<sha256> <bytes read> <mtime>\0<path>\0", or "! <reason>\0<path>\0" for a
# file that cannot be read. Runs through $S ("sudo -n" or empty).
# Used by hash-files.sh and gather.sh (src/remote/tree.ts parseHashes reads it).
hash_names() {
  ${S:-} python3 -I -S -c '
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
'
}
