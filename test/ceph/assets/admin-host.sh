#!/bin/sh
# The Ceph admin host of the tests: a root file system that is an overlay of
# this machine's / (so the real `ceph` CLI is there) whose writes land on a
# tmpfs, with /etc/ceph (ceph.conf, the admin keyring) of the test cluster,
# root's home and the work tree hidden, and an OpenSSH sshd. Runs as PID 1
# of a private PID and mount namespace inside the admin host's network
# namespace (started by cluster.ts through `unshare --pid --mount
# --kill-child`), so ending it ends every process of the host.
# Usage: admin-host.sh <dir>
#   <dir>/mnt        empty directory: the tmpfs (overlay upper and work, new root)
#   <dir>/etc-ceph/  files for /etc/ceph
#   <dir>/sshd/      sshd_config, host key, authorized_keys (copied to /etc/ssh/pinet-ceph)
set -eu
dir=$1
mnt=$dir/mnt
mount -t tmpfs -o mode=0755 pinet-ceph-admin "$mnt"
mkdir -p "$mnt/upper" "$mnt/work" "$mnt/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$mnt/upper,workdir=$mnt/work,xino=on" "$mnt/root"
root=$mnt/root
mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
for d in run tmp root home work; do
  if [ -d "$root/$d" ]; then
    mount -t tmpfs -o mode=0755 "pinet-ceph-$d" "$root/$d"
  fi
done
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
mkdir -p "$root/run/sshd" "$root/etc/ceph" "$root/etc/ssh/pinet-ceph"
cp -R "$dir/etc-ceph/." "$root/etc/ceph/"
cp -R "$dir/sshd/." "$root/etc/ssh/pinet-ceph/"
chmod 0600 "$root/etc/ssh/pinet-ceph/ssh_host_ed25519_key" "$root/etc/ceph/ceph.client.admin.keyring"
cd "$root"
mkdir -p .old-root
pivot_root . .old-root
cd /
umount -l /.old-root
rmdir /.old-root
/usr/sbin/sshd -D -e -f /etc/ssh/pinet-ceph/sshd_config &
sshd=$!
status=0
wait "$sshd" || status=$?
echo "admin-host.sh: sshd exited with status $status" >&2
exit "$status"
