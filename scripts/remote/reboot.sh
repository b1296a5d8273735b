#!/bin/sh
# pinet: raw
# Reboots the host a second after the SSH command returns, so pinet gets
# the answer before the connection drops (src/jobs/enroll/reboot.ts).
# Arguments: none.
(sleep 1; systemctl reboot >/dev/null 2>&1 || reboot >/dev/null 2>&1) &
