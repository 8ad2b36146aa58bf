"""The helpers the Molecule verifiers share (molecule/shared/testinfra_helpers.py)."""

import json

import pytest

from tests.conftest import load_plugin

helpers = load_plugin("molecule/shared/testinfra_helpers.py", "maint_testinfra_helpers")


@pytest.fixture
def saved(tmp_path, monkeypatch):
    monkeypatch.setattr(helpers, "RESULTS", tmp_path)
    # save_result.yml's names: <host>-<UTC time>-<phase>.json; the host name may hold dashes.
    for stamp, phase, status in (
        ("20260101000003000000", "converge", "ok"),
        ("20260101000001000000", "check", "changed"),
        ("20260101000002000000", "converge", "changed"),
    ):
        result = {"task": "patching", "status": status, "findings": []}
        (tmp_path / f"maint-lab-{stamp}-{phase}.json").write_text(json.dumps(result))
    (tmp_path / "other-20260101000000000000-check.json").write_text("{}")
    return helpers.load_results("maint-lab")


def test_results_in_run_order_per_host(saved):
    assert [run.phase for run in saved] == ["check", "converge", "converge"]
    assert helpers.phase(saved, "converge", 1)["status"] == "ok"
    assert saved[0].path.name.endswith("-check.json")


def test_missing_phase_fails_with_what_ran(saved):
    with pytest.raises(AssertionError, match=r"no rollback result #1 in \['check'"):
        helpers.phase(saved, "rollback")
    with pytest.raises(AssertionError, match="no converge result #3"):
        helpers.phase(saved, "converge", 2)


def test_side_effect_phases_skip_until_they_ran(saved):
    assert helpers.ran(saved, "check") and not helpers.ran(saved, "rollback")
    helpers.after_side_effect(saved, "converge")
    with pytest.raises(pytest.skip.Exception, match="side_effect comes after"):
        helpers.after_side_effect(saved, "rollback")


def test_no_saved_result_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(helpers, "RESULTS", tmp_path)
    with pytest.raises(AssertionError, match="no saved maint_result"):
        helpers.load_results("maint-lab")


def test_finding_contract():
    good = {
        "id": "patching.reboot_pending",
        "severity": "medium",
        "message": "m",
        "recommendation": "r",
    }
    helpers.assert_finding_contract({"findings": [good]}, "patching")
    assert helpers.findings({"findings": [good]}, "patching.reboot_pending") == [good]
    for bad in (
        {**good, "severity": "warning"},
        {**good, "id": "hardening.x"},
        {**good, "recommendation": ""},
    ):
        with pytest.raises(AssertionError):
            helpers.assert_finding_contract({"findings": [bad]}, "patching")


def test_snapshot_comparisons(tmp_path, monkeypatch):
    monkeypatch.setattr(helpers, "SNAPSHOTS", tmp_path)
    before = {
        "packages": {"a": "1.0 ii", "b": "2.0 ii"},
        "files": {"/etc/x": "f 0644 0 0 aa", "/root/.ansible/tmp/s.py": "f 0600 0 0 1"},
    }
    after = {
        "packages": {"a": "1.1 ii", "c": "1.0 ii", "b": "2.0 ii"},
        "files": {"/etc/x": "f 0600 0 0 aa", "/etc/new": "f 0644 0 0 bb"},
    }
    (tmp_path / "lab-20260101000000000000-prepared.json").write_text(json.dumps(before))
    assert helpers.load_snapshot("lab", "prepared") == before
    with pytest.raises(AssertionError, match="no snapshot check #1"):
        helpers.load_snapshot("lab", "check")
    assert helpers.file_changes(before, after) == {
        "/etc/new": (None, "f 0644 0 0 bb"),
        "/etc/x": ("f 0644 0 0 aa", "f 0600 0 0 aa"),
    }
    assert helpers.file_changes(before, after, under=("/var/",)) == {}
    assert helpers.package_changes(before, after) == {
        "a": ("1.0 ii", "1.1 ii"),
        "c": (None, "1.0 ii"),
    }
