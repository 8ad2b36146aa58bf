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
SNAPSHOTS = EPHEMERAL / "snapshots"
# What changes on a lab host without any role touching it, between two snapshots: Ansible's own
# temporary directory (the snapshot script runs from there) and the logs and caches the tools
# the scenarios run write (Lynis in the hardening verifier).
OUTSIDE = (
    "/root/.ansible/",
    "/var/log/lynis",
    "/var/log/lynis-report",
)
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


def load_snapshot(hostname: str, name: str, index: int = 0) -> dict:
    """The ``index``-th snapshot named ``name`` that molecule/shared/snapshot.yml saved for the
    host (``packages``, ``selections``, ``files``, ``texts``)."""
    files = sorted(SNAPSHOTS.glob(f"{hostname}-*-{name}.json"))
    assert len(files) > index, f"no snapshot {name} #{index + 1} in {SNAPSHOTS}"
    return json.loads(files[index].read_text())


def file_changes(before: dict, after: dict, under=("/",), outside=OUTSIDE) -> dict:
    """path -> (before, after) of every file that differs between two snapshots (created:
    before None; removed: after None), below ``under`` and not below ``outside``."""
    paths = set(before["files"]) | set(after["files"])
    return {
        path: (before["files"].get(path), after["files"].get(path))
        for path in sorted(paths)
        if path.startswith(tuple(under))
        and not path.startswith(tuple(outside))
        and before["files"].get(path) != after["files"].get(path)
    }


def package_changes(before: dict, after: dict) -> dict:
    """name -> (before, after) of every package whose version or state differs."""
    names = set(before["packages"]) | set(after["packages"])
    return {
        n: (before["packages"].get(n), after["packages"].get(n))
        for n in sorted(names)
        if before["packages"].get(n) != after["packages"].get(n)
    }
