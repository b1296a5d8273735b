#!/bin/sh
# NFS-Ganesha of the test Ceph cluster, with its own rpcbind (NFSv3 clients
# ask it for the MOUNT port). Runs as PID 1 of a private PID and mount
# namespace (started by cluster.ts through `unshare --pid --mount
# --kill-child`): its own /run holds rpcbind's socket and hides the host's
# D-Bus; when NFS-Ganesha exits, this script exits and the kernel ends
# rpcbind with the namespace.
# Usage: ganesha.sh <dir>   (<dir> holds ganesha.conf; the log and pid file go there)
set -eu
dir=$1
mount -t tmpfs -o mode=0755 pinet-ceph-run /run
mkdir -p /run/rpcbind
rpcbind -f -w &
tries=0
while [ ! -S /run/rpcbind.sock ]; do
  tries=$((tries + 1))
  if [ "$tries" -gt 200 ]; then
    echo "ganesha.sh: rpcbind did not create /run/rpcbind.sock" >&2
    exit 1
  fi
  sleep 0.05
done
ganesha.nfsd -F -L "$dir/ganesha.log" -f "$dir/ganesha.conf" -p "$dir/ganesha.pid" -N NIV_EVENT &
ganesha=$!
status=0
wait "$ganesha" || status=$?
echo "ganesha.sh: ganesha.nfsd exited with status $status" >&2
exit "$status"
