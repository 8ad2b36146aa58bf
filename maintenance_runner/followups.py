"""Follow-ups: findings turned into tracked work with response targets in working hours.

The pure core decides which findings become follow-ups (severity at or above ``min_severity``),
their priority (P1 for hosts in the configured server/infrastructure groups and for findings
that are signs of compromise, P2 otherwise), their due time (the target in working hours from
the moment the finding was recorded, :mod:`maintenance_runner.workhours`), their state (derived
from the ``followups`` row and its ``followup_events``: ack, note, close, reopen), whether the
target was met, and whether a finding keeps coming back (the same finding id on the same host
in ``recurring_cycles`` or more distinct cycles: problems to fix at the root).

The adapters at the bottom read the action log with SQLAlchemy Core and write with the store's
chained appends. Creating follow-ups and recording actions check and append inside one
transaction that holds the chain's write lock, so two runners syncing at once never open the
same follow-up twice and two people closing at once do not both succeed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, select

from .actionlog import models as m
from .results import SEVERITIES
from .workhours import WorkCalendar, add_working_hours, make_calendar, working_hours_between

if TYPE_CHECKING:
    from .actionlog import ActionLog
    from .config import FollowupsSpec, MaintConfig

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


def plan_new(
    findings: Sequence[FindingRecord],
    existing: Sequence[Existing],
    groups: Mapping[str, Collection[str]],
    rules: Rules,
) -> list[NewFollowup]:
    """The follow-ups to open for ``findings``: one open follow-up per host and finding id.

    A finding opens one when none exists for its host and id, or when the latest one was closed
    before the finding was recorded. A finding recorded while the follow-up was open (or one
    older than the latest follow-up's own finding) opens nothing: creating is idempotent and can
    be replayed over the whole log.
    """
    latest: dict[tuple[str, str], Existing] = {}
    for item in sorted(existing, key=lambda e: e.id):
        latest[(item.host, item.finding_id)] = item
    created: list[NewFollowup] = []
    for record in sorted(findings, key=lambda r: r.id):
        if not qualifies(record.severity, rules):
            continue
        last = latest.get(record.key)
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
        latest[record.key] = Existing(-1, record.host, record.finding_id, record.id, None)
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


# --- inventory groups (I/O edge) ----------------------------------------------------------------


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


def inventory_groups(inventory: str | Path) -> dict[str, frozenset[str]]:
    """Read an Ansible inventory (file or directory) with ``ansible-inventory --list``."""
    from .collection import ansible_env

    beside = Path(sys.executable).parent / "ansible-inventory"
    program = str(beside) if beside.is_file() else shutil.which("ansible-inventory")
    if program is None:
        raise FollowupError("ansible-inventory is not installed (pip install ansible)")
    if not Path(inventory).exists():
        raise FollowupError(f"inventory {inventory}: no such file or directory")
    done = subprocess.run(
        [program, "-i", str(inventory), "--list"],
        capture_output=True,
        text=True,
        env={**os.environ, **ansible_env(), "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True"},
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise FollowupError(f"inventory {inventory}: ansible-inventory failed: {tail}")
    return groups_by_host(json.loads(done.stdout))


# --- action log adapters ------------------------------------------------------------------------


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


def create_followups(
    log: ActionLog,
    rules: Rules,
    groups: Mapping[str, Collection[str]] | None = None,
    run_id: int | None = None,
) -> list[int]:
    """Open follow-ups for the findings of run ``run_id`` (all findings when None).

    Idempotent: one open follow-up per host and finding id; calling it again, or over the whole
    log, opens nothing new. ``groups`` maps hosts to their inventory groups (for P1 by group).
    Returns the ids of the follow-ups opened.
    """
    from .actionlog.store import _lock

    with log.engine.begin() as conn:
        # Check and append under the followups chain's write lock, in one transaction, so that
        # two runners syncing at once cannot both open the same follow-up. (ActionLog.append
        # opens its own transaction, which would leave a gap between the check and the write.)
        _lock(conn, "followups")
        findings = _finding_records(conn, run_id)
        new = plan_new(findings, _existing(conn), groups or {}, rules)
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
        return log._append(conn, "followups", rows) if rows else []


def create_from_config(
    log: ActionLog,
    config: MaintConfig,
    run_id: int | None = None,
    groups: Mapping[str, Collection[str]] | None = None,
) -> list[int]:
    """:func:`create_followups` with maint.yml's rules and its inventory's groups.

    Without ``groups``, the inventory named in maint.yml is read (when there is one,
    ``p1_groups`` is not empty and there is a follow-up to open: ``ansible-inventory`` takes
    about a second, which a run without new findings should not pay). A run without findings
    returns at once: the working-hours calendar loads the holidays package (about 0.25 s).
    """
    if run_id is not None:
        with log.engine.connect() as conn:
            if not _finding_records(conn, run_id):
                return []
    rules = rules_from_config(config.followups)
    if groups is None:
        groups = {}
        if config.inventory and rules.p1_groups and _anything_to_open(log, rules, run_id):
            groups = inventory_groups(config.resolve(config.inventory))
    return create_followups(log, rules, groups, run_id)


def _anything_to_open(log: ActionLog, rules: Rules, run_id: int | None) -> bool:
    """Whether :func:`create_followups` would open a follow-up (groups only set priorities)."""
    with log.engine.connect() as conn:
        findings = _finding_records(conn, run_id)
        return bool(findings) and bool(plan_new(findings, _existing(conn), {}, rules))


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
    from .actionlog.store import _lock

    if action not in ACTIONS:
        raise FollowupError(f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
    if action in ("note", "close") and not (note or "").strip():
        raise FollowupError(f"{action} needs a note")
    with log.engine.begin() as conn:
        _lock(conn, "followup_events")  # check and append with no other writer in between
        row = conn.execute(
            select(m.followups.c.status).where(m.followups.c.id == followup_id)
        ).first()
        if row is None:
            raise FollowupError(f"no follow-up {followup_id}")
        state = derive(row.status, _events(conn, [followup_id]).get(followup_id, []))
        check_action(state.status, action)
        (event_id,) = log._append(
            conn,
            "followup_events",
            [{"followup_id": followup_id, "action": action, "actor": actor, "note": note}],
        )
        return event_id
