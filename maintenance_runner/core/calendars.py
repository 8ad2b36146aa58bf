"""Blackout calendars: public holidays, ICS files and explicit ranges, as UTC intervals.

The calendar maths belongs to the libraries (holidays, icalendar with recurring-ical-events);
this module only turns what they return into ``Blackout`` intervals in UTC. A date (a holiday,
an all-day event, a date range) blacks out whole local days in the calendar's zone, or in the
zone of the window that asks when the calendar has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from maintenance_runner.config.models import CalendarSpec
from maintenance_runner.core.clock import local_to_utc


@dataclass(frozen=True, order=True)
class Blackout:
    """A half-open UTC interval [start, end) during which no window may run."""

    start: datetime
    end: datetime
    calendar: str
    reason: str

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end


def load_ics(path: Path) -> Any:
    """Parse an ICS file, raising ValueError (or OSError) with a readable message."""
    import icalendar

    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ValueError(f"no such ICS file: {path}") from None
    try:
        return icalendar.Calendar.from_ical(data)
    except Exception as exc:  # icalendar raises ValueError and friends
        raise ValueError(f"cannot parse ICS file {path}: {exc}") from None


@lru_cache(maxsize=64)
def _cached_ics(path: str, mtime: float) -> Any:
    return load_ics(Path(path))


@lru_cache(maxsize=64)
def _holidays(country: str, subdiv: str | None, categories: tuple[str, ...], year: int) -> Any:
    import holidays

    kwargs: dict[str, Any] = {"subdiv": subdiv, "years": year}
    if categories:
        kwargs["categories"] = categories
    return holidays.country_holidays(country, **kwargs)


def _day_span(first: date, last_inclusive: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = local_to_utc(datetime.combine(first, datetime.min.time()), zone)
    after = last_inclusive + timedelta(days=1)
    end = local_to_utc(datetime.combine(after, datetime.min.time()), zone)
    return start, end


def _instant(value: datetime, zone: ZoneInfo) -> datetime:
    if value.tzinfo is None:
        return local_to_utc(value, zone)
    return value.astimezone(UTC)


def blackouts(
    name: str,
    spec: CalendarSpec,
    start: datetime,
    end: datetime,
    window_zone: ZoneInfo,
    base_dir: Path = Path("."),
) -> list[Blackout]:
    """The blackout intervals of one calendar that overlap [start, end) (aware UTC datetimes)."""
    zone = ZoneInfo(spec.timezone) if spec.timezone else window_zone
    # Widen the local search by two days so that zone offsets never clip an interval.
    local_first = start.astimezone(zone).date() - timedelta(days=2)
    local_last = end.astimezone(zone).date() + timedelta(days=2)
    found: list[Blackout] = []
    if spec.holidays is not None:
        h = spec.holidays
        for year in range(local_first.year, local_last.year + 1):
            days = _holidays(h.country, h.subdiv, tuple(h.categories or ()), year)
            for day, title in days.items():
                if local_first <= day <= local_last:
                    lo, hi = _day_span(day, day, zone)
                    found.append(Blackout(lo, hi, name, f"{title} ({day.isoformat()})"))
    elif spec.ranges is not None:
        for first, last in spec.ranges:
            if isinstance(first, datetime) and isinstance(last, datetime):
                lo, hi = _instant(first, zone), _instant(last, zone)
                label = f"{first.isoformat()} to {last.isoformat()}"
            else:
                lo, hi = _day_span(first, last, zone)
                label = f"{first.isoformat()} to {last.isoformat()}"
            found.append(Blackout(lo, hi, name, f"range {label}"))
    elif spec.ics is not None:
        found.extend(_ics_blackouts(name, spec.ics, base_dir, zone, local_first, local_last))
    return sorted(b for b in found if b.overlaps(start, end))


def _ics_blackouts(
    name: str, ics: str, base_dir: Path, zone: ZoneInfo, first: date, last: date
) -> Iterable[Blackout]:
    import recurring_ical_events

    path = Path(ics) if Path(ics).is_absolute() else base_dir / ics
    calendar = _cached_ics(str(path), path.stat().st_mtime)
    events = recurring_ical_events.of(calendar).between(first, last + timedelta(days=1))
    for event in events:
        dtstart = event["DTSTART"].dt
        dtend = event["DTEND"].dt if "DTEND" in event else None
        summary = str(event.get("SUMMARY", "ICS event"))
        if isinstance(dtstart, datetime):
            lo = _instant(dtstart, zone)
            if isinstance(dtend, datetime):
                hi = _instant(dtend, zone)
            elif "DURATION" in event:
                hi = lo + event["DURATION"].dt
            else:
                hi = lo
            label = dtstart.isoformat()
        else:
            last_day = (dtend - timedelta(days=1)) if isinstance(dtend, date) else dtstart
            lo, hi = _day_span(dtstart, max(last_day, dtstart), zone)
            label = dtstart.isoformat()
        yield Blackout(lo, hi, name, f"{summary} ({label})")


def all_blackouts(
    names: Iterable[str],
    specs: dict[str, CalendarSpec],
    start: datetime,
    end: datetime,
    window_zone: ZoneInfo,
    base_dir: Path = Path("."),
) -> list[Blackout]:
    """The union (as a sorted list) of the named calendars' blackouts overlapping [start, end)."""
    found: list[Blackout] = []
    for name in names:
        found.extend(blackouts(name, specs[name], start, end, window_zone, base_dir))
    return sorted(found)
