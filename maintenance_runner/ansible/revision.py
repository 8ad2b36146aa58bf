"""Fingerprints a plan is bound to: the collection's content and the inventory (file I/O).

The content revision hashes every file under roles/, playbooks/ and plugins/ of the collection
the runner uses (path and bytes), and notes the git commit when the collection is a checkout.
The inventory hash covers the inventory file or directory and the group_vars/host_vars beside
it, so a changed variable invalidates a plan as much as a changed host list.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable
from pathlib import Path

from maintenance_runner.ansible.collection import collection_root

CONTENT_DIRS = ("roles", "playbooks", "plugins")


def _files(root: Path, names: Iterable[str]) -> list[Path]:
    found: list[Path] = []
    for name in names:
        base = root / name
        if base.is_file():
            found.append(base)
        elif base.is_dir():
            found.extend(
                p
                for p in base.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            )
    return sorted(found)


def tree_hash(root: Path, names: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for path in _files(root, names):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def git_commit(root: Path) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def content_revision() -> dict[str, str | None]:
    root = collection_root()
    return {"hash": tree_hash(root, CONTENT_DIRS), "git": git_commit(root)}


def inventory_hash(inventory: Path) -> str:
    inventory = inventory.resolve()
    base = inventory if inventory.is_dir() else inventory.parent
    names = [inventory.name] if inventory.is_file() else ["."]
    names += ["group_vars", "host_vars"] if inventory.is_file() else []
    return tree_hash(base, names)
