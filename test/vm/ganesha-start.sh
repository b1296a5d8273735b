#!/bin/sh
# Starts NFS-Ganesha for the pinet VM lab (test/vm/ganesha.ts). Runs as PID 1
# of a fresh PID and mount namespace (unshare --pid --mount --fork), inside
# the NFS server's network namespace: a private /run holds rpcbind's socket
# and Ganesha's pid file, rpcbind runs in the background, Ganesha in the
# foreground; when Ganesha ends, the namespace ends and rpcbind with it.
# Arguments: the config file, the log file.
set -eu
conf=$1
log=$2
mount --make-rprivate /
mount -t tmpfs -o mode=0755 lab-run /run
mkdir -p /run/rpcbind /run/ganesha
mount -t proc proc /proc
rpcbind -f -w &
n=0
while [ ! -S /run/rpcbind.sock ] && [ "$n" -lt 100 ]; do
  sleep 0.05
  n=$((n + 1))
done
exec ganesha.nfsd -F -f "$conf" -L "$log" -p /run/ganesha/ganesha.pid
