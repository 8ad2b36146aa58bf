"""CVE exposure over a real cycle on one lab host, through the maint CLI.

The host has maint-fixture 1.0, which the project's feed (lab/cve_feed.py) says is exposed to
CVE-2026-90001 (critical, fixed in 1.1) and CVE-2026-90003 (no fix yet). The action log is
given a first sighting ten days old (a simulated first-seen date in the log, never a fake clock
on a real apply). The plan shows both, with the fix in the plan and the critical one overdue
(a follow-up opens); the apply installs 1.1; the next plan shows the critical one fixed; the
report's time to remediate runs from the first sighting to the apply that installed the fix.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from maintenance_runner.actionlog.sightings import record_sightings
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.config.load import load_config
from maintenance_runner.core.clock import FixedClock

from .labkit import free_base, maint, signers

ROOT = Path(__file__).resolve().parents[2]
PREFIX = f"maint-cve-{os.getpid()}"
HOST = f"{PREFIX}-1"
CRITICAL = "CVE-2026-90001 maint-fixture"

pytestmark = pytest.mark.skipif(shutil.which("debsecan") is None, reason="needs debsecan")


def _write_feed(out: Path) -> None:
    spec = importlib.util.spec_from_file_location("cve_feed", ROOT / "lab" / "cve_feed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["cve_feed"] = module
    spec.loader.exec_module(module)
    module.write_feed(out)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("cve")
    signers(site, ["author", "alice"])
    _write_feed(site / "feed")
    up = maint(
        "lab", "up", "-n", "1", "--base-port", str(free_base(1, 4700, 4800)), "--prefix", PREFIX,
        "--state", str(site / "lab"), "--faults", "outdated:all", cwd=site,
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    start = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%H:%M")
    config = {
        "inventory": "lab/hosts.yml",
        "cve": {"feed": f"file://{site / 'feed'}/", "suite": "bookworm", "critical_within": "7d"},
        "approvals": {
            "allowed_signers": "allowed_signers",
            "groups": {"ops": ["alice@example.org"]},
            "policies": {"normal": {"approvals": 1, "groups": ["ops"]}},
        },
        "windows": [
            {"name": "tonight", "schedule": "RRULE:FREQ=DAILY", "start": start,
             "timezone": "UTC", "duration": "6h", "cutoff": "30m", "tasks": ["patching"]}
        ],
    }  # fmt: skip
    (site / "maint.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    seen = datetime.now(UTC) - timedelta(days=10)
    with ActionLog(load_config(site / "maint.yml").actionlog_url, clock=FixedClock(seen)) as log:
        record_sightings(log, "cve", [(HOST, CRITICAL, {"severity": "critical", "fixed": "1.1"})])
    try:
        yield site
    finally:
        maint("lab", "down", "--prefix", PREFIX, cwd=site)


def findings(plan: Path) -> dict[str, dict]:
    raw = json.loads(plan.read_text())
    return {f["id"]: f for f in raw["plan"]["hosts"][HOST]["findings"]}


def test_the_plan_shows_the_exposure_the_fix_and_the_overdue_critical_one(site):
    maint("plan", "tonight", "--key", "author", "--out", "plan.json", cwd=site, check=True)
    found = findings(site / "plan.json")
    opened = found["patching.cve_open"]["message"]
    assert "CVE-2026-90001 maint-fixture 1.0 (critical; fix 1.1 is in the plan" in opened
    assert "CVE-2026-90003 maint-fixture 1.0 (low; no fix yet" in opened
    overdue = found["patching.cve_overdue"]
    assert overdue["severity"] == "critical" and "CVE-2026-90001" in overdue["message"]
    listed = maint("followups", "list", "--json", cwd=site, check=True).stdout
    assert "patching.cve_overdue" in listed  # a follow-up with its response target


def test_after_the_fix_is_applied_the_next_plan_shows_it_fixed_and_the_report_measures_it(site):
    maint("approve", "plan.json", "--key", "alice", cwd=site, check=True)
    applied = maint("apply", "plan.json", cwd=site)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    maint("plan", "tonight", "--key", "author", "--out", "after.json", cwd=site, check=True)
    after = findings(site / "after.json")
    assert "CVE-2026-90001" not in after["patching.cve_open"]["message"]
    assert "CVE-2026-90003" in after["patching.cve_open"]["message"]  # still no fix
    assert "patching.cve_overdue" not in after
    month = f"{datetime.now(UTC):%Y-%m}"
    report = json.loads(
        maint("report", "--month", month, "--format", "json", cwd=site, check=True).stdout
    )
    fixed = {item["cve"]: item for item in report["vulnerabilities"]["fixed"]}
    assert sorted(fixed) == ["CVE-2026-90001", "CVE-2026-90002"]  # tools 1.1 fixed the second
    assert 9.9 < fixed["CVE-2026-90001"]["days"] < 10.1  # from the first sighting to the apply
    assert fixed["CVE-2026-90002"]["days"] < 0.1  # first seen by this cycle's plan
    ttr = {s["severity"]: s for s in report["vulnerabilities"]["time_to_remediate"]}
    assert ttr["critical"]["count"] == 1 and 9.9 < ttr["critical"]["mean_days"] < 10.1
    assert ttr["medium"]["count"] == 1
