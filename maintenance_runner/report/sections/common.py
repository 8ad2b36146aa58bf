"""What every section means by a month, a finished task and the deciding result."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from maintenance_runner.actionlog.report_rows import LogRows, ResultRow, RunRow
from maintenance_runner.report.model import Scope

DONE = ("ok", "changed")
FAILED = ("failed", "unreachable")
# results that are not a preventive task: shown with their checks, left out of the KPIs
NON_PREVENTIVE = frozenset({"post_check", "audit"})
MODE_RANK = {"apply": 3, "check": 2, "rollback": 1}


def month_of(instant: datetime) -> str:
    return f"{instant.astimezone(UTC):%Y-%m}"


def month_range(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` from ``first`` to ``last`` inclusive."""
    year, month = int(first[:4]), int(first[5:7])
    end = (int(last[:4]), int(last[5:7]))
    out = []
    while (year, month) <= end:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def scope_months(scope: Scope) -> list[str]:
    """The months the scope touches."""
    last = scope.end - timedelta(microseconds=1) if scope.end > scope.start else scope.end
    return month_range(month_of(scope.start), month_of(last))


def trend_months(rows: LogRows, scope: Scope, history_months: int) -> list[str]:
    """The months of the trends: from the first run read (at most ``history_months``) to the
    scope's last month."""
    last = scope_months(scope)[-1]
    firsts = [month_of(r.started_at) for r in rows.runs if r.started_at < scope.end]
    first = min([*firsts, scope_months(scope)[0]])
    return month_range(first, last)[-history_months:]


def days(delta: timedelta) -> float:
    return round(delta.total_seconds() / 86400, 2)


def _rank(run: RunRow | None) -> int:
    return MODE_RANK.get(run.mode, 0) if run else 0


def deciding_results(
    results: Iterable[ResultRow], runs: Mapping[int, RunRow]
) -> dict[tuple[str, str], ResultRow]:
    """Per (host, task): the latest result of the highest-ranked mode (apply > check > rollback).

    When any result comes from an apply run, check-mode results are left out: a host that the
    plan's check run saw but the apply run never reached was not done."""
    results = list(results)
    applied = any((run := runs.get(r.run_id)) is not None and run.mode == "apply" for r in results)
    if applied:
        results = [r for r in results if (run := runs.get(r.run_id)) is None or run.mode != "check"]
    best: dict[tuple[str, str], ResultRow] = {}
    for r in results:
        key = (r.host, r.task)
        cur = best.get(key)
        if cur is None:
            best[key] = r
            continue
        new_rank, cur_rank = _rank(runs.get(r.run_id)), _rank(runs.get(cur.run_id))
        if (new_rank, r.started_at, r.run_id) > (cur_rank, cur.started_at, cur.run_id):
            best[key] = r
    return best
