#!/bin/sh
# What the Ceph admin host knows, for `pinet server setup --export ceph`
# (src/jobs/server/ceph.ts): the Ceph version, the file systems, the
# subvolume, the NFS cluster (its exports; `ceph nfs export ls` is the only
# way to tell a cluster exists without an orchestrator), pinet's export by
# its pseudo path, whether an orchestrator runs and, when one does, its
# hosts (a new NFS cluster's placement must name one). Each command's
# output is a section, its exit status the next line's "rc=N".
# Arguments: FS SUBVOLUME GROUP CLUSTER PSEUDO   (GROUP may be empty)
fs=$1 sub=$2 group=$3 cluster=$4 pseudo=$5

if [ "$(id -u)" = 0 ]; then S=; SUDO=root
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then S="sudo -n"; SUDO=ok
elif command -v sudo >/dev/null 2>&1; then S=; SUDO=password
else S=; SUDO=absent; fi
section id; id -u; id -un; echo "$SUDO"; hostname 2>/dev/null || cat /etc/hostname 2>/dev/null
section ceph; command -v ceph 2>/dev/null

asroot() { if [ -n "$S" ]; then sudo -n "$@"; else "$@"; fi; }
run() { name=$1; shift; section "$name"; asroot "$@" 2>&1; rc=$?; echo "rc=$rc"; }
if command -v ceph >/dev/null 2>&1; then
  run version ceph version
  run fs-ls ceph fs ls --format json
  if [ -n "$group" ]; then
    run subvolume-info ceph fs subvolume info "$fs" "$sub" --group_name "$group"
  else
    run subvolume-info ceph fs subvolume info "$fs" "$sub"
  fi
  run export-ls ceph nfs export ls "$cluster" --detailed
  run export-info ceph nfs export info "$cluster" "$pseudo"
  run orch ceph orch status --format json
  if [ "$rc" = 0 ]; then run orch-hosts ceph orch host ls --format json; fi
fi
rec end
