"""Per-control changes in plans (docs/role-contract.md, data.changes): what an approver sees,
what the drift check compares, and what apply leaves out when the plan predicts a failure."""

from __future__ import annotations

from typing import Any

from maintenance_runner.core.plan import drift, host_entries, load_file, make_file, typed_hosts
from maintenance_runner.core.results import TaskResult
from maintenance_runner.cycle.applier import would_fail_policy
from maintenance_runner.report.plan_render import html, text

SSH = {
    "control": "SSH-01",
    "kind": "file",
    "target": "/etc/ssh/sshd_config.d/00-maint-hardening.conf",
    "action": "modify",
    "diff": "--- a\n+++ b\n-PermitRootLogin yes\n+PermitRootLogin no\n",
}
PWQ = {
    "control": "AUTH-03",
    "kind": "package",
    "target": "libpam-pwquality",
    "action": "install",
    "after": "1.4.5-1",
    "pulls": ["libpwquality1 1.4.5-1", "cracklib-runtime 2.9.6-5"],
    "would_fail": "no package libpam-pwquality in this host's apt sources",
}
EVIDENCE = {
    "effective": "permitrootlogin yes",
    "expected": "permitrootlogin no",
    "source": "/etc/ssh/sshd_config.d/50-cloud.conf:1",
}


def results(changes: list[dict[str, Any]], host: str = "web1") -> list[TaskResult]:
    finding = {
        "id": "hardening.ssh_01",
        "severity": "high",
        "message": "root login is allowed: PermitRootLogin yes from "
        "/etc/ssh/sshd_config.d/50-cloud.conf:1",
        "evidence": EVIDENCE,
    }
    return [
        TaskResult.from_fact(
            host,
            {
                "task": "hardening",
                "status": "changed",
                "findings": [finding],
                "data": {"changes": changes},
            },
        ),
        TaskResult.from_fact("db1", {"task": "hardening", "status": "ok", "data": {}}),
    ]


def plan_of(changes: list[dict[str, Any]], **settings: Any):
    content = {
        "window": "w",
        "tasks": ["hardening"],
        "hosts": host_entries(results(changes), []),
        "inventory": {"path": "/i", "hash": "h"},
        "content": {"hash": "c"},
        "settings": settings,
    }
    return load_file(make_file(content, None), "plan.json")


def test_the_plan_shows_each_control_change_would_fail_first_and_quiet_hosts_say_so():
    plan = plan_of([SSH, PWQ])
    shown = text(plan)
    assert "WOULD FAIL" in shown
    assert shown.index("AUTH-03") < shown.index("SSH-01")  # would-fail first, everywhere
    assert "web1: 2 change(s) in 2 control(s), 1 would fail" in shown
    assert "db1: nothing to change" in shown
    assert "+PermitRootLogin no" in shown  # the file's diff is shown
    assert "pulls libpwquality1 1.4.5-1, cracklib-runtime 2.9.6-5" in shown
    page = html(plan)
    assert "would fail" in page and "nothing to change" in page
    assert page.index("AUTH-03") < page.index("SSH-01")


def test_findings_keep_their_evidence_in_the_plan():
    plan = plan_of([SSH])
    (finding,) = plan.content.hosts["web1"].findings
    assert finding.evidence == EVIDENCE
    assert "50-cloud.conf:1" in finding.message


def test_a_new_control_change_is_drift_and_a_missing_one_is_not():
    planned = plan_of([SSH]).content.hosts
    live = typed_hosts(host_entries(results([SSH, PWQ]), []))
    assert drift(planned, live) == [
        "web1: hardening: AUTH-03 package libpam-pwquality install 1.4.5-1"
    ]
    assert drift(live, planned) == []


def test_apply_leaves_the_failing_control_out_or_the_whole_host_as_the_window_says():
    controls, hosts = would_fail_policy(plan_of([SSH, PWQ]), ["web1", "db1"])
    assert (controls, hosts) == ({"web1": ["AUTH-03"]}, {})
    controls, hosts = would_fail_policy(
        plan_of([SSH, PWQ], on_would_fail="skip_host"), ["web1", "db1"]
    )
    assert controls == {} and list(hosts) == ["web1"]
    assert "AUTH-03 would fail" in hosts["web1"] and "apt sources" in hosts["web1"]


def test_a_malformed_change_entry_is_left_out_not_fatal():
    plan = plan_of([SSH, {"control": "X"}, "not a mapping"])  # type: ignore[list-item]
    assert [c.control for c in plan.content.hosts["web1"].tasks["hardening"].controls] == ["SSH-01"]


def test_updates_the_baseline_keeps_out_are_shown_greyed_with_why():
    pending = [
        {"name": "openssl", "current": "3.0.11", "candidate": "3.0.13", "decision": "in",
         "reason": "security"},
        {"name": "curl", "current": "7.88.1-10", "candidate": "7.88.1-11", "decision": "out",
         "reason": "too new: 3 of 7 days since first seen"},
        {"name": "linux-image-amd64", "current": "6.1.1", "candidate": "6.1.2", "decision": "out",
         "reason": "kernel updates are excluded"},
    ]  # fmt: skip
    result = TaskResult.from_fact(
        "web1", {"task": "patching", "status": "changed", "data": {"pending": pending}}
    )
    content = {
        "window": "w",
        "tasks": ["patching"],
        "hosts": host_entries([result], []),
        "inventory": {"path": "/i", "hash": "h"},
        "content": {"hash": "c"},
    }
    plan = load_file(make_file(content, None), "plan.json")
    shown = text(plan)
    assert ". waits: package curl 7.88.1-10 -> 7.88.1-11: too new: 3 of 7 days" in shown
    assert "kernel updates are excluded" in shown
    assert "openssl" not in shown.split("waits")[1]  # the update that is in does not wait
    assert "color:#777" in html(plan)
