"""Verify the backup_verify scenario on the lab host (testinfra).

Runs twice: after check + converge + idempotence, and after side_effect (a corrupted pack file in
archive and a changed daily canary). Each run reads the maint_result files the scenario saved in
run order.
"""

from pathlib import Path

import yaml
from testinfra_helpers import (
    RESULTS,
    after_side_effect,
    assert_finding_contract,
    file_changes,
    load_snapshot,
    package_changes,
    phase,
)

LAB_VARS = yaml.safe_load((Path(__file__).resolve().parent.parent / "vars" / "lab.yml").read_text())
SECRETS = [
    LAB_VARS["backup_verify_lab_file_secret"],
    LAB_VARS["backup_verify_lab_inline_secret"],
    LAB_VARS["backup_verify_lab_borg_secret"],
]


def _repo(result, name):
    (repo,) = [r for r in result["data"]["repositories"] if r["name"] == name]
    return repo


def _ids(result, repo_name):
    """Finding id -> severity for the findings that name one repository."""
    marker = f"repository {repo_name} ("
    return {f["id"]: f["severity"] for f in result["findings"] if marker in f["message"]}


def _damaged(results):
    after_side_effect(
        results, "damaged", "side_effect (corrupted pack, changed canary) has not run yet"
    )
    return phase(results, "damaged")


def test_every_result_follows_the_contract(results):
    for run in results:
        assert run.result["task"] == "backup_verify"
        assert run.result["status"] == "ok"
        assert run.result["rollback"] == {}
        assert_finding_contract(run.result, "backup_verify")


def test_check_mode_runs_the_probes_and_reports(results):
    check = phase(results, "check")
    assert check["data"]["check_mode"] is True
    daily = _repo(check, "daily")
    assert daily["snapshots"] == 1
    assert daily["restore"]["seconds"] > 0
    assert _ids(check, "empty") == {"backup_verify.no_snapshot": "critical"}


def test_healthy_restic_repository_passes_with_a_measured_restore(results):
    converge = phase(results, "converge")
    daily = _repo(converge, "daily")
    assert daily["snapshots"] == 1
    assert daily["recovery_point_age_hours"] < 1
    assert daily["check"]["ok"] is True
    assert daily["check"]["read_data_subset"] == ""
    assert daily["expected_paths_missing"] == []
    restore = daily["restore"]
    assert restore["seconds"] > 0
    assert restore["cleaned"] is True
    assert restore["mismatches"] == []
    (canary,) = restore["files"]
    assert canary["path"] == "/srv/data/home/canary.txt"
    assert canary["reference"] == "source"
    assert canary["match"] is True
    assert canary["sha256"] == LAB_VARS["backup_verify_lab_canary_sha256"]
    assert _ids(converge, "daily") == {}


def test_archive_reads_all_data_and_restores_a_deterministic_sample(results):
    first = _repo(phase(results, "converge", 0), "archive")
    second = _repo(phase(results, "converge", 1), "archive")
    assert first["check"] == {**first["check"], "ok": True, "read_data_subset": "100%"}
    assert len(first["restore"]["files"]) == 2
    assert all(f["match"] is True for f in first["restore"]["files"])
    assert [f["path"] for f in first["restore"]["files"]] == [
        f["path"] for f in second["restore"]["files"]
    ]
    assert first["expected_paths_missing"] == []


def test_borg_repository_matches_its_recorded_checksum(results):
    borg = _repo(phase(results, "converge"), "borg")
    assert borg["snapshots"] == 1
    assert borg["check"]["ok"] is True
    (canary,) = borg["restore"]["files"]
    assert (canary["reference"], canary["match"]) == ("checksum", True)
    assert borg["restore"]["seconds"] > 0


def test_old_snapshot_trips_the_age_finding_and_missing_path(results):
    converge = phase(results, "converge")
    legacy = _repo(converge, "legacy")
    assert legacy["newest"]["time"].startswith("2020-01-01T00:00:00")
    assert legacy["recovery_point_age_hours"] > legacy["max_age_hours"]
    assert legacy["expected_paths_missing"] == ["/srv/legacy/db"]
    ids = _ids(converge, "legacy")
    assert ids == {
        "backup_verify.stale_snapshot": "high",
        "backup_verify.expected_path_missing": "high",
    }


def test_empty_repository_has_no_snapshot(results):
    converge = phase(results, "converge")
    assert _repo(converge, "empty")["snapshots"] == 0
    assert _ids(converge, "empty") == {"backup_verify.no_snapshot": "critical"}


def test_no_critical_finding_on_healthy_repositories(results):
    converge = phase(results, "converge")
    for name in ("daily", "archive", "borg"):
        assert "critical" not in _ids(converge, name).values(), name


def test_second_converge_reports_the_same(results):
    first = phase(results, "converge", 0)
    second = phase(results, "converge", 1)
    assert [f["id"] for f in first["findings"]] == [f["id"] for f in second["findings"]]


def test_no_restore_directory_is_left_behind(host):
    assert host.run("ls -d /tmp/maint-backup-verify-*").rc != 0


def test_corrupted_pack_is_caught_by_the_check(results):
    damaged = _damaged(results)
    archive = _repo(damaged, "archive")
    assert archive["check"]["ok"] is False
    assert archive["check"]["kind"] == "corruption"
    assert "Pack ID does not match" in archive["check"]["message"]
    assert _ids(damaged, "archive")["backup_verify.corruption"] == "critical"


def test_changed_canary_is_a_restore_mismatch(results):
    damaged = _damaged(results)
    daily = _repo(damaged, "daily")
    assert daily["check"]["ok"] is True
    assert daily["restore"]["mismatches"] == ["/srv/data/home/canary.txt"]
    assert _ids(damaged, "daily") == {"backup_verify.restore_mismatch": "critical"}
    # borg compares with its recorded checksum, not the changed source: still a match.
    borg = _repo(damaged, "borg")
    assert borg["restore"]["mismatches"] == []


def test_passwords_never_appear_in_results_or_output(results):
    texts = [run.path.read_text() for run in results]
    log = RESULTS / "ansible-vvv.log"
    if log.exists():
        texts.append(log.read_text())
        assert "backup_verify." in texts[-1], "the -vvv run did not publish findings"
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_verbose_run_was_captured(results):
    _damaged(results)
    log = RESULTS / "ansible-vvv.log"
    assert log.exists()
    assert "Publish maint_result" in log.read_text()


def test_check_mode_left_no_trace(host):
    # restic runs with --no-cache, the test restore goes to a removed temporary directory, and
    # borg works on a temporary copy of its ~/.config/borg and ~/.cache/borg
    name = host.backend.get_hostname()
    prepared, checked = load_snapshot(name, "prepared"), load_snapshot(name, "check")
    assert file_changes(prepared, checked) == {}
    assert package_changes(prepared, checked) == {}
