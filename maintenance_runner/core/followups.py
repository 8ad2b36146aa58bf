"""Follow-ups: findings turned into tracked work with response targets in working hours.

The pure core decides which findings become follow-ups (severity at or above ``min_severity``),
their priority (P1 for hosts in the configured server/infrastructure groups and for findings
that are signs of compromise, P2 otherwise), their due time (the target in working hours from
the moment the finding was recorded, :mod:`maintenance_runner.core.workhours`), their state (derived
from the ``followups`` row and its ``followup_events``: ack, note, close, reopen), whether the
target was met, and whether a finding keeps coming back (the same finding id on the same host
in ``recurring_cycles`` or more distinct cycles: problems to fix at the root).

Follow-ups follow the latest state: the latest *complete* run of a task on a host
(:func:`~maintenance_runner.core.results.complete_observation`: ok or changed, in an apply or a
check run, not rolled back) says what is still there. A finding it no longer reports, recorded
before it, opens no follow-up, and an open follow-up for such a finding is closed by ``maint``
with a note naming that run (:func:`plan_closes`).

This module is pure. The action log's side is ``actionlog/followups.py`` (reading rows, and
opening follow-ups and recording actions under the chain's write lock); the use case that
turns a run's findings into follow-ups with maint.yml's rules is ``cycle/followups.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from maintenance_runner.core.results import SEVERITIES
from maintenance_runner.core.workhours import (
    WorkCalendar,
    add_working_hours,
    make_calendar,
)

if TYPE_CHECKING:
    from maintenance_runner.config.models import FollowupsSpec

ACTIONS = ("ack", "note", "close", "reopen")
STATUSES = ("open", "acknowledged", "closed")
TITLE_MAX = 300


class FollowupError(ValueError):
    """A follow-up that does not exist, or an action its state does not allow."""


# --- rules --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """What ``followups:`` in maint.yml says, ready to apply."""

    calendar: WorkCalendar
    min_severity: str = "medium"
    targets: Mapping[str, timedelta] = field(
        default_factory=lambda: {"P1": timedelta(hours=4), "P2": timedelta(hours=8)}
    )
    p1_groups: frozenset[str] = frozenset({"servers", "infrastructure"})
    p1_findings: tuple[str, ...] = ("access_review.uid0*", "antivirus.infected*")
    recurring_cycles: int = 3

    def __post_init__(self) -> None:
        if self.min_severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.min_severity!r}")


def calendar_from_config(spec: FollowupsSpec) -> WorkCalendar:
    hours = spec.working_hours
    public = hours.holidays
    return make_calendar(
        hours.timezone,
        days=hours.days,
        start=hours.start,
        end=hours.end,
        country=public.country if public else None,
        subdiv=public.subdiv if public else None,
        categories=public.categories if public else None,
        closed=hours.closed,
    )


def rules_from_config(spec: FollowupsSpec) -> Rules:
    return Rules(
        calendar=calendar_from_config(spec),
        min_severity=spec.min_severity,
        targets={"P1": spec.targets.P1, "P2": spec.targets.P2},
        p1_groups=frozenset(spec.p1_groups),
        p1_findings=tuple(spec.p1_findings),
        recurring_cycles=spec.recurring_cycles,
    )


def qualifies(severity: str, rules: Rules) -> bool:
    """Whether a finding of this severity becomes a follow-up (unknown severities do not)."""
    if severity not in SEVERITIES:
        return False
    return SEVERITIES.index(severity) >= SEVERITIES.index(rules.min_severity)


def priority(finding_id: str, groups: Collection[str], rules: Rules) -> tuple[str, str]:
    """(priority, why): P1 for signs of compromise and server/infrastructure hosts, else P2."""
    for pattern in rules.p1_findings:
        if fnmatchcase(finding_id, pattern):
            return "P1", f"sign of compromise ({pattern})"
    hit = sorted(rules.p1_groups.intersection(groups))
    if hit:
        return "P1", f"host in {', '.join(hit)}"
    return "P2", "other hosts"


def due_at(recorded_at: datetime, prio: str, rules: Rules) -> datetime:
    """The finding's recorded time plus the priority's target in working hours."""
    target = rules.targets[prio]
    return add_working_hours(recorded_at, target / timedelta(hours=1), rules.calendar)


# --- findings and cycles ------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingRecord:
    """A ``findings`` row with what it needs from its run."""

    id: int
    host: str
    task: str
    finding_id: str
    severity: str
    message: str
    recommendation: str | None
    recorded_at: datetime
    run_id: int | None = None
    occurrence_id: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.host, self.finding_id


def cycle_of(record: FindingRecord, rules: Rules) -> str:
    """The maintenance cycle a finding belongs to: its window occurrence, else its month."""
    if record.occurrence_id is not None:
        return f"occurrence {record.occurrence_id}"
    return f"month {record.recorded_at.astimezone(rules.calendar.zone):%Y-%m}"


def cycles(records: Iterable[FindingRecord], rules: Rules) -> dict[tuple[str, str], list[str]]:
    """Per (host, finding id), the distinct cycles it was found in, in order.

    A run of a window occurrence is one cycle; a finding from a run without an occurrence counts
    for its month, unless the same finding was already seen in an occurrence that month.
    """
    occurrence_months: dict[tuple[str, str], set[str]] = defaultdict(set)
    ordered = sorted(records, key=lambda r: r.id)
    zone = rules.calendar.zone
    for record in ordered:
        if record.occurrence_id is not None:
            occurrence_months[record.key].add(f"{record.recorded_at.astimezone(zone):%Y-%m}")
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for record in ordered:
        if record.occurrence_id is None:
            month = f"{record.recorded_at.astimezone(zone):%Y-%m}"
            if month in occurrence_months[record.key]:
                continue
        cycle = cycle_of(record, rules)
        if cycle not in found[record.key]:
            found[record.key].append(cycle)
    return dict(found)


# --- which findings open a follow-up ------------------------------------------------------------


@dataclass(frozen=True)
class Existing:
    """What creation needs to know about a follow-up already in the log."""

    id: int
    host: str
    finding_id: str
    finding_row: int
    closed_at: datetime | None  # the last close, when the follow-up is closed now


@dataclass(frozen=True)
class NewFollowup:
    finding_row: int
    host: str
    finding_id: str
    priority: str
    reason: str
    title: str
    due_at: datetime


def title_of(record: FindingRecord) -> str:
    text = f"{record.finding_id} on {record.host}: {record.message}".strip()
    return text if len(text) <= TITLE_MAX else text[: TITLE_MAX - 1] + "\u2026"


# --- the latest complete run of a task on a host --------------------------------------------


AUTO_ACTOR = "maint"  # who closes a follow-up whose finding a later complete run no longer reports


@dataclass(frozen=True)
class Observation:
    """A complete run of a task on a host (``core.results.complete_observation``): the finding
    ids it reported there, and when its result was recorded."""

    run_id: int
    run_uid: str
    host: str
    task: str
    at: datetime
    finding_ids: frozenset[str] = frozenset()

    @property
    def key(self) -> tuple[str, str]:
        return self.host, self.task


Latest = Mapping[tuple[str, str], Observation]  # (host, task) -> its latest complete run


def latest_observations(observations: Iterable[Observation]) -> dict[tuple[str, str], Observation]:
    """Per (host, task), the complete run recorded last."""
    latest: dict[tuple[str, str], Observation] = {}
    for obs in observations:
        cur = latest.get(obs.key)
        if cur is None or (obs.at, obs.run_id) > (cur.at, cur.run_id):
            latest[obs.key] = obs
    return latest


def resolved_by(
    record: FindingRecord, latest: Latest, after: datetime | None = None
) -> Observation | None:
    """The latest complete run of the finding's task on its host, when it came after the
    finding (and after ``after``) and no longer reports it; else None."""
    obs = latest.get((record.host, record.task))
    if obs is None or obs.run_id == record.run_id or obs.at <= record.recorded_at:
        return None
    if after is not None and obs.at <= after:
        return None
    return None if record.finding_id in obs.finding_ids else obs


def close_note(obs: Observation, finding_id: str) -> str:
    return f"closed: run {obs.run_uid} no longer reports {finding_id} on {obs.host}"


@dataclass(frozen=True)
class OpenFollowup:
    """A follow-up not closed, with its finding and when a person last reopened it."""

    id: int
    finding: FindingRecord
    reopened_at: datetime | None = None


@dataclass(frozen=True)
class AutoClose:
    followup_id: int
    run_uid: str
    note: str


def plan_closes(items: Iterable[OpenFollowup], latest: Latest) -> list[AutoClose]:
    """The open follow-ups to close: the latest complete run of their finding's task on its
    host came after the finding (and after the follow-up was last reopened: a person who
    reopened it saw more than the runs before) and no longer reports it."""
    closes = []
    for item in sorted(items, key=lambda i: i.id):
        obs = resolved_by(item.finding, latest, item.reopened_at)
        if obs is not None:
            closes.append(AutoClose(item.id, obs.run_uid, close_note(obs, item.finding.finding_id)))
    return closes


def plan_new(
    findings: Sequence[FindingRecord],
    existing: Sequence[Existing],
    groups: Mapping[str, Collection[str]],
    rules: Rules,
    latest: Latest | None = None,
) -> list[NewFollowup]:
    """The follow-ups to open for ``findings``: one open follow-up per host and finding id.

    A finding opens one when none exists for its host and id, or when the latest one was closed
    before the finding was recorded. A finding recorded while the follow-up was open (or one
    older than the latest follow-up's own finding) opens nothing: creating is idempotent and can
    be replayed over the whole log. Nor does a finding that the latest complete run of its task
    on its host (``latest``), recorded after it, no longer reports.
    """
    latest_followup: dict[tuple[str, str], Existing] = {}
    for item in sorted(existing, key=lambda e: e.id):
        latest_followup[(item.host, item.finding_id)] = item
    created: list[NewFollowup] = []
    for record in sorted(findings, key=lambda r: r.id):
        if not qualifies(record.severity, rules):
            continue
        if latest and resolved_by(record, latest) is not None:
            continue
        last = latest_followup.get(record.key)
        if last is not None:
            if record.id <= last.finding_row:
                continue
            if last.closed_at is None or record.recorded_at <= last.closed_at:
                continue
        prio, reason = priority(record.finding_id, groups.get(record.host, ()), rules)
        new = NewFollowup(
            finding_row=record.id,
            host=record.host,
            finding_id=record.finding_id,
            priority=prio,
            reason=reason,
            title=title_of(record),
            due_at=due_at(record.recorded_at, prio, rules),
        )
        created.append(new)
        latest_followup[record.key] = Existing(-1, record.host, record.finding_id, record.id, None)
    return created


# --- state, derived from the row and its events ------------------------------------------------


@dataclass(frozen=True)
class Event:
    id: int
    action: str
    actor: str | None
    note: str | None
    at: datetime


@dataclass(frozen=True)
class State:
    status: str  # open acknowledged closed
    acknowledged_at: datetime | None
    closed_at: datetime | None
    responded_at: datetime | None  # the first ack or close: what the target is measured on


def derive(initial: str, events: Sequence[Event]) -> State:
    """Replay the events over the row's status."""
    status = "closed" if initial in ("closed", "done", "wontfix") else "open"
    acked = closed = responded = None
    for event in sorted(events, key=lambda e: e.id):
        if event.action == "ack":
            status, acked = "acknowledged", event.at
        elif event.action == "close":
            status, closed = "closed", event.at
        elif event.action == "reopen":
            status, acked, closed = "open", None, None
        if event.action in ("ack", "close") and responded is None:
            responded = event.at
    return State(status, acked, closed, responded)


def check_action(status: str, action: str) -> None:
    """Raise FollowupError when ``action`` is not allowed in ``status``."""
    if action not in ACTIONS:
        raise FollowupError(f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
    if action == "ack" and status != "open":
        raise FollowupError(f"cannot acknowledge: the follow-up is {status}")
    if action == "close" and status == "closed":
        raise FollowupError("cannot close: the follow-up is already closed")
    if action == "reopen" and status != "closed":
        raise FollowupError(f"cannot reopen: the follow-up is {status}, not closed")


def outcome(due: datetime | None, responded_at: datetime | None, now: datetime) -> str:
    """``met`` (acknowledged or closed by the due time), ``missed``, ``pending`` or ``none``."""
    if due is None:
        return "none"
    if responded_at is not None:
        return "met" if responded_at <= due else "missed"
    return "missed" if now > due else "pending"


@dataclass(frozen=True)
class Followup:
    """A follow-up as the commands and reports show it."""

    id: int
    priority: str
    title: str
    due_at: datetime | None
    assignee: str | None
    created_at: datetime
    found_at: datetime | None  # when the finding was recorded: the response clock starts there
    finding_row: int | None
    host: str | None
    task: str | None
    finding_id: str | None
    severity: str | None
    message: str | None
    recommendation: str | None
    run_uid: str | None
    window: str | None
    state: State
    events: tuple[Event, ...]
    cycles: tuple[str, ...]
    recurring: bool
    target: str  # met missed pending none
    working_hours_left: float | None  # until due, while pending (negative when overdue)

    @property
    def status(self) -> str:
        return self.state.status

    def to_dict(self) -> dict[str, Any]:
        def when(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "priority": self.priority,
            "status": self.status,
            "title": self.title,
            "host": self.host,
            "task": self.task,
            "finding_id": self.finding_id,
            "finding_row": self.finding_row,
            "severity": self.severity,
            "message": self.message,
            "recommendation": self.recommendation,
            "run_uid": self.run_uid,
            "window": self.window,
            "assignee": self.assignee,
            "created_at": when(self.created_at),
            "found_at": when(self.found_at),
            "due_at": when(self.due_at),
            "acknowledged_at": when(self.state.acknowledged_at),
            "closed_at": when(self.state.closed_at),
            "responded_at": when(self.state.responded_at),
            "target": self.target,
            "working_hours_left": self.working_hours_left,
            "cycles": list(self.cycles),
            "recurring": self.recurring,
            "events": [
                {"id": e.id, "action": e.action, "actor": e.actor, "note": e.note, "at": when(e.at)}
                for e in self.events
            ],
        }


def target_counts(items: Iterable[Followup]) -> dict[str, int]:
    """How many follow-ups met, missed or are still within their target (for reports)."""
    counts = {"met": 0, "missed": 0, "pending": 0, "none": 0}
    for item in items:
        counts[item.target] += 1
    return counts


# --- inventory groups ------------------------------------------------------------------------


def groups_by_host(inventory: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Host -> every group it belongs to, directly or through child groups (``--list`` JSON)."""
    parents: dict[str, set[str]] = defaultdict(set)
    direct: dict[str, set[str]] = defaultdict(set)
    for group, body in inventory.items():
        if group == "_meta" or not isinstance(body, Mapping):
            continue
        for child in body.get("children") or ():
            parents[child].add(group)
        for host in body.get("hosts") or ():
            direct[host].add(group)
    result: dict[str, frozenset[str]] = {}
    for host, groups in direct.items():
        seen: set[str] = set()
        todo = list(groups)
        while todo:
            group = todo.pop()
            if group not in seen:
                seen.add(group)
                todo.extend(parents.get(group, ()))
        result[host] = frozenset(seen)
    return result
