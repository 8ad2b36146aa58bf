"""Helpers shared by the testinfra verifiers of every Molecule scenario.

Each scenario saves the maint_result of every run on the controller with
molecule/shared/save_result.yml, as $MOLECULE_EPHEMERAL_DIRECTORY/results/<host>-<time>-<phase>.json
(phase: check, converge, rollback, ... in run order). The verifiers read those files back here.

A scenario's tests/conftest.py puts this directory on sys.path and imports the ``results``
fixture; the tests import the functions they use from ``testinfra_helpers``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import pytest

EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
RESULTS = EPHEMERAL / "results"
# The severity scale of the result contract (plugins/module_utils/findings.py).
SEVERITIES = ("info", "low", "medium", "high", "critical")


class Run(NamedTuple):
    """One saved maint_result: the phase that produced it, the result, and its file."""

    phase: str
    result: dict
    path: Path


def load_results(hostname: str) -> list[Run]:
    """Every maint_result saved for ``hostname``, in run order."""
    files = sorted(RESULTS.glob(f"{hostname}-*.json"))
    assert files, f"no saved maint_result in {RESULTS}: did converge run?"
    return [Run(f.stem.rsplit("-", 1)[-1], json.loads(f.read_text()), f) for f in files]


@pytest.fixture
def results(host) -> list[Run]:
    """The saved results of the host under test (testinfra's ``host`` fixture)."""
    return load_results(host.backend.get_hostname())


def ran(results: list[Run], name: str) -> bool:
    """Whether a run of phase ``name`` was saved (side_effect's phases exist only on the
    second verify)."""
    return any(run.phase == name for run in results)


def phase(results: list[Run], name: str, index: int = 0) -> dict:
    """The result of the ``index``-th run of phase ``name`` (0: the first)."""
    found = [run.result for run in results if run.phase == name]
    assert len(found) > index, f"no {name} result #{index + 1} in {[run.phase for run in results]}"
    return found[index]


def after_side_effect(results: list[Run], name: str, why: str = "") -> None:
    """Skip the calling test until side_effect has saved a run of phase ``name``: the first
    verify runs before side_effect."""
    if not ran(results, name):
        pytest.skip(why or f"{name} has not run yet: side_effect comes after the first verify")


def findings(result: dict, fid: str) -> list[dict]:
    """The findings of ``result`` with id ``fid``."""
    return [f for f in result["findings"] if f["id"] == fid]


def assert_finding_contract(result: dict, task: str) -> None:
    """Every finding of ``result`` has the contract's shape and belongs to ``task``."""
    for finding in result["findings"]:
        assert finding["id"].startswith(task + "."), finding
        assert finding["severity"] in SEVERITIES, finding
        assert finding["message"] and finding["recommendation"], finding
