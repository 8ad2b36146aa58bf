"""Fuzzing the loaders: malformed maint.yml and plan files give a valid result or a one-line
error naming the file, never a traceback (hypothesis)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maintenance_runner.cli.main import main
from maintenance_runner.config.load import ConfigError, load_config
from maintenance_runner.core.plan import Plan, PlanError, load_file, make_file

VALID_CONFIG: dict[str, Any] = {
    "inventory": "hosts.yml",
    "actionlog": "sqlite:///.maint/actionlog.db",
    "calendars": {"freeze": {"ranges": [["2026-12-24", "2026-12-26"]]}},
    "approvals": {
        "allowed_signers": "allowed_signers",
        "groups": {"ops": ["a@example.org"]},
        "policies": {"normal": {"approvals": 1, "groups": ["ops"], "expires": "72h"}},
    },
    "windows": [
        {
            "name": "monthly",
            "schedule": "RRULE:FREQ=MONTHLY;BYDAY=+2TU",
            "start": "22:00",
            "timezone": "Europe/Madrid",
            "duration": "4h",
            "cutoff": "30m",
            "tasks": ["patching", "hardening"],
            "batch": "25%",
            "max_fail": 1,
            "blackout": ["freeze"],
            "post_checks": [{"name": "web", "command": "true"}],
        }
    ],
    "followups": {"min_severity": "medium"},
}

VALID_PLAN_CONTENT: dict[str, Any] = {
    "window": "monthly",
    "occurrence": {
        "key": "monthly@2026-12-08T21:00:00Z",
        "start": "2026-12-08T21:00:00Z",
        "end": "2026-12-09T01:00:00Z",
        "cutoff": "2026-12-09T00:30:00Z",
        "timezone": "Europe/Madrid",
    },
    "created_at": "2026-12-05T10:00:00Z",
    "tasks": ["patching"],
    "targets": "all",
    "limit": None,
    "change": "normal",
    "batch": "25%",
    "max_fail": "1",
    "post_checks": [],
    "inventory": {"path": "/srv/maint/hosts.yml", "hash": "ab"},
    "variables": {"hash": "cd"},
    "content": {"hash": "ef", "git": None},
    "inputs": {"ansible-core": "2.19.0"},
    "settings": {"name": "monthly"},
    "hosts": {
        "web1": {
            "tasks": {"patching": {"status": "changed", "changes": [], "items": ["package a"]}},
            "findings": [
                {"task": "patching", "id": "patching.x", "severity": "low", "message": "m"}
            ],
        }
    },
    "unreachable": [],
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", "25%", "4h", "22:00", "Europe/Madrid", "0 0 22 * * 2", "RRULE:FREQ="]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


def _mutate(base: dict, choice: int, value: Any, drop: bool) -> Any:
    data = copy.deepcopy(base)
    paths = _paths(data)
    path = paths[choice % len(paths)]
    if not path:
        return value
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if drop and isinstance(parent, dict):
        parent.pop(path[-1])
    else:
        parent[path[-1]] = value
    return data


def _one_line_config_error(exc: ConfigError, file: Path) -> None:
    lines = exc.format().splitlines()
    assert lines, "an empty error"
    for line in lines:
        assert line.startswith(str(file)), line


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(choice=st.integers(min_value=0), value=values, drop=st.booleans())
def test_a_mutated_maint_yml_loads_or_fails_in_lines_naming_the_file(
    tmp_path_factory, choice, value, drop
):
    folder = tmp_path_factory.mktemp("cfg")
    file = folder / "maint.yml"
    file.write_text(yaml.safe_dump(_mutate(VALID_CONFIG, choice, value, drop)))
    try:
        load_config(file)
    except ConfigError as exc:
        _one_line_config_error(exc, file)


@FUZZ
@given(blob=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_any_bytes_as_maint_yml_load_or_fail_in_lines_naming_the_file(tmp_path_factory, blob):
    folder = tmp_path_factory.mktemp("raw")
    file = folder / "maint.yml"
    file.write_bytes(blob)
    try:
        load_config(file)
    except ConfigError as exc:
        _one_line_config_error(exc, file)
    result = CliRunner().invoke(main, ["config", "check", "--config", str(file)])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


@FUZZ
@given(choice=st.integers(min_value=0), value=values, drop=st.booleans())
def test_a_mutated_plan_file_loads_or_fails_in_one_line(choice, value, drop):
    content = _mutate(VALID_PLAN_CONTENT, choice, value, drop)
    author = {"principal": "a", "signed_at": "2026-12-05T10:00:00Z", "signature": "s"}
    raw = make_file(content, author) if isinstance(content, dict) else content
    raw = json.loads(json.dumps(raw, default=str))
    try:
        plan = load_file(raw, "plan.json")
    except PlanError as exc:
        message = str(exc)
        assert message.startswith("plan.json: ") and "\n" not in message, message
        return
    assert isinstance(plan, Plan)
    assert plan.integrity() is None
    plan.content.hosts_with_changes()  # everything a reader walks is typed


@FUZZ
@given(raw=values)
def test_any_json_as_a_plan_file_loads_or_fails_in_one_line(raw):
    try:
        load_file(raw, "plan.json")
    except PlanError as exc:
        assert str(exc).startswith("plan.json: ") and "\n" not in str(exc)
