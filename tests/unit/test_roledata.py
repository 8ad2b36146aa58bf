"""The report and the audit read a role's data with one reader: the same data, the same verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from maintenance_runner.actionlog.report_rows import DetailRow, LogRows, ResultRow, RunRow
from maintenance_runner.audit.register import backup_fields, hardening_fields
from maintenance_runner.report.build import build_report_model
from maintenance_runner.report.model import Scope
from maintenance_runner.report.sections import checks_of

WARNING_JOB = {
    "name": "FS01-daily",
    "type": "Backup",
    "result": "Warning",
    "end_time": "2026-11-23T01:12:40Z",
    "newest_point": "2026-11-23T01:05:00Z",
    "age_hours": 22.8,
}


def test_a_veeam_warning_session_is_a_backup_for_the_report_and_the_audit():
    """A session that ended with warnings still wrote a restore point: both count it as a
    backup (the warning itself is the role's finding backup_verify.job_warning)."""
    data = {"check_mode": True, "max_age_hours": 26, "veeam_jobs": [WARNING_JOB]}
    passed, failed = checks_of("backup_verify", "ok", data, [])
    fields = backup_fields(data)
    in_report = "FS01-daily: repository check" in passed
    in_audit = fields["last_good_backup"] is not None
    assert in_report == in_audit, (passed, failed, fields)
    assert in_report and not failed
    assert fields["last_good_backup"] == "2026-11-23T01:12:40Z"
    # a backup, not a verified one: the role makes no test restore of a Veeam job
    assert fields["backup_state"] == "no test restore: FS01-daily"


def test_a_failed_veeam_session_is_no_backup_for_either():
    job = {**WARNING_JOB, "result": "Failed"}
    data = {"max_age_hours": 26, "veeam_jobs": [job]}
    _, failed = checks_of("backup_verify", "ok", data, [])
    assert failed == ["FS01-daily: repository check"]
    assert backup_fields(data)["backup_state"] == (
        "last session failed: FS01-daily; no test restore: FS01-daily"
    )


WINDOWS_HARDENING = {
    "check_mode": True,
    "noncompliant": ["WIN-01", "WIN-03"],
    "controls": {"WIN-01": True, "WIN-02": True, "WIN-03": True, "WIN-04": True},
}


def test_a_windows_hardening_score_as_found_is_the_same_in_the_report_and_the_audit():
    """Windows publishes no score: both compute it from the enabled and non-compliant controls
    (2 of 4 enabled controls compliant)."""
    when = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
    rows = LogRows(
        runs=[RunRow(1, "r1", "check", when)],
        results=[ResultRow(1, "win-fs01", "hardening", "changed", when)],
        details=[DetailRow(1, "win-fs01", "hardening", WINDOWS_HARDENING)],
    )
    scope = Scope("run", "r1", when, when + timedelta(hours=1), frozenset({1}))
    (row,) = build_report_model(rows, scope, when + timedelta(days=1)).hardening
    assert row.percent_before == hardening_fields(WINDOWS_HARDENING)["hardening_score"] == 50.0


def _restic(age_hours, files):
    return {
        "max_age_hours": 26,
        "repositories": [
            {
                "name": "restic-main",
                "snapshots": 30,
                "newest": {"time": "2026-11-14T02:00:00Z"},
                "recovery_point_age_hours": age_hours,
                "check": {"ok": True},
                "restore": {"files": files, "seconds": 2.0, "mismatches": [], "missing": []},
            }
        ],
    }


def test_a_stale_or_unproven_backup_is_not_verified_in_the_report_nor_the_audit():
    """Ten days against a 26-hour target, or a test restore that restored no file: the
    report fails a check and the audit does not say verified."""
    canary = [{"path": "/srv/.maint-canary", "match": True}]
    for data in (_restic(240.0, canary), _restic(5.0, [])):
        _, failed = checks_of("backup_verify", "ok", data, [])
        assert failed
        assert backup_fields(data)["backup_state"] != "verified"
    passed, failed = checks_of("backup_verify", "ok", _restic(5.0, canary), [])
    assert not failed and len(passed) == 3
    assert backup_fields(_restic(5.0, canary))["backup_state"] == "verified"
