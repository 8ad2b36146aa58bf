"""Verify the patching scenario on the lab host (testinfra).

Runs twice: after converge + idempotence, and after side_effect (rollback). Each run reads the
maint_result files the scenario saved in run order and checks the host against them.
"""

from testinfra_helpers import after_side_effect, phase, ran


def _planned(result, name):
    return [p for p in result["data"]["planned"] if p["name"] == name]


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


def test_check_mode_changed_nothing(results, host):
    converge = phase(results, "converge")
    # The first real run still found 1.0 installed: the check run before it changed nothing.
    (fixture,) = _planned(converge, "maint-fixture")
    assert fixture["current"] == "1.0"
    manifests = host.run("ls /var/lib/maint/patching/manifest-*.json").stdout.split()
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
    rolled_back = ran(results, "rollback")
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
