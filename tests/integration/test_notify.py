"""Notifications against real receivers on loopback: an SMTP sink, an HTTP server, a command."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from maintenance_runner.config.load import validate_config
from maintenance_runner.core.clock import FixedClock
from maintenance_runner.cycle.notify import ChannelOutcome, notify

aiosmtpd_controller = pytest.importorskip(
    "aiosmtpd.controller", reason="aiosmtpd is not installed (pip install -e '.[test]')"
)
from aiosmtpd.smtp import AuthResult  # noqa: E402

CLOCK = FixedClock(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
PAYLOAD = {
    "window": "monthly-servers",
    "occurrence": datetime(2026, 12, 10, 21, 0, tzinfo=UTC),
    "plan_id": "p-7f3a",
    "run_uid": None,
}
SECRET = "s3cr3t-t0ken-value"
PASSWORD = "pa55-w0rd-value"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _notifications(raw: dict):
    return validate_config({"notifications": raw}, "maint.yml").notifications


# --- receivers ----------------------------------------------------------------------------------


class _Sink:
    """aiosmtpd handler keeping every message; a login authenticator checking one password."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login, auth_data.password))
        ok = auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=ok)  # handled=False: the server answers 535


@pytest.fixture
def smtp_sink():
    sink = _Sink()
    controller = aiosmtpd_controller.Controller(
        sink,
        hostname="127.0.0.1",
        port=_free_port(),
        authenticator=sink,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield sink, controller.port
    finally:
        controller.stop()


class _Receiver(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict[str, str], bytes]]
    status = 204

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.requests.append((self.path, dict(self.headers), self.rfile.read(length)))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_receiver():
    handler = type("Handler", (_Receiver,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --- SMTP -----------------------------------------------------------------------------------------


def test_smtp_sink_receives_the_mail(smtp_sink):
    sink, port = smtp_sink
    config = _notifications(
        {
            "smtp": {
                "host": "127.0.0.1",
                "port": port,
                "from": "maint@example.com",
                "to": ["cab@example.com", "ops@example.com"],
            }
        }
    )
    outcomes = notify(config, "plan_awaiting_approval", PAYLOAD, clock=CLOCK)
    assert outcomes == [ChannelOutcome("smtp", True, "sent to 2 recipient(s)")]
    [(sender, recipients, raw)] = sink.messages
    assert sender == "maint@example.com"
    assert recipients == ["cab@example.com", "ops@example.com"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == (
        "[maint] plan p-7f3a for monthly-servers 2026-12-10T21:00:00+00:00 awaits approval"
    )
    assert message["X-Maint-Event"] == "plan_awaiting_approval"
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_content().replace("\r\n", "\n")
    assert text.startswith(
        "plan p-7f3a for monthly-servers 2026-12-10T21:00:00+00:00 awaits approval\n"
    )
    details = json.loads(text[text.index("{") :])
    assert details["event"] == "plan_awaiting_approval"
    assert details["plan_id"] == "p-7f3a"
    assert details["at"] == "2026-12-08T09:00:00+00:00"


def test_smtp_login_with_the_password_from_the_environment(smtp_sink, caplog):
    sink, port = smtp_sink
    smtp = {
        "host": "127.0.0.1",
        "port": port,
        "from": "maint@example.com",
        "to": ["ops@example.com"],
        "username": "maint",
        "password_env": "MAINT_TEST_SMTP_PASSWORD",
        "timeout": "10s",
    }
    config = _notifications({"smtp": smtp})
    summary = {"hosts": 12, "ok": 11, "failed": 1}
    with caplog.at_level(logging.INFO, logger="maintenance_runner.cycle.notify"):
        good = notify(
            config,
            "run_failed",
            {**PAYLOAD, "run_uid": "r-1", "summary": summary},
            clock=CLOCK,
            environ={"MAINT_TEST_SMTP_PASSWORD": PASSWORD},
        )
        bad = notify(
            config,
            "run_failed",
            PAYLOAD,
            clock=CLOCK,
            environ={"MAINT_TEST_SMTP_PASSWORD": "wrong-" + PASSWORD},
        )
        unset = notify(config, "run_failed", PAYLOAD, clock=CLOCK, environ={})
    assert good == [ChannelOutcome("smtp", True, "sent to 1 recipient(s)")]
    assert bad == [ChannelOutcome("smtp", False, "login refused (535)")]
    assert unset == [
        ChannelOutcome("smtp", False, "environment variable MAINT_TEST_SMTP_PASSWORD is not set")
    ]
    assert sink.logins[0] == (b"maint", PASSWORD.encode())
    assert len(sink.messages) == 1
    message = email.message_from_bytes(sink.messages[0][2], policy=email.policy.default)
    assert "run r-1 of monthly-servers" in message["Subject"]
    assert "failed: 1" in message.get_content()
    assert PASSWORD not in caplog.text
    ours = [r for r in caplog.records if r.name == "maintenance_runner.cycle.notify"]
    assert [r.levelname for r in ours] == ["INFO", "WARNING", "WARNING"]


# --- webhook --------------------------------------------------------------------------------------


def test_webhook_receives_the_json_body_with_headers_from_the_environment(http_receiver, caplog):
    handler, base = http_receiver
    config = _notifications(
        {
            "webhook": {
                "url": base + "/hooks/${MAINT_TEST_HOOK_PATH}",
                "headers": {"Authorization": "Bearer ${MAINT_TEST_TOKEN}", "X-Site": "acme"},
            }
        }
    )
    environ = {"MAINT_TEST_TOKEN": SECRET, "MAINT_TEST_HOOK_PATH": "path-" + SECRET}
    summary = [{"task": "patching", "status": "ok", "hosts": 4}]
    with caplog.at_level(logging.INFO, logger="maintenance_runner.cycle.notify"):
        outcomes = notify(
            config,
            "run_finished",
            {**PAYLOAD, "run_uid": "r-9", "summary": summary},
            clock=CLOCK,
            environ=environ,
        )
    assert outcomes == [ChannelOutcome("webhook", True, "HTTP 204")]
    [(path, headers, raw)] = handler.requests
    assert path == f"/hooks/path-{SECRET}"
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert headers["X-Site"] == "acme"
    assert headers["Content-Type"] == "application/json"
    body = json.loads(raw)
    assert set(body) == {
        "event",
        "window",
        "occurrence",
        "plan_id",
        "run_uid",
        "summary",
        "text",
        "at",
    }
    assert body["event"] == "run_finished"
    assert body["run_uid"] == "r-9"
    assert body["occurrence"] == "2026-12-10T21:00:00+00:00"
    assert body["summary"] == summary
    assert body["text"] == (
        "run r-9 of monthly-servers 2026-12-10T21:00:00+00:00 finished\n"
        "task=patching, status=ok, hosts=4"
    )
    assert SECRET not in caplog.text
    assert caplog.records[0].getMessage() == (
        f"notify run_finished via webhook {base}: sent: HTTP 204"
    )


def test_webhook_error_status_is_a_failed_outcome(http_receiver):
    handler, base = http_receiver
    handler.status = 500
    config = _notifications({"webhook": {"url": base + "/x"}})
    outcomes = notify(config, "run_failed", PAYLOAD, clock=CLOCK)
    assert outcomes == [ChannelOutcome("webhook", False, "HTTP 500 Internal Server Error")]
    assert len(handler.requests) == 1


def test_dead_webhook_port_is_a_failed_outcome_not_an_exception(caplog):
    port = _free_port()  # bound then closed: nothing listens there
    config = _notifications(
        {"webhook": {"url": f"http://127.0.0.1:{port}/t/{SECRET}", "timeout": "5s"}}
    )
    with caplog.at_level(logging.INFO, logger="maintenance_runner.cycle.notify"):
        outcomes = notify(config, "run_rolled_back", PAYLOAD, clock=CLOCK)
    assert outcomes == [ChannelOutcome("webhook", False, "Connection refused")]
    assert SECRET not in caplog.text
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert record.getMessage() == (
        f"notify run_rolled_back via webhook http://127.0.0.1:{port}: failed: Connection refused"
    )


def test_missing_environment_variable_is_a_failed_outcome(http_receiver):
    handler, base = http_receiver
    config = _notifications(
        {"webhook": {"url": base, "headers": {"Authorization": "Bearer ${MAINT_TEST_UNSET}"}}}
    )
    outcomes = notify(config, "run_failed", PAYLOAD, clock=CLOCK, environ={})
    assert outcomes == [
        ChannelOutcome("webhook", False, "environment variable MAINT_TEST_UNSET is not set")
    ]
    assert handler.requests == []


# --- command --------------------------------------------------------------------------------------

WRITE_STDIN = (
    "import os, sys; "
    "open(sys.argv[1], 'wb').write(sys.stdin.buffer.read()); "
    "open(sys.argv[1] + '.event', 'w').write(os.environ['MAINT_EVENT'])"
)


def test_command_gets_the_json_body_on_stdin(tmp_path):
    out = tmp_path / "body.json"
    config = _notifications({"command": {"argv": [sys.executable, "-c", WRITE_STDIN, str(out)]}})
    outcomes = notify(config, "approval_expired", PAYLOAD, clock=CLOCK)
    assert outcomes == [ChannelOutcome("command", True, "exit 0")]
    body = json.loads(out.read_text())
    assert body["event"] == "approval_expired"
    assert body["window"] == "monthly-servers"
    assert body["text"] == (
        "the approval of plan p-7f3a for monthly-servers 2026-12-10T21:00:00+00:00 expired unused"
    )
    assert (tmp_path / "body.json.event").read_text() == "approval_expired"


def test_failing_missing_and_slow_commands_are_failed_outcomes(tmp_path):
    fail = "import sys; sys.stdin.read(); print('ticket system down', file=sys.stderr); exit(3)"
    failing = _notifications({"command": {"argv": [sys.executable, "-c", fail]}})
    missing = _notifications({"command": {"argv": [str(tmp_path / "no-such-notifier")]}})
    slow = _notifications({"command": {"argv": ["sleep", "60"], "timeout": "1s"}})
    assert notify(failing, "run_failed", PAYLOAD, clock=CLOCK) == [
        ChannelOutcome("command", False, f"{sys.executable} exited 3: ticket system down")
    ]
    assert notify(missing, "run_failed", PAYLOAD, clock=CLOCK) == [
        ChannelOutcome("command", False, f"no such command: {tmp_path / 'no-such-notifier'}")
    ]
    assert notify(slow, "run_failed", PAYLOAD, clock=CLOCK) == [
        ChannelOutcome("command", False, "sleep timed out after 1s")
    ]


# --- all channels, and the event filter -----------------------------------------------------------


def test_event_filter_leaves_a_channel_silent(tmp_path, smtp_sink, http_receiver):
    sink, port = smtp_sink
    handler, base = http_receiver
    out = tmp_path / "body.json"
    config = _notifications(
        {
            "command": {"argv": [sys.executable, "-c", WRITE_STDIN, str(out)]},
            "webhook": {"url": base + "/hook", "events": ["run_failed", "run_rolled_back"]},
            "smtp": {
                "host": "127.0.0.1",
                "port": port,
                "from": "maint@example.com",
                "to": ["ops@example.com"],
                "events": ["plan_awaiting_approval"],
            },
        }
    )
    outcomes = notify(config, "run_finished", PAYLOAD, clock=CLOCK)
    assert outcomes == [ChannelOutcome("command", True, "exit 0")]
    assert json.loads(out.read_text())["event"] == "run_finished"
    assert handler.requests == []
    assert sink.messages == []

    outcomes = notify(config, "run_failed", PAYLOAD, clock=CLOCK)
    assert [o.channel for o in outcomes] == ["command", "webhook"]
    assert all(o.ok for o in outcomes)
    assert len(handler.requests) == 1
    assert sink.messages == []


def test_one_failing_channel_does_not_stop_the_others(tmp_path, http_receiver):
    handler, base = http_receiver
    config = _notifications(
        {
            "command": {"argv": [str(tmp_path / "missing")]},
            "webhook": {"url": base + "/hook"},
            "smtp": {
                "host": "127.0.0.1",
                "port": _free_port(),
                "from": "maint@example.com",
                "to": ["ops@example.com"],
                "timeout": "5s",
            },
        }
    )
    outcomes = notify(config, "run_failed", PAYLOAD, clock=CLOCK)
    assert [(o.channel, o.ok) for o in outcomes] == [
        ("command", False),
        ("webhook", True),
        ("smtp", False),
    ]
    assert outcomes[2].detail == "Connection refused"
    assert len(handler.requests) == 1


def test_no_notifications_section_sends_nothing():
    assert notify(None, "run_finished", PAYLOAD, clock=CLOCK) == []
