"""Follow-ups in the action log: reading findings, follow-ups and their events, and writing.

Creating follow-ups, closing those whose finding a later complete run no longer reports, and
recording actions check and append inside one transaction that holds the chains' write locks,
so two runners syncing at once never open (or close) the same follow-up twice and two people
closing at once do not both succeed. The rules are ``core/followups.py``'s.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, select

from maintenance_runner.actionlog import models as m
from maintenance_runner.actionlog.report_rows import IN_FLIGHT_EVENT
from maintenance_runner.actionlog.store import ActionLog, lock_table
from maintenance_runner.core.followups import (
    ACTIONS,
    AUTO_ACTOR,
    Event,
    Existing,
    FindingRecord,
    Followup,
    FollowupError,
    Observation,
    OpenFollowup,
    Rules,
    check_action,
    cycles,
    derive,
    latest_observations,
    outcome,
    plan_closes,
    plan_new,
    qualifies,
)
from maintenance_runner.core.results import (
    COMPLETE_STATUSES,
    OBSERVING_MODES,
    complete_observation,
)
from maintenance_runner.core.workhours import working_hours_between


def _finding_select() -> Select[Any]:
    f, r = m.findings, m.runs
    return (
        select(
            f.c.id,
            f.c.host,
            f.c.task,
            f.c.finding_id,
            f.c.severity,
            f.c.message,
            f.c.recommendation,
            f.c.recorded_at,
            f.c.run_id,
            r.c.occurrence_id,
        )
        .select_from(f.outerjoin(r, r.c.id == f.c.run_id))
        .order_by(f.c.id)
    )


def _finding_records(conn: Connection, run_id: int | None = None) -> list[FindingRecord]:
    query = _finding_select()
    if run_id is not None:
        query = query.where(m.findings.c.run_id == run_id)
    return [FindingRecord(**row._mapping) for row in conn.execute(query)]


def _history(conn: Connection, keys: Collection[tuple[str, str]]) -> list[FindingRecord]:
    """Every finding with one of these (host, finding id) pairs."""
    if not keys:
        return []
    hosts = sorted({host for host, _ in keys})
    ids = sorted({finding_id for _, finding_id in keys})
    query = _finding_select().where(m.findings.c.finding_id.in_(ids), m.findings.c.host.in_(hosts))
    wanted = set(keys)
    return [
        record
        for record in (FindingRecord(**row._mapping) for row in conn.execute(query))
        if record.key in wanted
    ]


def _events(conn: Connection, ids: Collection[int] | None = None) -> dict[int, list[Event]]:
    e = m.followup_events
    query = select(e).order_by(e.c.id)
    if ids is not None:
        query = query.where(e.c.followup_id.in_(sorted(ids)))
    found: dict[int, list[Event]] = defaultdict(list)
    for row in conn.execute(query):
        found[row.followup_id].append(
            Event(row.id, row.action, row.actor, row.note, row.recorded_at)
        )
    return found


def _existing(conn: Connection) -> list[Existing]:
    fu, f = m.followups, m.findings
    rows = conn.execute(
        select(fu.c.id, fu.c.status, f.c.id.label("row"), f.c.host, f.c.finding_id)
        .select_from(fu.join(f, f.c.id == fu.c.finding_id))
        .order_by(fu.c.id)
    ).all()
    events = _events(conn, [row.id for row in rows]) if rows else {}
    found = []
    for row in rows:
        state = derive(row.status, events.get(row.id, []))
        closed = state.closed_at if state.status == "closed" else None
        if state.status == "closed" and closed is None:  # created closed, never reopened
            closed = datetime.min.replace(tzinfo=UTC)
        found.append(Existing(row.id, row.host, row.finding_id, row.row, closed))
    return found


def _latest(
    conn: Connection, records: Collection[FindingRecord]
) -> dict[tuple[str, str], Observation]:
    """Per (host, task) of ``records``, its latest complete run recorded after the oldest of
    them (``core.results.complete_observation``), with the finding ids it reported there."""
    if not records:
        return {}
    t, r = m.task_results, m.runs
    wanted = {(x.host, x.task) for x in records}
    since = min(x.recorded_at for x in records)
    rows = conn.execute(
        select(t.c.run_id, t.c.host, t.c.task, t.c.status, t.c.recorded_at, r.c.run_uid, r.c.mode)
        .select_from(t.join(r, r.c.id == t.c.run_id))
        .where(
            t.c.status.in_(COMPLETE_STATUSES),
            r.c.mode.in_(OBSERVING_MODES),
            t.c.recorded_at > since,
            t.c.host.in_(sorted({h for h, _ in wanted})),
            t.c.task.in_(sorted({task for _, task in wanted})),
        )
    ).all()
    rows = [row for row in rows if (row.host, row.task) in wanted]
    run_ids = sorted({row.run_id for row in rows})
    if not run_ids:
        return {}
    b, e = m.rollbacks, m.run_events
    rolled = {
        (x.run_id, x.host, x.task)
        for x in conn.execute(select(b.c.run_id, b.c.host, b.c.task).where(b.c.run_id.in_(run_ids)))
    }
    in_flight = {
        (x.run_id, x.host)
        for x in conn.execute(
            select(e.c.run_id, e.c.host).where(
                e.c.run_id.in_(run_ids), e.c.event == IN_FLIGHT_EVENT
            )
        )
    }
    complete = [
        row
        for row in rows
        if complete_observation(
            row.status,
            row.mode,
            rolled_back=(row.run_id, row.host, row.task) in rolled,
            action="reconcile" if (row.run_id, row.host) in in_flight else None,
        )
    ]
    chosen = latest_observations(
        Observation(row.run_id, row.run_uid, row.host, row.task, row.recorded_at)
        for row in complete
    )
    if not chosen:
        return {}
    f = m.findings
    reported: dict[tuple[int, str, str], set[str]] = defaultdict(set)
    for x in conn.execute(
        select(f.c.run_id, f.c.host, f.c.task, f.c.finding_id).where(
            f.c.run_id.in_(sorted({o.run_id for o in chosen.values()}))
        )
    ):
        reported[(x.run_id, x.host, x.task)].add(x.finding_id)
    return {
        key: Observation(
            o.run_id,
            o.run_uid,
            o.host,
            o.task,
            o.at,
            frozenset(reported.get((o.run_id, o.host, o.task), ())),
        )
        for key, o in chosen.items()
    }


def _open_followups(conn: Connection, run_id: int | None) -> list[OpenFollowup]:
    """The follow-ups not closed, with their findings and when each was last reopened; with
    ``run_id``, only those for a task that run ran on their host."""
    fu, f = m.followups, m.findings
    rows = conn.execute(
        _finding_select()
        .add_columns(fu.c.id.label("followup_id"), fu.c.status.label("followup_status"))
        .join(fu, fu.c.finding_id == f.c.id)
        .order_by(None)
        .order_by(fu.c.id)
    ).all()
    if run_id is not None:
        t = m.task_results
        ran = {
            (x.host, x.task)
            for x in conn.execute(select(t.c.host, t.c.task).where(t.c.run_id == run_id))
        }
        rows = [row for row in rows if (row.host, row.task) in ran]
    events = _events(conn, [row.followup_id for row in rows]) if rows else {}
    found = []
    for row in rows:
        own = events.get(row.followup_id, [])
        if derive(row.followup_status, own).status == "closed":
            continue
        reopened = [event.at for event in own if event.action == "reopen"]
        record = FindingRecord(
            id=row.id,
            host=row.host,
            task=row.task,
            finding_id=row.finding_id,
            severity=row.severity,
            message=row.message,
            recommendation=row.recommendation,
            recorded_at=row.recorded_at,
            run_id=row.run_id,
            occurrence_id=row.occurrence_id,
        )
        found.append(OpenFollowup(row.followup_id, record, max(reopened, default=None)))
    return found


def close_resolved(log: ActionLog, run_id: int | None = None) -> list[int]:
    """Close the open follow-ups whose finding the latest complete run of its task on its host
    no longer reports (``core.followups.plan_closes``); with ``run_id``, those for a task that
    run ran on their host. Each close is a ``close`` event by ``maint`` whose note names the
    run. Idempotent, and safe with other syncs and people acting at once: checked and written
    under the write locks of both follow-up chains, in one transaction.

    Returns the ids of the follow-ups closed.
    """
    with log.engine.begin() as conn:
        lock_table(conn, "followups")  # the order every writer of both chains takes them in
        lock_table(conn, "followup_events")
        items = _open_followups(conn, run_id)
        closes = plan_closes(items, _latest(conn, [i.finding for i in items]))
        if closes:
            log.append_in(
                conn,
                "followup_events",
                [
                    {
                        "followup_id": c.followup_id,
                        "action": "close",
                        "actor": AUTO_ACTOR,
                        "note": c.note,
                    }
                    for c in closes
                ],
            )
        return [c.followup_id for c in closes]


def create_followups(
    log: ActionLog,
    rules: Rules,
    groups: Mapping[str, Collection[str]] | None = None,
    run_id: int | None = None,
) -> list[int]:
    """Open follow-ups for the findings of run ``run_id`` (all findings when None).

    Idempotent: one open follow-up per host and finding id; calling it again, or over the whole
    log, opens nothing new. A finding that the latest complete run of its task on its host,
    recorded after it, no longer reports opens nothing. ``groups`` maps hosts to their
    inventory groups (for P1 by group). Returns the ids of the follow-ups opened.
    """
    with log.engine.begin() as conn:
        # Check and append under the followups chain's write lock, in one transaction, so that
        # two runners syncing at once cannot both open the same follow-up. (ActionLog.append
        # opens its own transaction, which would leave a gap between the check and the write.)
        lock_table(conn, "followups")
        findings = _finding_records(conn, run_id)
        latest = _latest(conn, [f for f in findings if qualifies(f.severity, rules)])
        new = plan_new(findings, _existing(conn), groups or {}, rules, latest)
        rows = [
            {
                "finding_id": item.finding_row,
                "priority": item.priority,
                "title": item.title,
                "status": "open",
                "due_at": item.due_at,
                "assignee": None,
            }
            for item in new
        ]
        return log.append_in(conn, "followups", rows) if rows else []


def anything_to_open(log: ActionLog, rules: Rules, run_id: int | None) -> bool:
    """Whether :func:`create_followups` would open a follow-up (groups only set priorities)."""
    with log.engine.connect() as conn:
        findings = _finding_records(conn, run_id)
        if not findings:
            return False
        latest = _latest(conn, [f for f in findings if qualifies(f.severity, rules)])
        return bool(plan_new(findings, _existing(conn), {}, rules, latest))


def has_findings(log: ActionLog, run_id: int) -> bool:
    """Whether run ``run_id`` recorded any finding."""
    with log.engine.connect() as conn:
        return bool(_finding_records(conn, run_id))


def run_id_of(log: ActionLog, run_uid: str) -> int:
    with log.engine.connect() as conn:
        found = conn.execute(select(m.runs.c.id).where(m.runs.c.run_uid == run_uid)).scalar()
    if found is None:
        raise FollowupError(f"no run {run_uid!r} in the action log")
    return int(found)


def list_followups(
    log: ActionLog,
    rules: Rules,
    now: datetime,
    status: str = "open",
    host: str | None = None,
    ids: Collection[int] | None = None,
) -> list[Followup]:
    """Follow-ups, oldest first. ``status``: ``open`` (not closed: includes acknowledged),
    ``acknowledged``, ``closed`` or ``all``."""
    if status not in ("all", "open", "acknowledged", "closed"):
        raise FollowupError(f"unknown status {status!r} (use open, acknowledged, closed or all)")
    fu, f, r = m.followups, m.findings, m.runs
    query = (
        select(
            fu.c.id,
            fu.c.priority,
            fu.c.title,
            fu.c.status,
            fu.c.due_at,
            fu.c.assignee,
            fu.c.recorded_at,
            fu.c.finding_id.label("finding_row"),
            f.c.host,
            f.c.task,
            f.c.finding_id,
            f.c.severity,
            f.c.message,
            f.c.recommendation,
            f.c.recorded_at.label("found_at"),
            r.c.run_uid,
            r.c.window,
        )
        .select_from(fu.outerjoin(f, f.c.id == fu.c.finding_id).outerjoin(r, r.c.id == f.c.run_id))
        .order_by(fu.c.id)
    )
    if host is not None:
        query = query.where(f.c.host == host)
    if ids is not None:
        query = query.where(fu.c.id.in_(sorted(ids)))
    with log.engine.connect() as conn:
        rows = conn.execute(query).all()
        events = _events(conn, [row.id for row in rows]) if rows else {}
        keys = {(row.host, row.finding_id) for row in rows if row.host is not None}
        seen = cycles(_history(conn, keys), rules)
    result = []
    for row in rows:
        own = tuple(events.get(row.id, ()))
        state = derive(row.status, own)
        if status == "open" and state.status == "closed":
            continue
        if status not in ("all", "open") and state.status != status:
            continue
        found = tuple(seen.get((row.host, row.finding_id), ()))
        target = outcome(row.due_at, state.responded_at, now)
        left = None
        if target == "pending" or (target == "missed" and state.responded_at is None):
            left = round(working_hours_between(now, row.due_at, rules.calendar), 2)
        result.append(
            Followup(
                id=row.id,
                priority=row.priority,
                title=row.title,
                due_at=row.due_at,
                assignee=row.assignee,
                created_at=row.recorded_at,
                found_at=row.found_at,
                finding_row=row.finding_row,
                host=row.host,
                task=row.task,
                finding_id=row.finding_id,
                severity=row.severity,
                message=row.message,
                recommendation=row.recommendation,
                run_uid=row.run_uid,
                window=row.window,
                state=state,
                events=own,
                cycles=found,
                recurring=len(found) >= rules.recurring_cycles,
                target=target,
                working_hours_left=left,
            )
        )
    return result


def get_followup(log: ActionLog, rules: Rules, followup_id: int, now: datetime) -> Followup:
    found = list_followups(log, rules, now, status="all", ids=[followup_id])
    if not found:
        raise FollowupError(f"no follow-up {followup_id}")
    return found[0]


def record_action(
    log: ActionLog, followup_id: int, action: str, actor: str | None, note: str | None = None
) -> int:
    """Append an ack, note, close or reopen event; refuse one the current state does not allow.

    Returns the event id.
    """
    if action not in ACTIONS:
        raise FollowupError(f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
    if action in ("note", "close") and not (note or "").strip():
        raise FollowupError(f"{action} needs a note")
    with log.engine.begin() as conn:
        lock_table(conn, "followup_events")  # check and append with no other writer in between
        row = conn.execute(
            select(m.followups.c.status).where(m.followups.c.id == followup_id)
        ).first()
        if row is None:
            raise FollowupError(f"no follow-up {followup_id}")
        state = derive(row.status, _events(conn, [followup_id]).get(followup_id, []))
        check_action(state.status, action)
        (event_id,) = log.append_in(
            conn,
            "followup_events",
            [{"followup_id": followup_id, "action": action, "actor": actor, "note": note}],
        )
        return event_id
