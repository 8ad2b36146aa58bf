"""The whole cycle over SSH on a 5-host fleet with seeded faults, through the maint CLI only.

plan (every preventive task, check mode) -> every seeded fault is a finding on its host and on
no other host -> two approvals -> apply in two batches, with a forced post-check failure on host
1 -> host 1 is rolled back while the others finish, and the fixable faults are fixed there
(outdated packages upgraded, the weak sshd setting hardened, the unapproved key removed) ->
the report tells the story and the action log verifies.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from maintenance_runner.lab import faults as lab_faults

from .labkit import free_base, maint, signers

PREFIX = f"maint-e2e-{os.getpid()}"
COUNT = 5
HOSTS = [f"{PREFIX}-{i}" for i in range(1, COUNT + 1)]
SPEC = (
    "outdated:1+2+5,backup-stale:2,backup-corrupt:3,av-stale:4,rogue-uid0:4,"
    "unapproved-key:1+5,weak-sshd:3"
)
TASKS = ["access_review", "backup_verify", "antivirus", "patching", "hardening"]
SEEDED = {fid for fault in lab_faults.CATALOGUE.values() for fid in fault.findings}


def on(host, *command):
    return subprocess.run(
        ["podman", "exec", host, *command], capture_output=True, text=True, check=False
    )


def fixture_version(host):
    return on(host, "dpkg-query", "-W", "-f", "${Version}", "maint-fixture").stdout.strip()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("fleet-cycle")
    signers(site, ["author", "alice", "bob"])
    try:
        maint(
            "lab",
            "up",
            "-n",
            str(COUNT),
            "--base-port",
            str(free_base(COUNT, 3900, 4500)),
            "--prefix",
            PREFIX,
            "--faults",
            SPEC,
            "--state",
            str(site / "lab"),
            cwd=site,
            check=True,
        )
        # Remediation on: access review removes unapproved keys (reversible, like the rest).
        group_vars = site / "lab" / "group_vars"
        group_vars.mkdir(exist_ok=True)
        # The lab's apt sees only the fixture repository: hardening controls that install
        # Debian packages (pwquality, pam_tmpdir, rsyslog, debsums, needrestart, auditd, AIDE,
        # acct, sysstat, fail2ban) cannot run.
        (group_vars / "all.yml").write_text(
            yaml.safe_dump(
                {
                    "access_review_remediate": True,
                    "hardening_pam_pwquality": False,
                    "hardening_pam_tmpdir": False,
                    "hardening_syslog": False,
                    "hardening_pkg_integrity": False,
                    "hardening_needrestart": False,
                    "hardening_auditd": False,
                    "hardening_aide": False,
                    "hardening_accounting": False,
                    "hardening_fail2ban": False,
                }
            )
        )
        start = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%H:%M")
        config = {
            "inventory": "lab/hosts.yml",
            "approvals": {
                "allowed_signers": "allowed_signers",
                "groups": {"ops": ["alice@example.org", "bob@example.org"]},
                "policies": {"normal": {"approvals": 2, "groups": ["ops"], "expires": "12h"}},
            },
            "windows": [
                {
                    "name": "fleet",
                    "schedule": "RRULE:FREQ=DAILY",
                    "start": start,
                    "timezone": "UTC",
                    "duration": "6h",
                    "cutoff": "30m",
                    "tasks": TASKS,
                    "batch": 3,
                    "max_fail": 2,
                    "post_checks": [
                        {"name": "planted", "command": "test ! -e /etc/maint-planted-failure"}
                    ],
                }
            ],
        }
        (site / "maint.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        yield site
    finally:
        maint("lab", "down", "--prefix", PREFIX, cwd=site)


@pytest.fixture(scope="module")
def planned(site):
    maint("plan", "fleet", "--key", "author", "--out", "plan.json", cwd=site, check=True)
    return json.loads((site / "plan.json").read_text())


def seeded(site):
    """host -> finding ids its seeded faults must raise."""
    record = json.loads((site / "lab" / "faults.json").read_text())
    return {h: {f for fault in record.get(h, []) for f in fault["findings"]} for h in HOSTS}


def test_every_seeded_fault_is_a_finding_on_its_host_and_nowhere_else(site, planned):
    expected = seeded(site)
    assert sorted(planned["plan"]["hosts"]) == HOSTS
    baseline = {}
    for host in HOSTS:
        found = {f["id"] for f in planned["plan"]["hosts"][host]["findings"]}
        assert expected[host] <= found, f"{host}: missing {expected[host] - found}"
        assert found & SEEDED <= expected[host], (
            f"{host}: unexpected {found & SEEDED - expected[host]}"
        )
        baseline[host] = found - SEEDED
    # Nothing else: what no fault explains is the image's own state, the same on every host,
    # and only hardening's (the lab image is not hardened; the other tasks find nothing on it).
    first = baseline[HOSTS[0]]
    for host in HOSTS[1:]:
        assert baseline[host] == first, f"{host}: {baseline[host] ^ first} differ from host 1"
    assert {fid.split(".", 1)[0] for fid in first} == {"hardening"}, sorted(first)


def test_two_approvals_then_apply_rolls_back_the_forced_failure_and_fixes_the_rest(site, planned):
    one = maint("approve", "plan.json", "--key", "alice", cwd=site, check=True)
    assert "approved" in one.stdout
    early = maint("apply", "plan.json", "--no-drift-check", cwd=site)
    assert early.returncode == 3 and "1 of 2 required approval" in early.stderr
    maint("approve", "plan.json", "--key", "bob", cwd=site, check=True)
    assert on(HOSTS[0], "touch", "/etc/maint-planted-failure").returncode == 0

    # The drift check is proven by test_change_cycle; here it would only double the run time.
    proc = maint("apply", "plan.json", "--no-drift-check", cwd=site)
    assert proc.returncode == 1, f"{proc.stdout}\n{proc.stderr}"
    assert f"{HOSTS[0]}: rolled back: post-check failed: planted" in proc.stdout
    assert "4 done, 1 rolled back" in proc.stdout

    # host 1: everything it changed was undone (its unapproved key is back: the access review's
    # rollback runs from the manifest the runner names); the others keep what they got
    assert fixture_version(HOSTS[0]) == "1.0"
    assert "ssh-" in on(HOSTS[0], "cat", "/root/.ssh/authorized_keys").stdout
    assert fixture_version(HOSTS[1]) == fixture_version(HOSTS[4]) == "1.1"
    # weak sshd on host 3 hardened; the unapproved key on host 5 removed
    sshd = on(HOSTS[2], "sshd", "-T", "-C", "user=root,host=x,addr=127.0.0.1").stdout
    assert "permitrootlogin no" in sshd
    keys = on(HOSTS[4], "cat", "/root/.ssh/authorized_keys").stdout
    assert "ssh-" not in keys

    run_uid = proc.stdout.split("run ", 1)[1].split(":", 1)[0]
    report = json.loads(maint("report", run_uid, "--format", "json", cwd=site, check=True).stdout)
    text = json.dumps(report)
    assert HOSTS[0] in text and "rolled" in text
    verify = maint("log", "verify", cwd=site, check=True)
    assert "OK" in verify.stdout
