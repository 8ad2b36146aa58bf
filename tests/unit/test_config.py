"""maint.yml validation: good files load, each mistake is one line naming file, window, field."""

from __future__ import annotations

import copy
from datetime import time, timedelta
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from maintenance_runner.cli.config import config_group
from maintenance_runner.cli.windows import windows_group
from maintenance_runner.config.load import ConfigError, load_config, validate_config
from maintenance_runner.config.models import (
    FollowupsSpec,
    HolidaysSpec,
    parse_duration,
    parse_offset,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "maint.yml.example"

BASE = {
    "calendars": {
        "madrid-holidays": {"holidays": {"country": "ES", "subdiv": "MD"}},
        "august": {"ranges": [["2026-08-01", "2026-08-31"]]},
    },
    "windows": [
        {
            "name": "monthly-servers",
            "schedule": "RRULE:FREQ=MONTHLY;BYDAY=+2TU",
            "offset": "2d",
            "start": "22:00",
            "timezone": "Europe/Madrid",
            "duration": "4h",
            "cutoff": "30m",
            "targets": "servers",
            "tasks": ["access_review", "backup_verify", "antivirus", "patching", "hardening"],
            "batch": "25%",
            "max_fail": "10%",
            "change": "normal",
            "blackout": ["madrid-holidays", "august"],
        }
    ],
}


def _errors(raw):
    with pytest.raises(ConfigError) as info:
        validate_config(raw, "maint.yml")
    return info.value.format().splitlines()


def _with(path, value):
    raw = copy.deepcopy(BASE)
    node = raw
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return raw


def test_the_example_file_loads():
    config = load_config(EXAMPLE)
    window = config.window("monthly-servers")
    assert window.offset == 2
    assert window.start == time(22, 0)
    assert window.duration == timedelta(hours=4)
    assert window.cutoff == timedelta(minutes=30)
    assert window.batch_amount == (25.0, True)
    assert window.tasks[0] == "access_review"
    assert config.window("weekly-workstations").on_blackout == "next"
    assert config.window("weekly-workstations").batch_amount == (10.0, False)
    assert set(config.calendars) == {"madrid-holidays", "year-end-freeze", "august"}


def test_defaults_when_absent():
    config = validate_config({}, "maint.yml")
    assert config.actionlog == "sqlite:///.maint/actionlog.db"
    assert config.windows == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            ("windows", 0, "timezone"),
            "Europe/Madird",
            "maint.yml: windows[monthly-servers].timezone: unknown time zone 'Europe/Madird'",
        ),
        (
            ("windows", 0, "colour"),
            "blue",
            "maint.yml: windows[monthly-servers].colour: unknown key 'colour'",
        ),
        (
            ("windows", 0, "schedule"),
            "RRULE:FREQ=MONTHLEY",
            "maint.yml: windows[monthly-servers].schedule: bad RRULE",
        ),
        (
            ("windows", 0, "schedule"),
            "0 25 * * *",
            "maint.yml: windows[monthly-servers].schedule: bad schedule '0 25 * * *'",
        ),
        (
            ("windows", 0, "schedule"),
            "0 0 22 * * 2",
            "maint.yml: windows[monthly-servers].schedule: '0 0 22 * * 2' has 6 fields: a cron "
            "schedule has exactly 5",
        ),
        (
            ("windows", 0, "schedule"),
            "0 0 22 * * 2 2027",
            "maint.yml: windows[monthly-servers].schedule: '0 0 22 * * 2 2027' has 7 fields",
        ),
        (
            ("windows", 0, "schedule"),
            "@daily",
            "maint.yml: windows[monthly-servers].schedule: bad schedule '@daily'",
        ),
        (
            ("windows", 0, "schedule"),
            "0 0 31 2 *",
            "maint.yml: windows[monthly-servers].schedule: cron expression '0 0 31 2 *' never",
        ),
        (
            ("windows", 0, "duration"),
            "4 hours",
            "maint.yml: windows[monthly-servers].duration: not a duration: '4 hours'",
        ),
        (
            ("windows", 0, "cutoff"),
            "5h",
            "maint.yml: windows[monthly-servers].cutoff: 5:00:00 must be shorter than the duration",
        ),
        (
            ("windows", 0, "offset"),
            "2 days",
            "maint.yml: windows[monthly-servers].offset: not an offset in days: '2 days'",
        ),
        (
            ("windows", 0, "start"),
            "25:00",
            "maint.yml: windows[monthly-servers].start: not a local time HH:MM: '25:00'",
        ),
        (
            ("windows", 0, "blackout"),
            ["madrid-holidays", "xmas"],
            "maint.yml: windows[monthly-servers].blackout: unknown calendar 'xmas'",
        ),
        (
            ("windows", 0, "tasks"),
            ["patching", "defrag"],
            "maint.yml: windows[monthly-servers].tasks: unknown task 'defrag'",
        ),
        (
            ("windows", 0, "batch"),
            "a quarter",
            "maint.yml: windows[monthly-servers].batch: not a host count or a percentage",
        ),
        (
            ("windows", 0, "max_fail"),
            "150%",
            "maint.yml: windows[monthly-servers].max_fail: not a host count or a percentage",
        ),
        (
            ("windows", 0, "on_blackout"),
            "later",
            "maint.yml: windows[monthly-servers].on_blackout: Input should be 'skip' or 'next'",
        ),
        (
            ("windows", 0, "duration"),
            KeyError,
            "maint.yml: windows[monthly-servers].duration: required field is missing",
        ),
        (
            ("calendars", "madrid-holidays", "holidays", "country"),
            "XX",
            "maint.yml: calendars[madrid-holidays].holidays: Country XX not available",
        ),
        (
            ("calendars", "august", "ranges"),
            [["2026-08-31", "2026-08-01"]],
            "maint.yml: calendars[august].ranges: range [2026-08-31, 2026-08-01] ends before",
        ),
        (
            ("calendars", "august", "ics"),
            "missing.ics",
            "maint.yml: calendars[august]: give exactly one of holidays, ics, ranges",
        ),
        (("inventroy",), "x", "maint.yml: inventroy: unknown key 'inventroy'"),
    ],
)
def test_each_mistake_is_one_clear_line(path, value, expected):
    lines = _errors(_with(path, value))
    assert len(lines) == 1, lines
    assert lines[0].startswith(expected), lines[0]


def test_missing_ics_file_is_named(tmp_path):
    raw = {"calendars": {"freeze": {"ics": "calendars/freeze.ics"}}}
    with pytest.raises(ConfigError) as info:
        validate_config(raw, "maint.yml", base_dir=tmp_path)
    assert info.value.format().startswith("maint.yml: calendars[freeze].ics: no such ICS file")


def test_rrule_needs_a_start_time():
    lines = _errors(_with(("windows", 0, "start"), KeyError))
    assert lines == [
        "maint.yml: windows[monthly-servers].start: required with an RRULE schedule "
        "(e.g. start: '22:00')"
    ]


def test_duplicate_window_names():
    raw = copy.deepcopy(BASE)
    raw["windows"].append(copy.deepcopy(raw["windows"][0]))
    assert _errors(raw) == [
        "maint.yml: windows[monthly-servers].name: duplicate window name 'monthly-servers'"
    ]


def test_window_without_name_is_located_by_index():
    raw = _with(("windows", 0, "name"), KeyError)
    assert _errors(raw) == ["maint.yml: windows[0].name: required field is missing"]


def test_unquoted_yaml_time_is_read_as_a_time(tmp_path):
    text = yaml.safe_dump(BASE).replace("start: '22:00'", "start: 22:00")
    assert "start: 22:00" in text
    path = tmp_path / "maint.yml"
    path.write_text(text)
    assert load_config(path).windows[0].start == time(22, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4h", timedelta(hours=4)),
        ("30m", timedelta(minutes=30)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("45s", timedelta(seconds=45)),
        (90, timedelta(seconds=90)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "h", "4 h", "-1h", "4x", "1.5h"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_parse_offset():
    assert parse_offset("2d") == 2
    assert parse_offset("-1d") == -1
    assert parse_offset(0) == 0
    with pytest.raises(ValueError):
        parse_offset("2h")


def _cli(*args):
    group = click.Group("maint", commands={"config": config_group, "windows": windows_group})
    return CliRunner().invoke(group, list(args))


def test_config_check_prints_a_summary():
    result = _cli("config", "check", "--config", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert "windows: 2" in result.output
    assert "monthly-servers: servers, 5 task(s)" in result.output


def test_config_check_bad_file_exits_2_with_one_line(tmp_path):
    path = tmp_path / "maint.yml"
    path.write_text(yaml.safe_dump(_with(("windows", 0, "timezone"), "Europe/Madird")))
    result = _cli("config", "check", "--config", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"maint: {path}: windows[monthly-servers].timezone: unknown time zone 'Europe/Madird'"
    ]


def test_other_commands_refuse_a_bad_file_too(tmp_path):
    path = tmp_path / "maint.yml"
    path.write_text(yaml.safe_dump(_with(("windows", 0, "duration"), "forever")))
    result = _cli("windows", "list", "--config", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "windows[monthly-servers].duration: not a duration: 'forever'" in result.stderr


def test_yaml_syntax_error_and_missing_file(tmp_path):
    path = tmp_path / "maint.yml"
    path.write_text("windows:\n  - name: [unclosed\n")
    result = _cli("config", "check", "--config", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"maint: {path}: line ")
    missing = _cli("config", "check", "--config", str(tmp_path / "nope.yml"))
    assert missing.exit_code == 2
    assert "no such file" in missing.stderr


def test_the_default_working_hours_holidays_are_valid():
    """The default is built unvalidated (to keep the holidays package out of every command's
    start); validating it must pass."""
    default = FollowupsSpec.WorkingHours().holidays
    assert default is not None
    assert HolidaysSpec.model_validate(default.model_dump()) == default


# --- patch baselines ---------------------------------------------------------------------------

BASELINE = {
    "classifications": ["security"],
    "kernel": False,
    "approve_after": "7d",
    "holds": [
        {"package": "openssl", "version": "3.0.15-1", "reason": "app breaks", "until": "2027-01-31"}
    ],
    "reject": ["linux-image-*"],
    "reboot": "if_needed",
}


def _baselined(baseline=None, window_baseline="servers", groups=None):
    raw = copy.deepcopy(BASE)
    raw["patch_baselines"] = {"servers": copy.deepcopy(baseline or BASELINE)}
    if window_baseline is not None:
        raw["windows"][0]["patch_baseline"] = window_baseline
    if groups is not None:
        raw["patch_baseline_groups"] = groups
    return raw


def test_a_patch_baseline_loads():
    config = validate_config(_baselined(), "maint.yml")
    baseline = config.patch_baselines["servers"]
    assert baseline.approve_after == timedelta(days=7)
    assert baseline.holds[0].until.isoformat() == "2027-01-31"
    assert config.windows[0].patch_baseline == "servers"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"colour": "blue"}, "maint.yml: patch_baselines[servers].colour: unknown key 'colour'"),
        ({"approve_after": "a week"}, "maint.yml: patch_baselines[servers].approve_after: not a"),
        (
            {"holds": [{"package": "openssl", "until": "2027-01-31"}]},
            "maint.yml: patch_baselines[servers].holds[0].reason: required field is missing",
        ),
        (
            {"holds": [{"package": "openssl", "reason": "why"}]},
            "maint.yml: patch_baselines[servers].holds[0].until: required field is missing",
        ),
        ({"classifications": ["features"]}, "maint.yml: patch_baselines[servers].classifications"),
        ({"reboot": "sometimes"}, "maint.yml: patch_baselines[servers].reboot"),
    ],
)
def test_each_baseline_mistake_is_one_clear_line(change, expected):
    lines = _errors(_baselined({**BASELINE, **change}))
    assert len(lines) == 1, lines
    assert lines[0].startswith(expected), lines[0]


def test_a_window_naming_an_unknown_baseline():
    assert _errors(_baselined(window_baseline="workstations")) == [
        "maint.yml: windows[monthly-servers].patch_baseline: unknown patch baseline "
        "'workstations' (known: servers)",
        "maint.yml: patch_baselines[servers]: named by no window (patch_baseline:) and no group "
        "(patch_baseline_groups:)",
    ]


def test_a_baseline_named_by_no_window_and_no_group():
    assert _errors(_baselined(window_baseline=None)) == [
        "maint.yml: patch_baselines[servers]: named by no window (patch_baseline:) and no group "
        "(patch_baseline_groups:)"
    ]
    validate_config(_baselined(window_baseline=None, groups={"dbs": "servers"}), "maint.yml")
