"""The report's pure core: KPIs and sections from hand-built action log rows, numbers checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maintenance_runner.actionlog.report_rows import (
    ApprovalRow,
    DetailRow,
    EventRow,
    FindingRow,
    FollowupRow,
    LogRows,
    OccurrenceRow,
    PlanRow,
    ResultRow,
    RollbackRow,
    RunRow,
)
from maintenance_runner.core import followups as fu
from maintenance_runner.report.build import build_report_model
from maintenance_runner.report.model import Scope
from maintenance_runner.report.sections import (
    cadence,
    checks_of,
    completion,
    deciding_results,
    findings_timeline,
    followup_state,
    latency_stats,
    month_range,
    patch_latency,
    plan_approval,
)


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run(rid, mode, when, **kw) -> RunRow:
    return RunRow(id=rid, run_uid=f"r{rid}", mode=mode, started_at=t(when), **kw)


def res(rid, host, task, status, when, seconds=60.0) -> ResultRow:
    return ResultRow(rid, host, task, status, t(when), status == "changed", seconds)


def pkgs(*names):
    return [{"name": n, "candidate": f"{n}-2", "security": n == "openssl"} for n in names]


def test_month_range_crosses_the_year():
    assert month_range("2026-11", "2027-02") == ["2026-11", "2026-12", "2027-01", "2027-02"]


def test_apply_results_decide_and_check_results_are_dropped_when_an_apply_ran():
    runs = {1: run(1, "check", "2026-11-07T09:00"), 2: run(2, "apply", "2026-11-10T21:00")}
    results = [
        res(1, "a", "patching", "changed", "2026-11-07T09:00"),
        res(1, "b", "patching", "changed", "2026-11-07T09:00"),  # b never applied
        res(2, "a", "patching", "failed", "2026-11-10T21:00"),
    ]
    best = deciding_results(results, runs)
    assert set(best) == {("a", "patching")}
    assert best[("a", "patching")].status == "failed"
    only_check = deciding_results(results[:2], runs)
    assert {k: v.status for k, v in only_check.items()} == {
        ("a", "patching"): "changed",
        ("b", "patching"): "changed",
    }


def test_completion_counts_deferred_pairs_as_due_and_not_done():
    runs = {1: run(1, "apply", "2026-11-10T21:00")}
    results = [
        res(1, "a", "patching", "changed", "2026-11-10T21:00"),
        res(1, "a", "antivirus", "ok", "2026-11-10T21:00"),
        res(1, "b", "patching", "failed", "2026-11-10T21:00"),
        res(1, "b", "antivirus", "skipped", "2026-11-10T21:00"),
    ]
    rate = completion(deciding_results(results, runs), {("c", "patching"), ("a", "patching")})
    assert (rate.done, rate.total, rate.percent) == (2, 5, 40.0)


def test_cadence_expects_every_host_seen_earlier_in_the_range():
    runs = {
        1: run(1, "apply", "2026-10-13T20:00"),
        2: run(2, "apply", "2026-11-10T21:00"),
        3: run(3, "check", "2026-11-07T09:00"),
    }
    results = [
        res(1, "a", "patching", "changed", "2026-10-13T20:00"),
        res(1, "b", "patching", "ok", "2026-10-13T20:00"),
        res(1, "c", "patching", "failed", "2026-10-13T20:00"),
        res(2, "a", "patching", "ok", "2026-11-10T21:00"),  # b is gone in November
        res(3, "b", "patching", "changed", "2026-11-07T09:00"),  # a check does not count
    ]
    deferred = {2: {("c", "patching")}}
    cells = cadence(["2026-10", "2026-11"], runs, results, deferred)
    oct_cell, nov_cell = cells["2026-10"][0], cells["2026-11"][0]
    assert (oct_cell.hosts_done, oct_cell.hosts_expected, oct_cell.missing) == (2, 3, ("c",))
    assert (nov_cell.hosts_done, nov_cell.hosts_expected) == (1, 3)
    assert nov_cell.missing == ("b", "c")
    assert nov_cell.percent == pytest.approx(33.3)


def test_patch_latency_from_first_pending_to_installed_restarts_after_install():
    runs = {
        1: run(1, "check", "2026-10-01T00:00"),
        2: run(2, "apply", "2026-10-11T00:00"),
        3: run(3, "apply", "2026-11-01T00:00"),
        4: run(4, "apply", "2026-12-01T00:00"),
    }
    results = [
        res(1, "h", "patching", "changed", "2026-10-01T00:00", 0),
        res(2, "h", "patching", "failed", "2026-10-11T00:00", 0),
        res(3, "h", "patching", "changed", "2026-11-01T00:00", 3600),
        res(4, "h", "patching", "changed", "2026-12-01T00:00", 0),
    ]
    details = [
        DetailRow(1, "h", "patching", {"check_mode": True, "pending": pkgs("openssl", "curl")}),
        # installed and rolled back in the same run: does not count, the clock keeps running
        DetailRow(2, "h", "patching", {"pending": pkgs("openssl"), "applied": pkgs("openssl")}),
        DetailRow(
            3, "h", "patching", {"pending": pkgs("openssl", "curl"), "applied": pkgs("openssl")}
        ),
        DetailRow(4, "h", "patching", {"pending": pkgs("openssl"), "applied": pkgs("openssl")}),
    ]
    rollbacks = [RollbackRow(2, "h", "patching", "ok", t("2026-10-11T01:00"))]
    plans = [
        PlanRow(
            "p1",
            t("2026-11-20T00:00"),
            summary={
                "plan": {
                    "hosts": {
                        "h": {
                            "tasks": {"patching": {"items": ["package openssl 1 -> 2 (upgrade)"]}}
                        }
                    }
                }
            },
        )
    ]
    items = patch_latency(runs, results, details, plans, rollbacks)
    assert [(i.run_id, i.package, i.days) for i in items] == [
        (3, "openssl", 31.04),  # 2026-10-01 -> 2026-11-01 01:00
        (4, "openssl", 11.0),  # the plan of 2026-11-20 saw it again -> 2026-12-01
    ]
    stats = latency_stats(items)
    assert (stats.count, stats.mean_days, stats.median_days, stats.max_days) == (
        2,
        21.02,
        21.02,
        31.04,
    )
    assert stats.items[0].days == 31.04  # longest first


def test_findings_open_and_close_per_host_and_task_rollbacks_and_skips_do_not_close():
    runs = {
        1: run(1, "apply", "2026-10-01T00:00"),
        2: run(2, "rollback", "2026-10-02T00:00"),
        3: run(3, "apply", "2026-10-05T00:00"),
        4: run(4, "apply", "2026-11-05T00:00"),
    }
    results = [
        res(1, "h", "antivirus", "ok", "2026-10-01T00:00"),
        res(1, "h", "patching", "ok", "2026-10-01T00:00"),
        res(2, "h", "antivirus", "ok", "2026-10-02T00:00"),
        res(3, "h", "antivirus", "skipped", "2026-10-05T00:00"),
        res(3, "h", "patching", "ok", "2026-10-05T00:00"),  # patching ran: antivirus stays open
        res(4, "h", "antivirus", "ok", "2026-11-05T00:00"),
    ]
    findings = [
        FindingRow(1, "h", "antivirus", "av.stale", "high", "old"),
        FindingRow(1, "h", "patching", "patch.pending", "low", "pending"),
        FindingRow(3, "h", "patching", "patch.reboot", "medium", "reboot"),
    ]
    events, still = findings_timeline(runs, results, findings, [])
    assert [(e.kind, e.finding_id, e.run_id) for e in events] == [
        ("opened", "av.stale", 1),
        ("opened", "patch.pending", 1),
        ("opened", "patch.reboot", 3),
        ("closed", "patch.pending", 3),
        ("closed", "av.stale", 4),
    ]
    assert set(still) == {("h", "patching", "patch.reboot")}


def test_followup_targets_match_the_followups_module():
    due = t("2026-11-12T09:00")
    now = t("2026-11-20T00:00")
    cases = [
        (t("2026-11-12T08:00"), "met"),
        (due, "met"),
        (t("2026-11-12T09:01"), "missed"),
        (None, "missed"),
    ]
    for responded, expected in cases:
        row = FollowupRow(
            1, "P1", "x", t("2026-11-10T00:00"), due_at=due, first_response_at=responded
        )
        assert followup_state(row, now) == expected
        assert fu.outcome(due, responded, now) == expected
    early = FollowupRow(2, "P2", "y", t("2026-11-10T00:00"), due_at=due)
    assert followup_state(early, t("2026-11-11T00:00")) == "pending"
    assert followup_state(FollowupRow(3, "P2", "z", t("2026-11-10T00:00")), now) == "none"


def test_plan_approvals_author_never_counts_and_emergencies_need_retrospective_approval():
    plan = PlanRow("p", t("2026-11-01T00:00"), created_by="alice")
    own = [
        ApprovalRow("p", "alice", "author", t("2026-11-01T00:00")),
        ApprovalRow("p", "alice", "approve", t("2026-11-01T01:00")),
    ]
    alone = plan_approval(plan, own, t("2026-11-02T00:00"))
    assert (alone.change, alone.approved, alone.approved_by) == ("normal", False, ())
    signed = plan_approval(
        plan, [*own, ApprovalRow("p", "bob", "approve", t("2026-11-01T02:00"))], t("2026-11-02")
    )
    assert (signed.approved, signed.approved_by) == (True, ("bob",))
    rejected = plan_approval(
        plan,
        [
            *own,
            ApprovalRow("p", "bob", "approve", t("2026-11-01T02:00")),
            ApprovalRow("p", "eve", "reject", t("2026-11-01T03:00")),
        ],
        t("2026-11-02T00:00"),
    )
    assert rejected.approved is False

    emergency = [ApprovalRow("p", "carol", "emergency", t("2026-11-03T15:00"), "CVE")]
    open_one = plan_approval(plan, emergency, t("2026-11-04T00:00"))
    assert (open_one.change, open_one.retro_approved, open_one.retro_overdue) == (
        "emergency",
        False,
        False,
    )
    assert open_one.retro_due == t("2026-11-05T15:00")
    late = plan_approval(plan, emergency, t("2026-11-06T00:00"))
    assert late.retro_overdue is True
    # carol approving her own emergency does not count; bob within 48 h does
    approved = plan_approval(
        plan,
        [
            *emergency,
            ApprovalRow("p", "carol", "approve", t("2026-11-03T16:00")),
            ApprovalRow("p", "bob", "approve", t("2026-11-04T10:00")),
        ],
        t("2026-11-10T00:00"),
    )
    assert (approved.retro_approved, approved.retro_approved_at, approved.retro_overdue) == (
        True,
        t("2026-11-04T10:00"),
        False,
    )
    standard = plan_approval(
        plan, [ApprovalRow("p", "cron", "standard", t("2026-11-01"))], t("2026-11-02")
    )
    assert (standard.change, standard.approved) == ("standard", True)


def test_checks_per_role():
    hardening = {
        "controls": [
            {"id": "A", "status": "compliant"},
            {"id": "B", "status": "fixed"},
            {"id": "C", "status": "noncompliant"},
            {"id": "D", "status": "disabled"},
            {"id": "E", "status": "not_writable"},
        ]
    }
    assert checks_of("hardening", "changed", hardening, []) == (["A", "B"], ["C"])
    backup = {
        "max_age_hours": 26,
        "repositories": [
            {
                "name": "r",
                "recovery_point_age_hours": 30,
                "check": {"ok": True},
                "restore": {
                    "files": [{"path": "/x"}],
                    "mismatches": [],
                    "missing": [],
                    "error": None,
                },
            }
        ],
    }
    assert checks_of("backup_verify", "ok", backup, []) == (
        ["r: repository check", "r: test restore"],
        ["r: recovery point"],
    )
    av = {
        "definitions": {"present": True, "stale": True},
        "services": {
            "clamd": {"running": True, "required": True},
            "freshclam": {"running": False, "required": False},
        },
        "update": {"attempted": True, "ok": False},
        "scan": {"ran": True, "infected": [{}]},
    }
    assert checks_of("antivirus", "ok", av, []) == (
        ["service clamd running"],
        ["definitions fresh", "definitions update", "scan clean"],
    )
    patch = {"check_mode": False, "services_down": ["nginx"], "post_checks_failed": []}
    assert checks_of("patching", "failed", patch, []) == (
        ["post-patch commands"],
        ["post-patch services"],
    )
    found = [
        FindingRow(1, "h", "access_review", "ar.x", "medium", "m"),
        FindingRow(1, "h", "access_review", "ar.i", "info", "m"),
    ]
    assert checks_of("access_review", "ok", {}, found) == ([], ["ar.x"])
    assert checks_of("access_review", "ok", {}, []) == (["access_review review"], [])
    assert checks_of("access_review", "unreachable", {}, []) == ([], ["access_review unreachable"])


def _two_month_rows() -> tuple[LogRows, Scope]:
    runs = [
        run(1, "apply", "2026-10-13T20:00", window="w", occurrence_id=10, plan_uid="p"),
        run(2, "apply", "2026-11-10T21:00", window="w", occurrence_id=11, plan_uid="q"),
    ]
    results = [
        res(1, "a", "patching", "changed", "2026-10-13T20:00"),
        res(1, "b", "patching", "failed", "2026-10-13T20:00"),
        res(2, "a", "patching", "ok", "2026-11-10T21:00"),
        res(2, "b", "patching", "changed", "2026-11-10T21:00"),
        res(2, "a", "backup_verify", "ok", "2026-11-10T21:00"),
    ]
    findings = [
        FindingRow(1, "b", "patching", "patching.service_down", "high", "down", "look", id=1),
        FindingRow(2, "b", "patching", "patching.reboot_pending", "medium", "reboot", "boot", id=2),
        FindingRow(
            2, "a", "backup_verify", "backup_verify.too_old", "critical", "old", "fix", id=3
        ),
    ]
    details = [
        DetailRow(
            2,
            "b",
            "patching",
            {
                "pending": pkgs("openssl", "zlib"),
                "applied": pkgs("openssl"),
                "reboot_required": True,
            },
        ),
        DetailRow(
            2,
            "a",
            "backup_verify",
            {
                "repositories": [
                    {
                        "name": "r",
                        "recovery_point_age_hours": 40,
                        "max_age_hours": 26,
                        "restore": {"seconds": 2.5, "files": [{}]},
                    }
                ]
            },
        ),
    ]
    rows = LogRows(
        runs=runs,
        results=results,
        findings=findings,
        details=details,
        rollbacks=[RollbackRow(1, "b", "patching", "ok", t("2026-10-13T20:10"))],
        plans=[
            PlanRow("q", t("2026-11-07T00:00"), window="w", occurrence_id=11, created_by="alice")
        ],
        approvals=[ApprovalRow("q", "bob", "approve", t("2026-11-08T00:00"))],
        occurrences=[
            OccurrenceRow(
                11,
                "w",
                t("2026-11-10T21:00"),
                t("2026-11-11T01:00"),
                "Europe/Madrid",
                "2026-11-10T22:00",
                "done",
            )
        ],
        events=[EventRow(2, "deferred", t("2026-11-10T23:00"), "c", None, "cutoff")],
        followups=[
            FollowupRow(
                1,
                "P1",
                "b down",
                t("2026-10-13T21:00"),
                1,
                due_at=t("2026-10-14T11:00"),
                first_response_at=t("2026-10-14T10:00"),
            )
        ],
    )
    scope = Scope(
        "window",
        "w 2026-11-10 22:00",
        t("2026-11-10T21:00"),
        t("2026-11-11T01:00"),
        frozenset({2}),
        frozenset({11}),
        "w",
    )
    return rows, scope


def test_build_report_model_sections_and_numbers():
    rows, scope = _two_month_rows()
    report = build_report_model(rows, scope, t("2026-12-01T00:00"))
    # c was deferred without a task: every task run 2 ran (backup_verify, patching)
    assert [(h.host, h.task, h.outcome) for h in report.host_tasks] == [
        ("a", "backup_verify", "ok"),
        ("a", "patching", "ok"),
        ("b", "patching", "changed"),
        ("c", "backup_verify", "deferred"),
        ("c", "patching", "deferred"),
    ]
    assert report.totals.done == 3 and report.totals.deferred == 2
    assert report.kpis.completion.percent == 60.0
    assert report.severity_counts == {"info": 0, "low": 0, "medium": 1, "high": 0, "critical": 1}
    assert [f.finding_id for f in report.findings] == [
        "backup_verify.too_old",
        "patching.reboot_pending",
    ]
    (patch,) = report.patching
    assert (patch.applied, patch.still_pending, patch.reboot_required) == (
        ("openssl openssl-2",),
        1,
        True,
    )
    (backup,) = report.backups
    assert (backup.within_target, backup.restore_seconds) == (False, 2.5)
    # b's service_down (opened in October) closed in November; two new ones opened
    flow = report.kpis.findings_flow
    assert (flow.opened, flow.closed, flow.open_at_end) == (2, 1, 2)
    assert report.trends.months == ("2026-10", "2026-11")
    assert report.trends.findings_by_severity["high"] == (1, 0)
    assert report.trends.completion_percent == (50.0, 60.0)
    assert report.trends.followups_met == (1, 0)
    # cadence in November: c was deferred from every task run 2 ran, so it is expected too
    assert [(c.task, c.hosts_done, c.hosts_expected, c.missing) for c in report.kpis.cadence] == [
        ("backup_verify", 1, 2, ("c",)),
        ("patching", 2, 3, ("c",)),
    ]
    assert report.kpis.cadence_overall.percent == 60.0
    assert report.plans[0].approved_by == ("bob",)
    assert report.occurrences[0].local_start == "2026-11-10 22:00"
    assert any("Reboot pending" in line and "b" in line for line in report.attention)
    assert any("Backups not proven" in line for line in report.attention)
    assert any("critical or high" in line for line in report.attention)


def test_an_empty_scope_says_nothing_ran():
    scope = Scope("month", "2026-11", t("2026-11-01T00:00"), t("2026-12-01T00:00"))
    report = build_report_model(LogRows(), scope, t("2026-12-01T00:00"))
    assert report.host_tasks == ()
    assert report.kpis.completion.percent is None
    assert report.trends.months == ("2026-11",)
    assert "No maintenance run is recorded for this period." in report.attention


def test_history_months_limits_the_trend_range():
    rows, scope = _two_month_rows()
    report = build_report_model(rows, scope, t("2026-12-01T00:00"), history_months=1)
    assert report.trends.months == ("2026-11",)
    assert timedelta(0) < scope.end - scope.start


# --- how rollbacks, failures, skips and deferrals count (docs/reports.md, KPIs) -------------


def _scope_of(*run_ids: int, start="2026-10-01T00:00", end="2026-12-01T00:00") -> Scope:
    return Scope("run", "r", t(start), t(end), frozenset(run_ids))


def _demo_rows() -> LogRows:
    """``make demo``'s apply: two hosts patched, b's post-check fails and b is rolled back."""
    when = "2026-11-10T21:00"
    return LogRows(
        runs=[
            run(
                1,
                "apply",
                when,
                state="failed",
                state_message="run r1: failed; 1 done, 1 rolled back",
            )
        ],
        results=[
            res(1, "a", "patching", "changed", when),
            res(1, "b", "patching", "changed", when),
            res(1, "a", "post_check", "ok", "2026-11-10T21:05"),
            res(1, "b", "post_check", "failed", "2026-11-10T21:05"),
        ],
        rollbacks=[RollbackRow(1, "b", "patching", "ok", t("2026-11-10T21:08"))],
        events=[
            EventRow(1, "rolled_back", t("2026-11-10T21:09"), "b", None, "post-check failed"),
        ],
    )


def test_a_rolled_back_host_task_is_not_completed():
    scope = _scope_of(1, start="2026-11-10T21:00", end="2026-11-10T23:00")
    report = build_report_model(_demo_rows(), scope, t("2026-12-01T00:00"))
    rows = {(h.host, h.task): h for h in report.host_tasks}
    assert rows[("b", "patching")].rolled_back == "ok"
    assert (report.kpis.completion.done, report.kpis.completion.total) == (1, 2)
    # done: a's patching and a's post-check; b's patching is rolled back, not done
    assert (report.totals.done, report.totals.rolled_back) == (2, 1)
    (cell,) = report.kpis.cadence
    assert (cell.hosts_done, cell.hosts_expected, cell.missing) == (1, 2, ("b",))
    assert report.trends.completion_percent == (50.0,)


def test_the_rolled_back_count_agrees_with_the_run():
    """The run counts hosts rolled back (``3 rolled back``), those with nothing to undo too;
    the report counts the same hosts. A host task is rolled back when its change was undone
    (a ``rollbacks`` row): what had nothing to undo stands, and is completed."""
    when = "2026-11-10T21:00"
    hosts = ("a", "b", "c")
    rows = LogRows(
        runs=[run(1, "apply", when, state="failed", state_message="run r1: failed; 3 rolled back")],
        results=[res(1, h, task, "ok", when) for h in hosts for task in ("antivirus", "hardening")]
        + [res(1, "d", "hardening", "ok", when)],
        rollbacks=[RollbackRow(1, "a", "hardening", "ok", t("2026-11-10T21:08"))],
        events=[EventRow(1, "rolled_back", t("2026-11-10T21:09"), h, None, "x") for h in hosts],
    )
    report = build_report_model(rows, _scope_of(1), t("2026-12-01T00:00"))
    assert report.totals.hosts_rolled_back == 3
    assert report.totals.rolled_back == 1
    assert (report.kpis.completion.done, report.kpis.completion.total) == (6, 7)
    from maintenance_runner.report.render.tables import totals_line

    assert "3 hosts rolled back (1 host task undone)" in totals_line(report)
    assert "Rolled back: a, b, c." in report.attention


def test_failed_and_rolled_back_results_open_findings_but_close_none():
    """Only a complete result (ok or changed, not rolled back, not a reconcile) re-checks a
    host's task: what a failed or rolled-back one did not report is "not re-checked"."""
    runs = [
        run(1, "apply", "2026-10-01T00:00"),
        run(2, "apply", "2026-10-05T00:00"),
        run(3, "apply", "2026-10-08T00:00"),
        run(4, "apply", "2026-10-09T00:00"),
        run(5, "check", "2026-10-12T00:00"),
    ]
    results = [
        res(1, "h", "hardening", "changed", "2026-10-01T00:00"),
        res(2, "h", "hardening", "failed", "2026-10-05T00:00"),  # published, reported only F3
        res(3, "h", "hardening", "changed", "2026-10-08T00:00"),  # rolled back
        res(4, "h", "hardening", "changed", "2026-10-09T00:00"),  # a killed run's reconcile
        res(5, "h", "hardening", "ok", "2026-10-12T00:00"),
    ]
    findings = [
        FindingRow(1, "h", "hardening", "F1", "high", "m"),
        FindingRow(1, "h", "hardening", "F2", "high", "m"),
        FindingRow(2, "h", "hardening", "F3", "high", "m"),
        FindingRow(5, "h", "hardening", "F2", "high", "m"),
    ]
    details = [
        DetailRow(2, "h", "hardening", {"controls": []}),
        DetailRow(3, "h", "hardening", {"controls": []}),
        DetailRow(4, "h", "hardening", {"action": "reconcile", "found": True}),
    ]
    rollbacks = [RollbackRow(3, "h", "hardening", "ok", t("2026-10-08T00:10"))]
    now = t("2026-12-01T00:00")

    def flow(rid):
        """The flow of run ``rid``'s report, from the rows read for it: up to its end."""
        day = runs[rid - 1].started_at
        scope = Scope("run", f"r{rid}", day, day + timedelta(hours=1), frozenset({rid}))
        rows = LogRows(
            runs=runs[:rid],
            results=[r for r in results if r.run_id <= rid],
            findings=[f for f in findings if f.run_id <= rid],
            details=[d for d in details if d.run_id <= rid],
            rollbacks=[b for b in rollbacks if b.run_id <= rid],
        )
        return build_report_model(rows, scope, now).kpis.findings_flow

    failed = flow(2)
    assert (failed.opened, failed.closed, failed.open_at_end, failed.not_rechecked) == (1, 0, 3, 2)
    assert {o.finding_id for o in failed.still_open if o.not_rechecked} == {"F1", "F2"}
    rolled = flow(3)
    assert (rolled.opened, rolled.closed, rolled.open_at_end, rolled.not_rechecked) == (0, 0, 3, 3)
    reconciled = flow(4)
    assert (reconciled.closed, reconciled.open_at_end) == (0, 3)
    checked = flow(5)
    assert (checked.opened, checked.closed, checked.open_at_end, checked.not_rechecked) == (
        0,
        2,
        1,
        0,
    )


def test_a_deferred_or_skipped_task_is_due_and_not_done_and_re_checks_nothing():
    runs = [run(1, "apply", "2026-10-01T00:00"), run(2, "apply", "2026-11-01T00:00")]
    rows = LogRows(
        runs=runs,
        results=[
            res(1, "h", "antivirus", "ok", "2026-10-01T00:00"),
            res(1, "g", "antivirus", "ok", "2026-10-01T00:00"),
            res(2, "g", "antivirus", "skipped", "2026-11-01T00:00"),
        ],
        findings=[
            FindingRow(1, "h", "antivirus", "av.stale", "high", "m"),
            FindingRow(1, "g", "antivirus", "av.stale", "high", "m"),
        ],
        events=[EventRow(2, "deferred", t("2026-11-01T03:00"), "h", "antivirus", "cutoff")],
    )
    scope = Scope("run", "r2", t("2026-11-01T00:00"), t("2026-11-01T04:00"), frozenset({2}))
    report = build_report_model(rows, scope, t("2026-12-01T00:00"))
    assert (report.kpis.completion.done, report.kpis.completion.total) == (0, 2)
    flow = report.kpis.findings_flow
    assert (flow.closed, flow.open_at_end, flow.not_rechecked) == (0, 2, 2)


def test_defender_definitions_are_judged_from_their_age_and_the_threshold():
    """Defender publishes no ``stale``: its age against the published threshold decides, and
    without a threshold the role's own finding does."""
    old = {"engine": "defender", "definitions": {"age_days": 9, "max_age_days": 2}}
    assert "definitions fresh" in checks_of("antivirus", "ok", old, [])[1]
    fresh = {"engine": "defender", "definitions": {"age_days": 1, "max_age_days": 2}}
    assert "definitions fresh" in checks_of("antivirus", "ok", fresh, [])[0]
    unknown = {"engine": "defender", "definitions": {"age_days": 9}}
    stale = [FindingRow(1, "w", "antivirus", "antivirus.definitions_stale", "high", "m")]
    assert "definitions fresh" in checks_of("antivirus", "ok", unknown, stale)[1]


@pytest.mark.parametrize(
    ("update", "check_mode", "shown"),
    [
        ({"attempted": True, "ok": True}, False, "yes"),
        ({"attempted": True, "ok": False}, False, "NO"),
        ({"attempted": False, "ok": None}, False, "disabled"),  # antivirus_update: false
        ({"attempted": False, "ok": None, "enabled": False}, True, "disabled"),
        ({"attempted": False, "ok": None}, True, "not attempted"),  # check mode
        ({"attempted": False, "ok": None, "enabled": True}, True, "not attempted"),
    ],
)
def test_the_antivirus_update_says_disabled_or_not_attempted_never_no(update, check_mode, shown):
    from maintenance_runner.report.render.tables import sections

    when = "2026-11-10T21:00"
    data = {
        "engine": "clamav",
        "check_mode": check_mode,
        "definitions": {"present": True, "age_days": 0.5, "stale": False},
        "update": {"tool": "freshclam", **update},
    }
    rows = LogRows(
        runs=[run(1, "apply", when)],
        results=[res(1, "h", "antivirus", "ok", when)],
        details=[DetailRow(1, "h", "antivirus", data)],
    )
    report = build_report_model(rows, _scope_of(1), t("2026-12-01T00:00"))
    headers, (row,) = sections(report)["antivirus"]
    assert row[headers.index("update ok")] == shown
    assert report.antivirus[0].update_ok is {"yes": True, "NO": False}.get(shown)
