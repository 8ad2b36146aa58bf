"""CVE exposure with Debian's own debsecan, on the control node, against the project's feed.

Real debsecan over package lists as playbooks/packages.yml reads them from a host; the
findings a plan shows; and the report's Vulnerabilities section and time to remediate from
what the action log recorded (a first sighting, the apply that installed the fix, the
judgment that found it fixed).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maintenance_runner.actionlog.plans import record_results
from maintenance_runner.actionlog.sightings import record_sightings
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.config.models import CveConfig
from maintenance_runner.core.clock import FixedClock
from maintenance_runner.core.results import TaskResult
from maintenance_runner.cycle.cve import CVE, CVE_FIXED, debsecan, host_findings, severity
from maintenance_runner.report.data import build_report
from maintenance_runner.report.render import render

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    shutil.which("debsecan") is None, reason="debsecan is not installed (apt-get install debsecan)"
)


def _feed_module():
    spec = importlib.util.spec_from_file_location("cve_feed", ROOT / "lab" / "cve_feed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["cve_feed"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cve(tmp_path_factory):
    out = tmp_path_factory.mktemp("feed")
    _feed_module().write_feed(out)
    return CveConfig(feed=f"file://{out}/", suite="bookworm", critical_within="7d")


def packages(version: str) -> list[list[str]]:
    return [
        ["maint-fixture", version, "maint-fixture", version, "all"],
        ["maint-fixture-tools", version, "maint-fixture-tools", version, "all"],
        ["bash", "5.2.15-2+b7", "bash", "5.2.15-2", "amd64"],
    ]


def test_debsecan_judges_the_packages_a_host_has(cve):
    found = {(e.cve, e.package): e for e in debsecan(packages("1.0"), cve)}
    assert set(found) == {
        ("CVE-2026-90001", "maint-fixture"),
        ("CVE-2026-90002", "maint-fixture-tools"),
        ("CVE-2026-90003", "maint-fixture"),
    }
    critical = found[("CVE-2026-90001", "maint-fixture")]
    assert (critical.fixed, critical.urgency, critical.remote) == ("1.1", "high", True)
    assert severity(critical) == "critical"
    assert found[("CVE-2026-90003", "maint-fixture")].fixed is None  # no fix yet
    after = {(e.cve, e.package) for e in debsecan(packages("1.1"), cve)}
    assert after == {("CVE-2026-90003", "maint-fixture")}


def test_the_findings_say_where_each_fix_stands_and_since_when(cve):
    exposures = debsecan(packages("1.0"), cve)
    now = datetime(2026, 12, 10, 22, tzinfo=UTC)
    since = {"CVE-2026-90001 maint-fixture": now - timedelta(days=10)}
    pending = {
        "maint-fixture": {"name": "maint-fixture", "decision": "in"},
        "maint-fixture-tools": {
            "name": "maint-fixture-tools",
            "decision": "out",
            "reason": "too new: 2 of 7 days since first seen",
        },
    }
    found = {f.id: f for f in host_findings(exposures, since, pending, now, timedelta(days=7))}
    opened = found["patching.cve_open"]
    assert opened.severity == "critical"
    assert "CVE-2026-90001 maint-fixture 1.0 (critical; fix 1.1 is in the plan; exposed since " \
        "2026-11-30)" in opened.message  # fmt: skip
    assert "fix 1.1 waits: too new: 2 of 7 days" in opened.message
    assert "CVE-2026-90003 maint-fixture 1.0 (low; no fix yet" in opened.message
    assert "CVE-2026-90001 maint-fixture since 2026-11-30" in found["patching.cve_overdue"].message


def test_the_report_computes_time_to_remediate_from_the_log(store_url):
    first = datetime(2026, 11, 2, 9, tzinfo=UTC)
    applied = datetime(2026, 11, 12, 22, tzinfo=UTC)
    judged = datetime(2026, 11, 13, 9, tzinfo=UTC)
    with ActionLog(store_url, clock=FixedClock(first)) as log:
        record_sightings(
            log,
            CVE,
            [
                ("web1", "CVE-2026-90001 maint-fixture", {"severity": "critical", "fixed": "1.1"}),
                ("web1", "CVE-2026-90003 maint-fixture", {"severity": "low", "fixed": None}),
            ],
        )
    with ActionLog(store_url, clock=FixedClock(applied)) as log:
        run = log.start_run("monthly", "apply")
        data = {"applied": [{"name": "maint-fixture", "before": "1.0", "after": "1.1"}]}
        record_results(log, run, [TaskResult("web1", "patching", "changed", data=data)], {},
                       applied)  # fmt: skip
        log.finish_run(run, "done")
    with ActionLog(store_url, clock=FixedClock(judged)) as log:
        record_sightings(log, CVE_FIXED, [("web1", "CVE-2026-90001 maint-fixture", None)])
        report = build_report(log, month="2026-11", clock=FixedClock(judged))
    v = report.vulnerabilities
    assert v is not None
    ((fixed,),) = [v.fixed]
    assert (fixed.cve, fixed.fixed_at, fixed.days) == ("CVE-2026-90001", applied, 10.54)
    (stats,) = v.time_to_remediate
    assert (stats.severity, stats.count, stats.mean_days, stats.p90_days) == (
        "critical",
        1,
        10.54,
        10.54,
    )
    assert [i.cve for i in v.open] == ["CVE-2026-90003"] and v.open_by_severity["low"] == 1
    text = render(report, "md")
    assert "## Vulnerabilities: open CVEs, oldest first" in text
    assert "| Time to remediate (critical) | 10.5 d mean, 10.5 d p90 |" in text
    assert "open CVEs" in text and "CVEs fixed in the period" in text
