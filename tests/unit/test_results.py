"""Reading maint_result from ansible-runner events (event dicts shaped as ansible-runner emits)."""

import pytest

from maintenance_runner.cli.render import summarize
from maintenance_runner.core.results import FACTS_TASK, TaskResult, collect_results, lean_event


def ok_event(host, fact, role="maint.preventive.patching"):
    return {
        "event": "runner_on_ok",
        "event_data": {
            "host": host,
            "role": role,
            "res": {"ansible_facts": {"maint_result": fact}},
        },
    }


def failed_event(host, msg, role="maint.preventive.patching", ignore_errors=False):
    return {
        "event": "runner_on_failed",
        "event_data": {
            "host": host,
            "role": role,
            "task": "PATCH-08 | Fail the host when a post-patch check failed",
            "res": {"msg": msg},
            "ignore_errors": ignore_errors,
        },
    }


FACT = {
    "task": "patching",
    "status": "changed",
    "findings": [
        {
            "id": "patching.reboot_pending",
            "severity": "medium",
            "message": "Reboot required",
            "recommendation": "Schedule a reboot",
        }
    ],
    "data": {"applied": [{"name": "maint-fixture", "current": "1.0", "candidate": "1.1"}]},
    "rollback": {"manifest_path": "/var/lib/maint/patching/manifest-x.json"},
}


def test_one_result_per_host_and_task_in_event_order():
    events = [
        {"event": "playbook_on_start", "event_data": {}},
        ok_event("web1", FACT),
        ok_event("web2", {**FACT, "status": "ok", "findings": []}),
        {"event": "runner_on_ok", "event_data": {"host": "web1", "res": {"changed": False}}},
    ]
    results = collect_results(events)
    assert [(r.host, r.task, r.status) for r in results] == [
        ("web1", "patching", "changed"),
        ("web2", "patching", "ok"),
    ]
    assert results[0].findings[0].severity == "medium"
    assert results[0].rollback["manifest_path"].endswith("manifest-x.json")


def test_failure_after_publishing_keeps_the_result_and_marks_it_failed():
    results = collect_results([ok_event("web1", FACT), failed_event("web1", "services down")])
    (result,) = results
    assert result.status == "failed"
    assert "services down" in result.error
    assert result.rollback["manifest_path"]  # rollback still knows what to restore


def test_failure_without_result_and_unreachable_hosts():
    events = [
        failed_event("web1", "apt failed"),
        {
            "event": "runner_on_unreachable",
            "event_data": {"host": "web2", "res": {"msg": "ssh: connect refused"}},
        },
        failed_event("web3", "ignored", ignore_errors=True),
    ]
    results = collect_results(events)
    assert [(r.host, r.task, r.status) for r in results] == [
        ("web1", "patching", "failed"),
        ("web2", "unknown", "failed"),
    ]
    assert "connect refused" in results[1].error


def test_contract_violations_are_rejected():
    with pytest.raises(ValueError, match="status"):
        TaskResult.from_fact("web1", {**FACT, "status": "done"})
    with pytest.raises(ValueError, match="severity"):
        TaskResult.from_fact("web1", {**FACT, "findings": [{"id": "x", "severity": "urgent"}]})


def test_summary_ranks_findings_and_shows_packages():
    text = summarize(collect_results([ok_event("web1", FACT)]))
    assert "web1  patching  CHANGED" in text
    assert "[medium] patching.reboot_pending: Reboot required" in text
    assert "maint-fixture 1.0 -> 1.1" in text
    assert summarize([]).startswith("no results")


def test_lean_events_keep_what_results_and_the_audit_read():
    packages = {"bash": [{"version": "5.2"}], "openssh-server": [{"version": "9.2"}]}
    facts_of_a_probe = {
        "event": "runner_on_ok",
        "stdout": "ok: [web1]",
        "event_data": {
            "host": "web1",
            "task": "AV-01 | Check which ClamAV packages are installed",
            "res": {"ansible_facts": {"packages": packages}, "changed": False},
        },
    }
    lean = lean_event(facts_of_a_probe)
    assert "stdout" not in lean
    assert lean["event_data"]["res"] == {"ansible_facts": {}, "changed": False}
    assert lean["event_data"]["host"] == "web1"
    assert facts_of_a_probe["event_data"]["res"]["ansible_facts"]["packages"] == packages

    published = ok_event("web1", FACT)
    published["event_data"]["res"]["ansible_facts"]["packages"] = packages
    assert collect_results([lean_event(published)]) == collect_results([published])
    assert set(lean_event(published)["event_data"]["res"]["ansible_facts"]) == {"maint_result"}

    gathered = {
        "event": "runner_on_ok",
        "event_data": {"host": "web1", "task": FACTS_TASK, "res": {"ansible_facts": packages}},
    }
    assert lean_event(gathered) is gathered  # the audit reads every gathered fact
    plain = ok_event("web1", FACT)
    assert lean_event(plain) is plain  # nothing to leave out: no copy
