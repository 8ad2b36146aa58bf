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
