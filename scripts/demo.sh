#!/usr/bin/env bash
# make demo: the change cycle on two lab hosts with the fixture repository, on embedded defaults
# (a SQLite action log): plan, a refused apply, a second person's approval, apply with one
# planted post-check failure rolled back, the action log, follow-ups, and the HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
site=.maint/demo
mkdir -p "$site/keys"
cd "$site"

for who in author alice bob; do
  [ -f "keys/$who" ] || ssh-keygen -q -t ed25519 -N '' -C "$who@demo" -f "keys/$who"
done
for who in author alice bob; do
  printf '%s@example.org %s\n' "$who" "$(cat "keys/$who.pub")"
done >keys/allowed_signers

maint lab down --prefix maint-demo >/dev/null
maint lab up --count 2 --prefix maint-demo --base-port 2240 --state lab

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
    tasks: [patching]
    batch: 1
    max_fail: 1
    post_checks:
      - {name: planted, command: "test ! -e /etc/maint-planted-failure"}
YAML
maint config check

echo
echo "== 1. the engineer plans the window (check mode, signed with the author's key) =="
maint plan demo --key keys/author --out plan.json
maint show plan.json --html plan.html >/dev/null

echo
echo "== 2. apply before anyone approved: refused, nothing runs =="
maint apply plan.json || echo "(exit $?: refused)"

echo
echo "== 3. two approvers sign it off (the author's own approval would not count) =="
maint approve plan.json --key keys/alice --comment "fixture update, ok"
maint approve plan.json --key keys/bob

echo
echo "== 4. apply: host 2 has a planted post-check failure and is rolled back =="
podman exec maint-demo-2 touch /etc/maint-planted-failure
maint apply plan.json || echo "(exit $?: a host failed and was rolled back)"

echo
echo "== 5. the action log tells the story =="
maint log
maint log verify
maint followups list || true

report=""
if maint report --help >/dev/null 2>&1; then
  run=$(maint log --json --limit 1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["run_uid"])')
  maint report "$run" --format html --out report.html
  report="$root/$site/report.html"
fi

cat <<MSG

Action log:  $root/$site/.maint/actionlog.db   (maint log -c $site/maint.yml)
Plan:        $root/$site/plan.json and plan.html
${report:+Report:      $report
}Lab hosts:   ssh -i $site/lab/id_ed25519 -p 2241 maint@127.0.0.1  (and -p 2242)
Roll back the upgraded host by hand:  cd $site && maint rollback RUN --host maint-demo-1
Remove the lab:                        maint lab down --prefix maint-demo
MSG
