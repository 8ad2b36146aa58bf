"""Patch latency: days from a package's first appearance as pending to its installation."""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from maintenance_runner.actionlog.report_rows import (
    DetailRow,
    PlanRow,
    ResultRow,
    RollbackRow,
    RunRow,
)
from maintenance_runner.core.roledata import Package, packages, read_patching
from maintenance_runner.report.model import LatencyStats, PatchLatency
from maintenance_runner.report.sections.common import DONE, days

_PLAN_ITEM = re.compile(r"^package (\S+) (\S+) -> (\S+)")


def _names(items: Iterable[Package]) -> list[str]:
    return [p.name for p in items if p.name]


def _plan_pending(summary: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """host -> package names a stored plan says would be installed (``items`` of patching)."""
    if not isinstance(summary, Mapping):
        return {}
    content = summary.get("plan") if isinstance(summary.get("plan"), Mapping) else summary
    hosts = content.get("hosts") if isinstance(content, Mapping) else None
    out: dict[str, list[str]] = {}
    if not isinstance(hosts, Mapping):
        return out
    for host, entry in hosts.items():
        tasks = entry.get("tasks") if isinstance(entry, Mapping) else None
        patch = tasks.get("patching") if isinstance(tasks, Mapping) else None
        if not isinstance(patch, Mapping):
            continue
        names = []
        for item in patch.get("items") or []:
            match = _PLAN_ITEM.match(str(item))
            if match:
                names.append(match.group(1))
        names += _names(packages(patch.get("pending")))
        out[str(host)] = names
    return out


# (when, order, run id, host, pending names, installs); order 0 = seen, 1 = installed
_Event = tuple[datetime, int, int, str, list[str], list[Package]]


def patch_latency(
    runs: Mapping[int, RunRow],
    results: Iterable[ResultRow],
    details: Iterable[DetailRow],
    plans: Iterable[PlanRow],
    rollbacks: Iterable[RollbackRow],
) -> list[PatchLatency]:
    """Days from a package's first appearance as pending on a host (in any run's patching data,
    or in a plan) to its installation there. The clock restarts after each installation; an
    installation rolled back in the same run does not count."""
    timing = {(r.run_id, r.host, r.task): r for r in results}
    undone = {(b.run_id, b.host) for b in rollbacks if b.task == "patching" and b.status == "ok"}
    events: list[_Event] = []
    for plan in plans:
        for host, names in _plan_pending(plan.summary).items():
            events.append((plan.created_at, 0, 0, host, names, []))
    for d in details:
        if d.task != "patching" or not isinstance(d.data, Mapping):
            continue
        run = runs.get(d.run_id)
        result = timing.get((d.run_id, d.host, d.task))
        if run is None:
            continue
        data = read_patching(d.data)
        when = result.started_at if result else run.started_at
        events.append((when, 0, d.run_id, d.host, _names(data.pending or ()), []))
        applied = [p for p in data.applied if p.name]
        installed = (
            applied
            and run.mode == "apply"
            and not data.check_mode
            and (result is None or result.status in (*DONE, "failed"))
            and (d.run_id, d.host) not in undone
        )
        if installed:
            end = when + timedelta(seconds=result.duration_s if result else 0)
            events.append((end, 1, d.run_id, d.host, [], applied))
    events.sort(key=lambda e: (e[0], e[1]))
    first: dict[tuple[str, str], datetime] = {}
    out = []
    for when, kind, run_id, host, pending, installs in events:
        if kind == 0:
            for name in pending:
                first.setdefault((host, name), when)
            continue
        for p in installs:
            since = first.pop((host, p.name), when)
            out.append(
                PatchLatency(run_id, host, p.name, p.version, since, when, days(when - since))
            )
    return out


def latency_stats(items: Sequence[PatchLatency]) -> LatencyStats:
    found = [i.days for i in items]
    if not found:
        return LatencyStats(0, None, None, None, tuple(items))
    return LatencyStats(
        len(found),
        round(statistics.fmean(found), 2),
        round(statistics.median(found), 2),
        max(found),
        tuple(sorted(items, key=lambda i: (-i.days, i.host, i.package))),
    )
