#!/usr/bin/env bash
# make demo: the month the README describes, on two lab hosts and embedded defaults (a SQLite
# action log): the onboarding audit with its asset register, then a window with all five
# preventive tasks (restic with a real restore test, ClamAV, the access review against an
# approved baseline, patching, hardening with its score): a plan with its diffs, a refused apply,
# two approvals, an apply with one host's planted failure rolled back, follow-ups with response
# targets in working hours, and the HTML report. It ends by printing what to open.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
site=.maint/demo
mkdir -p "$site/keys"
cd "$site"
rm -rf .maint plan.json plan.html report.html audit

for who in author alice bob; do
  [ -f "keys/$who" ] || ssh-keygen -q -t ed25519 -N '' -C "$who@demo" -f "keys/$who"
done
for who in author alice bob; do
  printf '%s@example.org %s\n' "$who" "$(cat "keys/$who.pub")"
done >keys/allowed_signers

echo "== 0. two lab hosts: an outdated package on both; on host 2 stale virus definitions and an"
echo "      SSH key nobody approved =="
maint lab down --prefix maint-demo >/dev/null
maint lab up --count 2 --prefix maint-demo --base-port 2240 --state lab \
  --faults 'outdated:all,av-stale:2,unapproved-key:2'
# Remediation on for the access review (reversible, like the rest). The lab's apt sees only the
# fixture repository, so hardening controls that would install Debian packages stay off.
mkdir -p lab/group_vars
cat >lab/group_vars/all.yml <<'YAML'
access_review_remediate: true
hardening_pam_pwquality: false
hardening_pam_tmpdir: false
hardening_syslog: false
hardening_pkg_integrity: false
hardening_needrestart: false
hardening_auditd: false
hardening_aide: false
hardening_accounting: false
hardening_fail2ban: false
YAML

# A window that is open now: daily, started five minutes ago (UTC), six hours long.
start=$(date -u -d '5 minutes ago' +%H:%M)
cat >maint.yml <<YAML
inventory: lab/hosts.yml
approvals:
  allowed_signers: keys/allowed_signers
  groups: {ops: [alice@example.org, bob@example.org]}
  policies:
    normal: {approvals: 2, groups: [ops], expires: 72h}
windows:
  - name: demo
    schedule: "RRULE:FREQ=DAILY"
    start: "$start"
    timezone: UTC
    duration: 6h
    cutoff: 30m
    tasks: [access_review, backup_verify, antivirus, patching, hardening]
    batch: 1
    max_fail: 1
    post_checks:
      - {name: planted, command: "test ! -e /etc/maint-planted-failure"}
YAML
maint config check

echo
echo "== 1. onboarding audit: every task in check mode, an asset register, risks and a roadmap =="
maint audit --out audit || echo "(exit $?: see the risks)"
head -n 3 audit/assets.csv

echo
echo "== 2. the engineer plans the window (check mode with diffs, signed with the author's key) =="
maint plan demo --key keys/author --out plan.json >/dev/null
maint show plan.json --html plan.html | sed -n '1,60p'
echo "   ... (the whole plan: maint show $site/plan.json, or plan.html)"

echo
echo "== 3. apply before anyone approved: refused, nothing runs =="
maint apply plan.json || echo "(exit $?: refused)"

echo
echo "== 4. two approvers sign it off (the author's own approval is refused) =="
maint approve plan.json --key keys/author || echo "(exit $?: the author cannot approve)"
maint approve plan.json --key keys/alice --comment "monthly cycle, ok"
maint approve plan.json --key keys/bob

echo
echo "== 5. apply in batches: host 2 has a planted post-check failure and is rolled back =="
podman exec maint-demo-2 touch /etc/maint-planted-failure
maint apply plan.json || echo "(exit $?: a host failed and was rolled back)"

echo
echo "== 6. the action log, its chains, and follow-ups with response targets in working hours =="
maint log runs
maint log verify
maint followups list || true

run=$(maint log runs --json --limit 1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["run_uid"])')
maint report "$run" --format html --out report.html
maint report "$run" | sed -n '1,25p'

cat <<MSG

Open these:
  Asset register and risks:  $root/$site/audit/audit.html  (and assets.csv, risks.md, roadmap.md)
  The plan an approver read: $root/$site/plan.html
  The report of the run:     $root/$site/report.html
  The action log:            cd $site && maint log    (SQLite: $site/.maint/actionlog.db)
Lab hosts:   ssh -i $site/lab/id_ed25519 -p 2241 maint@127.0.0.1  (and -p 2242)
Roll back host 1 by hand:    cd $site && maint rollback $run --host maint-demo-1
Remove the lab:              maint lab down --prefix maint-demo
MSG
