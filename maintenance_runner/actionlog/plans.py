"""Plans, signatures, runs and results in the action log (the store edge of plan/apply)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from maintenance_runner.actionlog import models as m
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.core.clock import parse_instant
from maintenance_runner.core.plan import Plan
from maintenance_runner.core.results import TaskResult


def record_plan(log: ActionLog, plan: Plan, occurrence_id: int | None) -> None:
    """Store a plan once (its id is unique), with its whole file."""
    with log.engine.connect() as conn:
        found = conn.execute(select(m.plans.c.id).where(m.plans.c.plan_uid == plan.id)).scalar()
    if found is not None:
        return
    log.append(
        "plans",
        [
            {
                "plan_uid": plan.id,
                "occurrence_id": occurrence_id,
                "window": plan.window,
                "content_hash": str(plan.content.revision.get("hash", "")),
                "created_by": plan.author.principal if plan.author else None,
                "summary": dict(plan.raw),
            }
        ],
    )


def load_plan(log: ActionLog, plan_uid: str) -> dict[str, Any] | None:
    """The stored plan file for an id (or an unambiguous id prefix)."""
    with log.engine.connect() as conn:
        rows = conn.execute(
            select(m.plans.c.plan_uid, m.plans.c.summary).where(
                m.plans.c.plan_uid.like(f"{plan_uid}%")
            )
        ).all()
    if len(rows) != 1:
        return None
    summary = rows[0].summary
    return dict(summary) if isinstance(summary, Mapping) else None


def record_signature(
    log: ActionLog,
    plan_uid: str,
    principal: str,
    decision: str,
    signed_at: datetime,
    signature: str,
    comment: str | None = None,
) -> int:
    stored = json.dumps({"signed_at": signed_at.isoformat(), "signature": signature})
    row = {
        "plan_uid": plan_uid,
        "approver": principal,
        "decision": decision,
        "signature": stored,
        "comment": comment,
    }
    return log.append("approvals", [row])[0]


def record_standard_approval(log: ActionLog, plan_uid: str, policy: str) -> None:
    """A standard change: pre-approved by its policy, recorded as such (no signature)."""
    log.append(
        "approvals",
        [
            {
                "plan_uid": plan_uid,
                "approver": f"policy:{policy}",
                "decision": "standard",
                "signature": None,
                "comment": f"pre-approved by the {policy} change policy",
            }
        ],
    )


def signatures(log: ActionLog, plan_uid: str) -> list[dict[str, Any]]:
    """Every recorded decision on a plan: approver, decision, signed_at, signature, comment."""
    with log.engine.connect() as conn:
        rows = conn.execute(
            select(m.approvals).where(m.approvals.c.plan_uid == plan_uid).order_by(m.approvals.c.id)
        ).all()
    found = []
    for row in rows:
        try:
            stored = json.loads(row.signature or "{}")
            signed_at = parse_instant(stored["signed_at"])
            signature = str(stored["signature"])
        except (ValueError, KeyError, TypeError):
            signed_at, signature = row.recorded_at, ""
        found.append(
            {
                "id": row.id,
                "approver": row.approver,
                "decision": row.decision,
                "signed_at": signed_at,
                "signature": signature,
                "comment": row.comment,
                "recorded_at": row.recorded_at,
            }
        )
    return found


def record_events(log: ActionLog, run_id: int, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        log.append("run_events", rows, {"run_id": run_id})


def record_results(
    log: ActionLog,
    run_id: int,
    results: Iterable[TaskResult],
    timing: Mapping[tuple[str, str], tuple[datetime, float]],
    now: datetime,
    diff_summaries: Mapping[tuple[str, str], str] | None = None,
) -> None:
    """Task results, their findings and their data/rollback records, in one go per table."""
    results = list(results)
    if not results:
        return
    rows, details, findings = [], [], []
    for r in results:
        started, seconds = timing.get((r.host, r.task), (now, 0.0))
        rows.append(
            {
                "host": r.host,
                "task": r.task,
                "status": r.status,
                "changed": r.status == "changed",
                "started_at": started,
                "duration_s": seconds,
                "message": r.error or None,
                "diff_summary": (diff_summaries or {}).get((r.host, r.task)) or None,
            }
        )
        details.append(
            {"host": r.host, "task": r.task, "data": dict(r.data), "rollback": dict(r.rollback)}
        )
        findings.extend(
            {
                "host": r.host,
                "task": r.task,
                "finding_id": f.id,
                "severity": f.severity,
                "message": f.message,
                "recommendation": f.recommendation or None,
            }
            for f in r.findings
        )
    log.add_results(run_id, rows)
    log.append("result_details", details, {"run_id": run_id})
    if findings:
        log.append("findings", findings, {"run_id": run_id})


def run_by_uid(log: ActionLog, run_uid: str) -> Mapping[str, Any] | None:
    with log.engine.connect() as conn:
        row = conn.execute(select(m.runs).where(m.runs.c.run_uid == run_uid)).first()
    return row._mapping if row is not None else None


def rollback_records(log: ActionLog, run_id: int) -> list[dict[str, Any]]:
    """(host, task, rollback) for every result of a run that recorded something to undo."""
    with log.engine.connect() as conn:
        rows = conn.execute(
            select(m.result_details)
            .where(m.result_details.c.run_id == run_id)
            .order_by(m.result_details.c.id)
        ).all()
    return [
        {"host": r.host, "task": r.task, "rollback": dict(r.rollback)}
        for r in rows
        if isinstance(r.rollback, Mapping)
        and r.rollback
        and not (isinstance(r.data, Mapping) and r.data.get("action") == "rollback")
    ]


def rolled_back(log: ActionLog, run_id: int) -> set[tuple[str, str]]:
    """(host, task) pairs of a run already rolled back successfully."""
    with log.engine.connect() as conn:
        rows = conn.execute(
            select(m.rollbacks.c.host, m.rollbacks.c.task).where(
                (m.rollbacks.c.run_id == run_id) & (m.rollbacks.c.status == "ok")
            )
        ).all()
    return {(r.host, r.task) for r in rows}


def record_rollback(
    log: ActionLog, run_id: int, host: str, task: str, status: str, message: str, data: Any
) -> None:
    row = {
        "host": host,
        "task": task,
        "status": status,
        "message": message,
        "data": data,
    }
    log.append("rollbacks", [row], {"run_id": run_id})


def run_states(log: ActionLog, run_id: int) -> list[str]:
    with log.engine.connect() as conn:
        return list(
            conn.execute(
                select(m.run_states.c.state)
                .where(m.run_states.c.run_id == run_id)
                .order_by(m.run_states.c.id)
            ).scalars()
        )


def finished_hosts(log: ActionLog, plan_uid: str) -> dict[str, str]:
    """host -> how it ended, over every apply run of a plan (``host_done`` events)."""
    r, e = m.runs, m.run_events
    with log.engine.connect() as conn:
        rows = conn.execute(
            select(e.c.host, e.c.message)
            .join(r, r.c.id == e.c.run_id)
            .where((r.c.plan_uid == plan_uid) & (r.c.mode == "apply") & (e.c.event == "host_done"))
            .order_by(e.c.id)
        ).all()
    return {str(row.host): str(row.message) for row in rows}


def apply_runs(log: ActionLog, plan_uid: str) -> list[dict[str, Any]]:
    """The apply runs of a plan with their latest state, oldest first."""
    with log.engine.connect() as conn:
        runs = conn.execute(
            select(m.runs.c.id, m.runs.c.run_uid)
            .where((m.runs.c.plan_uid == plan_uid) & (m.runs.c.mode == "apply"))
            .order_by(m.runs.c.id)
        ).all()
    found = []
    for run in runs:
        states = run_states(log, run.id)
        found.append({"id": run.id, "run_uid": run.run_uid, "state": states[-1] if states else ""})
    return found


def latest_plan(log: ActionLog, occurrence_id: int) -> dict[str, Any] | None:
    """The newest plan recorded for an occurrence."""
    with log.engine.connect() as conn:
        summary = conn.execute(
            select(m.plans.c.summary)
            .where(m.plans.c.occurrence_id == occurrence_id)
            .order_by(m.plans.c.id.desc())
            .limit(1)
        ).scalar()
    return dict(summary) if isinstance(summary, Mapping) else None


def occurrence_id_of(log: ActionLog, window: str, start: datetime) -> int | None:
    with log.engine.connect() as conn:
        found = conn.execute(
            select(m.occurrences.c.id).where(
                (m.occurrences.c.window == window) & (m.occurrences.c.start_utc == start)
            )
        ).scalar()
    return int(found) if found is not None else None


def run_list(
    log: ActionLog, window: str | None = None, limit: int | None = 50
) -> list[dict[str, Any]]:
    """Runs with their latest state and its message, newest last (``maint log runs``)."""
    r, s = m.runs, m.run_states
    latest = select(s.c.run_id, func.max(s.c.id).label("state_id")).group_by(s.c.run_id).subquery()
    query = (
        select(
            r.c.id,
            r.c.run_uid,
            r.c.window,
            r.c.mode,
            r.c.actor,
            r.c.plan_uid,
            r.c.started_at,
            s.c.state,
            s.c.message,
            s.c.recorded_at.label("state_at"),
        )
        .join(latest, latest.c.run_id == r.c.id)
        .join(s, s.c.id == latest.c.state_id)
        .order_by(r.c.id.desc())
    )
    if window:
        query = query.where(r.c.window == window)
    if limit:
        query = query.limit(limit)
    with log.engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    rows.reverse()
    return rows


def run_hosts(log: ActionLog, run_id: int, event: str) -> list[str]:
    """The hosts of a run's events of one kind (``host_start``, ``host_done``), in order."""
    e = m.run_events
    with log.engine.connect() as conn:
        rows = conn.execute(
            select(e.c.host)
            .where((e.c.run_id == run_id) & (e.c.event == event) & e.c.host.is_not(None))
            .order_by(e.c.id)
        ).scalars()
        return list(dict.fromkeys(str(h) for h in rows))
