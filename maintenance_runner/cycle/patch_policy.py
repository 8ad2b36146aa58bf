"""Patch baselines for a run: maint.yml's policy and the action log's first sightings, as the
extra variables the patching role decides with (docs/roles/patching.md, "Patch baselines").

The role decides, per host and pending update, whether it enters the plan and why not; the
runner gives it the baselines, the window's choice, the per-group overrides, when each update
was first seen on each host (``sightings``), and the instant the decision is made as of: the
plan's creation, so the drift check and the apply decide exactly as the plan did.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from maintenance_runner.actionlog.sightings import Sighting, first_seen
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.config.models import MaintConfig, PatchBaseline, Window
from maintenance_runner.core.results import TaskResult

UPDATE = "update"


def _baseline(spec: PatchBaseline) -> dict[str, Any]:
    return {
        "classifications": list(spec.classifications),
        "kernel": spec.kernel,
        "approve_after_seconds": int(spec.approve_after.total_seconds()),
        "holds": [
            {
                "package": hold.package,
                "version": hold.version,
                "reason": hold.reason,
                "until": hold.until.isoformat(),
            }
            for hold in spec.holds
        ],
        "reject": list(spec.reject),
        "allow": list(spec.allow),
        "reboot": spec.reboot,
    }


def baseline_vars(config: MaintConfig, window: Window) -> dict[str, Any]:
    """The policy part (bound to the plan): every baseline, the window's, the group overrides."""
    if not config.patch_baselines or "patching" not in window.tasks:
        return {}
    return {
        "maint_patch_baselines": {
            name: _baseline(spec) for name, spec in sorted(config.patch_baselines.items())
        },
        "maint_patch_baseline": window.patch_baseline,
        "maint_patch_baseline_groups": [[g, n] for g, n in config.patch_baseline_groups.items()],
    }


def baseline_digest(config: MaintConfig, window: Window) -> str:
    policy = json.dumps(baseline_vars(config, window), sort_keys=True)
    return hashlib.sha256(policy.encode()).hexdigest()[:16]


def _stamp(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def patch_vars(
    config: MaintConfig, window: Window, log: ActionLog, as_of: datetime
) -> dict[str, Any]:
    """The extra variables of a preventive run of ``window``: the policy, the first sightings
    of updates per host, and the instant the decision is made as of."""
    policy = baseline_vars(config, window)
    if not policy:
        return {}
    seen = first_seen(log, UPDATE)
    return {
        **policy,
        "maint_patch_first_seen": {
            host: {subject: _stamp(when) for subject, when in sorted(subjects.items())}
            for host, subjects in sorted(seen.items())
        },
        "maint_patch_as_of": _stamp(as_of),
    }


def update_sightings(results: Iterable[TaskResult]) -> list[Sighting]:
    """Every pending update the patching results list: (host, ``package=version``, detail)."""
    found: list[Sighting] = []
    for result in results:
        if result.task != "patching":
            continue
        for pending in result.data.get("pending") or []:
            if not isinstance(pending, Mapping) or not pending.get("name"):
                continue
            version = pending.get("candidate") or pending.get("version") or ""
            detail = {k: pending[k] for k in ("security", "action") if k in pending}
            found.append((result.host, f"{pending['name']}={version}", detail))
    return found
