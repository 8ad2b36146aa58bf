"""Blackout calendars turned into UTC intervals."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from maintenance_runner.config.load import validate_config
from maintenance_runner.config.models import CalendarSpec
from maintenance_runner.core.calendars import blackouts
from maintenance_runner.core.schedule import occurrences

ROOT = Path(__file__).resolve().parents[2]
MADRID = ZoneInfo("Europe/Madrid")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def spec(**kwargs):
    return CalendarSpec.model_validate(kwargs)


def test_holiday_blacks_out_the_whole_local_day():
    found = blackouts(
        "madrid",
        spec(holidays={"country": "ES", "subdiv": "MD"}),
        utc(2026, 5, 2),
        utc(2026, 5, 3),
        MADRID,
    )
    assert [(b.start, b.end, b.reason) for b in found] == [
        (utc(2026, 5, 1, 22), utc(2026, 5, 2, 22), "Madrid Day (2026-05-02)")
    ]
    # Labor Day (1 May) ends at 22:00Z: a range across that instant meets both days
    both = blackouts(
        "madrid",
        spec(holidays={"country": "ES", "subdiv": "MD"}),
        utc(2026, 5, 1, 21, 59),
        utc(2026, 5, 1, 22, 1),
        MADRID,
    )
    assert [b.reason for b in both] == ["Labor Day (2026-05-01)", "Madrid Day (2026-05-02)"]


def test_regional_holiday_only_with_the_subdivision():
    national = blackouts(
        "es", spec(holidays={"country": "ES"}), utc(2026, 5, 2, 8), utc(2026, 5, 2, 9), MADRID
    )
    assert national == []


def test_calendar_zone_overrides_the_window_zone():
    nz = spec(holidays={"country": "NZ"}, timezone="Pacific/Auckland")
    (waitangi,) = blackouts("nz", nz, utc(2026, 2, 5), utc(2026, 2, 7), MADRID)
    assert waitangi.start == utc(2026, 2, 5, 11)  # 2026-02-06 00:00 NZDT (+13)
    assert waitangi.end == utc(2026, 2, 6, 11)
    assert "Waitangi Day" in waitangi.reason


def test_date_ranges_are_inclusive_local_days_and_datetimes_are_instants():
    august = spec(ranges=[["2026-08-01", "2026-08-31"]])
    (b,) = blackouts("august", august, utc(2026, 7, 1), utc(2026, 10, 1), MADRID)
    assert (b.start, b.end) == (utc(2026, 7, 31, 22), utc(2026, 8, 31, 22))
    for mixed in (["2026-12-24", "2026-12-26T08:00"], ["2026-12-24T18:00", "2026-12-26T08:00Z"]):
        with pytest.raises(ValueError, match="mixes"):
            CalendarSpec.model_validate({"ranges": [mixed]})
    evening = spec(ranges=[["2026-12-24T18:00", "2026-12-26T08:00"]])
    (e,) = blackouts("xmas", evening, utc(2026, 12, 1), utc(2027, 1, 1), MADRID)
    assert (e.start, e.end) == (utc(2026, 12, 24, 17), utc(2026, 12, 26, 7))


def test_ics_all_day_recurring_and_timed_events(tmp_path):
    shutil.copy(ROOT / "examples" / "calendars" / "freeze.ics", tmp_path / "freeze.ics")
    freeze = spec(ics="freeze.ics")
    found = blackouts("freeze", freeze, utc(2027, 12, 1), utc(2028, 1, 31), MADRID, tmp_path)
    yearly = [b for b in found if "Year-end" in b.reason]
    assert [(b.start, b.end) for b in yearly] == [(utc(2027, 12, 14, 23), utc(2028, 1, 6, 23))]
    quarter = [b for b in found if "Quarter close" in b.reason]
    assert [(b.start, b.end) for b in quarter] == [(utc(2027, 12, 31, 17), utc(2028, 1, 1, 11))]


def test_a_window_skips_occurrences_in_an_ics_freeze(tmp_path):
    shutil.copy(ROOT / "examples" / "calendars" / "freeze.ics", tmp_path / "freeze.ics")
    raw = {
        "calendars": {"freeze": {"ics": "freeze.ics"}},
        "windows": [
            {
                "name": "weekly",
                "schedule": "0 22 * * 4",
                "timezone": "Europe/Madrid",
                "duration": "2h",
                "tasks": ["patching"],
                "blackout": ["freeze"],
            }
        ],
    }
    config = validate_config(raw, "maint.yml", base_dir=tmp_path)
    found = list(occurrences(config.windows[0], config, since=utc(2026, 12, 1), count=7))
    states = [(o.local(o.start).strftime("%m-%d"), o.status) for o in found]
    assert states == [
        ("12-03", "planned"),
        ("12-10", "planned"),
        ("12-17", "skipped"),
        ("12-24", "skipped"),
        ("12-31", "skipped"),
        ("01-07", "planned"),  # the freeze ends at the start of 7 January
        ("01-14", "planned"),
    ]
    assert found[2].reason == "blackout freeze: Year-end change freeze (2026-12-15)"


def test_broken_ics_is_a_config_error(tmp_path):
    (tmp_path / "bad.ics").write_text("BEGIN:VCALENDAR\nthis is not ics\n")
    from maintenance_runner.config.load import ConfigError

    with pytest.raises(ConfigError) as info:
        validate_config({"calendars": {"bad": {"ics": "bad.ics"}}}, "maint.yml", tmp_path)
    assert info.value.format().startswith("maint.yml: calendars[bad].ics: cannot parse ICS file")
