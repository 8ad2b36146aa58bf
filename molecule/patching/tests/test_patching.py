"""Verify the patching scenario on the lab host (testinfra).

Runs twice: after converge + idempotence, and after side_effect (rollback). Each run reads the
maint_result files the scenario saved in run order and checks the host against them.
"""

from testinfra_helpers import (
    after_side_effect,
    file_changes,
    findings,
    load_snapshot,
    package_changes,
    phase,
    ran,
)

# The updates a patch baseline judges (vars/baselines.yml); each stays at 1.0 until a run takes it.
BASELINE_PACKAGES = (
    "maint-fixture-lib",
    "maint-fixture-doc",
    "linux-image-maint-fixture",
    "maint-fixture-agent",
)
LATER_RUN_ID = "run-4243-20261211T101500123456"  # side_effect's later run
HOLD_REASON = "held until 2026-12-10: the vendor certifies 1.1 on 10 December"


def _planned(result, name):
    return [p for p in result["data"]["planned"] if p["name"] == name]


def _decisions(result):
    return {p["name"]: (p["decision"], p["reason"]) for p in result["data"]["pending"]}


def _names(entries):
    return {p["name"] for p in entries}


def test_check_mode_lists_1_1_as_pending(results):
    check = phase(results, "check")
    assert check["data"]["check_mode"] is True
    assert check["status"] == "changed"
    (fixture,) = _planned(check, "maint-fixture")
    assert (fixture["current"], fixture["candidate"]) == ("1.0", "1.1")
    ids = {f["id"] for f in check["findings"]}
    assert "patching.updates_pending" in ids
    assert "patching.security_updates_pending" in ids  # maint-fixture-tools has a security origin
    assert check["rollback"] == {}


def test_the_plan_explains_every_pending_update(results):
    check = phase(results, "check")
    # The window names security_only; the host's group patching_canary overrides it.
    assert check["data"]["baseline"] == {
        "name": "monthly",
        "source": "group",
        "group": "patching_canary",
        "as_of": "2026-12-06T10:15:00Z",
    }
    assert check["data"]["mode"] == "baseline"
    assert _decisions(check) == {
        "maint-fixture": ("in", "bugfix, 10 days since first seen \u2265 7"),
        "maint-fixture-tools": ("in", "security, 9 days since first seen \u2265 7"),
        "maint-fixture-lib": ("out", HOLD_REASON),
        "maint-fixture-doc": ("out", "rejected by pattern *-doc"),
        "linux-image-maint-fixture": ("out", "kernel updates are excluded"),
        "maint-fixture-agent": ("out", "too new: 3 of 7 days since first seen"),
        "maint-fixture-agent-data": ("out", "a new package only updates left out need"),
    }
    by_name = {p["name"]: p for p in check["data"]["pending"]}
    assert by_name["maint-fixture-agent"]["first_seen"] == "2026-12-03T10:15:00Z"
    assert by_name["maint-fixture-agent"]["age_days"] == 3
    assert by_name["maint-fixture-doc"]["first_seen"] == "2026-12-06T10:15:00Z"  # never seen
    assert by_name["maint-fixture-doc"]["age_days"] == 0
    # The transaction is simulated for the updates that are in, and only for them.
    assert _names(check["data"]["planned"]) == {"maint-fixture", "maint-fixture-tools"}
    assert check["data"]["skipped"]["maint-fixture-lib"] == HOLD_REASON
    # The hold has not expired yet; it is a held update, not a finding about the hold.
    assert findings(check, "patching.hold_expired") == []
    (held,) = findings(check, "patching.held_packages")
    assert f"maint-fixture-lib ({HOLD_REASON})" in held["message"]


def test_converge_installed_exactly_the_plan(results, host):
    first = phase(results, "converge", 0)
    assert _names(first["data"]["applied"]) == _names(first["data"]["planned"])
    if not ran(results, "later"):
        for name in BASELINE_PACKAGES:
            assert host.package(name).version == "1.0", name
        assert not host.package("maint-fixture-agent-data").is_installed
    (pending,) = findings(first, "patching.reboot_pending")
    assert pending["message"].endswith("(the baseline never reboots)")
    assert first["data"]["reboot_policy"] == "never"


def test_check_mode_changed_nothing(results, host):
    converge = phase(results, "converge")
    # The first real run still found 1.0 installed: the check run before it changed nothing.
    (fixture,) = _planned(converge, "maint-fixture")
    assert fixture["current"] == "1.0"
    manifests = host.run("ls /var/lib/maint/patching/manifest-*.json").stdout.split()
    # one from converge (and one from side_effect's later run, named after its run)
    manifests = [m for m in manifests if LATER_RUN_ID not in m]
    assert len(manifests) == 1, manifests


def test_converge_applied_and_second_converge_changed_nothing(results):
    first = phase(results, "converge", 0)
    second = phase(results, "converge", 1)
    assert first["status"] == "changed"
    assert {p["name"] for p in first["data"]["applied"]} == {"maint-fixture", "maint-fixture-tools"}
    assert second["status"] == "ok"
    assert second["data"]["planned"] == []
    assert second["rollback"] == {}


def test_result_carries_the_manifest(results, host):
    first = phase(results, "converge", 0)
    rollback = first["rollback"]
    manifest = rollback["manifest"]
    by_name = {p["name"]: p for p in manifest["packages"]}
    assert by_name["maint-fixture"]["before"] == "1.0"
    assert by_name["maint-fixture"]["after"] == "1.1"
    assert host.file(rollback["manifest_path"]).exists
    deb = by_name["maint-fixture"]["deb"]
    assert deb.endswith("maint-fixture_1.0_all.deb")
    assert host.file(deb).exists


def test_reboot_pending_reported_not_performed(results):
    first = phase(results, "converge", 0)
    assert first["data"]["reboot_required"] is True
    assert first["data"]["reboot_packages"] == ["maint-fixture"]
    assert "patching.reboot_pending" in {f["id"] for f in first["findings"]}


def test_installed_version_matches_the_last_run(results, host):
    # converge installs 1.1, the rollback goes back to 1.0, the later run installs 1.1 again
    # and its rollback goes back to 1.0
    rolled_back = ran(results, "rollback") and (
        not ran(results, "later") or ran(results, "laterrollback")
    )
    expected = "1.0" if rolled_back else "1.1"
    assert host.package("maint-fixture").version == expected
    assert host.package("maint-fixture-tools").version == expected
    assert host.check_output("maint-fixture --version") == f"maint-fixture {expected}"
    assert host.run("service maint-fixture status").rc == 0


def test_rollback_restored_exactly_1_0_without_the_repository(results, host):
    after_side_effect(results, "rollback")
    rollback = phase(results, "rollback")
    assert rollback["status"] == "changed"
    assert set(rollback["data"]["restored"]) == {"maint-fixture", "maint-fixture-tools"}
    assert rollback["data"]["versions"] == {"maint-fixture": "1.0", "maint-fixture-tools": "1.0"}
    assert rollback["rollback"]["manifest"]["rolled_back_at"]
    # 1.0 is no longer in the repository: the kept .deb did the downgrade.
    packages = host.file("/srv/maint-fixture/main/Packages").content_string
    assert "Version: 1.0" not in packages
    assert "Version: 1.1" in packages


RUN_ID = "run-4242-20261206T101500123456"  # converge.yml's maint_run_id


def test_converge_named_its_manifest_after_the_run(results):
    first = phase(results, "converge", 0)
    assert first["rollback"]["manifest_path"] == f"/var/lib/maint/patching/manifest-{RUN_ID}.json"
    assert first["rollback"]["manifest"]["id"] == RUN_ID


def test_reconcile_records_what_the_run_changed_with_its_rollback_record(results):
    after_side_effect(results, "reconcile")
    reconciled = phase(results, "reconcile")
    first = phase(results, "converge", 0)
    assert reconciled["task"] == "patching"
    assert reconciled["status"] == "changed"
    assert reconciled["data"]["action"] == "reconcile"
    assert reconciled["data"]["run"] == RUN_ID
    assert reconciled["data"]["found"] is True
    assert reconciled["data"]["changed"] == ["maint-fixture", "maint-fixture-tools"]
    assert reconciled["data"]["versions"]["maint-fixture"] == {
        "before": "1.0",
        "after": "1.1",
        "now": "1.1",
    }
    # the same record an apply publishes, so the runner's rollback path takes it unchanged
    assert set(reconciled["rollback"]) == set(first["rollback"]) == {"manifest_path", "manifest"}
    assert reconciled["rollback"]["manifest_path"] == first["rollback"]["manifest_path"]
    assert (
        reconciled["rollback"]["manifest"]["packages"] == first["rollback"]["manifest"]["packages"]
    )


def test_reconcile_of_a_run_that_wrote_nothing_here(results):
    after_side_effect(results, "reconcile_unknown")
    unknown = phase(results, "reconcile_unknown")
    assert unknown["status"] == "ok"
    assert unknown["data"] == {
        "action": "reconcile",
        "run": "run-1-20261206T090000000000",
        "found": False,
        "check_mode": False,
    }
    assert unknown["rollback"] == {}


def test_reconcile_after_the_rollback_finds_nothing_changed(results):
    after_side_effect(results, "reconcile_after")
    again = phase(results, "reconcile_after")
    assert again["status"] == "ok"
    assert (again["data"]["found"], again["data"]["changed"]) == (True, [])
    assert again["rollback"] == {}


def test_five_days_later_the_aged_update_and_the_released_hold_enter(results, host):
    after_side_effect(results, "later")
    later = phase(results, "later")
    assert later["data"]["baseline"]["source"] == "window"
    assert later["data"]["baseline"]["as_of"] == "2026-12-11T10:15:00Z"
    assert _decisions(later) == {
        "maint-fixture": ("in", "bugfix, 15 days since first seen \u2265 7"),
        "maint-fixture-tools": ("in", "security, 14 days since first seen \u2265 7"),
        "maint-fixture-lib": ("in", "bugfix, 21 days since first seen \u2265 7"),
        "maint-fixture-doc": ("out", "rejected by pattern *-doc"),
        "linux-image-maint-fixture": ("out", "kernel updates are excluded"),
        "maint-fixture-agent": ("in", "security, 8 days since first seen \u2265 7"),
        "maint-fixture-agent-data": ("in", "pulled in by the updates in the plan"),
    }
    (expired,) = findings(later, "patching.hold_expired")
    assert expired["severity"] == "medium"
    for part in ("maint-fixture-lib", "1.1", "2026-12-10", "the vendor certifies 1.1"):
        assert part in expired["message"]
    # The apply installed exactly the plan's transaction, the agent's new dependency included.
    expected = {
        "maint-fixture",
        "maint-fixture-tools",
        "maint-fixture-lib",
        "maint-fixture-agent",
        "maint-fixture-agent-data",
    }
    assert later["status"] == "changed"
    assert later["rollback"]["manifest_path"].endswith(f"manifest-{LATER_RUN_ID}.json")
    assert _names(later["data"]["planned"]) == _names(later["data"]["applied"]) == expected
    # (the host as the later run left it: side_effect rolls that run back afterwards)
    versions = {
        name: state.split()[0]
        for name, state in load_snapshot(host.backend.get_hostname(), "laterafter")[
            "packages"
        ].items()
    }
    assert versions["maint-fixture-agent"] == "1.1"
    assert versions["maint-fixture-agent-data"] == "1.0"
    assert versions["maint-fixture-lib"] == "1.1"
    # The rejected and the kernel update stayed where they were.
    assert versions["maint-fixture-doc"] == "1.0"
    assert versions["linux-image-maint-fixture"] == "1.0"


def test_check_mode_left_no_trace(host):
    name = host.backend.get_hostname()
    prepared, checked = load_snapshot(name, "prepared"), load_snapshot(name, "check")
    # no package list refreshed in place, no planner log, nothing else
    assert file_changes(prepared, checked) == {}
    assert package_changes(prepared, checked) == {}


def test_the_plan_lists_each_update_with_its_versions(results):
    check = phase(results, "check")
    changes = {c["target"]: c for c in check["data"]["changes"]}
    assert set(changes) == _names(check["data"]["planned"])
    for change in changes.values():
        assert (change["control"], change["kind"], change["action"]) == (
            "PATCH-04",
            "package",
            "upgrade",
        )
        assert (change["before"], change["after"]) == ("1.0", "1.1")
        assert change["would_fail"] is None


def test_the_later_plan_shows_what_the_agent_pulls_and_its_rollback_purges_it(results, host):
    after_side_effect(results, "laterrollback")
    later = phase(results, "later")
    (agent,) = [c for c in later["data"]["changes"] if c["target"] == "maint-fixture-agent"]
    assert agent["pulls"] == ["maint-fixture-agent-data 1.0"]
    assert "maint-fixture-agent-data" not in {c["target"] for c in later["data"]["changes"]}
    rollback = phase(results, "laterrollback")
    assert "maint-fixture-agent-data" in rollback["data"]["removed"]
    name = host.backend.get_hostname()
    before = load_snapshot(name, "laterbefore")
    after = load_snapshot(name, "laterrollback")
    assert package_changes(before, after) == {}
    assert before["selections"] == after["selections"]
    assert not host.package("maint-fixture-agent-data").is_installed
