#!/bin/sh
# Fault outdated: maint-fixture and maint-fixture-tools 1.0 installed while the fixture
# repository offers 1.1 (patching: updates_pending, security_updates_pending); no reboot pending.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --allow-downgrades maint-fixture=1.0 maint-fixture-tools=1.0 \
  >/dev/null 2>&1
rm -f /run/reboot-required /run/reboot-required.pkgs
service maint-fixture start >/dev/null
