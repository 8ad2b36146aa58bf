#!/bin/sh
# Fault backup-stale: the lab repository's newest snapshot is 30 days old (backup_verify:
# stale_snapshot). The seed's stale repository holds the same data as the healthy one.
set -eu
rm -rf /srv/backup/lab
cp -a /srv/maint-seed/backup/stale /srv/backup/lab
