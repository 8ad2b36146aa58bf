"""What every section starts from: the scope's runs, results, deferrals and rollbacks, worked
out once, and which results finished their task (:meth:`Basis.complete`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from maintenance_runner.actionlog.report_rows import (
    DEFERRED_EVENT,
    IN_FLIGHT_EVENT,
    ROLLBACK_EVENTS,
    UNREACHABLE_EVENT,
    DetailRow,
    EventRow,
    FindingRow,
    LogRows,
    ResultRow,
    RunRow,
)
from maintenance_runner.core.results import complete_observation
from maintenance_runner.report.model import Scope
from maintenance_runner.report.sections.common import NON_PREVENTIVE, deciding_results

Pair = tuple[str, str]  # (host, task)
ResultKey = tuple[int, str, str]  # (run id, host, task)


def event_pairs(
    events: Iterable[EventRow], results: Iterable[ResultRow], kind: str = DEFERRED_EVENT
) -> dict[int, set[Pair]]:
    """run id -> (host, task) pairs a run deferred (or found unreachable: ``kind``); an event
    without a task stands for every preventive task that run ran (``*`` when it ran none)."""
    tasks_of: dict[int, set[str]] = defaultdict(set)
    for r in results:
        if r.task not in NON_PREVENTIVE:
            tasks_of[r.run_id].add(r.task)
    out: dict[int, set[Pair]] = defaultdict(set)
    for e in events:
        if e.event != kind or not e.host:
            continue
        for task in [e.task] if e.task else sorted(tasks_of[e.run_id]) or ["*"]:
            out[e.run_id].add((e.host, task))
    return out


@dataclass(frozen=True)
class Basis:
    rows: LogRows
    scope: Scope
    runs: Mapping[int, RunRow]  # every run read, by id
    scope_runs: Sequence[RunRow]  # the scope's runs, by start
    scope_results: Sequence[ResultRow]
    details: Mapping[ResultKey, DetailRow]
    findings_of: Mapping[ResultKey, Sequence[FindingRow]]
    deciding: Mapping[Pair, ResultRow]  # the scope's deciding results
    deferred_by_run: Mapping[int, set[Pair]]  # deferred or unreachable, every run read
    scope_deferred: frozenset[Pair]  # deferred or unreachable in scope
    scope_deferred_only: frozenset[Pair]  # deferred (not unreachable) in scope
    # (run, host, task) -> ok|failed: the change that result made was rolled back (a
    # ``rollbacks`` row recorded against its run before the scope's end), every run read
    undone: Mapping[ResultKey, str]
    in_flight: frozenset[tuple[int, str]]  # (run, host): a killed run's host in flight
    hosts_rolled_back: Mapping[str, str]  # host -> ok|failed: rolled back by a run in scope

    @property
    def in_scope(self) -> frozenset[int]:
        return self.scope.run_ids

    def complete(self, result: ResultRow) -> bool:
        """Whether ``result`` finished its task on its host: ok or changed, in an apply or a
        check run, its change not rolled back, not a rollback's or a reconcile's result nor a
        killed run's host in flight (``core.results.complete_observation``). Only these count
        as done (completion, cadence) and only these close findings."""
        run = self.runs.get(result.run_id)
        data = self.data_of(result) or {}
        action = data.get("action")
        if (result.run_id, result.host) in self.in_flight:
            action = action or "reconcile"
        return complete_observation(
            result.status,
            run.mode if run is not None else "",
            rolled_back=(result.run_id, result.host, result.task) in self.undone,
            action=str(action) if action else None,
        )

    def data_of(self, result: ResultRow) -> Mapping[str, object] | None:
        """The data a result published, if any."""
        detail = self.details.get((result.run_id, result.host, result.task))
        return detail.data if detail and isinstance(detail.data, Mapping) else None

    def found_by(self, result: ResultRow) -> Sequence[FindingRow]:
        return self.findings_of.get((result.run_id, result.host, result.task), ())


def basis(rows: LogRows, scope: Scope) -> Basis:
    runs = {r.id: r for r in rows.runs}
    in_scope = scope.run_ids
    scope_results = [r for r in rows.results if r.run_id in in_scope]
    findings_of: dict[ResultKey, list[FindingRow]] = defaultdict(list)
    for f in rows.findings:
        if f.run_id is not None:
            findings_of[(f.run_id, f.host, f.task)].append(f)
    deferred_only = event_pairs(rows.events, rows.results, DEFERRED_EVENT)
    unreachable = event_pairs(rows.events, rows.results, UNREACHABLE_EVENT)
    deferred_by_run: dict[int, set[Pair]] = defaultdict(set)
    for source in (deferred_only, unreachable):
        for run_id, pairs in source.items():
            deferred_by_run[run_id] |= pairs
    undone: dict[ResultKey, str] = {}
    for rb in sorted(rows.rollbacks, key=lambda x: x.recorded_at):
        if rb.run_id is not None and rb.recorded_at < scope.end:
            undone[(rb.run_id, rb.host, rb.task)] = "ok" if rb.status == "ok" else "failed"
    hosts_rolled_back: dict[str, str] = {}
    for e in sorted(rows.events, key=lambda x: x.recorded_at):
        if e.event in ROLLBACK_EVENTS and e.host and e.run_id in in_scope:
            hosts_rolled_back[e.host] = "ok" if e.event == ROLLBACK_EVENTS[0] else "failed"
    return Basis(
        rows=rows,
        scope=scope,
        runs=runs,
        scope_runs=sorted((runs[i] for i in in_scope if i in runs), key=lambda r: r.started_at),
        scope_results=scope_results,
        details={(d.run_id, d.host, d.task): d for d in rows.details},
        findings_of=dict(findings_of),
        deciding=deciding_results(scope_results, runs),
        deferred_by_run=dict(deferred_by_run),
        scope_deferred=frozenset(p for i in in_scope for p in deferred_by_run.get(i, set())),
        scope_deferred_only=frozenset(p for i in in_scope for p in deferred_only.get(i, set())),
        undone=undone,
        in_flight=frozenset(
            (e.run_id, e.host) for e in rows.events if e.event == IN_FLIGHT_EVENT and e.host
        ),
        hosts_rolled_back=hosts_rolled_back,
    )
