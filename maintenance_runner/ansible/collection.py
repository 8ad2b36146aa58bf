"""Where the maint.preventive collection lives, and how ansible is pointed at it.

Two install shapes are supported without the user setting anything:

* a wheel (``pip install .``) puts the collection under
  ``site-packages/ansible_collections/maint/preventive``, which ansible-core finds on sys.path;
* a source tree (``pip install -e .`` or a checkout) keeps it at the repository root; the
  runner then exposes it through a link farm in a cache directory and passes
  ``ANSIBLE_COLLECTIONS_PATH`` to the ansible processes it starts.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from maintenance_runner.ansible import tuning

NAMESPACE = "maint"
NAME = "preventive"
FQCN = f"{NAMESPACE}.{NAME}"


def source_root() -> Path | None:
    """The repository root when the runner is imported from a source tree, else None."""
    root = Path(__file__).resolve().parents[2]
    if (root / "galaxy.yml").is_file() and (root / "roles").is_dir():
        return root
    return None


def installed_root() -> Path | None:
    """The collection installed next to the runner's site-packages, else None."""
    for entry in sys.path:
        candidate = Path(entry or ".") / "ansible_collections" / NAMESPACE / NAME
        if (candidate / "galaxy.yml").is_file():
            return candidate.resolve()
    return None


def collection_root() -> Path:
    """The directory holding galaxy.yml, roles/, playbooks/ and plugins/ of maint.preventive."""
    root = source_root() or installed_root()
    if root is None:
        raise RuntimeError(
            "the maint.preventive collection was not found: reinstall the package "
            "(pip install maint-preventive) or run from a source checkout"
        )
    return root


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "maint"


def collections_path() -> list[Path]:
    """Collection search path entries that make ``maint.preventive.*`` resolvable.

    For a source tree a link ``<cache>/collections/<hash of the tree's path>/ansible_collections/
    maint/preventive`` pointing at the tree is (re)created; the wheel layout needs no extra entry.
    """
    root = source_root()
    if root is None:
        return []
    # One farm per checkout, so two checkouts on one machine never redirect each other.
    tag = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    farm = _cache_dir() / "collections" / tag
    link = farm / "ansible_collections" / NAMESPACE / NAME
    link.parent.mkdir(parents=True, exist_ok=True)
    if not (link.is_symlink() and link.resolve() == root):
        if link.is_symlink() or link.exists():
            link.unlink()
        tmp = link.with_name(f".{NAME}.{os.getpid()}")
        tmp.symlink_to(root, target_is_directory=True)
        tmp.replace(link)
    return [farm]


def ansible_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment additions for ansible processes started by the runner."""
    env: dict[str, str] = {}
    extra = [str(p) for p in collections_path()]
    current = (base if base is not None else os.environ).get("ANSIBLE_COLLECTIONS_PATH", "")
    defaults = [str(Path.home() / ".ansible" / "collections"), "/usr/share/ansible/collections"]
    parts = extra + ([current] if current else defaults)
    env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(parts)
    env.update(tuning.runner_env(base))  # pipelining, SSH multiplexing, forks, fact cache
    return env


def playbook_path(name: str) -> Path:
    """Absolute path of a collection playbook (``preventive``, ``rollback``, a task name)."""
    path = collection_root() / "playbooks" / f"{name}.yml"
    if not path.is_file():
        raise FileNotFoundError(f"no playbook {name!r} in {FQCN} (looked for {path})")
    return path


def preventive_tasks() -> tuple[str, ...]:
    """The preventive tasks the collection offers: one per role with tasks/main.yml."""
    roles = collection_root() / "roles"
    return tuple(sorted(p.name for p in roles.iterdir() if (p / "tasks" / "main.yml").is_file()))


def main() -> None:
    """Print an ANSIBLE_COLLECTIONS_PATH value that resolves maint.preventive (for tooling)."""
    print(ansible_env()["ANSIBLE_COLLECTIONS_PATH"])


if __name__ == "__main__":
    main()
