"""Working hours: when a response target of "4 working hours" falls due (pure: no I/O).

A :class:`WorkCalendar` says which weekdays are working days (dateutil weekdays), the local
working hours of each such day, the time zone they are read in, the public holidays (the
``holidays`` package) and extra closed dates. Local times are resolved to instants with the
project's DST rules (:func:`maintenance_runner.core.clock.local_to_utc`): a nonexistent opening time
moves to the moment clocks change, an ambiguous one is its first occurrence; an ambiguous
closing time is its *last* occurrence, so a working day always includes the repeated hour.
All arithmetic is done on UTC instants, so hours are real elapsed hours: a 00:00-06:00 working
day lasts 5 hours on the spring-forward day and 7 on the fall-back day.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import tz
from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, rrule, weekday, weekdays

from maintenance_runner.config.models import parse_days
from maintenance_runner.core.clock import local_to_utc

MIDNIGHT = time(0)
# More closed days than this in a row means the calendar has no working time at all.
MAX_CLOSED_DAYS = 3700


@dataclass(frozen=True)
class WorkCalendar:
    """Working days and hours in one time zone.

    ``end`` of 00:00 means midnight at the end of the day (24:00): ``start=00:00, end=00:00`` is
    round-the-clock service. Otherwise ``end`` must be after ``start`` (no overnight shifts).
    """

    zone: ZoneInfo
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    start: time = time(9)
    end: time = time(17)
    holidays: Any = field(default=None, compare=False)  # a holidays.HolidayBase, or None
    closed: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.days or any(d not in range(7) for d in self.days):
            raise ValueError(f"working days must be weekday numbers 0-6, got {self.days!r}")
        if self.end != MIDNIGHT and self.end <= self.start:
            raise ValueError(
                f"working hours {self.start:%H:%M}-{self.end:%H:%M}: the end must be after the "
                "start (use 24:00 for midnight)"
            )

    def is_closed(self, day: date) -> bool:
        """A working weekday that is a public holiday or an extra closed date."""
        return day in self.closed or (self.holidays is not None and day in self.holidays)

    def closed_reason(self, day: date) -> str | None:
        if day in self.closed:
            return "closed"
        if self.holidays is not None and day in self.holidays:
            return str(self.holidays.get(day))
        return None


def make_calendar(
    timezone: str,
    days: str | Iterable[str] = "mon-fri",
    start: time = time(9),
    end: time = time(17),
    country: str | None = None,
    subdiv: str | None = None,
    categories: Collection[str] | None = None,
    closed: Iterable[date] = (),
) -> WorkCalendar:
    """Build a calendar; public holidays of ``country``/``subdiv`` from the holidays package."""
    import holidays as holidays_lib

    public = None
    if country:
        kwargs: dict[str, Any] = {"subdiv": subdiv}
        if categories:
            kwargs["categories"] = tuple(categories)
        public = holidays_lib.country_holidays(country, **kwargs)
    return WorkCalendar(
        zone=ZoneInfo(timezone),
        days=parse_days(days),
        start=start,
        end=end,
        holidays=public,
        closed=frozenset(closed),
    )


def _closing(naive: datetime, zone: ZoneInfo) -> datetime:
    """A closing wall time as an instant: an ambiguous one is its later occurrence; a
    nonexistent one (in the spring-forward gap) is the moment the clocks change."""
    local = naive.replace(tzinfo=zone)
    if tz.datetime_exists(local) and tz.datetime_ambiguous(local):
        return local.replace(fold=1).astimezone(UTC)
    return local_to_utc(naive, zone)


def day_interval(day: date, cal: WorkCalendar) -> tuple[datetime, datetime]:
    """The working hours of ``day`` (whatever its weekday) as a UTC [start, end) pair."""
    opening = local_to_utc(datetime.combine(day, cal.start), cal.zone)
    if cal.end == MIDNIGHT:
        closing = local_to_utc(datetime.combine(day + relativedelta(days=1), MIDNIGHT), cal.zone)
    else:
        closing = _closing(datetime.combine(day, cal.end), cal.zone)
    return opening, closing


def working_days(first: date, cal: WorkCalendar) -> Iterator[date]:
    """Working days from ``first`` on (weekdays by dateutil's rrule, minus closed days)."""
    by_weekday: list[weekday] = [weekdays[d] for d in cal.days]
    closed_in_a_row = 0
    for moment in rrule(DAILY, dtstart=datetime.combine(first, MIDNIGHT), byweekday=by_weekday):
        day = moment.date()
        if cal.is_closed(day):
            closed_in_a_row += 1
            if closed_in_a_row > MAX_CLOSED_DAYS:
                raise ValueError(f"the working calendar has no working day after {first}")
            continue
        closed_in_a_row = 0
        yield day


def intervals(since: datetime, cal: WorkCalendar) -> Iterator[tuple[datetime, datetime]]:
    """UTC working intervals that end after ``since``, in order, the first clipped to it."""
    instant = _aware(since, "since").astimezone(UTC)
    for day in working_days(instant.astimezone(cal.zone).date(), cal):
        opening, closing = day_interval(day, cal)
        if closing <= instant:
            continue
        yield max(opening, instant), closing


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}: naive datetime {value!r}, give an aware one")
    return value


def add_working_hours(start: datetime, hours: float, cal: WorkCalendar) -> datetime:
    """The instant ``hours`` working hours after ``start`` (aware), as an aware UTC datetime.

    Time outside working hours does not count: a start on a Friday evening counts from Monday's
    opening. A target that ends exactly at closing time is due at closing time, not at the next
    opening. ``hours=0`` gives the first working instant at or after ``start``.
    """
    if hours < 0:
        raise ValueError(f"hours must not be negative, got {hours}")
    remaining = timedelta(hours=hours)
    for opening, closing in intervals(start, cal):
        available = closing - opening
        if remaining <= available:
            return opening + remaining
        remaining -= available
    raise AssertionError("unreachable: intervals() is endless or raises")  # pragma: no cover


def working_hours_between(a: datetime, b: datetime, cal: WorkCalendar) -> float:
    """Working hours from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
    a_utc = _aware(a, "a").astimezone(UTC)
    b_utc = _aware(b, "b").astimezone(UTC)
    if b_utc < a_utc:
        return -working_hours_between(b_utc, a_utc, cal)
    total = timedelta(0)
    for opening, closing in intervals(a_utc, cal):
        if opening >= b_utc:
            break
        total += min(closing, b_utc) - opening
    return total / timedelta(hours=1)


def is_working_time(instant: datetime, cal: WorkCalendar) -> bool:
    """Whether ``instant`` lies inside working hours."""
    utc = _aware(instant, "instant").astimezone(UTC)
    opening, closing = next(intervals(utc, cal))
    return opening <= utc < closing
