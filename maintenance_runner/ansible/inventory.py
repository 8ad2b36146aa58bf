"""Reading an Ansible inventory's groups with ``ansible-inventory --list`` (the I/O edge)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from maintenance_runner.ansible.collection import ansible_env
from maintenance_runner.core.followups import FollowupError, groups_by_host


def inventory_groups(inventory: str | Path) -> dict[str, frozenset[str]]:
    """Read an Ansible inventory (file or directory) with ``ansible-inventory --list``."""
    beside = Path(sys.executable).parent / "ansible-inventory"
    program = str(beside) if beside.is_file() else shutil.which("ansible-inventory")
    if program is None:
        raise FollowupError("ansible-inventory is not installed (pip install ansible)")
    if not Path(inventory).exists():
        raise FollowupError(f"inventory {inventory}: no such file or directory")
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
        raise FollowupError(f"inventory {inventory}: ansible-inventory failed: {tail}")
    return groups_by_host(json.loads(done.stdout))
