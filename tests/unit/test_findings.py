"""The one finding builder of every module and filter plugin: plugins/module_utils/findings.py."""

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT, load_plugin

findings = load_plugin("plugins/module_utils/findings.py", "maint_findings")


def test_builds_the_contract_shape():
    assert findings.finding(
        "patching", "reboot_pending", "medium", "A reboot is required", "Schedule a reboot."
    ) == {
        "id": "patching.reboot_pending",
        "severity": "medium",
        "message": "A reboot is required",
        "recommendation": "Schedule a reboot.",
    }


def test_finder_binds_the_role():
    build = findings.finder("antivirus")
    assert build("infected", "critical", "m", "r")["id"] == "antivirus.infected"
    assert build("infected", "critical", "m", "r") == findings.finding(
        "antivirus", "infected", "critical", "m", "r"
    )


@pytest.mark.parametrize("severity", ["warning", "High", "", None])
def test_rejects_a_severity_outside_the_scale(severity):
    with pytest.raises(ValueError, match="unknown severity"):
        findings.finding("hardening", "ssh_root_login", severity, "m", "r")


def test_scale_matches_the_contract():
    assert findings.SEVERITIES == ("info", "low", "medium", "high", "critical")


def test_rejects_an_empty_id_part():
    with pytest.raises(ValueError, match="needs a task and a check"):
        findings.finder("backup_verify")("", "high", "m", "r")


def _plugin_sources():
    for folder in ("modules", "module_utils", "filter"):
        for path in sorted((ROOT / "plugins" / folder).glob("*.py")):
            if path.name != "findings.py":
                yield path


@pytest.mark.parametrize("path", list(_plugin_sources()), ids=lambda p: p.stem)
def test_no_plugin_spells_a_finding_itself(path: Path):
    """A dict literal with the contract's keys outside findings.py is a second builder."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            assert not {"severity", "recommendation"} <= keys, (
                f"{path.relative_to(ROOT)}:{node.lineno} builds a finding by hand; "
                "use module_utils/findings.py"
            )
