"""A 5-host fleet with every seeded fault: each shows up as a finding on its host, only there.

Starts the fleet with ``maint lab up --faults``, runs every preventive role in check mode over
SSH with ``maint run ... --check --json`` and compares the findings with ``faults.json``.
"""

import json
import os
import subprocess

import pytest

from maintenance_runner.lab import faults as lab_faults

from .labkit import free_base, maint

PREFIX = f"maint-fleet-{os.getpid()}"  # two test runs on one machine never share hosts
COUNT = 5
SPEC = (
    "outdated:1,backup-stale:2,backup-corrupt:3,av-stale:2,rogue-uid0:4,unapproved-key:4,"
    "weak-sshd:5"
)
TASKS = ("access_review", "backup_verify", "antivirus", "patching", "hardening")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    work = tmp_path_factory.mktemp("fleet")
    state = work / "state"
    try:
        maint(
            "lab",
            "up",
            "-n",
            str(COUNT),
            "--base-port",
            str(free_base(COUNT, 3100, 3900)),
            "--prefix",
            PREFIX,
            "--faults",
            SPEC,
            "--state",
            str(state),
            cwd=work,
            check=True,
        )
        yield work, state
    finally:
        maint("lab", "down", "--prefix", PREFIX, cwd=work)


@pytest.fixture(scope="module")
def findings(fleet):
    """host -> set of finding ids of every role in check mode."""
    work, state = fleet
    proc = maint("run", *TASKS, "-i", str(state / "hosts.yml"), "--check", "--json", cwd=work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found: dict[str, set[str]] = {}
    for result in json.loads(proc.stdout):
        assert result["status"] != "failed", result
        found.setdefault(result["host"], set()).update(f["id"] for f in result["findings"])
    return found


def test_faults_json_records_every_host_and_its_faults(fleet):
    _, state = fleet
    record = json.loads((state / "faults.json").read_text())
    assert list(record) == [f"{PREFIX}-{n}" for n in range(1, COUNT + 1)]
    assert {host: [f["fault"] for f in faults] for host, faults in record.items()} == {
        f"{PREFIX}-1": ["outdated"],
        f"{PREFIX}-2": ["backup-stale", "av-stale"],
        f"{PREFIX}-3": ["backup-corrupt"],
        f"{PREFIX}-4": ["rogue-uid0", "unapproved-key"],
        f"{PREFIX}-5": ["weak-sshd"],
    }


def test_each_seeded_fault_is_a_finding_on_its_host_and_nowhere_else(fleet, findings):
    _, state = fleet
    record = json.loads((state / "faults.json").read_text())
    fault_ids = lab_faults.fault_finding_ids()
    assert set(findings) == set(record)
    for host, faults in record.items():
        expected = lab_faults.expected_findings(faults)
        assert findings[host] & fault_ids == expected, host


def test_the_planted_state_is_on_the_right_containers(fleet):
    """What the scripts planted, looked at directly (not through the roles)."""

    def sh(host, command):
        return subprocess.run(
            ["podman", "exec", f"{PREFIX}-{host}", "sh", "-c", command],
            capture_output=True,
            text=True,
            check=False,
        )

    version = "dpkg-query -W -f '${Version}' maint-fixture"
    assert sh(1, version).stdout == "1.0"
    assert sh(2, version).stdout == "1.1"
    assert sh(4, "getent passwd toor").stdout.split(":")[2] == "0"
    assert sh(3, "getent passwd toor").returncode != 0
    assert "rogue@lab.invalid" in sh(4, "cat /root/.ssh/authorized_keys").stdout
    assert sh(5, "sshd -T | grep -i '^permitrootlogin'").stdout.split() == [
        "permitrootlogin",
        "yes",
    ]
    assert sh(1, "sshd -T | grep -i '^permitrootlogin'").stdout.split() == [
        "permitrootlogin",
        "no",
    ]
