#!/bin/sh
# pinet: raw
# Which of the given files cannot be opened for reading by the user this runs
# as (pinet doctor starts it with the TFTP server's uid and gid and no other
# group, as dnsmasq reads files): on an NFS mount the NFS server decides, not
# the mode bits. Prints each file that cannot be read, NUL-terminated.
# Arguments: FILE...
for f do
  if ! head -c 1 -- "$f" >/dev/null 2>&1; then printf '%s\0' "$f"; fi
done
