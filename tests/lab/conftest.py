"""Lab tests need root, Podman and the lab image; without them they skip and say which."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

IMAGE = "localhost/maint-lab:latest"


def lab_missing() -> str | None:
    if os.geteuid() != 0:
        return "not root: the lab needs rootful Podman (run make test as root)"
    if shutil.which("podman") is None:
        return "podman is not installed (make system-deps as root)"
    probe = subprocess.run(["podman", "image", "exists", IMAGE], check=False)
    if probe.returncode != 0:
        return f"lab image {IMAGE} is missing (make lab-image)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = lab_missing()
    if reason is None:
        return
    for item in items:
        if "tests/lab/" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=reason))
