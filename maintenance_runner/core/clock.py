"""Clocks and local time.

Time-dependent code takes a clock, so tests and ``--at`` previews run at any instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

ZoneInfoLike = tzinfo
_RESOLUTION = timedelta(seconds=1)


class Clock(Protocol):
    """Something that tells the current instant as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class FixedClock:
    """A clock stopped at one instant (naive datetimes are taken as UTC)."""

    instant: datetime

    def now(self) -> datetime:
        if self.instant.tzinfo is None:
            return self.instant.replace(tzinfo=UTC)
        return self.instant.astimezone(UTC)


def parse_instant(text: str, default_tz: str | None = None) -> datetime:
    """Parse an ISO 8601 instant such as ``2026-11-10T22:30`` or ``2026-11-10T21:30Z``.

    A value without an offset is read in ``default_tz`` (an IANA name) or UTC when none is given.
    """
    from zoneinfo import ZoneInfo

    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(default_tz) if default_tz else UTC)
    return value.astimezone(UTC)


def local_to_utc(naive: datetime, zone: ZoneInfoLike) -> datetime:
    """Resolve a local wall-clock time to a UTC instant, with a fixed rule for DST edges.

    - An ambiguous time (the repeated hour when clocks go back) is its first occurrence (fold=0).
    - A nonexistent time (inside the gap when clocks go forward) moves forward to the first valid
      instant, the moment of the transition (02:30 on Europe/Madrid's spring-forward day -> 03:00).
    """
    first = naive.replace(tzinfo=zone, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    # Nonexistent: fold=1 reads it with the offset after the transition (the earlier instant),
    # fold=0 with the offset before (the later one). The transition lies between: bisect it.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = instant
    if low > high:
        low, high = high, low
    after = high.astimezone(zone).utcoffset()
    while high - low > _RESOLUTION:
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0) if high.microsecond else high
