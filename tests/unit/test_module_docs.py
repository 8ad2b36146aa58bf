"""Every module's DOCUMENTATION, EXAMPLES and RETURN is YAML that ansible-doc can read.

ansible-lint only prints "Unable to parse documentation" for a broken block and still passes,
so a stray ``: `` in a description would reach users as a module without docs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

BLOCKS = ("DOCUMENTATION", "EXAMPLES", "RETURN")
MODULES = sorted((Path(__file__).resolve().parents[2] / "plugins" / "modules").glob("*.py"))


def doc_blocks(path: Path) -> dict[str, str]:
    """The module's documentation strings, read without importing it."""
    blocks: dict[str, str] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in BLOCKS:
                    blocks[target.id] = node.value.value
    return blocks


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_documentation_parses_and_names_the_module(path):
    blocks = doc_blocks(path)
    assert set(blocks) == set(BLOCKS), path.name
    parsed = {name: yaml.safe_load(text) for name, text in blocks.items()}
    doc = parsed["DOCUMENTATION"]
    assert doc["module"] == path.stem
    assert isinstance(doc["short_description"], str)
    for line in doc.get("description", []):
        assert isinstance(line, str), f"{path.name}: description item {line!r} is not text"
    for name, option in (doc.get("options") or {}).items():
        assert isinstance(option.get("description"), (str, list)), f"{path.name}: {name}"
    assert isinstance(parsed["EXAMPLES"], list)
