#!/bin/sh
# pinet: uses lib/lock.sh
# `pinet server rollback` on the NFS server (src/jobs/server/rollback.ts):
# the files pinet server setup replaced come back from its backup, the ones
# it created go, and the server is told (exportfs -ra, or Ganesha reloaded).
# The exported directory and the boot files in it stay.
# Arguments: STATE_DIR BACKEND BACKUP_DIR FILE...   (each FILE is restored from BACKUP_DIR, or removed when it has no backup there)
STATE=$1 BACKEND=$2 BK=$3
shift 3
take_lock "$STATE"
[ -d "$BK" ] || { step_fail restore "the backup $BK is gone"; exit 1; }
for f in "$@"; do
  b=$BK/${f##*/}
  [ -f "$b" ] || b=$BK/${f##*/}.main
  if [ -f "$b" ]; then
    cp -p "$b" "$f" || { step_fail restore "cannot restore $f"; exit 1; }
  else
    rm -f "$f" || { step_fail restore "cannot remove $f"; exit 1; }
  fi
done
step_done restore
if [ "$BACKEND" = kernel-nfs ]; then
  out=$(PATH=$PATH:/usr/sbin exportfs -ra 2>&1) || { step_fail reload "exportfs -ra: $(printf '%s' "$out" | tail -n 1)"; exit 1; }
elif [ -d /run/systemd/system ] && systemctl is-enabled nfs-ganesha >/dev/null 2>&1; then
  out=$(systemctl reload-or-restart nfs-ganesha 2>&1) || { step_fail reload "$(printf '%s' "$out" | tail -n 1)"; exit 1; }
elif p=$(pidof ganesha.nfsd); then
  # shellcheck disable=SC2086 # one or more PIDs
  kill -HUP $p || { step_fail reload "cannot signal ganesha.nfsd"; exit 1; }
fi
step_done reload
rec end
