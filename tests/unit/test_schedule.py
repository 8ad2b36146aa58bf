"""Occurrences and status: pure functions of the config and an instant (no I/O, no real clock)."""

from __future__ import annotations

import calendar as stdcal
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import click
import pytest
from click.testing import CliRunner

from maintenance_runner.cli.windows import windows_group
from maintenance_runner.config.load import validate_config
from maintenance_runner.core.clock import FixedClock, local_to_utc, parse_instant
from maintenance_runner.core.schedule import occurrences, window_status

MADRID = ZoneInfo("Europe/Madrid")
AUCKLAND = ZoneInfo("Pacific/Auckland")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def make(window=None, calendars=None):
    spec = {
        "name": "w",
        "schedule": "RRULE:FREQ=DAILY",
        "start": "22:00",
        "timezone": "Europe/Madrid",
        "duration": "4h",
        "tasks": ["patching"],
    }
    spec.update(window or {})
    config = validate_config({"calendars": calendars or {}, "windows": [spec]}, "maint.yml")
    return config, config.windows[0]


def occ_list(window_spec, since, count, calendars=None):
    config, window = make(window_spec, calendars)
    return list(occurrences(window, config, since=since, count=count))


def second_tuesday(year, month):
    tuesdays = [
        week[stdcal.TUESDAY] for week in stdcal.monthcalendar(year, month) if week[stdcal.TUESDAY]
    ]
    return date(year, month, tuesdays[1])


def test_monthly_second_tuesday_plus_two_days_in_local_time_stored_in_utc():
    found = occ_list(
        {"schedule": "RRULE:FREQ=MONTHLY;BYDAY=+2TU", "offset": "2d", "cutoff": "30m"},
        utc(2026, 1, 1),
        12,
    )
    expected_days = [second_tuesday(2026, mo) + timedelta(days=2) for mo in range(1, 13)]
    assert [o.local(o.start).date() for o in found] == expected_days
    assert all(o.local(o.start).hour == 22 for o in found)
    assert all(o.start.tzinfo == UTC for o in found)
    # winter: CET (+1) -> 21:00Z; summer: CEST (+2) -> 20:00Z
    assert found[0].start == utc(2026, 1, 15, 21)
    assert found[5].start == utc(2026, 6, 11, 20)
    assert found[0].end == utc(2026, 1, 16, 1)
    assert found[0].cutoff == utc(2026, 1, 16, 0, 30)


def test_cron_schedule_keeps_its_own_time_without_start():
    found = occ_list({"schedule": "30 13 * * 3", "start": None}, utc(2026, 11, 1), 3)
    assert [o.local(o.start) for o in found] == [
        datetime(2026, 11, d, 13, 30, tzinfo=MADRID) for d in (4, 11, 18)
    ]


def test_cron_schedule_with_start_uses_only_its_days():
    found = occ_list({"schedule": "0 * * * 1", "start": "06:15"}, utc(2026, 11, 1), 2)
    assert [o.local(o.start) for o in found] == [
        datetime(2026, 11, 2, 6, 15, tzinfo=MADRID),
        datetime(2026, 11, 9, 6, 15, tzinfo=MADRID),
    ]


# --- daylight saving ------------------------------------------------------------------------


def test_spring_forward_nonexistent_start_moves_to_the_transition_madrid():
    # 2026-03-29: 02:00 CET -> 03:00 CEST; 02:30 does not exist
    found = occ_list({"start": "02:30", "duration": "1h"}, utc(2026, 3, 27, 12), 3)
    assert [o.start for o in found] == [
        utc(2026, 3, 28, 1, 30),  # 02:30 CET
        utc(2026, 3, 29, 1, 0),  # the transition: 03:00 CEST
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
    ]
    assert found[1].local(found[1].start).strftime("%H:%M %Z") == "03:00 CEST"
    assert [o.shifted for o in found] == [False, True, False]
    assert found[1].end == utc(2026, 3, 29, 2, 0)


def test_autumn_ambiguous_start_is_the_first_occurrence_madrid():
    # 2026-10-25: 03:00 CEST -> 02:00 CET; 02:30 happens twice
    (found,) = occ_list({"start": "02:30", "duration": "1h"}, utc(2026, 10, 24, 12), 1)
    assert found.start == utc(2026, 10, 25, 0, 30)
    assert found.local(found.start).strftime("%H:%M %Z") == "02:30 CEST"
    assert not found.shifted


def test_duration_is_elapsed_time_across_transitions_madrid():
    (autumn,) = occ_list({"start": "00:00", "duration": "4h"}, utc(2026, 10, 24, 12), 1)
    assert autumn.end - autumn.start == timedelta(hours=4)
    assert autumn.local(autumn.end).strftime("%H:%M %Z") == "03:00 CET"  # 3 wall-clock hours
    (spring,) = occ_list({"start": "00:00", "duration": "4h"}, utc(2026, 3, 28, 12), 1)
    assert spring.local(spring.end).strftime("%H:%M %Z") == "05:00 CEST"  # 5 wall-clock hours


def test_southern_hemisphere_auckland():
    spec = {"timezone": "Pacific/Auckland", "start": "02:30", "duration": "2h"}
    # 2026-09-27: 02:00 NZST -> 03:00 NZDT
    spring = occ_list(spec, utc(2026, 9, 26, 0), 2)
    assert spring[0].start == utc(2026, 9, 26, 14, 0)
    assert spring[0].local(spring[0].start).strftime("%d %H:%M %Z") == "27 03:00 NZDT"
    assert spring[0].shifted
    assert spring[1].start == utc(2026, 9, 27, 13, 30)  # 02:30 NZDT (+13)
    # 2026-04-05: 03:00 NZDT -> 02:00 NZST; 02:30 twice, the first is NZDT
    (autumn,) = occ_list(spec, utc(2026, 4, 4, 12), 1)
    assert autumn.start == utc(2026, 4, 4, 13, 30)
    assert autumn.local(autumn.start).strftime("%H:%M %Z") == "02:30 NZDT"
    assert autumn.local(autumn.end).strftime("%H:%M %Z") == "03:30 NZST"


@pytest.mark.parametrize(
    ("zone", "wall", "expected"),
    [
        (MADRID, datetime(2026, 3, 29, 2, 0), utc(2026, 3, 29, 1, 0)),
        (MADRID, datetime(2026, 3, 29, 2, 59, 59), utc(2026, 3, 29, 1, 0)),
        (MADRID, datetime(2026, 3, 29, 3, 0), utc(2026, 3, 29, 1, 0)),
        (MADRID, datetime(2026, 3, 29, 1, 59), utc(2026, 3, 29, 0, 59)),
        (MADRID, datetime(2026, 10, 25, 2, 0), utc(2026, 10, 25, 0, 0)),
        (ZoneInfo("Australia/Lord_Howe"), datetime(2026, 10, 4, 2, 10), utc(2026, 10, 3, 15, 30)),
    ],
)
def test_local_to_utc_edges(zone, wall, expected):
    assert local_to_utc(wall, zone) == expected


# --- blackouts ------------------------------------------------------------------------------

HOLIDAYS = {"madrid": {"holidays": {"country": "ES", "subdiv": "MD"}}}


def test_occurrence_on_a_holiday_is_skipped_with_the_reason():
    found = occ_list(
        {"schedule": "RRULE:FREQ=DAILY", "start": "10:00", "blackout": ["madrid"]},
        utc(2026, 4, 30),
        4,
        HOLIDAYS,
    )
    assert [(o.local(o.start).day, o.status) for o in found] == [
        (30, "planned"),
        (1, "skipped"),
        (2, "skipped"),
        (3, "planned"),
    ]
    assert found[1].reason == "blackout madrid: Labor Day (2026-05-01)"
    assert found[2].reason == "blackout madrid: Madrid Day (2026-05-02)"


def test_a_window_running_into_a_blackout_is_skipped():
    # 22:00 on Christmas Eve for 4h runs into Christmas Day
    found = occ_list({"start": "22:00", "blackout": ["madrid"]}, utc(2026, 12, 24, 12), 2, HOLIDAYS)
    assert [o.status for o in found] == ["skipped", "skipped"]
    assert "Christmas Day" in found[0].reason
    after = occ_list({"start": "22:00", "blackout": ["madrid"]}, utc(2026, 12, 26, 12), 1, HOLIDAYS)
    assert after[0].status == "planned"


def test_on_blackout_next_moves_to_the_first_free_day():
    spec = {
        "schedule": "RRULE:FREQ=WEEKLY;BYDAY=FR",
        "start": "09:00",
        "duration": "2h",
        "blackout": ["madrid"],
        "on_blackout": "next",
    }
    # Friday 2026-05-01 is Labor Day, Saturday 05-02 Madrid Day: moved to Sunday 05-03
    found = occ_list(spec, utc(2026, 4, 30), 2, HOLIDAYS)
    assert found[0].status == "planned"
    assert found[0].local(found[0].start) == datetime(2026, 5, 3, 9, 0, tzinfo=MADRID)
    assert found[0].moved_from == utc(2026, 5, 1, 7, 0)
    assert found[0].reason.startswith("moved from 2026-05-01: blackout madrid: Labor Day")
    assert found[1].local(found[1].start) == datetime(2026, 5, 8, 9, 0, tzinfo=MADRID)


def test_on_blackout_next_skips_when_no_day_is_free_before_the_next_occurrence():
    spec = {
        "schedule": "RRULE:FREQ=WEEKLY;BYDAY=WE",
        "start": "13:00",
        "duration": "2h",
        "blackout": ["august"],
        "on_blackout": "next",
    }
    cal = {"august": {"ranges": [["2026-08-01", "2026-08-31"]]}}
    found = occ_list(spec, utc(2026, 8, 1), 5, cal)
    # Wednesdays 5, 12, 19 have no free day before the next Wednesday; the 26th moves to
    # Tuesday 1 September, the day before the regular 2 September occurrence.
    assert [o.status for o in found] == ["skipped"] * 3 + ["planned", "planned"]
    assert found[0].reason.endswith("no free day to move to before the next occurrence")
    assert found[3].local(found[3].start) == datetime(2026, 9, 1, 13, 0, tzinfo=MADRID)
    assert found[3].moved_from == utc(2026, 8, 26, 11, 0)
    assert found[4].local(found[4].start) == datetime(2026, 9, 2, 13, 0, tzinfo=MADRID)


# --- status ---------------------------------------------------------------------------------


def test_status_open_cutoff_closed():
    config, window = make(
        {"schedule": "RRULE:FREQ=MONTHLY;BYDAY=+2TU", "offset": "2d", "cutoff": "30m"}
    )
    # 2026-11-12 22:00 CET = 21:00Z .. 01:00Z, cutoff 00:30Z
    before = window_status(window, config, utc(2026, 11, 12, 20, 59))
    assert before.state == "closed"
    assert before.reason == "next opens 2026-11-12 22:00 CET (2026-11-12 21:00Z)"
    inside = window_status(window, config, utc(2026, 11, 12, 21, 0))
    assert inside.state == "open"
    assert "new batches until 2026-11-13 01:30 CET" in inside.reason
    draining = window_status(window, config, utc(2026, 11, 13, 0, 45))
    assert draining.state == "cutoff"
    assert draining.current == inside.current
    after = window_status(window, config, utc(2026, 11, 13, 1, 0))
    assert after.state == "closed"
    assert after.next.start == utc(2026, 12, 10, 21, 0)


def test_status_inside_a_skipped_occurrence_says_why():
    config, window = make({"start": "10:00", "blackout": ["madrid"]}, HOLIDAYS)
    status = window_status(window, config, utc(2026, 5, 1, 9, 0))
    assert status.state == "closed"
    assert "skipped (blackout madrid: Labor Day (2026-05-01))" in status.reason
    assert status.next.start == utc(2026, 5, 3, 8, 0)
    closed = window_status(window, config, utc(2026, 4, 30, 20, 0))
    assert "skipped before it" in closed.reason


def test_status_looks_past_many_skipped_occurrences():
    # every 5 minutes, 96 of them on 2 May (Madrid Day) alone: the next opening is on the 3rd
    config, window = make(
        {"schedule": "*/5 * * * *", "start": None, "duration": "4m", "blackout": ["madrid"]},
        HOLIDAYS,
    )
    status = window_status(window, config, utc(2026, 5, 2, 14, 4, 30))  # between two
    assert status.state == "closed"
    assert status.next.start == utc(2026, 5, 2, 22, 0)  # 3 May 00:00 CEST
    assert status.reason.endswith(" more")


def test_fixed_clock_and_parse_instant():
    assert FixedClock(datetime(2026, 1, 1)).now() == utc(2026, 1, 1)
    assert parse_instant("2026-11-12T22:30+01:00") == utc(2026, 11, 12, 21, 30)
    assert parse_instant("2026-11-12T21:30Z") == utc(2026, 11, 12, 21, 30)
    assert parse_instant("2026-11-12T22:30", "Europe/Madrid") == utc(2026, 11, 12, 21, 30)


# --- commands -------------------------------------------------------------------------------


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "maint.yml"
    path.write_text(
        """
calendars:
  madrid: {holidays: {country: ES, subdiv: MD}}
windows:
  - name: nightly
    schedule: "RRULE:FREQ=DAILY"
    start: "02:30"
    timezone: Europe/Madrid
    duration: 1h
    cutoff: 15m
    tasks: [patching]
    blackout: [madrid]
"""
    )
    return str(path)


def run(*args):
    group = click.Group("maint", commands={"windows": windows_group})
    result = CliRunner().invoke(group, ["windows", *args])
    return result


def test_windows_next_shows_local_utc_dst_and_skips(config_file):
    result = run("next", "nightly", "-n", "4", "--at", "2026-03-28T00:00Z", "--config", config_file)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[2].startswith("2026-03-28 Sat 02:30 CET ")
    assert "2026-03-28 01:30Z" in lines[2]
    assert lines[3].startswith("2026-03-29 Sun 03:00 CEST")
    assert "DST: 02:30 does not exist that day" in lines[3]
    later = run("next", "nightly", "-n", "2", "--at", "2026-04-30T12:00Z", "--config", config_file)
    assert "skipped  (blackout madrid: Labor Day (2026-05-01))" in later.output


def test_windows_status_at(config_file):
    result = run("status", "--at", "2026-11-12T01:40Z", "--config", config_file)
    assert result.exit_code == 0, result.output
    assert "nightly: open: opened 2026-11-12 02:30 CET" in result.output
    result = run("status", "nightly", "--at", "2026-11-12T02:20Z", "--config", config_file)
    assert "nightly: cutoff:" in result.output
    bad = run("status", "--at", "yesterday", "--config", config_file)
    assert bad.exit_code == 2


def test_windows_list_and_unknown_name(config_file):
    listed = run("list", "--at", "2026-11-12T12:00Z", "--config", config_file)
    assert "next      2026-11-13 Fri 02:30 CET = 2026-11-13 01:30Z" in listed.output
    unknown = run("next", "weekly", "--config", config_file)
    assert unknown.exit_code == 2
    assert "no window named 'weekly' (known: nightly)" in unknown.output


RULES = [
    "RRULE:FREQ=DAILY",
    "RRULE:FREQ=WEEKLY",  # the weekday comes from the anchor
    "RRULE:FREQ=WEEKLY;BYDAY=TU,TH",
    "RRULE:FREQ=MONTHLY",  # the day of the month comes from the anchor
    "RRULE:FREQ=MONTHLY;BYDAY=2TU",
    "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1",
    "RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
    "RRULE:FREQ=YEARLY",  # day and month from the anchor
    "RRULE:FREQ=YEARLY;BYMONTH=6;BYDAY=1MO",
    "RRULE:FREQ=WEEKLY;BYDAY=SA;BYWEEKNO=1,20,52;WKST=MO",  # kept at the epoch
    "RRULE:FREQ=WEEKLY;BYDAY=MO,FR;BYSETPOS=1;WKST=SU",
    "RRULE:FREQ=YEARLY;BYYEARDAY=1,-1",
    "RRULE:FREQ=YEARLY;BYDAY=-1FR",
    "RRULE:FREQ=YEARLY;BYMONTH=1;BYDAY=SA,SU;BYSETPOS=1,-1",
    "RRULE:FREQ=DAILY;INTERVAL=1;BYDAY=SU",
    "RRULE:FREQ=DAILY;INTERVAL=3",  # phase from 2000: kept at the epoch
    "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
    "RRULE:FREQ=MONTHLY;INTERVAL=5",
    "RRULE:FREQ=DAILY;COUNT=9000",  # counted from 2000
    "RRULE:FREQ=MONTHLY;BYDAY=1WE;UNTIL=20261231T000000",
    "DTSTART:20210305T000000\nRRULE:FREQ=WEEKLY",
]


@pytest.mark.parametrize("rule", RULES)
def test_a_rule_picks_the_same_days_from_a_later_anchor(rule):
    """The anchor skips the walk from 2000 only where it cannot change a day the rule picks."""
    from dateutil.rrule import rrulestr

    from maintenance_runner.core.schedule import _rule_days

    _, window = make({"schedule": rule})
    epoch = rrulestr(rule, dtstart=datetime(2000, 1, 1), forceset=True)
    for first in (date(2000, 1, 1), date(2003, 7, 9), date(2021, 12, 31), date(2022, 1, 1),
                  date(2022, 1, 2), date(2026, 11, 25), date(2027, 12, 31), date(2028, 1, 1),
                  date(2033, 2, 28), date(2041, 6, 1)):  # fmt: skip
        start = datetime.combine(first, datetime.min.time())
        want = []
        for hit in epoch.xafter(start, inc=True):
            if not want or hit.date() != want[-1]:
                want.append(hit.date())
            if len(want) == 40:
                break
        days = _rule_days(window, first)
        got = [d for _, d in zip(range(len(want)), days, strict=False)]
        assert got == want, (rule, first)


def test_the_anchor_is_a_saturday_new_year_unless_the_rule_counts_from_2000():
    from maintenance_runner.core.schedule import rule_anchor

    assert rule_anchor("RRULE:FREQ=DAILY", date(2026, 11, 25)) == datetime(2022, 1, 1)
    assert rule_anchor("RRULE:FREQ=WEEKLY", date(2022, 1, 1)) == datetime(2022, 1, 1)
    assert rule_anchor("RRULE:FREQ=WEEKLY", date(2021, 12, 31)) == datetime(2011, 1, 1)
    assert rule_anchor("RRULE:FREQ=DAILY", date(1999, 5, 1)) == datetime(2000, 1, 1)
    for counted in ("RRULE:FREQ=DAILY;INTERVAL=2", "RRULE:FREQ=DAILY;COUNT=3",
                    "RRULE:FREQ=WEEKLY;BYWEEKNO=1",
                    "DTSTART:20200101T000000\nRRULE:FREQ=DAILY"):  # fmt: skip
        assert rule_anchor(counted, date(2026, 11, 25)) == datetime(2000, 1, 1)
