"""Read what a maintenance report needs from the action log (SQLAlchemy selects, no writes).

:func:`resolve_scope` turns the command line's choice (one run, a window's occurrence, a month)
into a :class:`~maintenance_runner.report_model.Scope`; :func:`read_rows` reads the history up to
the scope's end; :func:`build_report` does both and calls the pure builder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select

from .actionlog import ActionLog
from .actionlog import models as m
from .clock import Clock, SystemClock, parse_instant
from .report_model import (
    DEFAULT_RETRO_WITHIN,
    UNREACHABLE_EVENT,
    ApprovalRow,
    DetailRow,
    EventRow,
    FindingRow,
    FollowupRow,
    LogRows,
    OccurrenceRow,
    PlanRow,
    Report,
    ResultRow,
    RollbackRow,
    RunRow,
    Scope,
    build_report_model,
    month_range,
)

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RUNNING = "running"


class ReportInputError(ValueError):
    """The report's subject cannot be found or is malformed; ``field`` names the option."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


# ------------------------------------------------------------------------------ scope


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


def _run_end(conn: Connection, run_id: int, now: datetime) -> datetime:
    """When the run's final state was recorded, or now while it runs; never before its last
    result ended."""
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
    return end


def _match_occurrence(occ: OccurrenceRow, text: str) -> bool:
    text = text.strip()
    wall = occ.wall_start or ""
    if _DATE.match(text):
        return wall[:10] == text
    if wall and wall.startswith(text.replace(" ", "T")):
        return True
    try:
        instant = parse_instant(text, occ.timezone)
    except ValueError:
        return False
    return instant == occ.start_utc


def check_subject(
    *,
    run_uid: str | None = None,
    window: str | None = None,
    occurrence: str | None = None,
    month: str | None = None,
) -> None:
    """Refuse a malformed choice before anything is opened (raises :class:`ReportInputError`)."""
    if occurrence and not window:
        raise ReportInputError("--occurrence", "needs --window")
    chosen = [name for name, v in (("RUN", run_uid), ("--window", window), ("--month", month)) if v]
    if len(chosen) != 1:
        raise ReportInputError(
            "RUN|--window|--month",
            "give exactly one of a run id, --window or --month"
            + (f" (got {', '.join(chosen)})" if chosen else ""),
        )
    if month and not _MONTH.match(month.strip()):
        raise ReportInputError("--month", f"not YYYY-MM: {month!r}")


def resolve_scope(
    engine: Engine,
    *,
    run_uid: str | None = None,
    window: str | None = None,
    occurrence: str | None = None,
    month: str | None = None,
    clock: Clock | None = None,
) -> Scope:
    """One run (by uid), one occurrence of a window (the latest with runs when ``occurrence`` is
    not given), or one calendar month (UTC). Raises :class:`ReportInputError`."""
    check_subject(run_uid=run_uid, window=window, occurrence=occurrence, month=month)
    now = (clock or SystemClock()).now()
    with engine.connect() as conn:
        if run_uid:
            return _run_scope(conn, run_uid, now)
        if month:
            return _month_scope(conn, month)
        assert window is not None
        return _window_scope(conn, window, occurrence, now)


def _run_scope(conn: Connection, run_uid: str, now: datetime) -> Scope:
    run = conn.execute(select(m.runs).where(m.runs.c.run_uid == run_uid)).first()
    if run is None:
        run = _unique_prefix(conn, run_uid)
    return Scope(
        kind="run",
        label=run.run_uid,
        start=run.started_at,
        end=_run_end(conn, run.id, now) + timedelta(microseconds=1),
        run_ids=frozenset({run.id}),
        occurrence_ids=frozenset({run.occurrence_id}) if run.occurrence_id else frozenset(),
        window=run.window,
    )


def _unique_prefix(conn: Connection, run_uid: str) -> Any:
    found = conn.execute(select(m.runs).where(m.runs.c.run_uid.like(f"{run_uid}%")).limit(2)).all()
    if len(found) == 1:
        return found[0]
    if not found:
        raise ReportInputError("RUN", f"no run {run_uid!r} in the action log (see maint log)")
    raise ReportInputError("RUN", f"{run_uid!r} matches more than one run; give more of it")


def _month_scope(conn: Connection, month: str) -> Scope:
    match = _MONTH.match(month.strip())
    if not match:
        raise ReportInputError("--month", f"not YYYY-MM: {month!r}")
    start = datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)
    end = (start + timedelta(days=32)).replace(day=1)
    run_ids = conn.execute(
        select(m.runs.c.id).where(and_(m.runs.c.started_at >= start, m.runs.c.started_at < end))
    ).scalars()
    occ_ids = conn.execute(
        select(m.occurrences.c.id).where(
            and_(m.occurrences.c.start_utc >= start, m.occurrences.c.start_utc < end)
        )
    ).scalars()
    return Scope("month", f"{start:%Y-%m}", start, end, frozenset(run_ids), frozenset(occ_ids))


def _window_scope(conn: Connection, window: str, occurrence: str | None, now: datetime) -> Scope:
    occs = [
        _occurrence_row(conn, o)
        for o in conn.execute(
            select(m.occurrences)
            .where(m.occurrences.c.window == window)
            .order_by(m.occurrences.c.start_utc)
        )
    ]
    # the latest apply run decides (a plan's check run for the next occurrence is not news yet);
    # without one, the latest check run
    latest = None
    for mode in ("apply", "check"):
        latest = conn.execute(
            select(m.runs)
            .where(and_(m.runs.c.window == window, m.runs.c.mode == mode))
            .order_by(m.runs.c.started_at.desc(), m.runs.c.id.desc())
            .limit(1)
        ).first()
        if latest is not None:
            break
    if not occs and latest is None:
        raise ReportInputError(
            "--window", f"no run or occurrence of window {window!r} in the action log"
        )
    chosen: OccurrenceRow | None = None
    if occurrence:
        matches = [o for o in occs if _match_occurrence(o, occurrence)]
        if len(matches) != 1:
            recent = ", ".join(o.wall_start or f"{o.start_utc:%Y-%m-%dT%H:%MZ}" for o in occs[-5:])
            what = "no occurrence" if not matches else "more than one occurrence"
            raise ReportInputError(
                "--occurrence",
                f"{what} of {window!r} starts at {occurrence!r}"
                + (f" (recent: {recent})" if recent else ""),
            )
        chosen = matches[0]
    elif latest is not None and latest.occurrence_id is not None:
        chosen = next((o for o in occs if o.id == latest.occurrence_id), None)
    elif latest is None:
        started = [o for o in occs if o.start_utc <= now]
        chosen = (started or occs)[-1]

    if chosen is None:  # the latest run has no occurrence: that run (and its plan's runs)
        assert latest is not None
        query = select(m.runs.c.id).where(m.runs.c.id == latest.id)
        if latest.plan_uid:
            query = select(m.runs.c.id).where(
                or_(m.runs.c.id == latest.id, m.runs.c.plan_uid == latest.plan_uid)
            )
        ids = frozenset(conn.execute(query).scalars())
        end = max(_run_end(conn, i, now) for i in ids) + timedelta(microseconds=1)
        first = conn.execute(select(func.min(m.runs.c.started_at)).where(m.runs.c.id.in_(ids)))
        return Scope(
            "window",
            f"{window}, run {latest.run_uid}",
            first.scalar_one(),
            end,
            ids,
            frozenset(),
            window,
        )

    ids = frozenset(
        conn.execute(
            select(m.runs.c.id).where(
                or_(
                    m.runs.c.occurrence_id == chosen.id,
                    and_(
                        m.runs.c.occurrence_id.is_(None),
                        m.runs.c.window == window,
                        m.runs.c.started_at >= chosen.start_utc,
                        m.runs.c.started_at < chosen.end_utc,
                    ),
                )
            )
        ).scalars()
    )
    end = chosen.end_utc
    for i in ids:
        end = max(end, _run_end(conn, i, now))
    start = chosen.start_utc
    if ids:
        first = conn.execute(select(func.min(m.runs.c.started_at)).where(m.runs.c.id.in_(ids)))
        start = min(start, first.scalar_one())
    local = (chosen.wall_start or f"{chosen.start_utc:%Y-%m-%dT%H:%M}").replace("T", " ")
    return Scope(
        "window",
        f"{window} {local} {chosen.timezone}",
        start,
        end + timedelta(microseconds=1),
        ids,
        frozenset({chosen.id}),
        window,
    )


# ------------------------------------------------------------------------------ rows


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


def read_rows(engine: Engine, scope: Scope, history_months: int = 12) -> LogRows:
    """The runs of the history range (``history_months`` calendar months up to the scope's end,
    and every run of the scope), with their results, findings, data, rollbacks and events; the
    plans, approvals, occurrences and follow-ups that go with them."""
    last_month = f"{scope.end - timedelta(microseconds=1):%Y-%m}"
    year, mon = int(last_month[:4]), int(last_month[5:])
    total = year * 12 + mon - 1 - (history_months - 1)
    since = datetime(total // 12, total % 12 + 1, 1, tzinfo=UTC)
    since = min(since, scope.start)
    r = m.runs
    in_range = or_(
        and_(r.c.started_at >= since, r.c.started_at < scope.end),
        r.c.id.in_(sorted(scope.run_ids) or [-1]),
    )
    with engine.connect() as conn:
        run_rows = conn.execute(select(r).where(in_range).order_by(r.c.id)).all()
        states: dict[int, Any] = {}
        run_ids = select(r.c.id).where(in_range).scalar_subquery()
        for row in conn.execute(
            select(m.run_states)
            .where(m.run_states.c.run_id.in_(run_ids))
            .order_by(m.run_states.c.id)
        ):
            states[row.run_id] = row
        runs = [
            RunRow(
                id=row.id,
                run_uid=row.run_uid,
                mode=row.mode,
                started_at=row.started_at,
                window=row.window,
                plan_uid=row.plan_uid,
                occurrence_id=row.occurrence_id,
                actor=row.actor,
                state=states[row.id].state if row.id in states else "running",
                state_message=states[row.id].message if row.id in states else None,
                ended_at=states[row.id].recorded_at
                if row.id in states and states[row.id].state != RUNNING
                else None,
            )
            for row in run_rows
        ]
        results, findings, details = _results(conn, run_ids)
        b = m.rollbacks
        rollbacks = [
            RollbackRow(x.run_id, x.host, x.task, x.status, x.recorded_at, x.message)
            for x in conn.execute(select(b).where(b.c.run_id.in_(run_ids)).order_by(b.c.id))
        ]
        e = m.run_events
        events = [
            EventRow(x.run_id, x.event, x.recorded_at, x.host, x.task, x.message)
            for x in conn.execute(
                select(e)
                .where(
                    and_(e.c.run_id.in_(run_ids), e.c.event.in_(("deferred", UNREACHABLE_EVENT)))
                )
                .order_by(e.c.id)
            )
        ]
        p = m.plans
        plan_uids = {row.plan_uid for row in run_rows if row.plan_uid}
        plan_rows = conn.execute(
            select(p)
            .where(
                or_(
                    and_(p.c.recorded_at >= since, p.c.recorded_at < scope.end),
                    p.c.plan_uid.in_(sorted(plan_uids) or [""]),
                    p.c.occurrence_id.in_(sorted(scope.occurrence_ids) or [-1]),
                )
            )
            .order_by(p.c.id)
        ).all()
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
        a = m.approvals
        approvals = [
            ApprovalRow(
                x.plan_uid,
                x.approver,
                x.decision,
                _signed_at(x.signature, x.recorded_at),
                x.comment,
            )
            for x in conn.execute(
                select(a)
                .where(a.c.plan_uid.in_(sorted({x.plan_uid for x in plan_rows}) or [""]))
                .order_by(a.c.id)
            )
        ]
        o = m.occurrences
        occurrence_ids = set(scope.occurrence_ids) | {
            x.occurrence_id for x in runs if x.occurrence_id
        }
        occurrences = [
            _occurrence_row(conn, x)
            for x in conn.execute(
                select(o)
                .where(
                    or_(
                        and_(o.c.start_utc >= since, o.c.start_utc < scope.end),
                        o.c.id.in_(sorted(occurrence_ids) or [-1]),
                    )
                )
                .order_by(o.c.id)
            )
        ]
        followups = _followups(conn, since)
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
    )


def _responses(
    conn: Connection, ids: list[int]
) -> dict[int, tuple[datetime | None, datetime | None]]:
    """followup id -> (first ack or close, closed at), replayed from ``followup_events``.

    The follow-ups module's :func:`derive` decides when it is importable (the same rule the
    ``maint followups`` commands show); otherwise the events are counted here the same way.
    """
    ev = m.followup_events
    events: dict[int, list[Any]] = {}
    for x in conn.execute(select(ev).where(ev.c.followup_id.in_(ids)).order_by(ev.c.id)):
        events.setdefault(x.followup_id, []).append(x)
    try:
        from .followups import Event, derive
    except ImportError:  # pragma: no cover - the module is part of the package
        out: dict[int, tuple[datetime | None, datetime | None]] = {}
        for fid, rows in events.items():
            responded = next((r.recorded_at for r in rows if r.action in ("ack", "close")), None)
            closed = None
            for r in rows:
                if r.action == "close":
                    closed = r.recorded_at
                elif r.action == "reopen":
                    closed = None
            out[fid] = (responded, closed)
        return out
    found = {}
    for fid, rows in events.items():
        state = derive(
            "open", [Event(r.id, r.action, r.actor, r.note, r.recorded_at) for r in rows]
        )
        found[fid] = (state.responded_at, state.closed_at)
    return found


def _followups(conn: Connection, since: datetime) -> list[FollowupRow]:
    """Follow-ups opened in the history range, with their first acknowledgement or closure
    (``followup_events``) as the response."""
    fu = m.followups
    rows = conn.execute(select(fu).where(fu.c.recorded_at >= since).order_by(fu.c.id)).all()
    if not rows:
        return []
    responses = _responses(conn, [x.id for x in rows])
    return [
        FollowupRow(
            id=x.id,
            priority=x.priority,
            title=x.title,
            created_at=x.recorded_at,
            finding_row_id=x.finding_id,
            status=x.status,
            due_at=x.due_at,
            first_response_at=responses.get(x.id, (None, None))[0],
            closed_at=responses.get(x.id, (None, None))[1],
        )
        for x in rows
    ]


def build_report(
    log: ActionLog,
    *,
    run_uid: str | None = None,
    window: str | None = None,
    occurrence: str | None = None,
    month: str | None = None,
    clock: Clock | None = None,
    history_months: int = 12,
    retro_within: timedelta = DEFAULT_RETRO_WITHIN,
) -> Report:
    """The report for one run, one window occurrence or one month, read from ``log``."""
    clock = clock or log.clock
    scope = resolve_scope(
        log.engine,
        run_uid=run_uid,
        window=window,
        occurrence=occurrence,
        month=month,
        clock=clock,
    )
    rows = read_rows(log.engine, scope, history_months)
    return build_report_model(
        rows, scope, clock.now(), history_months=history_months, retro_within=retro_within
    )


__all__ = [
    "ReportInputError",
    "build_report",
    "check_subject",
    "month_range",
    "read_rows",
    "resolve_scope",
]
