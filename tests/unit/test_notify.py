"""The pure core of notifications: the JSON body, the text, the email, secrets kept out of logs,
and the one-line errors of a bad ``notifications:`` section."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from maintenance_runner.config.load import ConfigError, validate_config
from maintenance_runner.cycle.notify import (
    EVENTS,
    MissingEnvironment,
    build_body,
    build_email,
    expand,
    shown_url,
    summary_lines,
    title,
)

NOW = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)


def test_the_five_events():
    assert EVENTS == (
        "plan_awaiting_approval",
        "approval_expired",
        "run_finished",
        "run_failed",
        "run_rolled_back",
    )


def test_body_has_every_key_and_serialises_instants():
    body = build_body(
        "run_finished",
        {"window": "w", "occurrence": datetime(2026, 12, 10, 21, tzinfo=UTC), "run_uid": "r1"},
        NOW,
    )
    assert body == {
        "event": "run_finished",
        "window": "w",
        "occurrence": "2026-12-10T21:00:00+00:00",
        "plan_id": None,
        "run_uid": "r1",
        "summary": None,
        "text": "run r1 of w 2026-12-10T21:00:00+00:00 finished",
        "at": "2026-12-08T09:30:00+00:00",
    }


def test_given_text_wins_and_summary_goes_under_the_title():
    assert build_body("run_failed", {"text": "custom"}, NOW)["text"] == "custom"
    body = build_body("run_failed", {"summary": {"failed": 2, "hosts": ["a", "b"]}}, NOW)
    assert body["text"] == "the run of maint failed\nfailed: 2\nhosts: a, b"


def test_unknown_event_or_key_is_the_callers_mistake():
    with pytest.raises(ValueError, match="unknown notification event 'run_exploded'"):
        build_body("run_exploded", {}, NOW)
    with pytest.raises(ValueError, match="payload key\\(s\\): hosts"):
        build_body("run_failed", {"hosts": 3}, NOW)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ("plan_awaiting_approval", "plan p1 for w awaits approval"),
        ("approval_expired", "the approval of plan p1 for w expired unused"),
        ("run_finished", "run r1 of w finished"),
        ("run_failed", "run r1 of w failed"),
        ("run_rolled_back", "run r1 of w was rolled back"),
    ],
)
def test_titles(event, expected):
    assert title(event, {"window": "w", "plan_id": "p1", "run_uid": "r1"}) == expected


def test_summary_lines():
    assert summary_lines(None) == []
    assert summary_lines("a\nb") == ["a", "b"]
    assert summary_lines([{"task": "patching", "ok": 3}]) == ["task=patching, ok=3"]


def test_expand_reads_the_environment_and_names_a_missing_variable():
    assert expand("Bearer ${TOKEN}", {"TOKEN": "x"}) == "Bearer x"
    assert expand("no $REF or ${ here", {}) == "no $REF or ${ here"
    with pytest.raises(MissingEnvironment, match="environment variable TOKEN is not set"):
        expand("Bearer ${TOKEN}", {})


def test_shown_url_keeps_no_path_query_or_credentials():
    assert shown_url("https://user:pw@hooks.example.com/services/T0/B0/XYZ?k=1") == (
        "https://hooks.example.com"
    )
    assert shown_url("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080"
    assert shown_url("http://[::1]:${PORT}/x") == "http://[::1]"


def test_email_headers_and_text():
    config = validate_config(
        {"notifications": {"smtp": {"host": "mx", "from": "m@example.com", "to": ["a@b", "c@d"]}}},
        "maint.yml",
    )
    body = build_body("plan_awaiting_approval", {"window": "w", "plan_id": "p1"}, NOW)
    message = build_email(config.notifications.smtp, body)
    assert message["Subject"] == "[maint] plan p1 for w awaits approval"
    assert message["To"] == "a@b, c@d"
    assert message["Date"] == "Tue, 08 Dec 2026 09:30:00 +0000"
    assert message["Message-ID"].endswith("@example.com>")
    assert message.get_content().startswith("plan p1 for w awaits approval\n\n-- \n")


def _errors(notifications):
    with pytest.raises(ConfigError) as info:
        validate_config({"notifications": notifications}, "maint.yml")
    return info.value.format().splitlines()


def test_bad_notifications_are_one_line_each():
    assert _errors({"pager": {}}) == ["maint.yml: notifications.pager: unknown key 'pager'"]
    assert _errors({"command": {"argv": ["x"], "timeout": "soon"}}) == [
        "maint.yml: notifications.command.timeout: not a duration: 'soon' "
        "(use e.g. 4h, 30m, 1h30m, 2d)"
    ]
    assert _errors({"webhook": {"url": "hooks.example.com"}}) == [
        "maint.yml: notifications.webhook.url: not an http:// or https:// URL: 'hooks.example.com'"
    ]
    assert _errors({"webhook": {"url": "https://h", "headers": {"A": "${bad-name}"}}}) == [
        "maint.yml: notifications.webhook.headers: bad environment variable reference ${bad-name}"
    ]
    smtp = {"host": "mx", "from": "m@x", "to": ["a@b"]}
    assert _errors({"smtp": {**smtp, "username": "u"}}) == [
        "maint.yml: notifications.smtp: give both username and password_env, or neither"
    ]
    assert _errors({"smtp": {**smtp, "events": ["run_done"]}})[0].startswith(
        "maint.yml: notifications.smtp.events[0]: Input should be 'plan_awaiting_approval'"
    )
    assert _errors({"smtp": {**smtp, "to": []}}) == [
        "maint.yml: notifications.smtp.to: List should have at least 1 item after validation, not 0"
    ]
