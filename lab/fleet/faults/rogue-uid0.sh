#!/bin/sh
# Fault rogue-uid0: an extra account with user ID 0 (access_review: uid0, unapproved_user).
set -eu
if ! getent passwd toor >/dev/null; then
  useradd --non-unique --uid 0 --gid 0 --no-create-home --home-dir /root --shell /bin/bash toor
fi
