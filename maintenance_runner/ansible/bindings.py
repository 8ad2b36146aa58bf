"""Everything outside the plan's own content that shapes an Ansible run, as fingerprints.

A plan binds these at planning time and the gate compares them before applying, so a change
after the approval (an edited ansible.cfg, another ``ANSIBLE_*`` variable, an upgraded
collection, the runner's strategy plugin) refuses the apply and is named. Values are digests,
never the values themselves: environment variables can hold secrets.

What is bound (each a name -> fingerprint):

- ``ansible.cfg``: the configuration file Ansible reads for the runner's runs (``ANSIBLE_CONFIG``,
  else ``ansible.cfg`` in the collection root, where ansible-runner starts the playbook, else
  ``~/.ansible.cfg``, else ``/etc/ansible/ansible.cfg``): its path and content;
- ``meta/runtime.yml`` and ``galaxy.yml`` of the collection;
- ``runner plugins``: the runner's own Ansible plugins (the strategy);
- ``env NAME``: every ``ANSIBLE_*`` variable the playbook process gets, the runner's tuning
  included, and ``MAINT_ANSIBLE_TUNING`` (the home directory is written ``~`` first, so two
  accounts with the same settings agree);
- ``extra vars``: the extra variables of the run;
- ``ansible-core``, ``mitogen`` and ``collection NAMESPACE.NAME``: the versions in use.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from maintenance_runner.ansible.collection import collection_root
from maintenance_runner.ansible.revision import tree_hash
from maintenance_runner.ansible.tuning import STRATEGY_DIR

COLLECTION_FILES = ("meta/runtime.yml", "galaxy.yml")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _file(path: Path) -> str:
    try:
        return _digest(path.read_bytes())
    except OSError:
        return "missing"


def config_file(env: Mapping[str, str], cwd: Path) -> Path | None:
    """The ansible.cfg Ansible reads, in its own order of precedence."""
    named = env.get("ANSIBLE_CONFIG")
    candidates = [Path(named).expanduser()] if named else []
    candidates += [cwd / "ansible.cfg", Path.home() / ".ansible.cfg"]
    candidates.append(Path("/etc/ansible/ansible.cfg"))
    return next((c for c in candidates if c.is_file()), None)


def _home(value: str) -> str:
    home = str(Path.home())
    return value.replace(home, "~") if home not in ("", "/") else value


def collection_versions(env: Mapping[str, str]) -> dict[str, str]:
    """NAMESPACE.NAME -> version of every collection on Ansible's search path (first wins)."""
    found: dict[str, str] = {}
    paths = [p for p in env.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
    try:
        import ansible_collections  # the collections the ansible package ships

        paths += [str(Path(p).parent) for p in ansible_collections.__path__]
    except ImportError:
        pass
    for base in paths:
        root = Path(base).expanduser()
        root = root if root.name == "ansible_collections" else root / "ansible_collections"
        for manifest in sorted(root.glob("*/*/MANIFEST.json")) + sorted(
            root.glob("*/*/galaxy.yml")
        ):
            name = f"{manifest.parent.parent.name}.{manifest.parent.name}"
            if name in found:
                continue
            found[name] = _version_of(manifest)
    return found


def _version_of(file: Path) -> str:
    try:
        if file.suffix == ".json":
            return str(json.loads(file.read_text())["collection_info"]["version"])
        for line in file.read_text().splitlines():
            if line.startswith("version:"):
                return line.split(":", 1)[1].strip().strip("'\"")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return "unknown"


def _package(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def run_inputs(env: Mapping[str, str], extravars: Mapping[str, Any]) -> dict[str, str]:
    """The fingerprints of everything outside the plan that shapes a run (see the module)."""
    root = collection_root()
    inputs: dict[str, str] = {}
    cfg = config_file(env, root)
    inputs["ansible.cfg"] = f"{_home(str(cfg))} {_file(cfg)}" if cfg else "none"
    for name in COLLECTION_FILES:
        inputs[name] = _file(root / name)
    inputs["runner plugins"] = tree_hash(STRATEGY_DIR.parent, [STRATEGY_DIR.name])[:16]
    for key in sorted(env):
        if key.startswith("ANSIBLE_") or key == "MAINT_ANSIBLE_TUNING":
            inputs[f"env {key}"] = _digest(_home(env[key]).encode())
    inputs["extra vars"] = _digest(json.dumps(extravars, sort_keys=True).encode())
    inputs["ansible-core"] = _package("ansible-core")
    inputs["mitogen"] = _package("mitogen")
    for name, version in collection_versions(env).items():
        inputs[f"collection {name}"] = version
    return inputs


def changed_inputs(planned: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """What differs, one phrase each: ``ansible.cfg changed``, ``env ANSIBLE_X added``..."""
    found = []
    for name in sorted({*planned, *now}):
        if name not in now:
            found.append(f"{name} removed")
        elif name not in planned:
            found.append(f"{name} added")
        elif planned[name] != now[name]:
            versions = name in ("ansible-core", "mitogen") or name.startswith("collection ")
            found.append(
                f"{name} {planned[name]} -> {now[name]}" if versions else f"{name} changed"
            )
    return found
