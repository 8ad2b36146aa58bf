#!/bin/sh
# Fault weak-sshd: root login over SSH allowed again in the hardening drop-in, which sshd reads
# first, and sshd reloaded (hardening: ssh_root_login).
set -eu
dropin=/etc/ssh/sshd_config.d/00-maint-hardening.conf
other=$(grep -v '^[[:space:]]*PermitRootLogin[[:space:]]' "$dropin" 2>/dev/null || true)
printf 'PermitRootLogin yes\n%s' "${other:+$other
}" >"$dropin"
chmod 0600 "$dropin"
/usr/sbin/sshd -t
# sshd is the container's first process: SIGHUP makes it re-execute itself and read the change.
kill -HUP 1
