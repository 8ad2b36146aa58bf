"""The pure core of plans and approvals: ids, drift, batches, the policy decision."""

from datetime import UTC, datetime, timedelta

import pytest

from maintenance_runner.ansible.recorder import event_row
from maintenance_runner.config.models import ChangePolicy
from maintenance_runner.core.batching import batches, budget, budget_spent
from maintenance_runner.core.plan import (
    PlanError,
    collect_changes,
    drift,
    host_entries,
    integrity,
    load_file,
    make_file,
    plan_id,
    typed_hosts,
)
from maintenance_runner.core.policy import Signature, evaluate
from maintenance_runner.core.results import TaskResult

NOW = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
GROUPS = {"ops": ["alice", "bob", "carol"], "emergency": ["erin"]}
NORMAL = ChangePolicy(type="normal", approvals=1, groups=["ops"], expires=timedelta(hours=72))


def sig(who, decision="approve", age_h=1.0, valid=True):
    return Signature(who, decision, NOW - timedelta(hours=age_h), valid, "" if valid else "bad")


AUTHOR = sig("carol", "author")


def content(**extra):
    base = {
        "window": "w",
        "tasks": ["patching"],
        "hosts": {},
        "inventory": {"path": "/x", "hash": "1"},
        "content": {"hash": "2", "git": None},
    }
    return {**base, **extra}


def test_plan_id_is_canonical_and_any_edit_breaks_integrity():
    a = {"b": 1, "a": [1, 2], "c": {"y": "é", "x": None}}
    b = {"c": {"x": None, "y": "é"}, "a": [1, 2], "b": 1}
    assert plan_id(a) == plan_id(b)
    raw = make_file(content(), None)
    assert integrity(raw) is None
    raw["plan"]["tasks"] = ["patching", "hardening"]
    assert "edited" in integrity(raw)


def test_load_file_names_the_missing_field():
    raw = make_file(content(), None)
    del raw["plan"]["hosts"]
    with pytest.raises(PlanError, match=r"p\.json: plan\.hosts"):
        load_file(raw, "p.json")
    with pytest.raises(PlanError, match="format"):
        load_file({"format": "other"}, "p.json")


def ok_event(host, role, task, changed=True, diff=None):
    return {
        "event": "runner_on_ok",
        "event_data": {
            "host": host,
            "role": f"maint.preventive.{role}",
            "task": task,
            "res": {"changed": changed, "diff": diff or {}},
        },
    }


def test_changes_and_package_items_make_the_drift_keys():
    pkg = {"name": "openssl", "current": "3.0.1", "candidate": "3.0.2", "action": "upgrade"}
    results = [TaskResult("h1", "patching", "changed", data={"planned": [pkg]})]
    events = [
        ok_event("h1", "patching", "PATCH-04 | Apply"),
        ok_event("h1", "patching", "PATCH-01 | Probe", changed=False),
        ok_event(
            "h1",
            "hardening",
            "HARD-01 | sshd",
            diff={"before": "a\nb\n", "after": "a\nc\nd\n", "after_header": "/etc/ssh/x"},
        ),
    ]
    hosts = host_entries(results, collect_changes(events))
    assert hosts["h1"]["tasks"]["patching"]["items"] == ["package openssl 3.0.1 -> 3.0.2 (upgrade)"]
    assert hosts["h1"]["tasks"]["hardening"]["changes"] == [
        {"name": "HARD-01 | sshd", "diff": "/etc/ssh/x: +2 -1"}
    ]
    assert drift(typed_hosts(hosts), typed_hosts(hosts)) == []
    newer = {**pkg, "candidate": "3.0.3"}
    live = host_entries(
        [TaskResult("h1", "patching", "changed", data={"planned": [newer]})],
        collect_changes(events),
    )
    assert drift(typed_hosts(hosts), typed_hosts(live)) == [
        "h1: patching: package openssl 3.0.1 -> 3.0.3 (upgrade)"
    ]
    assert drift(typed_hosts(live), {}) == []  # predicting less than planned is not drift


def test_batches_and_error_budget():
    hosts = [f"h{i}" for i in range(10)]
    assert [len(b) for b in batches(hosts, 25, True)] == [3, 3, 3, 1]
    assert [len(b) for b in batches(hosts, 4, False)] == [4, 4, 2]
    assert batches(hosts[:1], 10, True) == [["h0"]]
    assert budget(10, True, 10) == 1 and budget(10, True, 5) == 0 and budget(2, False, 5) == 2
    assert not budget_spent(1, 1) and budget_spent(2, 1)


def test_author_never_counts_and_groups_are_enforced():
    d = evaluate(NORMAL, GROUPS, ["patching"], AUTHOR, [sig("carol")], NOW)
    assert not d.allowed and "author" in d.reasons[0]
    d = evaluate(NORMAL, GROUPS, ["patching"], AUTHOR, [sig("mallory")], NOW)
    assert not d.allowed and "not in ops" in d.reasons[0]
    d = evaluate(NORMAL, GROUPS, ["patching"], AUTHOR, [sig("alice")], NOW)
    assert d.allowed and d.approvers == ["alice"]


def test_expired_invalid_rejected_and_missing_author():
    d = evaluate(NORMAL, GROUPS, ["patching"], AUTHOR, [sig("alice", age_h=73)], NOW)
    assert not d.allowed and "expired" in d.reasons[0]
    d = evaluate(NORMAL, GROUPS, ["patching"], AUTHOR, [sig("alice", valid=False)], NOW)
    assert not d.allowed and any("not valid" in r for r in d.reasons)
    d = evaluate(NORMAL, GROUPS, ["p"], AUTHOR, [sig("alice"), sig("bob", "reject")], NOW)
    assert not d.allowed and d.reasons[0] == "rejected by bob"
    d = evaluate(NORMAL, GROUPS, ["patching"], None, [sig("alice")], NOW)
    assert not d.allowed and "no author signature" in d.reasons[0]
    two = NORMAL.model_copy(update={"approvals": 2})
    d = evaluate(two, GROUPS, ["patching"], AUTHOR, [sig("alice"), sig("alice")], NOW)
    assert not d.allowed and "1 of 2" in d.reasons[0]


def test_standard_changes_are_limited_to_their_tasks():
    standard = ChangePolicy(type="standard", approvals=0, tasks=["antivirus"])
    assert evaluate(standard, GROUPS, ["antivirus"], AUTHOR, [], NOW).allowed
    d = evaluate(standard, GROUPS, ["antivirus", "patching"], AUTHOR, [], NOW)
    assert not d.allowed and "also runs patching" in d.reasons[0]


def test_emergency_needs_a_member_of_the_emergency_group():
    emergency = ChangePolicy(type="emergency", groups=["emergency"])
    d = evaluate(emergency, GROUPS, ["patching"], AUTHOR, [], NOW, emergency_by=sig("erin"))
    assert d.allowed and d.emergency
    d = evaluate(emergency, GROUPS, ["patching"], AUTHOR, [], NOW, emergency_by=sig("alice"))
    assert not d.allowed and "emergency group" in d.reasons[0]
    assert not evaluate(emergency, GROUPS, ["patching"], AUTHOR, [sig("alice")], NOW).allowed


def test_recorded_events_keep_no_result_payload():
    event = {
        "event": "runner_on_failed",
        "event_data": {
            "host": "h1",
            "role": "maint.preventive.backup_verify",
            "task": "BV-02 | Restore",
            "res": {"msg": "restore failed", "stdout": "password=hunter2", "changed": False},
        },
    }
    row = event_row(event)
    assert row["message"] == "restore failed" and "hunter2" not in str(row)
    censored = {
        "event": "runner_on_failed",
        "event_data": {
            "host": "h",
            "res": {"censored": "the output has been hidden due to the fact that 'no_log: true'"},
        },
    }
    assert "hidden" in event_row(censored)["message"]
    assert event_row({"event": "verbose"}) is None
