"""Window occurrences and window status: pure functions of the config and an instant.

How an occurrence is made (docs/configuration.md has the user-facing version):

1. The schedule picks days. An RRULE is evaluated with dateutil (only the dates it yields are
   used); a cron expression with croniter, in the window's local wall-clock time.
2. ``offset`` days are added to each day, and ``start`` gives the local start time. A cron
   schedule without ``start`` keeps its own hour and minute.
3. The local start is resolved to UTC by :func:`maintenance_runner.core.clock.local_to_utc`: a
   nonexistent time moves forward to the transition, an ambiguous one is its first occurrence.
4. ``duration`` is elapsed time: the end is start + duration in UTC, whatever the clocks do.
   ``cutoff`` before the end, no new batch starts.
5. An occurrence overlapping a blackout is skipped with the reason, or with ``on_blackout: next``
   moved day by day (same local start) to the first free day before the next occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from maintenance_runner.config.models import RULE_EPOCH, MaintConfig, Window, is_rrule
from maintenance_runner.core.calendars import Blackout, all_blackouts
from maintenance_runner.core.clock import local_to_utc

MAX_MOVE_DAYS = 31
OccurrenceStatus = Literal["planned", "skipped"]


@dataclass(frozen=True)
class Slot:
    """An occurrence as the action log records it: one shape for every command that records one.

    Instants are UTC; ``local_start`` is the one spelling of its local start.
    """

    window: str
    timezone: str
    start: datetime
    end: datetime
    cutoff: datetime

    @property
    def key(self) -> str:
        return occurrence_key(self.window, self.start)

    @property
    def local_start(self) -> str:
        return local_start_text(self.start, self.timezone)


@dataclass(frozen=True)
class Occurrence:
    window: str
    timezone: str
    wall_start: datetime  # the local wall-clock time asked for (naive)
    start: datetime  # UTC
    end: datetime  # UTC
    cutoff: datetime  # UTC: no new batch starts at or after this instant
    status: OccurrenceStatus = "planned"
    reason: str | None = None
    moved_from: datetime | None = None  # UTC start of the occurrence this one replaces

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone)

    @property
    def key(self) -> str:
        return occurrence_key(self.window, self.start)

    @property
    def slot(self) -> Slot:
        return Slot(self.window, self.timezone, self.start, self.end, self.cutoff)

    @property
    def shifted(self) -> bool:
        """True when DST moved the start away from the requested wall-clock time."""
        return self.local(self.start).replace(tzinfo=None) != self.wall_start


def occurrence_key(window: str, start: datetime) -> str:
    """``monthly@2026-12-10T21:00:00Z``: an occurrence's name in plans, logs and notices."""
    return f"{window}@{start.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def local_start_text(start: datetime, timezone: str) -> str:
    """``2026-12-10T22:00``: the one spelling of an occurrence's local start."""
    return start.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M")


def rule_anchor(text: str, first: date) -> datetime:
    """Where to start evaluating the RRULE ``text`` for its days from ``first`` on.

    Rules count from ``RULE_EPOCH``, which also gives the parts a rule leaves out: the
    weekday of a WEEKLY rule without BYDAY (Saturday), the day of a MONTHLY one (the 1st), the
    day and month of a YEARLY one, the time of day. A rule with an INTERVAL above 1 or a COUNT
    counts its steps from there, one with its own DTSTART ignores the anchor, and dateutil
    loses the days of a BYWEEKNO rule that fall in the week before a later anchor: those start
    at the epoch. Any other rule has no phase, so it picks the same days from the latest
    1 January on or before ``first`` that is a Saturday too (2022, 2028, ...), and is not
    walked day by day from 2000: 9,800 steps for a daily rule in 2026, 1,800 from 2022.
    """
    tokens = re.split(r"[;:\s]+", text.upper())
    if (
        first <= RULE_EPOCH
        or any(t.startswith(("COUNT=", "DTSTART", "BYWEEKNO=")) for t in tokens)
        or any(t.startswith("INTERVAL=") and t != "INTERVAL=1" for t in tokens)
    ):
        return datetime.combine(RULE_EPOCH, datetime.min.time())
    year = first.year
    while year > RULE_EPOCH.year and (
        date(year, 1, 1) > first or date(year, 1, 1).weekday() != RULE_EPOCH.weekday()
    ):
        year -= 1
    return datetime(year, 1, 1)


def _rule_days(window: Window, first: date) -> Iterator[date]:
    """Days picked by the schedule, ascending, from ``first`` on (without offset)."""
    text = window.schedule
    if is_rrule(text):
        from dateutil.rrule import rrulestr

        rule = rrulestr(text, dtstart=rule_anchor(text, first), forceset=True)
        anchor = datetime.combine(first, datetime.min.time())
        try:
            found = rule.xafter(anchor, inc=True)
            head = next(found, None)
        except TypeError:  # DTSTART with a TZID makes the rule aware
            anchor = anchor.replace(tzinfo=window.zone)
            found = rule.xafter(anchor, inc=True)
            head = next(found, None)
        last: date | None = None
        while head is not None:
            day = head.date()
            if day != last:
                yield day
                last = day
            head = next(found, None)
    else:
        yield from (d for d, _ in _cron_times(window, first))


def _cron_times(window: Window, first: date) -> Iterator[tuple[date, datetime]]:
    from croniter import croniter

    origin = datetime.combine(first, datetime.min.time()) - timedelta(seconds=1)
    it = croniter(window.schedule, origin)
    last: date | None = None
    while True:
        wall: datetime = it.get_next(datetime)
        if window.start is not None and wall.date() == last:
            continue
        last = wall.date()
        yield wall.date(), wall


def base_wall_starts(window: Window, first: date) -> Iterator[datetime]:
    """Local wall-clock starts (naive), ascending, for rule days on or after ``first``."""
    offset = timedelta(days=window.offset)
    if window.start is None:  # cron keeps its own time of day
        for _, wall in _cron_times(window, first - offset):
            yield wall + offset
        return
    for day in _rule_days(window, first - offset):
        yield datetime.combine(day + offset, window.start)


def _make(window: Window, wall: datetime) -> Occurrence:
    start = local_to_utc(wall, window.zone)
    end = start + window.duration
    return Occurrence(
        window=window.name,
        timezone=window.timezone,
        wall_start=wall,
        start=start,
        end=end,
        cutoff=end - window.cutoff,
    )


def _reason(hits: list[Blackout]) -> str:
    return "; ".join(f"blackout {b.calendar}: {b.reason}" for b in hits)


def occurrences(
    window: Window,
    config: MaintConfig,
    since: datetime,
    count: int | None = None,
    until: datetime | None = None,
) -> Iterator[Occurrence]:
    """Occurrences of ``window`` that end after ``since`` (so an open one comes first).

    Stops after ``count`` occurrences (skipped ones included) or at the first one starting at or
    after ``until``; with neither, the iterator runs as long as the schedule does.
    """
    since = since.astimezone(UTC)
    zone = window.zone
    # Look back far enough to catch an occurrence still open at ``since``, or one moved past it.
    moves = MAX_MOVE_DAYS if window.on_blackout == "next" else 0
    reach = window.duration + timedelta(days=moves + 2 + abs(window.offset))
    first_day = (since - reach).astimezone(zone).date()
    base = base_wall_starts(window, first_day)
    found = _Blackouts(window, config)
    pending = next(base, None)
    produced = 0
    while pending is not None:
        current, pending = pending, next(base, None)
        occurrence = _make(window, current)
        if not moves and occurrence.end <= since:
            continue  # over before ``since`` and cannot move: no need to check blackouts
        occurrence = _resolve(window, found, occurrence, pending)
        if occurrence.end <= since:
            continue
        if until is not None and occurrence.start >= until:
            return
        yield occurrence
        produced += 1
        if count is not None and produced >= count:
            return


class _Blackouts:
    """The window's blackouts, fetched from the calendars a stretch at a time and reused."""

    STRETCH = timedelta(days=62)

    def __init__(self, window: Window, config: MaintConfig) -> None:
        self.window = window
        self.config = config
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.items: list[Blackout] = []

    def hits(self, occ: Occurrence) -> list[Blackout]:
        if not self.window.blackout:
            return []
        if self.first is None or self.last is None or occ.start < self.first or occ.end > self.last:
            self.first = occ.start - timedelta(days=1)
            self.last = max(occ.end, occ.start + self.STRETCH)
            self.items = all_blackouts(
                self.window.blackout,
                self.config.calendars,
                self.first,
                self.last,
                self.window.zone,
                self.config.base_dir,
            )
        return [b for b in self.items if b.overlaps(occ.start, occ.end)]


def _resolve(
    window: Window, found: _Blackouts, occ: Occurrence, next_wall: datetime | None
) -> Occurrence:
    hits = found.hits(occ)
    if not hits:
        return occ
    reason = _reason(hits)
    if window.on_blackout == "next":
        for days in range(1, MAX_MOVE_DAYS + 1):
            wall = occ.wall_start + timedelta(days=days)
            if next_wall is not None and wall >= next_wall:
                break
            candidate = _make(window, wall)
            if not found.hits(candidate):
                return replace(
                    candidate,
                    reason=f"moved from {occ.wall_start:%Y-%m-%d}: {reason}",
                    moved_from=occ.start,
                )
        reason += "; no free day to move to before the next occurrence"
    return replace(occ, status="skipped", reason=reason)


# --- status -----------------------------------------------------------------------------------

HORIZON = timedelta(days=400)  # how far ahead "next" looks for a planned occurrence
SEARCH_COUNT = 20_000  # and at most this many occurrences (frequent cron schedules)


def next_planned(window: Window, config: MaintConfig, at: datetime) -> Occurrence | None:
    """The first planned occurrence starting at or after ``at`` (within the horizon)."""
    at = at.astimezone(UTC)
    for occ in occurrences(window, config, since=at, count=SEARCH_COUNT, until=at + HORIZON):
        if occ.status == "planned" and occ.start >= at:
            return occ
    return None


WindowState = Literal["open", "cutoff", "closed"]


@dataclass(frozen=True)
class WindowStatus:
    window: str
    state: WindowState
    reason: str
    current: Occurrence | None  # the occurrence containing the instant, if any
    next: Occurrence | None  # the next planned occurrence starting after the instant


def _fmt(occ: Occurrence, instant: datetime) -> str:
    local = occ.local(instant)
    return f"{local:%Y-%m-%d %H:%M %Z} ({instant.astimezone(UTC):%Y-%m-%d %H:%MZ})"


def window_status(window: Window, config: MaintConfig, at: datetime) -> WindowStatus:
    """Is ``window`` open at ``at``, and why."""
    at = at.astimezone(UTC)
    current: Occurrence | None = None
    upcoming: Occurrence | None = None
    skipped_before: list[Occurrence] = []
    for occ in occurrences(window, config, since=at, count=SEARCH_COUNT, until=at + HORIZON):
        if occ.start <= at < occ.end and current is None:
            current = occ
            continue
        if occ.start > at:
            if occ.status == "planned":
                upcoming = occ
                break
            skipped_before.append(occ)
    nxt = (
        f"next opens {_fmt(upcoming, upcoming.start)}"
        if upcoming
        else f"no planned occurrence in the next {HORIZON.days} days"
    )
    if current is not None and current.status == "skipped":
        reason = f"occurrence of {_fmt(current, current.start)} skipped ({current.reason}); {nxt}"
        return WindowStatus(window.name, "closed", reason, current, upcoming)
    if current is not None and at >= current.cutoff:
        reason = (
            f"in the cutoff since {_fmt(current, current.cutoff)}: running batches finish, "
            f"no new batch starts; closes {_fmt(current, current.end)}"
        )
        return WindowStatus(window.name, "cutoff", reason, current, upcoming)
    if current is not None:
        reason = (
            f"opened {_fmt(current, current.start)}; new batches until "
            f"{_fmt(current, current.cutoff)}; closes {_fmt(current, current.end)}"
        )
        return WindowStatus(window.name, "open", reason, current, upcoming)
    reason = nxt
    if skipped_before:
        shown = skipped_before[:3]
        more = len(skipped_before) - len(shown)
        reason += "; skipped before it: " + ", ".join(
            f"{_fmt(o, o.start)} ({o.reason})" for o in shown
        )
        if more:
            reason += f" and {more} more"
    return WindowStatus(window.name, "closed", reason, None, upcoming)
