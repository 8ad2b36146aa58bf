"""Reading an Ansible inventory's hosts and groups with ``ansible-inventory --list``.

An inventory that is not one (YAML that does not parse, a list instead of a mapping of groups,
no host at all) is refused with one line naming the file, before anything is planned on it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from maintenance_runner.ansible.collection import ansible_env
from maintenance_runner.core.followups import groups_by_host
from maintenance_runner.errors import InputError


class InventoryError(InputError):
    """An inventory that cannot be used: one line naming the file, exit 2."""


def _check_yaml(path: Path) -> None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InventoryError(f"{path}: not a text file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InventoryError(f"{path}: not valid YAML{where}: {problem}") from None
    if data is not None and not isinstance(data, dict):
        raise InventoryError(
            f"{path}: an inventory must be a mapping of groups (all:, servers:, ...), "
            f"not a {type(data).__name__}"
        )


def check_inventory(inventory: Path) -> dict[str, frozenset[str]]:
    """The hosts of ``inventory`` and their groups; InventoryError when it has none."""
    if inventory.is_file() and inventory.suffix in (".yml", ".yaml", ".json"):
        _check_yaml(inventory)
    hosts = inventory_groups(inventory)
    if not hosts:
        raise InventoryError(f"{inventory}: no host in the inventory")
    return hosts


def inventory_groups(inventory: str | Path) -> dict[str, frozenset[str]]:
    """Read an Ansible inventory (file or directory) with ``ansible-inventory --list``."""
    beside = Path(sys.executable).parent / "ansible-inventory"
    program = str(beside) if beside.is_file() else shutil.which("ansible-inventory")
    if program is None:
        raise InventoryError("ansible-inventory is not installed (pip install ansible)")
    if not Path(inventory).exists():
        raise InventoryError(f"inventory {inventory}: no such file or directory")
    done = subprocess.run(
        [program, "-i", str(inventory), "--list"],
        capture_output=True,
        text=True,
        env={**os.environ, **ansible_env(), "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True"},
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise InventoryError(f"inventory {inventory}: ansible-inventory failed: {tail}")
    return groups_by_host(json.loads(done.stdout))
