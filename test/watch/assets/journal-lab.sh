#!/bin/sh
# A real systemd journal for pinet watch's tests, without systemd as PID 1:
# the real systemd-journald and the real dnsmasq (logging to syslog, no
# log-facility=) in a private mount namespace, each in the cgroup systemd
# would give it (/system.slice/<unit>.service, as seen from a private cgroup
# namespace), so journald records _SYSTEMD_UNIT=dnsmasq.service and
# `journalctl --file <f> -u dnsmasq` selects dnsmasq's lines as on a real
# boot server. Run as:
#   unshare --cgroup --mount --fork sh journal-lab.sh CGROUP STATE JOURNAL NETNS CONF
# from a process already moved into CGROUP (the cgroup namespace's root).
# CGROUP: the cgroup2 directory (with system.slice/{systemd-journald,dnsmasq}.service
# created); STATE: a directory for pid files; JOURNAL: where journald's
# /run/log/journal is kept (the journal file ends up in JOURNAL/<machine-id>/);
# NETNS: the network namespace file dnsmasq runs in; CONF: dnsmasq's config.
set -eu
cg=$1
state=$2
journal=$3
netns=$4
conf=$5

mount --make-rprivate /
# journald's sockets and its volatile storage, private to this namespace.
mount -t tmpfs -o mode=0755 tmpfs /run/systemd
mkdir /run/systemd/journal
mount -t tmpfs -o mode=0755 tmpfs /run/log
mkdir /run/log/journal
mount --bind "$journal" /run/log/journal
# A private /dev with /dev/log pointing at journald's syslog socket.
mkdir "$state/hostdev"
mount --bind /dev "$state/hostdev"
mount -t tmpfs -o mode=0755 tmpfs /dev
for n in null zero random urandom; do
  : > "/dev/$n"
  mount --bind "$state/hostdev/$n" "/dev/$n"
done
ln -s /run/systemd/journal/dev-log /dev/log

# shellcheck disable=SC2016 # $$ and $1 belong to the inner shell
sh -c 'echo $$ > "$1/cgroup.procs"; exec /lib/systemd/systemd-journald' sh "$cg/system.slice/systemd-journald.service" &
echo $! > "$state/journald.pid"
tries=0
while [ ! -S /run/systemd/journal/dev-log ]; do
  tries=$((tries + 1))
  if [ "$tries" -gt 200 ]; then
    echo "systemd-journald did not open /run/systemd/journal/dev-log" >&2
    exit 1
  fi
  sleep 0.05
done

# shellcheck disable=SC2016
sh -c 'echo $$ > "$1/cgroup.procs"; exec nsenter --net="$2" -- dnsmasq --keep-in-foreground --conf-file="$3"' sh "$cg/system.slice/dnsmasq.service" "$netns" "$conf" &
echo $! > "$state/dnsmasq.pid"
echo ready > "$state/ready"
wait
