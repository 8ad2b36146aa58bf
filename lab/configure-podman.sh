#!/usr/bin/env bash
# Configure rootful Podman for this kind of machine: runc as the runtime (crun fails on hybrid
# cgroups) and explicit ulimits. Idempotent; only writes when something differs.
set -euo pipefail
conf=/etc/containers/containers.conf
if [ "$(id -u)" != 0 ]; then
  echo "configure-podman: not root, leaving $conf alone (needs: [engine] runtime=\"runc\" and [containers] default_ulimits)" >&2
  exit 0
fi
command -v runc >/dev/null 2>&1 || { echo "configure-podman: runc is missing: apt-get install -y runc" >&2; exit 1; }
want='# Written by maint lab/configure-podman.sh
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
'
mkdir -p /etc/containers
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$(printf '%s' "$want")" ]; then
  if [ -f "$conf" ] && ! grep -q 'Written by maint' "$conf"; then
    cp "$conf" "$conf.maint-backup"
  fi
  printf '%s' "$want" >"$conf"
  echo "configure-podman: wrote $conf"
fi
