#!/usr/bin/env bash
# make demo: one lab host with the fixture repository; patching in check mode, then for real.
set -euo pipefail
cd "$(dirname "$0")/.."
inv=.maint/lab/hosts.yml

maint lab down --prefix maint-lab >/dev/null
maint lab up --count 1

echo
echo "== 1. check mode: what would change (nothing is changed) =="
maint run patching -i "$inv" --check || true

echo
echo "== 2. apply =="
maint run patching -i "$inv"

echo
echo "== 3. the structured result (maint_result) =="
maint run patching -i "$inv" --check --json

cat <<MSG

The lab host is still running: ssh -i .maint/lab/id_ed25519 -p 2201 maint@127.0.0.1
Roll it back with:  ANSIBLE_COLLECTIONS_PATH=\$(.venv/bin/python -m maintenance_runner.collection) \\
                      .venv/bin/ansible-playbook maint.preventive.rollback -i $inv
Remove it with:     make lab-down
MSG
