"""What a maintenance report reads from the action log: plain rows, no SQL (see reports.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEFERRED_EVENT = "deferred"
UNREACHABLE_EVENT = "runner_on_unreachable"
# how a run ended for a host it rolled back (the run's summary counts these hosts)
ROLLBACK_EVENTS = ("rolled_back", "rollback_failed")
# a killed run's host in flight, found by the reconcile: its results there are not finished
IN_FLIGHT_EVENT = "reconciled"
# the run_events a report reads
REPORTED_EVENTS = (DEFERRED_EVENT, UNREACHABLE_EVENT, *ROLLBACK_EVENTS, IN_FLIGHT_EVENT)


@dataclass(frozen=True)
class RunRow:
    id: int
    run_uid: str
    mode: str
    started_at: datetime
    window: str | None = None
    plan_uid: str | None = None
    occurrence_id: int | None = None
    actor: str | None = None
    state: str = "running"  # the last run_states row
    state_message: str | None = None
    ended_at: datetime | None = None  # when the last state was recorded, unless running


@dataclass(frozen=True)
class ResultRow:
    run_id: int
    host: str
    task: str
    status: str
    started_at: datetime
    changed: bool = False
    duration_s: float = 0.0
    message: str | None = None
    diff_summary: str | None = None


@dataclass(frozen=True)
class FindingRow:
    run_id: int | None
    host: str
    task: str
    finding_id: str
    severity: str
    message: str
    recommendation: str | None = None
    id: int = 0  # the findings row id (follow-ups point at it)


@dataclass(frozen=True)
class DetailRow:
    run_id: int
    host: str
    task: str
    data: Mapping[str, Any] = field(default_factory=dict)
    rollback: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RollbackRow:
    run_id: int | None
    host: str
    task: str
    status: str
    recorded_at: datetime
    message: str | None = None


@dataclass(frozen=True)
class PlanRow:
    plan_uid: str
    created_at: datetime
    window: str | None = None
    occurrence_id: int | None = None
    content_hash: str = ""
    created_by: str | None = None
    summary: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ApprovalRow:
    plan_uid: str
    approver: str
    decision: str
    at: datetime  # when it was signed (else recorded)
    comment: str | None = None


@dataclass(frozen=True)
class OccurrenceRow:
    id: int
    window: str
    start_utc: datetime
    end_utc: datetime
    timezone: str = "UTC"
    wall_start: str = ""
    state: str = "planned"  # the last occurrence_states row
    reason: str | None = None


@dataclass(frozen=True)
class EventRow:
    run_id: int
    event: str
    recorded_at: datetime
    host: str | None = None
    task: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class FollowupRow:
    id: int
    priority: str
    title: str
    created_at: datetime
    finding_row_id: int | None = None
    status: str = "open"
    due_at: datetime | None = None
    first_response_at: datetime | None = None  # first ack or close
    closed_at: datetime | None = None


@dataclass(frozen=True)
class FollowupEventRow:
    id: int
    followup_id: int
    action: str  # ack note close reopen
    actor: str | None
    note: str | None
    recorded_at: datetime


@dataclass(frozen=True)
class SightingRow:
    """A first sighting (``sightings``): a CVE open on a host, or its fix."""

    kind: str
    host: str
    subject: str
    recorded_at: datetime
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LogRows:
    """Everything the report reads, for the history range (trends) up to the scope's end."""

    runs: Sequence[RunRow] = ()
    results: Sequence[ResultRow] = ()
    findings: Sequence[FindingRow] = ()
    details: Sequence[DetailRow] = ()
    rollbacks: Sequence[RollbackRow] = ()
    plans: Sequence[PlanRow] = ()
    approvals: Sequence[ApprovalRow] = ()
    occurrences: Sequence[OccurrenceRow] = ()
    events: Sequence[EventRow] = ()
    followups: Sequence[FollowupRow] = ()
    sightings: Sequence[SightingRow] = ()  # CVEs and their fixes, up to the range's end
