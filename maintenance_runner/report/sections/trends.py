"""The "Trends by month" section: the KPIs and findings month by month over the history."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from maintenance_runner.core.results import SEVERITIES
from maintenance_runner.report.model import CadenceCell, PatchLatency, Rate, Trends
from maintenance_runner.report.sections.basis import Basis
from maintenance_runner.report.sections.common import deciding_results, month_of
from maintenance_runner.report.sections.findings import Timeline
from maintenance_runner.report.sections.followups import followup_state
from maintenance_runner.report.sections.kpis import completion


def _findings_by_severity(b: Basis, index: Mapping[str, int]) -> dict[str, tuple[int, ...]]:
    """Distinct (host, finding) raised per month and severity; rollback runs do not count."""
    sev: dict[str, list[int]] = {s: [0] * len(index) for s in SEVERITIES}
    distinct: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for f in b.rows.findings:
        run = b.runs.get(f.run_id) if f.run_id is not None else None
        if run is None or run.mode == "rollback":
            continue
        month = month_of(run.started_at)
        if month in index and (f.host, f.finding_id) not in distinct[month]:
            distinct[month].add((f.host, f.finding_id))
            sev[f.severity if f.severity in sev else "info"][index[month]] += 1
    return {s: tuple(v) for s, v in sev.items()}


def _completion(b: Basis, months: Sequence[str]) -> tuple[float | None, ...]:
    out = []
    for month in months:
        month_runs = {i for i, r in b.runs.items() if month_of(r.started_at) == month}
        dec = deciding_results((r for r in b.rows.results if r.run_id in month_runs), b.runs)
        pairs = {p for i in month_runs for p in b.deferred_by_run.get(i, set())}
        out.append(completion(dec, pairs, b.complete).percent)
    return tuple(out)


def _flow(history: Timeline, months: Sequence[str]) -> tuple[list[int], list[int], list[int]]:
    """Findings opened, closed and open at the end of each month."""
    index = {m: i for i, m in enumerate(months)}
    opened, closed, still = [0] * len(months), [0] * len(months), [0] * len(months)
    for e in history.events:
        month = month_of(e.at)
        if month in index:
            (opened if e.kind == "opened" else closed)[index[month]] += 1
    running = sum(
        1 if e.kind == "opened" else -1
        for e in history.events
        if months and month_of(e.at) < months[0]
    )
    for i in range(len(months)):
        running += opened[i] - closed[i]
        still[i] = running
    return opened, closed, still


def _followups(b: Basis, index: Mapping[str, int], now: datetime) -> tuple[list[int], list[int]]:
    met, missed = [0] * len(index), [0] * len(index)
    for f in b.rows.followups:
        month = month_of(f.created_at)
        if month not in index:
            continue
        state = followup_state(f, now)
        if state == "met":
            met[index[month]] += 1
        elif state == "missed":
            missed[index[month]] += 1
    return met, missed


def trends(
    b: Basis,
    months: Sequence[str],
    cells: Mapping[str, Sequence[CadenceCell]],
    history: Timeline,
    latencies: Sequence[PatchLatency],
    now: datetime,
) -> Trends:
    index = {m: i for i, m in enumerate(months)}
    cadence_pct = tuple(
        Rate(
            sum(c.hosts_done for c in cells.get(m, [])),
            sum(c.hosts_expected for c in cells.get(m, [])),
        ).percent
        for m in months
    )
    latency_mean: list[float | None] = []
    for month in months:
        found = [li.days for li in latencies if month_of(li.installed_at) == month]
        latency_mean.append(round(statistics.fmean(found), 2) if found else None)
    opened, closed, still = _flow(history, months)
    met, missed = _followups(b, index, now)
    return Trends(
        months=tuple(months),
        findings_by_severity=_findings_by_severity(b, index),
        completion_percent=_completion(b, months),
        cadence_percent=cadence_pct,
        findings_opened=tuple(opened),
        findings_closed=tuple(closed),
        findings_open=tuple(still),
        patch_latency_mean_days=tuple(latency_mean),
        followups_met=tuple(met),
        followups_missed=tuple(missed),
    )
