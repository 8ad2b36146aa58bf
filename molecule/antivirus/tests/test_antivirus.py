"""Verify the antivirus scenario on the lab host (testinfra).

Runs twice: after check, converge and the idempotence run, and after side_effect (private
mirror, clamd started on the custom database, quarantine, rollback). Each run reads the
maint_result files the scenario saved in run order and checks the host against them.
"""

from testinfra_helpers import (
    after_side_effect,
    assert_finding_contract,
    file_changes,
    findings,
    load_snapshot,
    package_changes,
    phase,
)

SAMPLE = "/srv/samples/eicar.com"
SIGNATURE = "Maint.Test.EICAR.UNOFFICIAL"
QUARANTINE = "/var/lib/maint/quarantine"


def _side_effect_ran(results):
    after_side_effect(
        results, "rollback", "side_effect has not run yet: it comes after the first verify"
    )


def test_every_result_keeps_the_contract(results):
    for run in results:
        assert run.result["task"] == "antivirus", run.phase
        assert run.result["status"] in ("ok", "changed"), run.phase
        assert_finding_contract(run.result, "antivirus")


def test_check_mode_reports_and_changes_nothing(results):
    check = phase(results, "check")
    data = check["data"]
    assert data["check_mode"] is True
    assert check["status"] == "ok"
    assert check["rollback"] == {}
    # The update is the one change the role makes: not in check mode.
    assert data["update"]["attempted"] is False
    # Scans are probes and run in check mode too; nothing is moved.
    assert data["scan"]["ran"] is True
    assert [i["path"] for i in data["scan"]["infected"]] == [SAMPLE]
    assert data["quarantined_now"] == []
    assert findings(check, "antivirus.infected")[0]["severity"] == "critical"
    assert not findings(check, "antivirus.update_failed")
    # the scan's log went to a temporary directory, removed: nothing is kept
    assert data["scan"]["log"] is None
    assert data["changes"] == []


def test_check_mode_left_no_trace(host):
    name = host.backend.get_hostname()
    prepared = load_snapshot(name, "prepared")
    checked = load_snapshot(name, "check")
    assert file_changes(prepared, checked) == {}
    assert package_changes(prepared, checked) == {}


def test_update_failed_is_a_high_finding_not_a_crash(results):
    converge = phase(results, "converge")
    update = converge["data"]["update"]
    assert update["attempted"] is True
    assert update["tool"] == "freshclam"
    assert update["rc"] not in (0, None)
    assert update["ok"] is False
    assert "Update failed" in update["message"]
    (finding,) = findings(converge, "antivirus.update_failed")
    assert finding["severity"] == "high"
    assert f"rc {update['rc']}" in finding["message"]


def test_planted_file_detected_as_critical_with_path_and_signature(results, host):
    converge = phase(results, "converge")
    scan = converge["data"]["scan"]
    assert scan["rc"] == 1
    assert scan["scanned"] == 2
    assert scan["infected"] == [{"path": SAMPLE, "signature": SIGNATURE, "moved_to": None}]
    (finding,) = findings(converge, "antivirus.infected")
    assert finding["severity"] == "critical"
    assert SAMPLE in finding["message"] and SIGNATURE in finding["message"]
    # The scan log on the host holds the same detection.
    log = host.file(scan["log"])
    assert log.exists
    assert f"{SAMPLE}: {SIGNATURE} FOUND" in log.content_string
    assert converge["data"]["last_scan"]["log"] == scan["log"]


def test_definitions_missing_without_official_databases(results, host):
    converge = phase(results, "converge")
    definitions = converge["data"]["definitions"]
    assert definitions["present"] is False
    assert definitions["age_days"] is None
    assert definitions["custom"] == ["/var/lib/clamav/maint-test.hdb"]
    (finding,) = findings(converge, "antivirus.definitions_missing")
    assert finding["severity"] == "high"
    version = host.check_output("clamscan --version").split()[1].split("/")[0]
    assert converge["data"]["engine_version"] == version


def test_realtime_service_down_before_side_effect(results):
    converge = phase(results, "converge")
    services = converge["data"]["services"]
    assert services["clamd"]["name"] == "clamav-daemon"
    assert services["clamd"]["running"] is False
    assert findings(converge, "antivirus.realtime_down")[0]["severity"] == "high"
    assert services["freshclam"]["running"] is False
    assert findings(converge, "antivirus.updater_down")[0]["severity"] == "medium"


def test_converge_is_read_only_and_idempotent(results):
    first = phase(results, "converge", 0)
    second = phase(results, "converge", 1)
    for run in (first, second):
        assert run["status"] == "ok"
        assert run["rollback"] == {}
        assert run["data"]["freshclam_conf"]["changed"] is False
        assert run["data"]["quarantine"] == []
    assert {f["id"] for f in first["findings"]} == {f["id"] for f in second["findings"]}


def test_freshclam_conf_has_no_private_mirror_now(host):
    # Never set by converge; set by side_effect and then rolled back.
    conf = host.file("/etc/clamav/freshclam.conf").content_string
    assert not [line for line in conf.splitlines() if line.startswith("PrivateMirror")]


def test_private_mirror_set_and_its_failure_reported(results):
    _side_effect_ran(results)
    run = phase(results, "quarantine")
    conf = run["data"]["freshclam_conf"]
    assert conf == {
        "path": "/etc/clamav/freshclam.conf",
        "private_mirror": "http://127.0.0.1:9",
        "changed": True,
    }
    update = run["data"]["update"]
    assert update["ok"] is False and update["rc"] != 0
    assert "127.0.0.1:9" in update["message"]
    (finding,) = findings(run, "antivirus.update_failed")
    assert "http://127.0.0.1:9" in finding["message"]
    assert run["rollback"]["freshclam_conf"] == "/etc/clamav/freshclam.conf"
    assert run["rollback"]["freshclam_conf_backup"]


def test_quarantine_moved_the_file_and_clamd_ran(results, host):
    _side_effect_ran(results)
    run = phase(results, "quarantine")
    assert run["status"] == "changed"
    (moved,) = run["data"]["quarantined_now"]
    assert moved["path"] == SAMPLE
    assert moved["moved_to"] == f"{QUARANTINE}/eicar.com"
    assert findings(run, "antivirus.infected")[0]["severity"] == "critical"
    assert run["data"]["services"]["clamd"]["running"] is True
    assert not findings(run, "antivirus.realtime_down")
    assert not host.file(SAMPLE).exists
    assert host.file(f"{QUARANTINE}/eicar.com").exists
    assert host.file("/srv/samples/clean.txt").exists


def test_second_run_is_clean_and_lists_the_quarantine(results):
    _side_effect_ran(results)
    run = phase(results, "rerun")
    assert run["status"] == "ok"
    assert not findings(run, "antivirus.infected")
    assert run["data"]["scan"]["infected"] == []
    assert [q["path"] for q in run["data"]["quarantine"]] == [f"{QUARANTINE}/eicar.com"]
    (finding,) = findings(run, "antivirus.quarantine_files")
    assert finding["severity"] == "medium"
    assert not findings(run, "antivirus.realtime_down")
    assert findings(run, "antivirus.update_failed")


def test_reconcile_finds_the_run_copy_and_the_changed_conf(results):
    _side_effect_ran(results)
    run = "run-4545-20261206T101500123456"
    first = phase(results, "quarantine")
    assert first["rollback"] == {
        "freshclam_conf": "/etc/clamav/freshclam.conf",
        "freshclam_conf_backup": f"/etc/clamav/freshclam.conf.maint-{run}~",
    }
    reconciled = phase(results, "reconcile")
    assert reconciled["task"] == "antivirus"
    assert reconciled["status"] == "changed"
    assert (reconciled["data"]["run"], reconciled["data"]["found"]) == (run, True)
    assert reconciled["data"]["changed"] == ["/etc/clamav/freshclam.conf"]
    # the record the run published, so the runner's rollback path takes it unchanged
    assert reconciled["rollback"] == first["rollback"]


def test_rollback_restored_freshclam_conf(results, host):
    _side_effect_ran(results)
    rollback = phase(results, "rollback")
    assert rollback["status"] == "changed"
    assert rollback["data"]["action"] == "rollback"
    assert rollback["data"]["restored"] == ["/etc/clamav/freshclam.conf"]
    backup = rollback["data"]["backup"]
    assert backup == phase(results, "quarantine")["rollback"]["freshclam_conf_backup"]
    assert (
        host.file("/etc/clamav/freshclam.conf").content_string == host.file(backup).content_string
    )


def test_rollback_leaves_packages_and_config_as_before(results, host):
    _side_effect_ran(results)
    name = host.backend.get_hostname()
    before, after = load_snapshot(name, "sidebefore"), load_snapshot(name, "rollback")
    assert package_changes(before, after) == {}
    assert before["selections"] == after["selections"]
    # freshclam.conf is back; the copy kept before the change stays as the run's record, the
    # quarantined file stays in quarantine (never moved back), logs and records are kept
    changed = file_changes(
        before,
        after,
        outside=(
            "/root/.ansible/",
            "/var/log/",
            "/var/lib/maint",
            "/var/lib/clamav/",
            "/etc/clamav/freshclam.conf.maint-",
        ),
    )
    assert changed == {}, sorted(changed)
    quarantine = phase(results, "quarantine")
    moved = [c for c in quarantine["data"]["changes"] if c["control"] == "AV-05"]
    assert [(c["target"], c["action"]) for c in moved] == [(SAMPLE, "remove")]
    mirror = [c for c in quarantine["data"]["changes"] if c["control"] == "AV-02"]
    assert len(mirror) == 1 and "+PrivateMirror http://127.0.0.1:9" in mirror[0]["diff"]


def test_an_install_is_recorded_and_purged_on_rollback(results, host):
    after_side_effect(results, "installrollback")
    installed = phase(results, "install")
    (package,) = [c for c in installed["data"]["changes"] if c["kind"] == "package"]
    assert (package["control"], package["target"], package["action"]) == (
        "AV-01",
        "clamav-testfiles",
        "install",
    )
    assert installed["rollback"]["packages_manifest"].endswith(
        "/packages/manifest-run-4546-20261206T111500123456.json"
    )
    rollback = phase(results, "installrollback")
    assert rollback["data"]["packages_removed"] == ["clamav-testfiles"]
    name = host.backend.get_hostname()
    before = load_snapshot(name, "installbefore")
    after = load_snapshot(name, "installrollback")
    assert package_changes(before, after) == {}
    assert before["selections"] == after["selections"]
    assert not host.package("clamav-testfiles").is_installed
