"""What a maintenance report covers and the rows it reads (the queries are the action log's).

:func:`resolve_scope` turns the command line's choice (one run, a window's occurrence, a month)
into a :class:`~maintenance_runner.report.model.Scope`; :func:`read_rows` reads the history up to
the scope's end (``actionlog/reports.py``); :func:`build_report` does both and calls the pure
builder.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from maintenance_runner.actionlog import reports as q
from maintenance_runner.actionlog.report_rows import FollowupEventRow, LogRows, OccurrenceRow
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.core.clock import Clock, SystemClock, parse_instant
from maintenance_runner.core.followups import Event, derive
from maintenance_runner.errors import InputError
from maintenance_runner.report.build import build_report_model
from maintenance_runner.report.model import Report, Scope
from maintenance_runner.report.sections.approvals import DEFAULT_RETRO_WITHIN
from maintenance_runner.report.sections.common import month_range

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TICK = timedelta(microseconds=1)  # a scope's end is exclusive: one tick after its last instant


class ReportInputError(InputError):
    """The report's subject cannot be found or is malformed (exit 2); ``field`` names the
    option."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


# ------------------------------------------------------------------------------ scope


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
    log: ActionLog,
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
    if run_uid:
        return _run_scope(log, run_uid, now)
    if month:
        return _month_scope(log, month)
    assert window is not None
    return _window_scope(log, window, occurrence, now)


def _run_scope(log: ActionLog, run_uid: str, now: datetime) -> Scope:
    found = q.find_runs(log, run_uid)
    if not found:
        raise ReportInputError("RUN", f"no run {run_uid!r} in the action log (see maint log)")
    if len(found) > 1:
        raise ReportInputError("RUN", f"{run_uid!r} matches more than one run; give more of it")
    (run,) = found
    return Scope(
        kind="run",
        label=run.run_uid,
        start=run.started_at,
        end=q.run_ends(log, [run.id], now)[run.id] + _TICK,
        run_ids=frozenset({run.id}),
        occurrence_ids=frozenset({run.occurrence_id}) if run.occurrence_id else frozenset(),
        window=run.window,
    )


def _month_scope(log: ActionLog, month: str) -> Scope:
    match = _MONTH.match(month.strip())
    if not match:
        raise ReportInputError("--month", f"not YYYY-MM: {month!r}")
    start = datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)
    end = (start + timedelta(days=32)).replace(day=1)
    return Scope(
        "month",
        f"{start:%Y-%m}",
        start,
        end,
        q.runs_started(log, start, end),
        q.occurrences_starting(log, start, end),
    )


def _choose_occurrence(
    occs: Sequence[OccurrenceRow], window: str, occurrence: str
) -> OccurrenceRow:
    matches = [o for o in occs if _match_occurrence(o, occurrence)]
    if len(matches) == 1:
        return matches[0]
    recent = ", ".join(o.wall_start or f"{o.start_utc:%Y-%m-%dT%H:%MZ}" for o in occs[-5:])
    what = "no occurrence" if not matches else "more than one occurrence"
    raise ReportInputError(
        "--occurrence",
        f"{what} of {window!r} starts at {occurrence!r}"
        + (f" (recent: {recent})" if recent else ""),
    )


def _window_scope(log: ActionLog, window: str, occurrence: str | None, now: datetime) -> Scope:
    occs = q.window_occurrences(log, window)
    # the latest apply run decides (a plan's check run for the next occurrence is not news yet);
    # without one, the latest check run
    latest = q.latest_run(log, window, "apply") or q.latest_run(log, window, "check")
    if not occs and latest is None:
        raise ReportInputError(
            "--window", f"no run or occurrence of window {window!r} in the action log"
        )
    chosen: OccurrenceRow | None = None
    if occurrence:
        chosen = _choose_occurrence(occs, window, occurrence)
    elif latest is not None and latest.occurrence_id is not None:
        chosen = next((o for o in occs if o.id == latest.occurrence_id), None)
    elif latest is None:
        started = [o for o in occs if o.start_utc <= now]
        chosen = (started or occs)[-1]

    if chosen is None:  # the latest run has no occurrence: that run (and its plan's runs)
        assert latest is not None
        ids = q.plan_runs(log, latest)
        first = q.first_start(log, ids)
        assert first is not None
        return Scope(
            "window",
            f"{window}, run {latest.run_uid}",
            first,
            max(q.run_ends(log, ids, now).values()) + _TICK,
            ids,
            frozenset(),
            window,
        )

    ids = q.occurrence_runs(log, chosen)
    end = max([chosen.end_utc, *q.run_ends(log, ids, now).values()])
    start = chosen.start_utc
    first = q.first_start(log, ids) if ids else None
    if first is not None:
        start = min(start, first)
    local = (chosen.wall_start or f"{chosen.start_utc:%Y-%m-%dT%H:%M}").replace("T", " ")
    return Scope(
        "window",
        f"{window} {local} {chosen.timezone}",
        start,
        end + _TICK,
        ids,
        frozenset({chosen.id}),
        window,
    )


# ------------------------------------------------------------------------------ rows


def history_start(scope: Scope, history_months: int) -> datetime:
    """The first instant read: ``history_months`` calendar months up to the scope's end, or the
    scope's start when earlier."""
    last_month = f"{scope.end - _TICK:%Y-%m}"
    year, mon = int(last_month[:4]), int(last_month[5:])
    total = year * 12 + mon - 1 - (history_months - 1)
    since = datetime(total // 12, total % 12 + 1, 1, tzinfo=UTC)
    return min(since, scope.start)


def read_rows(log: ActionLog, scope: Scope, history_months: int = 12) -> LogRows:
    """The runs of the history range (``history_months`` calendar months up to the scope's end,
    and every run of the scope), with their results, findings, data, rollbacks and events; the
    plans, approvals, occurrences and follow-ups (with their responses) that go with them."""
    since = history_start(scope, history_months)
    rows = q.read_rows(
        log,
        since=since,
        until=scope.end,
        run_ids=scope.run_ids,
        occurrence_ids=scope.occurrence_ids,
    )
    if not rows.followups:
        return rows
    responses = _responses(q.followup_events(log, [f.id for f in rows.followups]))
    followups = [
        dataclasses.replace(
            f,
            first_response_at=responses.get(f.id, (None, None))[0],
            closed_at=responses.get(f.id, (None, None))[1],
        )
        for f in rows.followups
    ]
    return dataclasses.replace(rows, followups=followups)


def _responses(
    events: dict[int, list[FollowupEventRow]],
) -> dict[int, tuple[datetime | None, datetime | None]]:
    """followup id -> (first ack or close, closed at), replayed from ``followup_events`` with
    the rule the ``maint followups`` commands show (``core.followups.derive``)."""
    found = {}
    for fid, rows in events.items():
        state = derive(
            "open", [Event(r.id, r.action, r.actor, r.note, r.recorded_at) for r in rows]
        )
        found[fid] = (state.responded_at, state.closed_at)
    return found


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
        log,
        run_uid=run_uid,
        window=window,
        occurrence=occurrence,
        month=month,
        clock=clock,
    )
    rows = read_rows(log, scope, history_months)
    return build_report_model(
        rows,
        scope,
        clock.now(),
        history_months=history_months,
        retro_within=retro_within,
        log_heads={name: f"{last}:{digest[:16]}" for name, (last, digest) in log.heads().items()},
    )


__all__ = [
    "ReportInputError",
    "build_report",
    "check_subject",
    "month_range",
    "read_rows",
    "resolve_scope",
]
