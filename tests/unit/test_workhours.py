"""Working hours: nights, weekends, holidays, starts outside hours and daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from maintenance_runner.config.models import parse_days
from maintenance_runner.core.workhours import (
    WorkCalendar,
    add_working_hours,
    day_interval,
    is_working_time,
    make_calendar,
    working_hours_between,
)

MADRID = ZoneInfo("Europe/Madrid")
AUCKLAND = ZoneInfo("Pacific/Auckland")


def madrid(*args):
    return datetime(*args, tzinfo=MADRID)


@pytest.fixture(scope="module")
def office():
    """The default: Monday to Friday 09:00-17:00 Europe/Madrid with Madrid's public holidays."""
    return make_calendar("Europe/Madrid", country="ES", subdiv="MD")


def due(start, hours, cal):
    result = add_working_hours(start, hours, cal)
    assert result.tzinfo is UTC
    return result


# --- nights, weekends and holidays ------------------------------------------------------------


def test_within_one_day(office):
    # Wednesday 2 December 2026, CET (UTC+1)
    assert due(madrid(2026, 12, 2, 10, 0), 4, office) == datetime(2026, 12, 2, 13, 0, tzinfo=UTC)


def test_a_target_ending_at_closing_time_is_due_at_closing_time(office):
    assert due(madrid(2026, 12, 2, 13, 0), 4, office) == madrid(2026, 12, 2, 17, 0)


def test_the_night_does_not_count(office):
    assert due(madrid(2026, 12, 2, 15, 0), 4, office) == madrid(2026, 12, 3, 11, 0)
    assert due(madrid(2026, 12, 2, 15, 30), 8, office) == madrid(2026, 12, 3, 15, 30)


def test_the_weekend_does_not_count(office):
    # Friday 27 November 15:00 + 4 h: two hours on Friday, two on Monday
    assert due(madrid(2026, 11, 27, 15, 0), 4, office) == madrid(2026, 11, 30, 11, 0)


def test_madrid_holidays_do_not_count(office):
    # Friday 4 December 16:00; Monday 7 (Constitution Day moved) and Tuesday 8 December
    # (Immaculate Conception) are public holidays in Madrid in 2026.
    assert due(madrid(2026, 12, 4, 16, 0), 4, office) == madrid(2026, 12, 9, 12, 0)
    assert due(madrid(2026, 12, 4, 16, 0), 8, office) == madrid(2026, 12, 9, 16, 0)


def test_christmas_does_not_count(office):
    # Thursday 24 December 16:00 + 8 h: Friday 25 is Christmas Day, then the weekend
    assert due(madrid(2026, 12, 24, 16, 0), 8, office) == madrid(2026, 12, 28, 16, 0)


def test_extra_closed_dates():
    cal = make_calendar(
        "Europe/Madrid", country="ES", subdiv="MD", closed=[date(2026, 12, 31), date(2026, 12, 24)]
    )
    # Wednesday 30 December 16:00: 31 December closed, 1 January a holiday
    assert due(madrid(2026, 12, 30, 16, 0), 4, cal) == madrid(2027, 1, 4, 12, 0)
    assert cal.closed_reason(date(2026, 12, 31)) == "closed"
    assert cal.closed_reason(date(2026, 12, 25)) == "Christmas Day"
    assert cal.closed_reason(date(2026, 12, 30)) is None


def test_without_holidays_a_holiday_is_a_working_day():
    cal = make_calendar("Europe/Madrid")
    assert due(madrid(2026, 12, 4, 16, 0), 4, cal) == madrid(2026, 12, 7, 12, 0)


# --- starts outside working hours --------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (madrid(2026, 12, 2, 7, 0), madrid(2026, 12, 2, 13, 0)),  # before opening
        (madrid(2026, 12, 2, 17, 0), madrid(2026, 12, 3, 13, 0)),  # at closing time
        (madrid(2026, 12, 2, 20, 0), madrid(2026, 12, 3, 13, 0)),  # evening
        (madrid(2026, 12, 5, 11, 0), madrid(2026, 12, 9, 13, 0)),  # Saturday, then 7+8 Dec
        (madrid(2026, 12, 8, 10, 0), madrid(2026, 12, 9, 13, 0)),  # on a holiday
    ],
)
def test_a_start_outside_hours_counts_from_the_next_opening(office, start, expected):
    assert due(start, 4, office) == expected


def test_the_start_is_read_in_the_calendars_zone(office):
    # 23:30 UTC on Monday 1 June is 01:30 on Tuesday in Madrid (CEST, UTC+2)
    start = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)
    assert due(start, 4, office) == datetime(2026, 6, 2, 11, 0, tzinfo=UTC)
    # and a start given in another zone means the same instant
    start = datetime(2026, 6, 2, 8, 0, tzinfo=ZoneInfo("America/New_York"))  # 14:00 Madrid
    assert due(start, 4, office) == madrid(2026, 6, 3, 10, 0)


def test_zero_hours_is_the_next_working_instant(office):
    assert due(madrid(2026, 12, 5, 11, 0), 0, office) == madrid(2026, 12, 9, 9, 0)
    assert due(madrid(2026, 12, 2, 11, 0), 0, office) == madrid(2026, 12, 2, 11, 0)
    assert due(madrid(2026, 12, 2, 10, 0), 0.5, office) == madrid(2026, 12, 2, 10, 30)


def test_between_counts_only_working_hours(office):
    assert working_hours_between(madrid(2026, 11, 27, 16), madrid(2026, 11, 30, 10), office) == 2
    assert working_hours_between(madrid(2026, 12, 4, 16), madrid(2026, 12, 9, 12), office) == 4
    assert working_hours_between(madrid(2026, 12, 5, 0), madrid(2026, 12, 8, 23), office) == 0
    assert working_hours_between(madrid(2026, 12, 9, 12), madrid(2026, 12, 4, 16), office) == -4
    assert working_hours_between(madrid(2026, 12, 2, 10), madrid(2026, 12, 2, 10), office) == 0


def test_between_undoes_add_over_three_weeks(office):
    start = madrid(2026, 11, 27, 0, 0)
    for step in range(0, 21 * 24 * 60, 97):  # every 97 minutes for three weeks, holidays included
        begin = start + timedelta(minutes=step)
        for hours in (0.25, 4, 8, 13.5):
            end = add_working_hours(begin, hours, office)
            assert working_hours_between(begin, end, office) == pytest.approx(hours), begin


def test_is_working_time(office):
    assert is_working_time(madrid(2026, 12, 2, 9, 0), office)
    assert is_working_time(madrid(2026, 12, 2, 16, 59), office)
    assert not is_working_time(madrid(2026, 12, 2, 17, 0), office)
    assert not is_working_time(madrid(2026, 12, 8, 12, 0), office)
    assert not is_working_time(madrid(2026, 12, 6, 12, 0), office)


# --- daylight saving ----------------------------------------------------------------------------


def test_office_hours_across_the_madrid_dst_weekends(office):
    # Friday 27 March 2026 16:00 CET + 4 h -> Monday 30 March 12:00 CEST (clocks went forward)
    assert due(madrid(2026, 3, 27, 16, 0), 4, office) == datetime(2026, 3, 30, 10, 0, tzinfo=UTC)
    # Friday 23 October 16:00 CEST + 4 h -> Monday 26 October 12:00 CET (clocks went back)
    assert due(madrid(2026, 10, 23, 16, 0), 4, office) == datetime(2026, 10, 26, 11, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def night_shift():
    """Every day 00:00-06:00 Madrid time: the DST changes happen inside the working day."""
    return make_calendar("Europe/Madrid", days="mon-sun", start=time(0), end=time(6))


def test_spring_forward_day_has_five_real_hours(night_shift):
    day = madrid(2026, 3, 29, 0, 0)  # 02:00 CET -> 03:00 CEST
    opening, closing = day_interval(date(2026, 3, 29), night_shift)
    assert (opening, closing) == (
        datetime(2026, 3, 28, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 4, 0, tzinfo=UTC),
    )
    assert working_hours_between(day, madrid(2026, 3, 29, 23, 0), night_shift) == 5
    assert due(day, 5, night_shift) == datetime(2026, 3, 29, 4, 0, tzinfo=UTC)  # 06:00 CEST
    # the sixth hour is the first hour of the next working day
    assert due(day, 6, night_shift) == madrid(2026, 3, 30, 1, 0)
    # two real hours after 01:30 CET is 04:30 CEST
    assert due(madrid(2026, 3, 29, 1, 30), 2, night_shift) == datetime(
        2026, 3, 29, 2, 30, tzinfo=UTC
    )


def test_fall_back_day_has_seven_real_hours(night_shift):
    day = madrid(2026, 10, 25, 0, 0)  # 03:00 CEST -> 02:00 CET
    assert working_hours_between(day, madrid(2026, 10, 25, 23, 0), night_shift) == 7
    assert due(day, 7, night_shift) == datetime(2026, 10, 25, 5, 0, tzinfo=UTC)  # 06:00 CET
    assert due(day, 3, night_shift) == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # the first 02:00
    assert due(day, 4, night_shift) == datetime(2026, 10, 25, 2, 0, tzinfo=UTC)  # the second 02:00


def test_round_the_clock_service_counts_elapsed_hours():
    cal = make_calendar("Europe/Madrid", days="mon-sun", start=time(0), end=time(0))
    assert working_hours_between(madrid(2026, 3, 29), madrid(2026, 3, 30), cal) == 23
    assert working_hours_between(madrid(2026, 10, 25), madrid(2026, 10, 26), cal) == 25
    assert due(madrid(2026, 10, 25, 0, 0), 25, cal) == madrid(2026, 10, 26, 0, 0)
    # Saturday 22:00 CEST + 4 h crosses midnight into the change day: the first 02:00 (CEST)
    assert due(madrid(2026, 10, 24, 22, 0), 4, cal) == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    second = datetime(2026, 10, 25, 2, 0, fold=1, tzinfo=MADRID).astimezone(UTC)
    assert due(madrid(2026, 10, 24, 22, 0), 5, cal) == second  # the second 02:00 (CET)


def test_a_closing_time_inside_the_repeated_hour_is_its_second_occurrence():
    cal = make_calendar("Europe/Madrid", days="sun", start=time(0), end=time(2, 30))
    # 00:00 CEST to the second 02:30 (CET): 3.5 real hours
    assert working_hours_between(madrid(2026, 10, 25), madrid(2026, 10, 26), cal) == 3.5


def test_an_opening_time_inside_the_gap_opens_when_the_clocks_change():
    cal = make_calendar("Europe/Madrid", days="sun", start=time(2, 30), end=time(6))
    opening, closing = day_interval(date(2026, 3, 29), cal)
    assert opening == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST, the change
    assert closing - opening == timedelta(hours=3)


def test_a_closing_time_inside_the_gap_closes_when_the_clocks_change():
    cal = make_calendar("Europe/Madrid", days="sun", start=time(0), end=time(2, 30))
    _opening, closing = day_interval(date(2026, 3, 29), cal)
    assert closing == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 CET became 03:00 CEST
    # 00:00 CET to the change: 2 real hours, not 1 (the day must not end an hour early)
    assert working_hours_between(madrid(2026, 3, 29), madrid(2026, 3, 30), cal) == 2


# --- the other side of the world ----------------------------------------------------------------


@pytest.fixture(scope="module")
def auckland_office():
    return make_calendar("Pacific/Auckland", country="NZ", subdiv="AUK")


def test_auckland_office_hours_and_holidays(auckland_office):
    # Thursday 5 February 2026 15:00 NZDT (UTC+13); Friday 6 is Waitangi Day
    start = datetime(2026, 2, 5, 15, 0, tzinfo=AUCKLAND)
    assert due(start, 4, auckland_office) == datetime(2026, 2, 9, 11, 0, tzinfo=AUCKLAND)
    assert due(start, 4, auckland_office) == datetime(2026, 2, 8, 22, 0, tzinfo=UTC)


def test_auckland_easter_weekend_when_daylight_saving_ends(auckland_office):
    # Thursday 2 April 16:00 NZDT (UTC+13). Good Friday, the weekend (clocks go back on Sunday 5
    # April), Easter Monday: due on Tuesday 7 April 12:00 NZST (UTC+12).
    start = datetime(2026, 4, 2, 16, 0, tzinfo=AUCKLAND)
    assert due(start, 4, auckland_office) == datetime(2026, 4, 7, 0, 0, tzinfo=UTC)


def test_auckland_round_the_clock_weekend_across_spring_forward():
    cal = make_calendar("Pacific/Auckland", days="sat-sun", start=time(0), end=time(0))
    # Sunday 27 September 2026: 02:00 NZST -> 03:00 NZDT, a 23-hour day
    saturday = datetime(2026, 9, 26, 0, 0, tzinfo=AUCKLAND)
    monday = datetime(2026, 9, 28, 0, 0, tzinfo=AUCKLAND)
    assert working_hours_between(saturday, monday, cal) == 24 + 23
    # 47 working hours after Saturday 00:00 is the end of Sunday; the 48th is next Saturday's
    assert due(saturday, 47, cal) == monday
    assert due(saturday, 48, cal) == datetime(2026, 10, 3, 1, 0, tzinfo=AUCKLAND)


# --- bad input ---------------------------------------------------------------------------------


def test_naive_datetimes_are_refused(office):
    with pytest.raises(ValueError, match="naive"):
        add_working_hours(datetime(2026, 12, 2, 10), 4, office)
    with pytest.raises(ValueError, match="naive"):
        working_hours_between(madrid(2026, 12, 2, 10), datetime(2026, 12, 3), office)


def test_negative_hours_are_refused(office):
    with pytest.raises(ValueError, match="negative"):
        add_working_hours(madrid(2026, 12, 2, 10), -1, office)


def test_the_end_must_follow_the_start():
    with pytest.raises(ValueError, match="after the start"):
        WorkCalendar(zone=MADRID, start=time(17), end=time(9))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon-fri", (0, 1, 2, 3, 4)),
        (["mon", "wed", "fri"], (0, 2, 4)),
        (["Monday-Thursday", "sat"], (0, 1, 2, 3, 5)),
        ("sun", (6,)),
    ],
)
def test_parse_days(text, expected):
    assert parse_days(text) == expected


@pytest.mark.parametrize("text", ["fri-mon", "funday", "mon-wed-fri", []])
def test_parse_days_refuses(text):
    with pytest.raises(ValueError):
        parse_days(text)


def test_a_calendar_closed_for_ever_says_so():
    cal = WorkCalendar(zone=MADRID, days=(0,), closed=frozenset({date(2026, 12, 7)}))
    assert due(madrid(2026, 12, 7, 10), 1, cal) == madrid(2026, 12, 14, 10)

    class Always:
        def __contains__(self, day):
            return True

        def get(self, day):
            return "closed"

    shut = WorkCalendar(zone=MADRID, holidays=Always())
    with pytest.raises(ValueError, match="no working day"):
        add_working_hours(madrid(2026, 12, 7, 10), 1, shut)
