"""Follow-up rules without I/O: which findings open one, priority, due time, state, cycles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from maintenance_runner.config.load import validate_config
from maintenance_runner.core.followups import (
    Event,
    Existing,
    FindingRecord,
    FollowupError,
    Rules,
    check_action,
    cycles,
    derive,
    groups_by_host,
    outcome,
    plan_new,
    priority,
    qualifies,
    rules_from_config,
)
from maintenance_runner.core.workhours import make_calendar

MADRID = ZoneInfo("Europe/Madrid")
T0 = datetime(2026, 12, 4, 16, 0, tzinfo=MADRID)  # Friday; Mon 7 and Tue 8 are holidays


@pytest.fixture(scope="module")
def rules():
    return rules_from_config(validate_config({}, "maint.yml").followups)


def finding(row, host="ws01", fid="patching.updates_pending", severity="medium", **kw):
    return FindingRecord(
        id=row,
        host=host,
        task=fid.split(".")[0],
        finding_id=fid,
        severity=severity,
        message=kw.pop("message", "something to do"),
        recommendation=None,
        recorded_at=kw.pop("at", T0),
        **kw,
    )


def test_defaults_from_maint_yml(rules):
    assert rules.min_severity == "medium"
    assert rules.targets == {"P1": timedelta(hours=4), "P2": timedelta(hours=8)}
    assert rules.p1_groups == {"servers", "infrastructure"}
    assert rules.recurring_cycles == 3
    assert rules.calendar.zone == MADRID
    assert rules.calendar.days == (0, 1, 2, 3, 4)
    assert rules.calendar.is_closed(datetime(2026, 12, 8).date())


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("info", False), ("low", False), ("medium", True), ("high", True), ("critical", True)],
)
def test_severity_threshold(rules, severity, expected):
    assert qualifies(severity, rules) is expected


def test_unknown_severity_never_qualifies(rules):
    assert not qualifies("severe", rules)


def test_priority_rules(rules):
    assert priority("access_review.uid0", {"workstations"}, rules)[0] == "P1"
    assert priority("antivirus.infected", set(), rules) == (
        "P1",
        "sign of compromise (antivirus.infected*)",
    )
    assert priority("patching.updates_pending", {"linux", "servers"}, rules) == (
        "P1",
        "host in servers",
    )
    assert priority("patching.updates_pending", {"workstations"}, rules) == ("P2", "other hosts")


def test_new_followups_due_in_working_hours(rules):
    found = [
        finding(1, host="db01"),
        finding(2, host="ws01"),
        finding(3, host="ws01", fid="patching.reboot_pending", severity="low"),
    ]
    new = plan_new(found, [], {"db01": {"servers"}, "ws01": {"workstations"}}, rules)
    assert [(n.finding_row, n.priority) for n in new] == [(1, "P1"), (2, "P2")]
    assert new[0].due_at == datetime(2026, 12, 9, 12, 0, tzinfo=MADRID)
    assert new[1].due_at == datetime(2026, 12, 9, 16, 0, tzinfo=MADRID)
    assert new[0].title == "patching.updates_pending on db01: something to do"


def test_one_open_followup_per_host_and_finding(rules):
    found = [finding(1), finding(2), finding(3, host="ws02")]
    assert [n.finding_row for n in plan_new(found, [], {}, rules)] == [1, 3]
    still_open = [Existing(10, "ws01", "patching.updates_pending", 1, None)]
    later = [finding(4, at=T0 + timedelta(days=30))]
    assert plan_new(later, still_open, {}, rules) == []


def test_a_closed_followup_reopens_only_for_a_newer_finding(rules):
    closed_at = T0 + timedelta(days=2)
    closed = [Existing(10, "ws01", "patching.updates_pending", 1, closed_at)]
    before = finding(2, at=T0 + timedelta(days=1))  # recorded while it was open
    after = finding(3, at=T0 + timedelta(days=3))
    assert [n.finding_row for n in plan_new([before, after], closed, {}, rules)] == [3]
    # the finding of the closed follow-up itself opens nothing again
    assert plan_new([finding(1)], closed, {}, rules) == []


def test_cycles_count_occurrences_then_months(rules):
    nov = datetime(2026, 11, 12, 22, tzinfo=MADRID)
    records = [
        finding(1, occurrence_id=1, at=nov),
        finding(2, occurrence_id=1, at=nov + timedelta(hours=1)),  # same occurrence again
        finding(3, at=nov + timedelta(days=3)),  # ad hoc, a month with an occurrence: no cycle
        finding(4, at=datetime(2026, 12, 1, 10, tzinfo=MADRID)),  # ad hoc in December: a month
        finding(5, at=datetime(2026, 12, 20, 10, tzinfo=MADRID)),  # December again
        finding(6, occurrence_id=7, at=datetime(2027, 1, 14, 22, tzinfo=MADRID)),
        finding(7, host="ws02", occurrence_id=7, at=datetime(2027, 1, 14, 22, tzinfo=MADRID)),
    ]
    found = cycles(records, rules)
    assert found[("ws01", "patching.updates_pending")] == [
        "occurrence 1",
        "month 2026-12",
        "occurrence 7",
    ]
    assert found[("ws02", "patching.updates_pending")] == ["occurrence 7"]


def test_month_is_read_in_the_calendar_zone(rules):
    # 23:30 UTC on 31 December is already January in Madrid
    late = finding(1, at=datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    assert cycles([late], rules)[late.key] == ["month 2027-01"]


def _event(i, action, hours):
    return Event(i, action, "alice", None, T0 + timedelta(hours=hours))


def test_state_replays_events():
    assert derive("open", []).status == "open"
    state = derive("open", [_event(1, "note", 1), _event(2, "ack", 2)])
    assert (state.status, state.acknowledged_at) == ("acknowledged", T0 + timedelta(hours=2))
    state = derive("open", [_event(1, "ack", 2), _event(2, "close", 5), _event(3, "reopen", 9)])
    assert state.status == "open"
    assert state.closed_at is None
    assert state.responded_at == T0 + timedelta(hours=2)
    assert derive("open", [_event(1, "close", 3)]).responded_at == T0 + timedelta(hours=3)


@pytest.mark.parametrize(
    ("status", "action"),
    [("acknowledged", "ack"), ("closed", "ack"), ("closed", "close"), ("open", "reopen")],
)
def test_actions_the_state_does_not_allow(status, action):
    with pytest.raises(FollowupError):
        check_action(status, action)


def test_actions_the_state_allows():
    for status, action in [("open", "ack"), ("open", "close"), ("closed", "reopen")]:
        check_action(status, action)
    for status in ("open", "acknowledged", "closed"):
        check_action(status, "note")


def test_outcome():
    due = T0 + timedelta(hours=4)
    assert outcome(due, due, T0) == "met"
    assert outcome(due, due + timedelta(seconds=1), T0) == "missed"
    assert outcome(due, None, due) == "pending"
    assert outcome(due, None, due + timedelta(minutes=1)) == "missed"
    assert outcome(None, None, T0) == "none"


def test_groups_by_host_follows_children():
    listing = {
        "_meta": {"hostvars": {}},
        "all": {"children": ["ungrouped", "linux", "servers"]},
        "linux": {"children": ["servers_linux"]},
        "servers": {"children": ["servers_linux"]},
        "servers_linux": {"hosts": ["db01"]},
        "ungrouped": {"hosts": ["ws01"]},
    }
    assert groups_by_host(listing) == {
        "db01": frozenset({"servers_linux", "linux", "servers", "all"}),
        "ws01": frozenset({"ungrouped", "all"}),
    }


def test_configured_rules():
    raw = {
        "followups": {
            "min_severity": "high",
            "working_hours": {
                "days": ["mon-thu"],
                "start": "08:00",
                "end": "24:00",
                "timezone": "Pacific/Auckland",
                "holidays": None,
                "closed": ["2026-12-31"],
            },
            "targets": {"P1": "1h30m", "P2": "16h"},
            "p1_groups": ["dmz"],
            "p1_findings": ["hardening.ssh_*"],
            "recurring_cycles": 2,
        }
    }
    rules = rules_from_config(validate_config(raw, "maint.yml").followups)
    assert isinstance(rules, Rules)
    assert rules.calendar.days == (0, 1, 2, 3)
    assert rules.calendar.end.hour == 0  # 24:00
    assert rules.calendar.holidays is None
    assert rules.targets["P1"] == timedelta(hours=1, minutes=30)
    assert priority("hardening.ssh_root_login", set(), rules)[0] == "P1"
    assert priority("antivirus.infected", set(), rules)[0] == "P2"
    assert not qualifies("medium", rules)


def test_a_calendar_can_be_built_by_hand():
    rules = Rules(calendar=make_calendar("UTC"), targets={"P1": timedelta(hours=3)})
    new = plan_new([finding(1, fid="antivirus.infected")], [], {}, rules)
    assert new[0].due_at == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # Friday 15:00Z + 3 h


# --- the latest complete run decides ----------------------------------------------------


def test_a_complete_run_is_one_that_finished_its_task_on_the_host():
    from maintenance_runner.core.results import complete_observation

    assert complete_observation("ok", "apply")
    assert complete_observation("changed", "check")  # a plan's or an audit's check run
    for status in ("failed", "skipped", "unreachable"):
        assert not complete_observation(status, "apply")
    assert not complete_observation("changed", "apply", rolled_back=True)
    assert not complete_observation("ok", "rollback")
    assert not complete_observation("changed", "apply", action="reconcile")
    assert not complete_observation("ok", "apply", action="rollback")


def _seen(run_id, at, *ids, host="ws01", task="patching"):
    from maintenance_runner.core.followups import Observation

    return Observation(run_id, f"run-{run_id}", host, task, at, frozenset(ids))


def test_a_finding_the_latest_complete_run_no_longer_reports_opens_nothing(rules):
    from maintenance_runner.core.followups import latest_observations

    old = finding(1, run_id=1)
    fixed = latest_observations([_seen(2, T0 + timedelta(hours=1))])
    assert plan_new([old], [], {}, rules, fixed) == []
    still = latest_observations([_seen(2, T0 + timedelta(hours=1), "patching.updates_pending")])
    assert [n.finding_row for n in plan_new([old], [], {}, rules, still)] == [1]
    # the run that raised it, or one before it, says nothing about it being gone
    same = latest_observations([_seen(1, T0 + timedelta(hours=1))])
    assert [n.finding_row for n in plan_new([old], [], {}, rules, same)] == [1]
    earlier = latest_observations([_seen(0, T0 - timedelta(hours=1))])
    assert [n.finding_row for n in plan_new([old], [], {}, rules, earlier)] == [1]
    # another task on the host, or the task on another host, neither
    other = latest_observations(
        [_seen(2, T0 + timedelta(hours=1), task="hardening"), _seen(3, T0, host="ws02")]
    )
    assert [n.finding_row for n in plan_new([old], [], {}, rules, other)] == [1]
    # only the latest counts: fixed, then back
    back = latest_observations(
        [
            _seen(3, T0 + timedelta(hours=2), "patching.updates_pending"),
            _seen(2, T0 + timedelta(hours=1)),
        ]
    )
    assert back[("ws01", "patching")].run_id == 3


def test_open_followups_close_on_the_latest_complete_run_after_them():
    from maintenance_runner.core.followups import (
        AUTO_ACTOR,
        OpenFollowup,
        latest_observations,
        plan_closes,
    )

    item = OpenFollowup(7, finding(1, run_id=1), reopened_at=None)
    fixed = latest_observations([_seen(2, T0 + timedelta(hours=1))])
    (close,) = plan_closes([item], fixed)
    assert (close.followup_id, close.run_uid, AUTO_ACTOR) == (7, "run-2", "maint")
    assert close.note == "closed: run run-2 no longer reports patching.updates_pending on ws01"
    still = latest_observations([_seen(2, T0 + timedelta(hours=1), "patching.updates_pending")])
    assert plan_closes([item], still) == []
    # reopened by a person after that run: only a newer run closes it again
    reopened = OpenFollowup(7, finding(1, run_id=1), reopened_at=T0 + timedelta(hours=2))
    assert plan_closes([reopened], fixed) == []
    newer = latest_observations([_seen(3, T0 + timedelta(hours=3))])
    assert [c.run_uid for c in plan_closes([reopened], newer)] == ["run-3"]
