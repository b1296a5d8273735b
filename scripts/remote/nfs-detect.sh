#!/bin/sh
# What the NFS server has, for `pinet server setup` (src/jobs/server/):
# who we are there (and whether sudo works), systemd, the Linux NFS server
# (exportfs, pinet's file in /etc/exports.d, what exportfs -v says, the
# other exports), NFS-Ganesha (its config, pinet's included block, whether
# it runs), the exported directory, and the server's addresses.
# Arguments: PATH EXPORTS_FILE GANESHA_CONF GANESHA_BLOCK
path=$1 exports_file=$2 ganesha_conf=$3 ganesha_block=$4

if [ "$(id -u)" = 0 ]; then S=; SUDO=root
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then S="sudo -n"; SUDO=ok
elif command -v sudo >/dev/null 2>&1; then S=; SUDO=password
else S=; SUDO=absent; fi

section id; id -u; id -un; echo "$SUDO"; hostname 2>/dev/null || cat /etc/hostname 2>/dev/null
section systemd; [ -d /run/systemd/system ] && echo yes
section addresses; ip -o -4 addr show 2>/dev/null | awk '{ print $2, $4 }'
section path
if [ -e "$path" ] || [ -L "$path" ]; then $S stat -c '%F %a %u %g' -- "$path" 2>&1; else echo missing; fi
# Who owns what is inside (uid:gid and a count): a squashing export needs it all to be the anonymous identity's.
section path-owners; [ -d "$path" ] && $S find "$path" -mindepth 1 -printf '%U:%G\n' 2>/dev/null | sort | uniq -c
section path-parent; d=${path%/*}; [ -n "$d" ] || d=/; if [ -d "$d" ]; then echo dir; else echo missing; fi

section exportfs; command -v exportfs 2>/dev/null || { [ -x /usr/sbin/exportfs ] && echo /usr/sbin/exportfs; }
section nfs-service
if [ -d /run/systemd/system ]; then systemctl is-active nfs-server 2>/dev/null || systemctl is-active nfs-kernel-server 2>/dev/null; fi
section exports-file; [ -f "$exports_file" ] && $S cat -- "$exports_file"
section etc-exports; [ -f /etc/exports ] && cat /etc/exports
section exports-d; for f in /etc/exports.d/*.exports; do [ -f "$f" ] && [ "$f" != "$exports_file" ] && { printf '# %s\n' "$f"; cat "$f"; }; done
section exportfs-v
if command -v exportfs >/dev/null 2>&1 || [ -x /usr/sbin/exportfs ]; then PATH=$PATH:/usr/sbin $S exportfs -v 2>&1; fi

section ganesha; command -v ganesha.nfsd 2>/dev/null || { [ -x /usr/bin/ganesha.nfsd ] && echo /usr/bin/ganesha.nfsd; }
section ganesha-running
if [ -d /run/systemd/system ] && systemctl is-active nfs-ganesha >/dev/null 2>&1; then echo systemd
elif p=$(pidof ganesha.nfsd 2>/dev/null) && [ -n "$p" ]; then echo "pid $p"
fi
section ganesha-conf; [ -f "$ganesha_conf" ] && $S cat -- "$ganesha_conf"
section ganesha-block; [ -f "$ganesha_block" ] && $S cat -- "$ganesha_block"
rec end
