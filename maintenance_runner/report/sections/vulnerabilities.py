"""Vulnerabilities: CVEs open at the scope's end, those fixed inside it, and the time each took
to remediate, from the first judgment that saw it on the host to the run that installed the
fix (the apply run on that host, between the two, that installed the vulnerable package; the
judgment that found it fixed when no such run is recorded)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from datetime import datetime

from maintenance_runner.actionlog.report_rows import DetailRow, LogRows, RunRow, SightingRow
from maintenance_runner.core.results import SEVERITIES
from maintenance_runner.report.model import (
    CveItem,
    RemediationStats,
    Scope,
    Vulnerabilities,
)
from maintenance_runner.report.sections.common import days, month_of

ORDER = ("critical", "high", "medium", "low", "info")


def _split(subject: str) -> tuple[str, str]:
    cve, _, package = subject.partition(" ")
    return cve, package


def _installer(
    host: str, package: str, since: datetime, until: datetime, rows: LogRows
) -> datetime | None:
    """When the apply run that installed ``package`` on ``host`` started, if one is recorded."""
    runs = {r.id: r for r in rows.runs if r.mode == "apply"}
    found: list[RunRow] = []
    for detail in rows.details:
        run = runs.get(detail.run_id)
        if run is None or detail.host != host or detail.task != "patching":
            continue
        if since <= run.started_at <= until and _installed(detail, package):
            found.append(run)
    return min((r.started_at for r in found), default=None)


def _installed(detail: DetailRow, package: str) -> bool:
    for item in detail.data.get("applied") or []:
        name = item.get("name") if isinstance(item, dict) else str(item).split()[0]
        if name == package:
            return True
    return False


def _items(rows: LogRows, until: datetime) -> tuple[list[CveItem], list[CveItem]]:
    """(open at ``until``, fixed before ``until``)."""
    opened: dict[tuple[str, str], SightingRow] = {}
    fixed: dict[tuple[str, str], SightingRow] = {}
    for s in rows.sightings:
        if s.recorded_at >= until:
            continue
        (opened if s.kind == "cve" else fixed)[(s.host, s.subject)] = s
    still, done = [], []
    for key, seen in opened.items():
        cve, package = _split(seen.subject)
        sev = str(seen.detail.get("severity") or "medium")
        fixed_in = seen.detail.get("fixed")
        end = fixed.get(key)
        if end is None:
            still.append(
                CveItem(seen.host, cve, package, sev, seen.recorded_at, fixed_in, None,
                        days(until - seen.recorded_at))
            )  # fmt: skip
            continue
        at = _installer(seen.host, package, seen.recorded_at, end.recorded_at, rows)
        at = at or end.recorded_at
        done.append(
            CveItem(seen.host, cve, package, sev, seen.recorded_at, fixed_in, at,
                    days(at - seen.recorded_at))
        )  # fmt: skip
    return still, done


def _p90(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def _stats(items: Sequence[CveItem]) -> tuple[RemediationStats, ...]:
    found = []
    for severity in ORDER:
        values = [i.days for i in items if i.severity == severity and i.days is not None]
        if values:
            found.append(
                RemediationStats(
                    severity, len(values), round(statistics.fmean(values), 2), _p90(values)
                )
            )
    return tuple(found)


def vulnerabilities(rows: LogRows, scope: Scope, months: Sequence[str]) -> Vulnerabilities | None:
    """The section, or None when the log holds no CVE judgment up to the scope's end."""
    if not any(s.recorded_at < scope.end for s in rows.sightings):
        return None
    still, done = _items(rows, scope.end)
    in_scope = [i for i in done if i.fixed_at and scope.start <= i.fixed_at < scope.end]
    counts = {s: sum(1 for i in still if i.severity == s) for s in SEVERITIES[::-1]}
    per_host: dict[str, int] = {}
    for item in still:
        per_host[item.host] = per_host.get(item.host, 0) + 1
    trend_open, trend_days = [], []
    for month in months:
        year, mon = int(month[:4]), int(month[5:7])
        end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=scope.end.tzinfo)
        opened, fixed = _items(rows, min(end, scope.end))
        trend_open.append(len(opened))
        that = [
            i.days
            for i in fixed
            if i.fixed_at and month_of(i.fixed_at) == month and i.days is not None
        ]
        trend_days.append(round(statistics.fmean(that), 2) if that else None)
    return Vulnerabilities(
        open_by_severity=counts,
        open=tuple(sorted(still, key=lambda i: (i.first_seen, i.host, i.cve))),
        fixed=tuple(sorted(in_scope, key=lambda i: (i.fixed_at or i.first_seen, i.host, i.cve))),
        most_exposed=tuple(sorted(per_host.items(), key=lambda hc: (-hc[1], hc[0]))[:10]),
        time_to_remediate=_stats(in_scope),
        months=tuple(months),
        open_trend=tuple(trend_open),
        remediation_trend_days=tuple(trend_days),
    )
