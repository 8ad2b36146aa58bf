"""The "Window", "Runs" and "Deferred and why" sections."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maintenance_runner.actionlog.report_rows import DEFERRED_EVENT, OccurrenceRow
from maintenance_runner.report.model import Deferred, OccurrenceInfo, RunInfo
from maintenance_runner.report.sections.basis import Basis


def local_start(occ: OccurrenceRow) -> str:
    """The occurrence's start on the wall clock of its window's time zone."""
    if occ.wall_start:
        return occ.wall_start.replace("T", " ")
    try:
        return f"{occ.start_utc.astimezone(ZoneInfo(occ.timezone)):%Y-%m-%d %H:%M}"
    except (ZoneInfoNotFoundError, ValueError):  # an unknown zone still shows the UTC start
        return f"{occ.start_utc:%Y-%m-%d %H:%M}Z"


def occurrences(b: Basis) -> tuple[OccurrenceInfo, ...]:
    return tuple(
        OccurrenceInfo(o.window, o.start_utc, local_start(o), o.timezone, o.state, o.reason)
        for o in sorted(b.rows.occurrences, key=lambda o: o.start_utc)
        if o.id in b.scope.occurrence_ids
    )


def run_infos(b: Basis) -> tuple[RunInfo, ...]:
    return tuple(
        RunInfo(
            r.run_uid,
            r.window,
            r.mode,
            r.actor,
            r.started_at,
            r.state,
            r.state_message,
            r.plan_uid,
            len({x.host for x in b.scope_results if x.run_id == r.id}),
            sum(1 for x in b.scope_results if x.run_id == r.id),
        )
        for r in b.scope_runs
    )


def deferred(b: Basis) -> tuple[Deferred, ...]:
    """Each host (and task) a run in scope did not start, why and when."""
    found = (
        Deferred(
            e.host,
            e.task,
            e.message or "no reason recorded",
            b.runs[e.run_id].run_uid if e.run_id in b.runs else None,
            e.recorded_at,
        )
        for e in b.rows.events
        if e.event == DEFERRED_EVENT and e.run_id in b.in_scope
    )
    return tuple(sorted(found, key=lambda d: (d.at, d.host or "", d.task or "")))
