#!/bin/sh
# pinet: uses lib/lock.sh
# Puts pinet's NFS export in place on the NFS server (src/jobs/server/), in
# one round trip and under the server's pinet lock: the exported directory
# (created, with the owner and mode the squash needs), pinet's own config
# file (/etc/exports.d/pinet.exports, or a Ganesha EXPORT block that
# ganesha.conf includes), then the server told to use it (exportfs -ra, or
# Ganesha reloaded). The files it replaces are backed up first; if the
# server refuses the new export, the old files come back and it is told
# again. Prints what the server now exports.
# Arguments: STATE_DIR STAMP BACKEND FILE CONTENT PATH OWNER MODE MAIN_CONF MAIN_CONTENT RELOAD [recursive]
#   BACKEND       kernel-nfs or ganesha
#   FILE CONTENT  pinet's config file and its new content (empty CONTENT: leave it)
#   OWNER MODE    of the exported directory (uid:gid, octal); "recursive": everything in it gets OWNER too
#   MAIN_CONF MAIN_CONTENT   ganesha: the main config and its new text (empty: leave it)
#   RELOAD        hup (reload the exports) or restart (kernel-nfs: start the stopped NFS server;
#                 ganesha: NFS versions changed, or not running)
STATE=$1 STAMP=$2 BACKEND=$3 FILE=$4 CONTENT=$5 DIR=$6 OWNER=$7 MODE=$8 MAIN=$9
shift 9
MAIN_CONTENT=$1 RELOAD=$2 RECURSIVE=${3:-}
take_lock "$STATE"
BK=$STATE/backup/server-$STAMP
OLD_FILE='' OLD_MAIN='' FILE_DONE='' MAIN_DONE=''

restore() {
  if [ -n "$FILE_DONE" ]; then
    if [ -n "$OLD_FILE" ]; then cp -p "$OLD_FILE" "$FILE"; else rm -f "$FILE"; fi
  fi
  if [ -n "$MAIN_DONE" ] && [ -n "$OLD_MAIN" ]; then cp -p "$OLD_MAIN" "$MAIN"; fi
  tell >/dev/null 2>&1 && step_undone export
}
tell() {
  if [ "$BACKEND" = kernel-nfs ]; then
    PATH=$PATH:/usr/sbin exportfs -ra 2>&1 || return 1
    # Installed but stopped: start it now and at every boot.
    if [ "$RELOAD" = restart ] && [ -d /run/systemd/system ]; then systemctl enable --now nfs-server 2>&1; fi
  elif [ -d /run/systemd/system ] && systemctl cat nfs-ganesha >/dev/null 2>&1; then
    systemctl is-enabled nfs-ganesha >/dev/null 2>&1 || systemctl enable nfs-ganesha 2>&1 || return 1
    if [ "$RELOAD" = restart ]; then systemctl restart nfs-ganesha 2>&1; else systemctl reload-or-restart nfs-ganesha 2>&1; fi
  elif [ "$RELOAD" = restart ]; then
    echo "Ganesha runs without systemd here: restart ganesha.nfsd by hand (its NFS versions changed)"; return 1
  else
    p=$(pidof ganesha.nfsd) || { echo "ganesha.nfsd is not running"; return 1; }
    # shellcheck disable=SC2086 # one or more PIDs
    kill -HUP $p 2>&1
  fi
}

if [ -e "$DIR" ] && [ ! -d "$DIR" ]; then step_fail directory "$DIR exists and is not a directory"; exit 1; fi
{ mkdir -p "$DIR" && chown "$OWNER" "$DIR" && chmod "$MODE" "$DIR"; } || { step_fail directory "cannot create $DIR with owner $OWNER and mode $MODE"; exit 1; }
if [ "$RECURSIVE" = recursive ] && ! chown -R -h "$OWNER" "$DIR"; then step_fail directory "cannot give what is in $DIR to $OWNER"; exit 1; fi
step_done directory

if ! mkdir -p "$BK" || ! chmod 700 "$STATE/backup" "$BK"; then step_fail backup "cannot create $BK"; exit 1; fi
if [ -f "$FILE" ]; then OLD_FILE=$BK/${FILE##*/}; cp -p "$FILE" "$OLD_FILE" || { step_fail backup "cannot back up $FILE"; exit 1; }; fi
if [ -n "$MAIN" ] && [ -f "$MAIN" ]; then OLD_MAIN=$BK/${MAIN##*/}.main; cp -p "$MAIN" "$OLD_MAIN" || { step_fail backup "cannot back up $MAIN"; exit 1; }; fi
step_done backup "$BK"

if [ -n "$CONTENT" ]; then
  if ! mkdir -p "$(dirname "$FILE")" || ! atomic "$FILE" 644 "$CONTENT"; then step_fail export "cannot write $FILE"; exit 1; fi
  FILE_DONE=1
fi
if [ -n "$MAIN" ] && [ -n "$MAIN_CONTENT" ]; then
  atomic "$MAIN" 644 "$MAIN_CONTENT" || { restore; step_fail export "cannot write $MAIN"; exit 1; }
  MAIN_DONE=1
fi
if ! out=$(tell); then
  restore
  step_fail export "the NFS server refused the new export: $(printf '%s' "$out" | tail -n 1)"
  exit 1
fi
step_done export
section exportfs-v
if [ "$BACKEND" = kernel-nfs ]; then PATH=$PATH:/usr/sbin exportfs -v 2>&1; fi
rec end
