#!/bin/sh
# Fault av-stale: ClamAV main and daily databases whose headers say they were built 30 days ago
# (antivirus: definitions_stale; the role reads the header, not the file time).
set -eu
install -o clamav -g clamav -m 0644 /srv/maint-seed/clamav/stale/main.cud \
  /srv/maint-seed/clamav/stale/daily.cud /var/lib/clamav/
