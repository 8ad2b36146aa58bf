"""Shared test helpers: import the collection's plugins the way ansible does."""

from __future__ import annotations

import atexit
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent

_COLLECTIONS: list[Path] = []


def collection_path() -> Path:
    """A directory whose ``ansible_collections/maint/preventive`` links to this repository, on
    sys.path, so plugins import ``ansible_collections.maint.preventive.plugins.module_utils.*``
    as they do under ansible (made once per test session, removed at exit)."""
    if not _COLLECTIONS:
        base = Path(tempfile.mkdtemp(prefix="maint-collections-"))
        atexit.register(shutil.rmtree, base, True)
        (base / "ansible_collections" / "maint").mkdir(parents=True)
        (base / "ansible_collections" / "maint" / "preventive").symlink_to(
            ROOT, target_is_directory=True
        )
        sys.path.insert(0, str(base))
        _COLLECTIONS.append(base)
    return _COLLECTIONS[0]


def load_plugin(relative: str, name: str) -> ModuleType:
    """Import a plugin file (e.g. ``plugins/filter/patching.py``) by path."""
    collection_path()
    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
