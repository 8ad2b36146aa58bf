"""Shared test helpers: import the collection's plugins the way ansible does."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load_plugin(relative: str, name: str) -> ModuleType:
    """Import a plugin file (e.g. ``plugins/filter/patching.py``) by path."""
    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
