"""The "Key figures": completion, cadence, patch latency, findings opened and closed,
follow-ups met."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

from maintenance_runner.actionlog.report_rows import ResultRow, RunRow
from maintenance_runner.core.results import SEVERITIES
from maintenance_runner.report.model import (
    CadenceCell,
    FindingsFlow,
    FollowupStats,
    Kpis,
    OpenFinding,
    PatchLatency,
    Rate,
)
from maintenance_runner.report.sections.basis import Basis, Pair
from maintenance_runner.report.sections.common import (
    DONE,
    NON_PREVENTIVE,
    days,
    month_of,
    scope_months,
)
from maintenance_runner.report.sections.findings import Timeline
from maintenance_runner.report.sections.latency import latency_stats

Done = Callable[[ResultRow], bool]


def _finished(result: ResultRow) -> bool:
    return result.status in DONE


def completion(
    deciding: Mapping[Pair, ResultRow], deferred: Iterable[Pair], done: Done = _finished
) -> Rate:
    """Host-task pairs done over those due: results plus deferred (or unreachable) pairs that
    got no result. ``done`` says whether a deciding result finished its task (the report passes
    :meth:`Basis.complete`: ok or changed and not rolled back). Post-checks and audits are not
    preventive tasks."""
    pairs = {k for k in deciding if k[1] not in NON_PREVENTIVE} | set(deferred)
    finished = sum(1 for key in pairs if key in deciding and done(deciding[key]))
    return Rate(finished, len(pairs))


def cadence(
    months: Sequence[str],
    runs: Mapping[int, RunRow],
    results: Iterable[ResultRow],
    deferred: Mapping[int, set[Pair]],
    is_done: Done = _finished,
) -> dict[str, list[CadenceCell]]:
    """Per month and task: hosts that got the task (an apply-run result that ``is_done`` says
    finished it: ok or changed, not rolled back) over hosts expected to (every host that had
    the task or was deferred from it in that month or any earlier month of the range)."""
    done: dict[tuple[str, str], set[str]] = defaultdict(set)
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in results:
        run = runs.get(r.run_id)
        if run is None or run.mode == "rollback" or r.task in NON_PREVENTIVE:
            continue
        month = month_of(run.started_at)
        seen[(month, r.task)].add(r.host)
        if run.mode == "apply" and is_done(r):
            done[(month, r.task)].add(r.host)
    for run_id, pairs in deferred.items():
        run = runs.get(run_id)
        if run is None:
            continue
        for host, task in pairs:
            if task != "*":
                seen[(month_of(run.started_at), task)].add(host)
    tasks = sorted({task for _, task in seen})
    out: dict[str, list[CadenceCell]] = {}
    expected: dict[str, set[str]] = defaultdict(set)
    for month in months:
        cells = []
        for task in tasks:
            expected[task] |= seen.get((month, task), set())
            if not expected[task]:
                continue
            got = done.get((month, task), set()) & expected[task]
            cells.append(
                CadenceCell(
                    month, task, len(got), len(expected[task]), tuple(sorted(expected[task] - got))
                )
            )
        out[month] = cells
    return out


def findings_flow(b: Basis, history: Timeline) -> FindingsFlow:
    """Findings opened and closed by the scope's runs, and those open at its end with their
    age. ``history`` covers every row read, and rows are read up to the scope's end: what is
    still open after them is what was open at the end of the scope.

    A finding open at the end and opened before the scope is *not re-checked* when its task
    was due on its host in the scope (a result or a deferral) and no complete result re-checked
    it there: the task failed, was rolled back, skipped, deferred or unreachable."""
    end = b.scope.end
    events = [e for e in history.events if e.run_id in b.in_scope]
    due = set(b.deciding) | set(b.scope_deferred)
    rechecked = {(r.host, r.task) for r in b.scope_results if b.complete(r)}
    still = [
        OpenFinding(
            host,
            task,
            fid,
            sev,
            at,
            days(end - at),
            not_rechecked=(host, task) in due
            and (host, task) not in rechecked
            and run_id not in b.in_scope,
        )
        for (host, task, fid), (at, sev, run_id) in history.still_open.items()
        if at < end
    ]
    still.sort(key=lambda o: (-SEVERITIES.index(o.severity), o.opened_at, o.host))
    return FindingsFlow(
        opened=sum(1 for e in events if e.kind == "opened"),
        closed=sum(1 for e in events if e.kind == "closed"),
        open_at_end=len(still),
        still_open=tuple(still),
        not_rechecked=sum(1 for o in still if o.not_rechecked),
    )


def kpis(
    b: Basis,
    months: Sequence[str],
    cells: Mapping[str, Sequence[CadenceCell]],
    latencies: Sequence[PatchLatency],
    history: Timeline,
    followups: FollowupStats,
) -> Kpis:
    """The scope's figures; ``cells`` is the cadence of every month of ``months``."""
    wanted = [m for m in scope_months(b.scope) if m in months] or list(months[-1:])
    scope_cells = tuple(c for m in wanted for c in cells.get(m, []))
    return Kpis(
        completion=completion(b.deciding, b.scope_deferred, b.complete),
        cadence=scope_cells,
        cadence_overall=Rate(
            sum(c.hosts_done for c in scope_cells), sum(c.hosts_expected for c in scope_cells)
        ),
        patch_latency=latency_stats([li for li in latencies if li.run_id in b.in_scope]),
        findings_flow=findings_flow(b, history),
        followups=followups,
    )
