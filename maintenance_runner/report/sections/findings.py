"""The "Findings by severity" section, and when each finding was opened and closed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from maintenance_runner.actionlog.report_rows import DetailRow, FindingRow, ResultRow, RunRow
from maintenance_runner.core.results import SEVERITIES
from maintenance_runner.report.model import FindingInfo
from maintenance_runner.report.sections.basis import Basis
from maintenance_runner.report.sections.common import DONE, month_of

OpenKey = tuple[str, str, str]  # (host, task, finding id)


@dataclass(frozen=True)
class FindingEvent:
    kind: str  # opened closed
    at: datetime
    run_id: int
    host: str
    task: str
    finding_id: str
    severity: str


@dataclass(frozen=True)
class Timeline:
    events: tuple[FindingEvent, ...]
    # -> (opened at, severity, the run that opened it)
    still_open: Mapping[OpenKey, tuple[datetime, str, int]]


def findings_timeline(
    runs: Mapping[int, RunRow],
    results: Iterable[ResultRow],
    findings: Iterable[FindingRow],
    details: Iterable[DetailRow],
    complete: Callable[[ResultRow], bool] | None = None,
) -> tuple[list[FindingEvent], dict[OpenKey, tuple[datetime, str, int]]]:
    """Opened and closed events of findings, and the ones open at the end of the rows.

    Every result that evaluated a task on a host (ok or changed, or failed with a published
    result or findings) opens the findings it raises that were not open. Only a *complete*
    result (``complete``, :meth:`Basis.complete`: ok or changed, not rolled back, not a
    reconcile; by default ok or changed) closes: an open finding it no longer raises is
    closed. What a failed or rolled-back result did not report was not re-checked. Rollback
    runs do not count (they restore, they do not re-check).
    """
    complete = complete or (lambda r: r.status in DONE)
    raised: dict[tuple[int, str, str], dict[str, str]] = defaultdict(dict)
    for f in findings:
        if f.run_id is not None:
            raised[(f.run_id, f.host, f.task)][f.finding_id] = f.severity
    published = {(d.run_id, d.host, d.task) for d in details}
    ordered = sorted(results, key=lambda r: (r.started_at, r.run_id))
    open_now: dict[tuple[str, str], dict[str, tuple[datetime, str, int]]] = defaultdict(dict)
    events: list[FindingEvent] = []
    for r in ordered:
        run = runs.get(r.run_id)
        if run is None or run.mode == "rollback":
            continue
        key = (r.run_id, r.host, r.task)
        evaluated = key in published or key in raised
        if not (r.status in DONE or (r.status == "failed" and evaluated)):
            continue
        current = raised.get(key, {})
        was = open_now[(r.host, r.task)]
        for fid, sev in sorted(current.items()):
            if fid not in was:
                was[fid] = (r.started_at, sev, r.run_id)
                events.append(
                    FindingEvent("opened", r.started_at, r.run_id, r.host, r.task, fid, sev)
                )
        if not complete(r):
            continue
        for fid in sorted(set(was) - set(current)):
            _, sev, _ = was.pop(fid)
            events.append(FindingEvent("closed", r.started_at, r.run_id, r.host, r.task, fid, sev))
    still = {
        (host, task, fid): value
        for (host, task), found in open_now.items()
        for fid, value in found.items()
    }
    return events, still


def timeline(b: Basis) -> Timeline:
    """:func:`findings_timeline` of every row read."""
    rows = b.rows
    events, still = findings_timeline(b.runs, rows.results, rows.findings, rows.details, b.complete)
    return Timeline(tuple(events), still)


def finding_infos(b: Basis, history: Timeline) -> tuple[FindingInfo, ...]:
    """The findings of the deciding results, most severe first, with when each was first raised
    (opened) and in how many monthly cycles it has been raised on that host."""
    end = b.scope.end
    cycles: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in b.rows.findings:
        run = b.runs.get(f.run_id) if f.run_id is not None else None
        if run is not None and run.started_at < end:
            cycles[(f.host, f.finding_id)].add(month_of(run.started_at))
    opened_at = {
        (e.host, e.task, e.finding_id): e.at
        for e in history.events
        if e.kind == "opened" and e.at < end
    }
    infos = [
        FindingInfo(
            host,
            task,
            f.finding_id,
            f.severity,
            f.message,
            f.recommendation,
            opened_at.get((host, task, f.finding_id)),
            len(cycles.get((host, f.finding_id), ())),
        )
        for (host, task), r in b.deciding.items()
        for f in b.found_by(r)
    ]
    infos.sort(key=lambda f: (-SEVERITIES.index(f.severity), f.host, f.finding_id))
    return tuple(infos)


def severity_counts(infos: Iterable[FindingInfo]) -> dict[str, int]:
    infos = list(infos)
    return {s: sum(1 for f in infos if f.severity == s) for s in SEVERITIES}
