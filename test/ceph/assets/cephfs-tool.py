"""Ground truth from CephFS for the tests: stat, read and write paths through
libcephfs (Debian's python3-cephfs, as client.admin), bypassing NFS, so a test
can see which identity and mode a file written over NFS really got.

Usage: cephfs-tool.py <ceph.conf> <fs name> stat <path>
       cephfs-tool.py <ceph.conf> <fs name> read <path>
       cephfs-tool.py <ceph.conf> <fs name> write <path> <uid> <gid> <octal mode>   (data on stdin)
Exit 2: the path does not exist.
"""
import json
import sys

import cephfs


def as_c_int(n):
    return n - 2**32 if n >= 2**31 else n


def main(argv):
    conf, fs_name, op, path = argv[1], argv[2], argv[3], argv[4].encode()
    fs = cephfs.LibCephFS(conffile=conf)
    fs.mount(filesystem_name=fs_name.encode())
    try:
        if op == "stat":
            st = fs.stat(path)
            json.dump({"uid": st.st_uid, "gid": st.st_gid, "mode": st.st_mode, "size": st.st_size}, sys.stdout)
        elif op == "read":
            fd = fs.open(path, "r")
            try:
                sys.stdout.write(fs.read(fd, 0, 16 * 1024 * 1024).decode())
            finally:
                fs.close(fd)
        elif op == "write":
            uid, gid, mode = int(argv[5]), int(argv[6]), int(argv[7], 8)
            data = sys.stdin.buffer.read()
            fd = fs.open(path, "w", mode)
            try:
                fs.write(fd, data, 0)
            finally:
                fs.close(fd)
            # The binding takes a C int: 4294967294 (NFS-Ganesha's anonymous uid) is passed as -2.
            fs.chown(path, as_c_int(uid), as_c_int(gid))
            fs.chmod(path, mode)
        else:
            print("unknown operation " + op, file=sys.stderr)
            return 64
    except cephfs.ObjectNotFound:
        print("no such path: " + argv[4], file=sys.stderr)
        return 2
    finally:
        fs.unmount()
        fs.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
