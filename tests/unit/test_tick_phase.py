"""The tick's pure core: where an instant stands relative to an occurrence."""

from datetime import UTC, datetime, timedelta

import pytest

from maintenance_runner.core.schedule import Occurrence
from maintenance_runner.cycle.tick import phase

START = datetime(2026, 12, 10, 21, 0, tzinfo=UTC)
OCC = Occurrence(
    window="w",
    timezone="Europe/Madrid",
    wall_start=datetime(2026, 12, 10, 22, 0),
    start=START,
    end=START + timedelta(hours=4),
    cutoff=START + timedelta(hours=3, minutes=30),
)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(days=-3, seconds=-1), "ahead"),
        (timedelta(days=-3), "lead"),
        (timedelta(seconds=-1), "lead"),
        (timedelta(0), "open"),
        (timedelta(hours=3, minutes=29, seconds=59), "open"),
        (timedelta(hours=3, minutes=30), "cutoff"),
        (timedelta(hours=4, seconds=-1), "cutoff"),
        (timedelta(hours=4), "passed"),
    ],
)
def test_phase_boundaries(offset, expected):
    assert phase(OCC, START + offset, timedelta(days=3)) == expected
