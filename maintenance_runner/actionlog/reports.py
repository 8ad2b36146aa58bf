"""The action log queries behind ``maint report`` (selects only, never a write).

Each function takes an :class:`ActionLog` and returns plain rows (``report_rows.py``); which
runs a report covers and what they mean is decided in ``report/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, func, or_, select

from maintenance_runner.actionlog import models as m
from maintenance_runner.actionlog.report_rows import (
    REPORTED_EVENTS,
    ApprovalRow,
    DetailRow,
    EventRow,
    FindingRow,
    FollowupEventRow,
    FollowupRow,
    LogRows,
    OccurrenceRow,
    PlanRow,
    ResultRow,
    RollbackRow,
    RunRow,
    SightingRow,
)
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.core.clock import parse_instant

RUNNING = "running"
CVE_KINDS = ("cve", "cve_fixed")  # the sightings a report reads

# ---------------------------------------------------------------------- runs and occurrences


def _occurrence_row(conn: Connection, occ: Any) -> OccurrenceRow:
    state = conn.execute(
        select(m.occurrence_states.c.state, m.occurrence_states.c.reason)
        .where(m.occurrence_states.c.occurrence_id == occ.id)
        .order_by(m.occurrence_states.c.id.desc())
        .limit(1)
    ).first()
    return OccurrenceRow(
        id=occ.id,
        window=occ.window,
        start_utc=occ.start_utc,
        end_utc=occ.end_utc,
        timezone=occ.timezone,
        wall_start=occ.wall_start,
        state=state.state if state else "planned",
        reason=state.reason if state else None,
    )


def _run_rows(conn: Connection, rows: Iterable[Row[Any]], ids: Any) -> list[RunRow]:
    """``runs`` rows with their last state; ``ids`` selects the states to read (a list or a
    subquery of the same runs)."""
    states: dict[int, Any] = {}
    for row in conn.execute(
        select(m.run_states).where(m.run_states.c.run_id.in_(ids)).order_by(m.run_states.c.id)
    ):
        states[row.run_id] = row
    out = []
    for row in rows:
        state = states.get(row.id)
        out.append(
            RunRow(
                id=row.id,
                run_uid=row.run_uid,
                mode=row.mode,
                started_at=row.started_at,
                window=row.window,
                plan_uid=row.plan_uid,
                occurrence_id=row.occurrence_id,
                actor=row.actor,
                state=state.state if state is not None else RUNNING,
                state_message=state.message if state is not None else None,
                ended_at=state.recorded_at
                if state is not None and state.state != RUNNING
                else None,
            )
        )
    return out


def find_runs(log: ActionLog, run_uid: str) -> list[RunRow]:
    """The run with this uid; else up to two runs whose uid starts with it."""
    r = m.runs
    with log.engine.connect() as conn:
        found = conn.execute(select(r).where(r.c.run_uid == run_uid)).all()
        if not found:
            found = conn.execute(select(r).where(r.c.run_uid.like(f"{run_uid}%")).limit(2)).all()
        return _run_rows(conn, found, [row.id for row in found])


def latest_run(log: ActionLog, window: str, mode: str) -> RunRow | None:
    """The window's run of ``mode`` that started last."""
    r = m.runs
    with log.engine.connect() as conn:
        row = conn.execute(
            select(r)
            .where(and_(r.c.window == window, r.c.mode == mode))
            .order_by(r.c.started_at.desc(), r.c.id.desc())
            .limit(1)
        ).first()
        return _run_rows(conn, [row], [row.id])[0] if row is not None else None


def run_ends(log: ActionLog, run_ids: Iterable[int], now: datetime) -> dict[int, datetime]:
    """run id -> when its final state was recorded, or ``now`` while it runs; never before its
    last result ended."""
    out = {}
    with log.engine.connect() as conn:
        for run_id in run_ids:
            final = conn.execute(
                select(func.max(m.run_states.c.recorded_at)).where(
                    and_(m.run_states.c.run_id == run_id, m.run_states.c.state != RUNNING)
                )
            ).scalar()
            last = conn.execute(
                select(m.task_results.c.started_at, m.task_results.c.duration_s)
                .where(m.task_results.c.run_id == run_id)
                .order_by(m.task_results.c.started_at.desc())
                .limit(1)
            ).first()
            end = final or now
            if last is not None:
                end = max(end, last.started_at + timedelta(seconds=last.duration_s))
            out[run_id] = end
    return out


def first_start(log: ActionLog, run_ids: Iterable[int]) -> datetime | None:
    """When the first of these runs started."""
    with log.engine.connect() as conn:
        return conn.execute(
            select(func.min(m.runs.c.started_at)).where(m.runs.c.id.in_(sorted(run_ids)))
        ).scalar()


def runs_started(log: ActionLog, start: datetime, end: datetime) -> frozenset[int]:
    """The ids of the runs that started in ``[start, end)``."""
    r = m.runs
    with log.engine.connect() as conn:
        found = conn.execute(
            select(r.c.id).where(and_(r.c.started_at >= start, r.c.started_at < end))
        ).scalars()
        return frozenset(found)


def occurrences_starting(log: ActionLog, start: datetime, end: datetime) -> frozenset[int]:
    """The ids of the occurrences that start in ``[start, end)``."""
    o = m.occurrences
    with log.engine.connect() as conn:
        found = conn.execute(
            select(o.c.id).where(and_(o.c.start_utc >= start, o.c.start_utc < end))
        ).scalars()
        return frozenset(found)


def window_occurrences(log: ActionLog, window: str) -> list[OccurrenceRow]:
    """Every occurrence of ``window``, earliest first, with its last state."""
    o = m.occurrences
    with log.engine.connect() as conn:
        found = conn.execute(select(o).where(o.c.window == window).order_by(o.c.start_utc)).all()
        return [_occurrence_row(conn, x) for x in found]


def plan_runs(log: ActionLog, run: RunRow) -> frozenset[int]:
    """``run`` and the other runs of its plan."""
    r = m.runs
    query = select(r.c.id).where(r.c.id == run.id)
    if run.plan_uid:
        query = select(r.c.id).where(or_(r.c.id == run.id, r.c.plan_uid == run.plan_uid))
    with log.engine.connect() as conn:
        return frozenset(conn.execute(query).scalars())


def occurrence_runs(log: ActionLog, occurrence: OccurrenceRow) -> frozenset[int]:
    """The runs of an occurrence: recorded against it, or of its window without an occurrence
    and started between its start and end."""
    r = m.runs
    query = select(r.c.id).where(
        or_(
            r.c.occurrence_id == occurrence.id,
            and_(
                r.c.occurrence_id.is_(None),
                r.c.window == occurrence.window,
                r.c.started_at >= occurrence.start_utc,
                r.c.started_at < occurrence.end_utc,
            ),
        )
    )
    with log.engine.connect() as conn:
        return frozenset(conn.execute(query).scalars())


# ---------------------------------------------------------------------------------- the history


def _signed_at(signature: str | None, recorded_at: datetime) -> datetime:
    try:
        return parse_instant(str(json.loads(signature or "{}")["signed_at"]))
    except (ValueError, KeyError, TypeError):
        return recorded_at


def _doc(value: Any) -> Mapping[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


def _results(
    conn: Connection, run_ids: Any
) -> tuple[list[ResultRow], list[FindingRow], list[DetailRow]]:
    """Task results with their findings and data, without the results of rollbacks.

    ``record_results`` writes a batch of results, then their data, then their findings; a run
    that rolls a host back records the rollback playbook's result for the same host and task in
    the same run (``data.action: rollback``). The k-th result of a (run, host, task) goes with
    its k-th data row; a rollback's result and data are left out (the ``rollbacks`` table says
    how the rollback went), and so are the findings recorded from that result on.
    """
    t, f, d = m.task_results, m.findings, m.result_details
    raw_results = conn.execute(select(t).where(t.c.run_id.in_(run_ids)).order_by(t.c.id)).all()
    raw_details = conn.execute(select(d).where(d.c.run_id.in_(run_ids)).order_by(d.c.id)).all()
    data_of: dict[tuple[int, str, str], list[Any]] = {}
    for x in raw_details:
        data_of.setdefault((x.run_id, x.host, x.task), []).append(x)
    seen: dict[tuple[int, str, str], int] = {}
    results: list[ResultRow] = []
    details: list[DetailRow] = []
    rolled_from: dict[tuple[int, str, str], datetime] = {}
    for x in raw_results:
        key = (x.run_id, x.host, x.task)
        n = seen.get(key, 0)
        seen[key] = n + 1
        pair = data_of.get(key, [])
        detail = pair[n] if n < len(pair) else None
        data = _doc(detail.data) if detail is not None else {}
        if data.get("action") == "rollback" and n > 0:
            rolled_from.setdefault(key, x.recorded_at)
            continue
        results.append(
            ResultRow(
                run_id=x.run_id,
                host=x.host,
                task=x.task,
                status=x.status,
                started_at=x.started_at,
                changed=bool(x.changed),
                duration_s=float(x.duration_s),
                message=x.message,
                diff_summary=x.diff_summary,
            )
        )
        if detail is not None:
            details.append(DetailRow(x.run_id, x.host, x.task, data, _doc(detail.rollback)))
    findings = [
        FindingRow(
            run_id=x.run_id,
            host=x.host,
            task=x.task,
            finding_id=x.finding_id,
            severity=x.severity,
            message=x.message,
            recommendation=x.recommendation,
            id=x.id,
        )
        for x in conn.execute(select(f).where(f.c.run_id.in_(run_ids)).order_by(f.c.id))
        if not (
            (x.run_id, x.host, x.task) in rolled_from
            and x.recorded_at >= rolled_from[(x.run_id, x.host, x.task)]
        )
    ]
    return results, findings, details


def _plans(
    conn: Connection, since: datetime, until: datetime, uids: set[str], occs: Iterable[int]
) -> list[Row[Any]]:
    p = m.plans
    return conn.execute(
        select(p)
        .where(
            or_(
                and_(p.c.recorded_at >= since, p.c.recorded_at < until),
                p.c.plan_uid.in_(sorted(uids) or [""]),
                p.c.occurrence_id.in_(sorted(occs) or [-1]),
            )
        )
        .order_by(p.c.id)
    ).all()


def _approvals(conn: Connection, plan_uids: set[str]) -> list[ApprovalRow]:
    a = m.approvals
    return [
        ApprovalRow(
            x.plan_uid, x.approver, x.decision, _signed_at(x.signature, x.recorded_at), x.comment
        )
        for x in conn.execute(
            select(a).where(a.c.plan_uid.in_(sorted(plan_uids) or [""])).order_by(a.c.id)
        )
    ]


def _occurrences(
    conn: Connection, since: datetime, until: datetime, ids: set[int]
) -> list[OccurrenceRow]:
    o = m.occurrences
    found = conn.execute(
        select(o)
        .where(
            or_(
                and_(o.c.start_utc >= since, o.c.start_utc < until),
                o.c.id.in_(sorted(ids) or [-1]),
            )
        )
        .order_by(o.c.id)
    ).all()
    return [_occurrence_row(conn, x) for x in found]


def _followups(conn: Connection, since: datetime) -> list[FollowupRow]:
    """Follow-ups opened since ``since`` (their responses are :func:`followup_events`)."""
    fu = m.followups
    return [
        FollowupRow(
            id=x.id,
            priority=x.priority,
            title=x.title,
            created_at=x.recorded_at,
            finding_row_id=x.finding_id,
            status=x.status,
            due_at=x.due_at,
        )
        for x in conn.execute(select(fu).where(fu.c.recorded_at >= since).order_by(fu.c.id))
    ]


def read_rows(
    log: ActionLog,
    *,
    since: datetime,
    until: datetime,
    run_ids: Iterable[int] = (),
    occurrence_ids: Iterable[int] = (),
) -> LogRows:
    """The runs that started in ``[since, until)`` and the runs ``run_ids``, with their results,
    findings, data, rollbacks and events; the plans, approvals, occurrences (those starting in
    the range, ``occurrence_ids`` and the runs' own) and follow-ups (opened since ``since``)
    that go with them. The follow-ups come without their responses (:func:`followup_events`)."""
    r = m.runs
    in_range = or_(
        and_(r.c.started_at >= since, r.c.started_at < until),
        r.c.id.in_(sorted(run_ids) or [-1]),
    )
    with log.engine.connect() as conn:
        run_rows = conn.execute(select(r).where(in_range).order_by(r.c.id)).all()
        ids = select(r.c.id).where(in_range).scalar_subquery()
        runs = _run_rows(conn, run_rows, ids)
        results, findings, details = _results(conn, ids)
        b = m.rollbacks
        rollbacks = [
            RollbackRow(x.run_id, x.host, x.task, x.status, x.recorded_at, x.message)
            for x in conn.execute(select(b).where(b.c.run_id.in_(ids)).order_by(b.c.id))
        ]
        e = m.run_events
        events = [
            EventRow(x.run_id, x.event, x.recorded_at, x.host, x.task, x.message)
            for x in conn.execute(
                select(e)
                .where(and_(e.c.run_id.in_(ids), e.c.event.in_(REPORTED_EVENTS)))
                .order_by(e.c.id)
            )
        ]
        plan_uids = {row.plan_uid for row in run_rows if row.plan_uid}
        plan_rows = _plans(conn, since, until, plan_uids, occurrence_ids)
        plans = [
            PlanRow(
                plan_uid=x.plan_uid,
                created_at=x.recorded_at,
                window=x.window,
                occurrence_id=x.occurrence_id,
                content_hash=x.content_hash,
                created_by=x.created_by,
                summary=_doc(x.summary),
            )
            for x in plan_rows
        ]
        approvals = _approvals(conn, {x.plan_uid for x in plan_rows})
        occs = set(occurrence_ids) | {x.occurrence_id for x in runs if x.occurrence_id}
        occurrences = _occurrences(conn, since, until, occs)
        followups = _followups(conn, since)
        s = m.sightings
        sightings = [
            SightingRow(x.kind, x.host, x.subject, x.recorded_at, _doc(x.detail) or {})
            for x in conn.execute(
                select(s)
                .where(and_(s.c.kind.in_(CVE_KINDS), s.c.recorded_at < until))
                .order_by(s.c.id)
            )
        ]
    return LogRows(
        runs=runs,
        results=results,
        findings=findings,
        details=details,
        rollbacks=rollbacks,
        plans=plans,
        approvals=approvals,
        occurrences=occurrences,
        events=events,
        followups=followups,
        sightings=sightings,
    )


def followup_events(
    log: ActionLog, followup_ids: Iterable[int]
) -> dict[int, list[FollowupEventRow]]:
    """followup id -> its ``followup_events``, oldest first."""
    ev = m.followup_events
    out: dict[int, list[FollowupEventRow]] = {}
    ids = sorted(followup_ids)
    if not ids:
        return out
    with log.engine.connect() as conn:
        for x in conn.execute(select(ev).where(ev.c.followup_id.in_(ids)).order_by(ev.c.id)):
            out.setdefault(x.followup_id, []).append(
                FollowupEventRow(x.id, x.followup_id, x.action, x.actor, x.note, x.recorded_at)
            )
    return out
