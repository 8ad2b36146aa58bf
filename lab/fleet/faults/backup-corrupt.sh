#!/bin/sh
# Fault backup-corrupt: 64 bytes in the middle of the biggest data pack of the lab repository
# overwritten with zeros, as a failing disk would (backup_verify: corruption, found by
# restic check --read-data-subset). Running it again writes the same zeros.
set -eu
pack=$(find /srv/backup/lab/data -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
[ -n "$pack" ] || { echo "backup-corrupt: no data pack in /srv/backup/lab" >&2; exit 1; }
dd if=/dev/zero of="$pack" bs=1 seek=4096 count=64 conv=notrunc status=none
