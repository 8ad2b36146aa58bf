"""``maint report`` end to end: a two-month story in a real action log (SQLite and PostgreSQL),
the command in every format, every output parsed and its numbers checked."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from click.testing import CliRunner

from maintenance_runner.actionlog import ActionLog
from maintenance_runner.cli.report import report_command
from maintenance_runner.core.clock import FixedClock
from maintenance_runner.core.schedule import Slot

from .report_story import (
    HOSTS,
    NOV_PLAN_CHECK,
    NOV_RUN,
    OCT_PLAN_CHECK,
    PATCH_SECONDS,
    REPORT_AT,
    TASKS,
    WINDOW,
    at,
    write_story,
)

AT = REPORT_AT.isoformat()


def make_site(url, tmp_path):
    """A maint.yml whose action log holds the story."""
    write_story(url).close()
    config = tmp_path / "maint.yml"
    config.write_text(json.dumps({"actionlog": url}), encoding="utf-8")
    return config


@pytest.fixture
def site(store_url, tmp_path):
    return make_site(store_url, tmp_path)


@pytest.fixture(scope="module")
def sqlite_site(tmp_path_factory):
    """One SQLite story for the tests that only read it (bad input)."""
    tmp = tmp_path_factory.mktemp("report")
    return make_site(f"sqlite:///{tmp / 'actionlog.db'}", tmp)


def report(config, *args, expect=0):
    result = CliRunner().invoke(
        report_command, [*args, "--config", str(config), "--at", AT], catch_exceptions=False
    )
    assert result.exit_code == expect, result.output
    return result


def days(delta: timedelta) -> float:
    return round(delta.total_seconds() / 86400, 2)


def test_window_report_in_every_format(site, tmp_path):
    # JSON: the model, numbers checked against the story's instants
    data = json.loads(report(site, "--window", WINDOW, "--format", "json").output)
    assert data["format"] == "maint-report/1"
    assert data["scope"]["kind"] == "window"
    assert data["scope"]["label"] == f"{WINDOW} 2026-11-10 22:00 Europe/Madrid"
    assert [r["run_uid"] for r in data["runs"]] == ["plan-2026-11", "run-2026-11"]
    (plan,) = data["plans"]
    assert (plan["created_by"], plan["approved_by"], plan["change"]) == (
        "alice",
        ["dave"],
        "normal",
    )
    assert data["totals"] | {} == {
        "host_tasks": 15,
        "hosts": 3,
        "done": 13,
        "changed": 4,
        "failed": 0,
        "skipped": 1,
        "deferred": 1,
        "rolled_back": 0,
        "checks_passed": data["totals"]["checks_passed"],
        "checks_failed": 4,
        "hosts_rolled_back": 0,
    }
    kpis = data["kpis"]
    assert (kpis["completion"]["done"], kpis["completion"]["total"]) == (13, 15)
    assert kpis["completion"]["percent"] == 86.7
    cadence = {c["task"]: (c["hosts_done"], c["hosts_expected"]) for c in kpis["cadence"]}
    assert cadence == {
        "access_review": (2, 3),
        "antivirus": (2, 3),
        "backup_verify": (3, 3),
        "hardening": (3, 3),
        "patching": (3, 3),
    }
    # openssl on db1: pending since October's plan check, rolled back in October, installed
    # in November; the kernel: pending since November's plan check
    installed_db1 = NOV_RUN + timedelta(minutes=5, seconds=PATCH_SECONDS)
    installed_web = NOV_RUN + timedelta(seconds=PATCH_SECONDS)
    latency = {(i["host"], i["package"]): i["days"] for i in kpis["patch_latency"]["items"]}
    assert latency == {
        ("db1", "openssl"): days(installed_db1 - OCT_PLAN_CHECK),
        ("web1", "linux-image-amd64"): days(installed_web - NOV_PLAN_CHECK),
        ("web2", "linux-image-amd64"): days(installed_web - NOV_PLAN_CHECK),
    }
    assert kpis["patch_latency"]["max_days"] == days(installed_db1 - OCT_PLAN_CHECK)
    flow = kpis["findings_flow"]
    # opened: security updates pending on web1 and web2 at the plan check, reboot on web1
    # (db1's has been open since October's plan check: October's patching on db1 failed and
    # was rolled back, which re-checks nothing); closed: those three by the apply run, and
    # October's stale account, stale definitions, reboot on web2, service down and restore
    # mismatch. Still open: web1's reboot, and db1's failed post-check of October (no
    # post-check has run on db1 since; not due in November, so not "not re-checked")
    assert (flow["opened"], flow["closed"], flow["open_at_end"]) == (3, 8, 2)
    assert flow["not_rechecked"] == 0
    still = {(o["host"], o["finding_id"]) for o in flow["still_open"]}
    assert still == {("web1", "patching.reboot_pending"), ("db1", "post_check.failed")}
    assert kpis["followups"]["met"] == 0
    assert kpis["followups"]["missed"] == 1
    assert kpis["followups"]["pending"] == 1
    assert data["severity_counts"]["medium"] == 1
    assert [(d["host"], d["task"]) for d in data["deferred"]] == [("db1", "access_review")]
    hardening = {h["host"]: (h["percent_before"], h["percent"]) for h in data["hardening"]}
    assert hardening == {"db1": (60.0, 80.0), "web1": (90.0, 90.0), "web2": (90.0, 90.0)}
    restore = {b["host"]: b["restore_seconds"] for b in data["backups"]}
    assert restore == {"db1": 11.0, "web1": 2.0, "web2": 2.2}
    assert {a["host"]: a["definitions_age_days"] for a in data["antivirus"]} == {
        "web1": 0.2,
        "web2": 0.3,
    }
    assert data["trends"]["months"] == ["2026-10", "2026-11"]
    assert data["trends"]["completion_percent"] == [86.7, 86.7]

    # Markdown
    md = report(site, "--window", WINDOW, "--format", "md").output
    assert md.startswith(f"# Maintenance report: {WINDOW} 2026-11-10 22:00 Europe/Madrid\n")
    for heading in (
        "## Needs attention",
        "## Key figures",
        "## Plan and approvals",
        "## Hosts and tasks",
        "## Findings by severity",
        "## Updates applied and reboots pending",
        "## Backups: recovery point and measured restore time",
        "## Antivirus definitions",
        "## Hardening score",
        "## Deferred and why",
        "## Trends by month",
    ):
        assert heading in md
    assert "| Task completion rate | 86.7% |" in md
    assert "| web1 | linux-image-amd64 6.1.99-1 | 0 | 0 | YES |" in md
    assert "error budget spent (1 of 3 hosts failed)" in md
    assert "Reboot pending to finish updates: web1." in md

    # CSV: one row per host and task
    rows = list(csv.DictReader(io.StringIO(report(site, "--window", WINDOW, "-f", "csv").output)))
    assert len(rows) == 15
    assert {(r["host"], r["task"]) for r in rows} == {(h, t) for h in HOSTS for t in TASKS}
    by_key = {(r["host"], r["task"]): r for r in rows}
    assert by_key[("db1", "access_review")]["outcome"] == "deferred"
    assert by_key[("db1", "antivirus")]["outcome"] == "skipped"
    assert by_key[("web1", "patching")]["highest_severity"] == "medium"
    assert by_key[("db1", "hardening")]["failed_checks"] == "CTL-08; CTL-09"

    # JUnit, written to a file
    out = tmp_path / "out" / "junit.xml"
    result = report(site, "--window", WINDOW, "-f", "junit", "--out", str(out))
    assert result.stdout == ""
    root = ET.parse(out).getroot()
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 15 == int(root.get("tests"))
    assert {c.get("name") for c in cases} == set(HOSTS)
    assert len(root.findall(".//skipped")) == 2 == int(root.get("skipped"))
    assert len(root.findall(".//failure")) == 0 == int(root.get("failures"))
    deferred = root.find("./testsuite[@name='access_review']/testcase[@name='db1']/skipped")
    assert deferred is not None and deferred.get("message").startswith("deferred: error budget")

    # HTML: self-contained, with its charts
    page = tmp_path / "report.html"
    report(site, "--window", WINDOW, "-f", "html", "-o", str(page))
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") >= 5
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    assert "@media print" in html


def test_month_report_flags_the_emergency_and_the_skipped_window(site):
    data = json.loads(report(site, "--month", "2026-11", "-f", "json").output)
    assert data["scope"]["kind"] == "month"
    emergency = [p for p in data["plans"] if p["change"] == "emergency"]
    assert len(emergency) == 1
    (e,) = emergency
    assert (e["emergency_by"], e["retro_approved"], e["approved_by"]) == ("carol", True, ["bob"])
    assert e["retro_overdue"] is False
    skipped = [o for o in data["occurrences"] if o["state"] == "skipped"]
    assert [o["window"] for o in skipped] == ["monthly-workstations"]
    assert "Almudena" in skipped[0]["reason"]
    assert any(line.startswith("Emergency change") for line in data["attention"])
    # the emergency libxml2 install counts: pending in its own plan 30 minutes earlier
    packages = {i["package"] for i in data["kpis"]["patch_latency"]["items"]}
    assert packages == {"libxml2", "linux-image-amd64", "openssl"}
    md = report(site, "--month", "2026-11").output
    assert "EMERGENCY by carol" in md


def test_run_report_shows_the_failure_and_the_rollback(site):
    data = json.loads(report(site, "run-2026-10", "-f", "json").output)
    ht = {(h["host"], h["task"]): h for h in data["host_tasks"]}
    assert ht[("db1", "patching")]["outcome"] == "failed"
    assert ht[("db1", "patching")]["rolled_back"] == "ok"
    assert ht[("db1", "patching")]["failed_checks"] == ["post-patch services"]
    assert ht[("db1", "hardening")]["outcome"] == "deferred"
    assert data["totals"]["rolled_back"] == 1
    # the run rolled back one host, and the summary says so as the run does
    assert data["totals"]["hosts_rolled_back"] == 1
    assert "Rolled back: db1." in data["attention"]
    md = report(site, "run-2026-10").output
    assert "1 host rolled back (1 host task undone)" in md
    # db1's patching failed and was rolled back: the security updates its plan check found
    # stay open, not re-checked, never closed
    flow = data["kpis"]["findings_flow"]
    assert (flow["closed"], flow["not_rechecked"]) == (2, 1)
    (unchecked,) = [o for o in flow["still_open"] if o["not_rechecked"]]
    assert (unchecked["host"], unchecked["finding_id"]) == (
        "db1",
        "patching.security_updates_pending",
    )
    assert "1 of them not re-checked" in md
    # the rollback's own result in the same run does not hide the failure, nor its note
    assert all(f["finding_id"] != "patching.rolled_back" for f in data["findings"])
    # post-checks are shown with their checks and left out of completion
    assert ht[("db1", "post_check")]["outcome"] == "failed"
    assert ht[("db1", "post_check")]["failed_checks"] == ["post-check db answers"]
    assert ht[("web1", "post_check")]["checks_passed"] == 1
    assert (data["kpis"]["completion"]["done"], data["kpis"]["completion"]["total"]) == (13, 15)
    # a rolled-back installation is not a patch: only web1 and web2 count
    hosts = sorted(i["host"] for i in data["kpis"]["patch_latency"]["items"])
    assert hosts == ["web1", "web1", "web2"]
    assert data["kpis"]["followups"]["met"] == 1 and data["kpis"]["followups"]["missed"] == 1
    root = ET.fromstring(report(site, "run-2026-10", "-f", "junit").output)
    failures = {
        case.get("classname"): case.find("failure")
        for case in root.iter("testcase")
        if case.find("failure") is not None
    }
    assert set(failures) == {"maint.patching", "maint.post_check"}
    assert int(root.get("failures")) == 2 and int(root.get("tests")) == 18
    assert "post-patch services" in failures["maint.patching"].get("message")
    system_out = root.find("./testsuite[@name='patching']/testcase[@name='db1']/system-out")
    assert "patching.service_down" in system_out.text and "rolled back: ok" in system_out.text
    # the emergency run: web2 never answered
    emergency = json.loads(report(site, "run-2026-11-emergency", "-f", "json").output)
    outcomes = {(h["host"], h["task"]): h["outcome"] for h in emergency["host_tasks"]}
    assert outcomes == {("web1", "patching"): "changed", ("web2", "patching"): "unreachable"}
    assert any("ended failed: 1 host unreachable" in line for line in emergency["attention"])
    root = ET.fromstring(report(site, "run-2026-11-emergency", "-f", "junit").output)
    assert [e.get("type") for e in root.iter("error")] == ["unreachable"]
    # --occurrence picks October by its local date
    by_date = json.loads(
        report(site, "--window", WINDOW, "--occurrence", "2026-10-13", "-f", "json").output
    )
    assert [r["run_uid"] for r in by_date["runs"]] == ["plan-2026-10", "run-2026-10"]


def test_a_plan_made_for_the_next_occurrence_does_not_change_the_default(site, store_url):
    with ActionLog(store_url, clock=FixedClock(REPORT_AT)) as log:
        december = log.record_occurrence(
            Slot(
                WINDOW,
                "Europe/Madrid",
                at("2026-12-08T21:00"),
                at("2026-12-09T01:00"),
                at("2026-12-09T00:30"),
            )
        )
        log.finish_run(log.start_run(WINDOW, "check", "plan-2026-12", december), "done")
    data = json.loads(report(site, "--window", WINDOW, "-f", "json").output)
    assert [r["run_uid"] for r in data["runs"]] == ["plan-2026-11", "run-2026-11"]
    upcoming = json.loads(
        report(site, "--window", WINDOW, "--occurrence", "2026-12-08T22:00", "-f", "json").output
    )
    assert [r["run_uid"] for r in upcoming["runs"]] == ["plan-2026-12"]
    assert upcoming["occurrences"][0]["state"] == "planned"


def test_reports_are_read_only(site, store_url):
    with ActionLog(store_url) as log:
        before = log.verify()
    for fmt in ("md", "json", "csv", "junit", "html"):
        report(site, "--month", "2026-10", "-f", fmt)
    with ActionLog(store_url) as log:
        after = log.verify()
    assert after.ok and after.heads == before.heads and after.rows == before.rows


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["no-such-run"], "RUN: no run 'no-such-run'"),
        (["--month", "2026-13"], "--month: not YYYY-MM: '2026-13'"),
        (["--window", "nope"], "--window: no run or occurrence of window 'nope'"),
        (["--window", WINDOW, "--occurrence", "2027-01-12"], "--occurrence: no occurrence"),
        (["--occurrence", "2026-10-13"], "--occurrence: needs --window"),
        (["run-2026-10", "--month", "2026-10"], "give exactly one of"),
        ([], "give exactly one of"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(sqlite_site, tmp_path, args, needle):
    out = tmp_path / "never.md"
    result = CliRunner().invoke(
        report_command, [*args, "--config", str(sqlite_site), "--at", AT, "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.output
    assert not out.exists()


def test_report_is_a_maint_command():
    from maintenance_runner.cli.main import main

    assert main.get_command(None, "report") is report_command


def test_a_missing_action_log_is_reported_not_created(tmp_path):
    config = tmp_path / "maint.yml"
    db = tmp_path / "absent" / "actionlog.db"
    config.write_text(json.dumps({"actionlog": f"sqlite:///{db}"}), encoding="utf-8")
    result = CliRunner().invoke(report_command, ["--month", "2026-11", "--config", str(config)])
    assert result.exit_code == 2
    assert f"actionlog: no action log at {db}" in result.output
    assert not db.exists() and not db.parent.exists()
