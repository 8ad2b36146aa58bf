# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""What a run records on a host before it changes anything, named after the run's id, and the
result a reconcile publishes from it (pure functions, unit-tested in tests/unit/test_reconcile.py).

Every role that changes state writes its manifest or backups first, named after the runner's
run id (``maint_run_id``). When the runner is killed mid-run, ``playbooks/reconcile.yml`` looks
for what that run wrote and compares it with the host as it is now (see docs/role-contract.md).
"""

from __future__ import annotations

import os
import re

# A run id names files: letters, digits, dot, dash and underscore, never a path.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_id(value):
    """``value`` when it can name a file on the host (``run-1234-20261206T101500123456``, a UTC
    timestamp), else ValueError."""
    text = str(value or "")
    if not _ID.match(text) or ".." in text:
        raise ValueError(
            "%r cannot name a manifest: use letters, digits, '.', '-' and '_' only" % text
        )
    return text


def manifest_path(state_dir, manifest_id):
    """The manifest of run ``manifest_id`` in ``state_dir`` (``manifest-<id>.json``)."""
    return os.path.join(state_dir, "manifest-%s.json" % check_id(manifest_id))


def oldest_first(paths, mtime):
    """``paths`` from the oldest to the newest by ``mtime(path)`` (then by name): run ids
    (``run-<pid>-<time>``) and timestamps do not sort by age as text."""
    return sorted(paths, key=lambda path: (mtime(path), path))


def reconcile_result(task, run, found, changed=None, rollback=None, check_mode=False, **details):
    """The ``maint_result`` of a reconcile (docs/role-contract.md, "Reconcile").

    ``found``: the run wrote its record on this host; ``changed``: what differs from it now
    (names of packages, paths of files, ``account:<name>``, ``sysctl:<key>``...);
    ``rollback``: the record the role publishes after a normal apply, kept only when something
    changed. ``details`` are more role facts for ``data``.
    """
    changed = sorted(set(changed or [])) if found else []
    status = "changed" if changed else "ok"
    data = {"action": "reconcile", "run": run, "found": bool(found), "check_mode": bool(check_mode)}
    if found:
        data["changed"] = changed
        data.update(details)
    return {
        "task": task,
        "status": status,
        "findings": [],
        "data": data,
        "rollback": dict(rollback or {}) if changed else {},
    }
