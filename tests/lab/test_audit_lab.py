"""``maint audit`` against a real lab host over SSH, from a directory outside the repository.

One lab host (Debian 12 container with the fixture repository) plus one inventory host whose
port nothing listens on. The lab host's inventory names an account without a key or sudo as the
hardening lockout account, so the hardening role refuses (as it would on a host where the
maintenance account is not set up yet) and stops the play for the host: the audit must still
run the task after it (patching). Check mode must change nothing on the host.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from maintenance_runner.actionlog import ActionLog

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
PREFIX = f"maint-audit-{os.getpid()}"  # two test runs on one machine never share hosts
HOST = f"{PREFIX}-1"
GONE = "db-gone"

# What check mode must leave alone: the configuration the roles would change, the packages,
# and the state directories the roles write to when they apply.
SNAPSHOT = r"""
set -e
find /etc -xdev \( -type f -o -type d -o -type l \) -printf '%p %m %U %G %s\n' | sort
find /etc -xdev -type f -exec sha256sum {} + | sort -k2
dpkg -l | sha256sum
ls -laR /var/lib/maint 2>/dev/null || echo "no /var/lib/maint"
ls -la /etc/ssh/sshd_config.d /etc/sudoers.d
"""


def listening(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_base_port(start=2800, stop=3400):
    """A base port whose lab port (base + 1) and the next one (for db-gone) are closed."""
    for port in range(start + (os.getpid() % 200), stop):
        if not listening(port + 1) and not listening(port + 2):
            return port
    raise RuntimeError("no free loopback port for the lab host")


def maint(*args, cwd, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    proc = subprocess.run(
        [str(BIN / "maint"), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if check:
        assert proc.returncode == 0, f"maint {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
    return proc


def on_host(script):
    return subprocess.run(
        ["podman", "exec", HOST, "sh", "-c", script], capture_output=True, text=True, check=True
    ).stdout


def group_with(inventory, host):
    """The inventory group (a mapping with ``hosts``) that lists ``host``."""
    stack = [inventory["all"]]
    while stack:
        group = stack.pop()
        if host in (group.get("hosts") or {}):
            return group
        stack += list((group.get("children") or {}).values())
    raise AssertionError(f"{host} is not in the lab inventory")


def pending_on_host():
    """What apt itself would upgrade on the host: (all, from a security origin)."""
    lines = [
        line
        for line in on_host("apt-get -s -o Debug::NoLocking=1 dist-upgrade").splitlines()
        if line.startswith("Inst ")
    ]
    return len(lines), sum(1 for line in lines if "-security" in line or "Security" in line)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("audit")
    assert REPO not in work.parents  # the audit runs from outside the repository
    state = work / "state"
    base = free_base_port()
    try:
        maint(
            "lab", "up", "--count", "1", "--prefix", PREFIX, "--base-port", str(base),
            "--state", str(state), cwd=work,
        )  # fmt: skip
        inventory = yaml.safe_load((state / "hosts.yml").read_text())
        hosts = group_with(inventory, HOST)["hosts"]
        hosts[HOST]["hardening_lockout_user"] = "nobody"
        hosts[GONE] = {"ansible_host": "127.0.0.1", "ansible_port": base + 2}
        (work / "hosts.yml").write_text(yaml.safe_dump(inventory))
        (work / "maint.yml").write_text(
            "inventory: hosts.yml\nactionlog: sqlite:///.maint/actionlog.db\n"
        )
        yield work
    finally:
        maint("lab", "down", "--prefix", PREFIX, cwd=work, check=False)


@pytest.fixture(scope="module")
def audited(lab):
    before = on_host(SNAPSHOT)
    proc = maint("audit", "--out", "report", cwd=lab, check=False)
    after = on_host(SNAPSHOT)
    return lab, proc, before, after


def test_audit_writes_the_register_with_the_real_host(audited):
    work, proc, _, _ = audited
    clamscan = on_host("command -v clamscan || true").strip()
    pending = pending_on_host()
    # 1: a host could not be reached and a task failed; the files are written anyway.
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"maint audit: {HOST}: facts gathered (Debian 12" in proc.stderr
    assert f"running patching again on {HOST}" in proc.stderr
    out = work / "report"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["assets.csv", "assets.json", "risks.md", "roadmap.md", "roadmap.csv", "audit.html"]
    )
    register = json.loads((out / "assets.json").read_text())
    rows = {r["host"]: r for r in register["hosts"]}
    assert set(rows) == {HOST, GONE}
    row = rows[HOST]
    assert row["reachable"] is True
    debian = on_host("cat /etc/debian_version").strip()
    assert row["os"] == f"Debian {debian} (bookworm)"
    assert row["kernel"] == on_host("uname -r").strip()
    mem_kb = int(on_host("awk '/^MemTotal:/ {print $2}' /proc/meminfo"))
    assert row["memory_mb"] == mem_kb // 1024
    assert row["cpu_threads"] == int(on_host("nproc --all").strip())
    assert row["disks"] and all(0 <= d["used_pct"] <= 100 for d in row["disks"])
    assert row["uptime_days"] is not None
    # The fixture repository: maint-fixture 1.1 (plain) and maint-fixture-tools 1.1 (security).
    assert pending == (2, 1)
    assert (row["pending_updates"], row["security_updates"]) == pending
    if clamscan:
        assert row["antivirus"].startswith("ClamAV ")
    else:
        assert row["antivirus"] == "not installed (ClamAV)"
    repositories = group_with(yaml.safe_load((work / "hosts.yml").read_text()), HOST)
    if (repositories.get("vars") or {}).get("backup_verify_repositories"):
        assert row["last_good_backup"] and row["backup_state"] == "verified"
    else:
        assert row["backup_state"] == "not configured"
    assert row["hardening_score"] is not None and 0 <= row["hardening_score"] < 100
    assert "maint" in {a["name"] for a in row["admin_accounts"]}
    assert row["tasks"]["hardening"] == "failed"
    assert row["tasks"]["patching"] == "changed"  # would change: it ran in the second pass
    gone = rows[GONE]
    assert gone["reachable"] is False
    assert "Connection refused" in gone["reason"]
    csv_text = (out / "assets.csv").read_text()
    assert HOST in csv_text and GONE in csv_text


def test_audit_writes_risk_notes_and_a_roadmap(audited):
    work, _, _, _ = audited
    out = work / "report"
    risks = (out / "risks.md").read_text()
    assert "## 1. [CRITICAL] Hardening would lock the maintenance account out" in risks
    assert "Hosts that could not be audited" in risks
    roadmap = (out / "roadmap.md").read_text()
    fix_now = roadmap.split("## Fix now", 1)[1].split("## Enters the preventive cycle", 1)[0]
    assert "hardening.lockout_risk" in fix_now and "audit.unreachable" in fix_now
    assert "patching.security_updates_pending" in roadmap.split("## Enters the preventive", 1)[1]
    assert "## Separate project" in roadmap
    rows = (out / "roadmap.csv").read_text().splitlines()
    assert rows[0].startswith("bucket,severity,host,task,finding_id")
    assert any(f",{GONE},audit,audit.unreachable," in r for r in rows)
    html = (out / "audit.html").read_text()
    assert "<svg" in html and HOST in html and "Asset register" in html


def test_audit_is_recorded_as_a_check_run_in_the_action_log(audited):
    work, proc, _, _ = audited
    assert "(mode check)" in proc.stdout
    with ActionLog(f"sqlite:///{work / '.maint' / 'actionlog.db'}") as store:
        rows = store.results(limit=None)
        assert store.verify().ok
    statuses = {(r["host"], r["task"]): r["status"] for r in rows}
    assert statuses[(GONE, "audit")] == "unreachable"
    assert statuses[(HOST, "patching")] == "changed"
    assert statuses[(HOST, "hardening")] == "failed"
    assert not any(r["changed"] for r in rows)


def test_check_mode_changed_nothing_on_the_host(audited):
    _, _, before, after = audited
    assert before == after
