"""Notifications: tell people when a plan awaits approval, an approval expires or a run ends.

Channels come from the ``notifications:`` section of maint.yml: a ``command`` (the JSON body on
its stdin), a ``webhook`` (the JSON body POSTed) and ``smtp`` (an email, only when configured).
Each channel has an ``events:`` filter. :func:`notify` sends one event to every channel that
wants it and returns one :class:`ChannelOutcome` per channel tried; a failing channel never
raises, so the caller can record the outcomes in the action log and carry on.

Secrets (a webhook token in the URL or a header, the SMTP password) come from environment
variables at send time and never reach a log line, an outcome or an exception message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import smtplib
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlsplit

from maintenance_runner import __version__
from maintenance_runner.config.models import (
    CommandChannel,
    NotificationsConfig,
    NotifyEvent,
    SmtpChannel,
    WebhookChannel,
)
from maintenance_runner.core.clock import Clock

log = logging.getLogger(__name__)

EVENTS: tuple[str, ...] = get_args(NotifyEvent)
PAYLOAD_KEYS = ("window", "occurrence", "plan_id", "run_uid", "summary", "text")
# Optional: the action log's chain heads the notification was written against (an anchor).
OPTIONAL_KEYS = ("log_heads",)
_TAIL = 200  # characters of a failing command's last stderr line kept in its outcome
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class ChannelOutcome:
    """What happened on one channel: ``ok``, and a short detail free of secrets."""

    channel: str  # "command", "webhook" or "smtp"
    ok: bool
    detail: str  # "exit 0", "HTTP 204", "sent to 2 recipient(s)", or why it failed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class MissingEnvironment(Exception):
    """A ``${NAME}`` reference or ``password_env`` names a variable that is not set."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"environment variable {name} is not set")


# --- the pure core: body, text, email ---------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_TITLES = {
    "plan_awaiting_approval": "{plan} for {what} awaits approval",
    "approval_expired": "the approval of {plan} for {what} expired unused",
    "run_finished": "{run} of {what} finished",
    "run_failed": "{run} of {what} failed",
    "run_rolled_back": "{run} of {what} was rolled back",
}


def title(event: str, body: Mapping[str, Any]) -> str:
    """One line saying what happened: ``run 1a2b of monthly-servers 2026-12-10T21:00Z failed``."""
    what = " ".join(str(body[k]) for k in ("window", "occurrence") if body.get(k)) or "maint"
    plan = f"plan {body['plan_id']}" if body.get("plan_id") else "the plan"
    run = f"run {body['run_uid']}" if body.get("run_uid") else "the run"
    return _TITLES[event].format(plan=plan, run=run, what=what)


def summary_lines(summary: Any) -> list[str]:
    """A run summary (a mapping, a list of rows or a string) as plain text lines."""
    if summary is None:
        return []
    if isinstance(summary, Mapping):
        return [f"{key}: {_flat(value)}" for key, value in summary.items()]
    if isinstance(summary, list | tuple):
        return [_flat(row) for row in summary]
    return str(summary).splitlines()


def _flat(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_flat(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_flat(v) for v in value)
    return str(value)


def build_body(event: str, payload: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The JSON body every channel gets: event, window, occurrence, plan_id, run_uid, summary,
    text, at. Raises ValueError for an unknown event or payload key (a caller's mistake)."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r} (known: {', '.join(EVENTS)})")
    unknown = sorted(set(payload) - set(PAYLOAD_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise ValueError(f"unknown notification payload key(s): {', '.join(unknown)}")
    body: dict[str, Any] = {"event": event}
    for key in PAYLOAD_KEYS:
        body[key] = payload.get(key)
    body.update({key: payload[key] for key in OPTIONAL_KEYS if payload.get(key)})
    body["at"] = now.isoformat()
    body = json.loads(json.dumps(body, default=_jsonable))
    if not body["text"]:
        body["text"] = "\n".join([title(event, body), *summary_lines(body["summary"])])
    return body


def encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True).encode("utf-8")


def build_email(channel: SmtpChannel, body: Mapping[str, Any]) -> EmailMessage:
    """The email for one event: the subject says what happened, the text explains, the JSON
    body follows for machines."""
    message = EmailMessage()
    message["Subject"] = f"[maint] {title(body['event'], body)}"
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["Date"] = format_datetime(datetime.fromisoformat(body["at"]))
    message["Message-ID"] = make_msgid(domain=channel.sender.rpartition("@")[2] or "maint")
    message["Auto-Submitted"] = "auto-generated"
    message["X-Maint-Event"] = body["event"]
    text = body["text"] or title(body["event"], body)
    details = json.dumps(body, indent=2, sort_keys=True)
    message.set_content(f"{text}\n\n-- \nmaint {__version__}, event details:\n{details}\n")
    return message


def expand(template: str, environ: Mapping[str, str]) -> str:
    """Replace each ``${NAME}`` with the environment variable's value."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise MissingEnvironment(name)
        return environ[name]

    return _ENV_REF.sub(value, template)


def shown_url(url: str) -> str:
    """A URL fit for logs: scheme, host and port only (paths and queries often carry tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port given as ${NAME}
        port = ""
    return f"{parts.scheme}://{host}{port}"


# --- the edges: one sender per channel --------------------------------------------------------


def send_command(
    channel: CommandChannel, body: Mapping[str, Any], environ: Mapping[str, str]
) -> ChannelOutcome:
    """Run the command with the JSON body on stdin (and MAINT_EVENT in its environment)."""
    name = channel.argv[0]
    timeout = channel.timeout.total_seconds()
    try:
        process = subprocess.Popen(
            channel.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**environ, "MAINT_EVENT": str(body["event"])},
            start_new_session=True,  # a timeout kills the command and its children
        )
    except FileNotFoundError:
        return ChannelOutcome("command", False, f"no such command: {name}")
    except OSError as exc:
        return ChannelOutcome("command", False, f"cannot run {name}: {exc.strerror or exc}")
    try:
        _, stderr = process.communicate(encode(body), timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return ChannelOutcome("command", False, f"{name} timed out after {timeout:g}s")
    if process.returncode == 0:
        return ChannelOutcome("command", True, "exit 0")
    detail = f"{name} exited {process.returncode}"
    last = next((x for x in reversed(stderr.decode(errors="replace").splitlines()) if x), "")
    if last:
        detail += f": {last.strip()[:_TAIL]}"
    return ChannelOutcome("command", False, detail)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def send_webhook(
    channel: WebhookChannel, body: Mapping[str, Any], environ: Mapping[str, str]
) -> ChannelOutcome:
    """POST the JSON body; any 2xx answer is success."""
    try:
        url = expand(channel.url, environ)
        headers = {key: expand(value, environ) for key, value in channel.headers.items()}
    except MissingEnvironment as exc:
        return ChannelOutcome("webhook", False, str(exc))
    request = urllib.request.Request(
        url,
        data=encode(body),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": f"maint/{__version__}",
            **headers,
        },
    )
    timeout = channel.timeout.total_seconds()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return ChannelOutcome("webhook", True, f"HTTP {answer.status}")
    except urllib.error.HTTPError as exc:
        return ChannelOutcome("webhook", False, f"HTTP {exc.code} {exc.reason}")
    except urllib.error.URLError as exc:
        return ChannelOutcome("webhook", False, _network_reason(exc.reason, timeout))
    except (TimeoutError, OSError) as exc:
        return ChannelOutcome("webhook", False, _network_reason(exc, timeout))
    except ValueError:  # http.client.InvalidURL and friends: their text would show the URL
        return ChannelOutcome("webhook", False, "the URL is not valid once expanded")


def _network_reason(reason: Any, timeout: float) -> str:
    if isinstance(reason, TimeoutError):
        return f"timed out after {timeout:g}s"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    if isinstance(reason, ssl.SSLError):
        return f"TLS error: {reason.reason or 'handshake failed'}"
    return type(reason).__name__ if isinstance(reason, BaseException) else str(reason)


def send_smtp(
    channel: SmtpChannel, body: Mapping[str, Any], environ: Mapping[str, str]
) -> ChannelOutcome:
    """Send the email (STARTTLS and login when configured)."""
    password = None
    if channel.password_env is not None:
        password = environ.get(channel.password_env)
        if password is None:
            return ChannelOutcome("smtp", False, str(MissingEnvironment(channel.password_env)))
    message = build_email(channel, body)
    timeout = channel.timeout.total_seconds()
    try:
        with smtplib.SMTP(channel.host, channel.port, timeout=timeout) as smtp:
            if channel.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if channel.username is not None and password is not None:
                smtp.login(channel.username, password)
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        return ChannelOutcome("smtp", False, f"every recipient refused: {_refused(exc.recipients)}")
    except smtplib.SMTPAuthenticationError as exc:
        return ChannelOutcome("smtp", False, f"login refused ({exc.smtp_code})")
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        return ChannelOutcome("smtp", False, f"server said {exc.smtp_code} {text}".strip())
    except smtplib.SMTPException as exc:
        return ChannelOutcome("smtp", False, f"SMTP error: {type(exc).__name__}")
    except (TimeoutError, OSError) as exc:
        return ChannelOutcome("smtp", False, _network_reason(exc, timeout))
    delivered = len(channel.to) - len(refused)
    if refused:
        return ChannelOutcome(
            "smtp", True, f"sent to {delivered} of {len(channel.to)}; refused: {_refused(refused)}"
        )
    return ChannelOutcome("smtp", True, f"sent to {delivered} recipient(s)")


def _refused(recipients: Mapping[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{address} ({code})" for address, (code, _) in recipients.items())


# --- the entry point --------------------------------------------------------------------------

_Sender = Callable[[Any, Mapping[str, Any], Mapping[str, str]], ChannelOutcome]
_SENDERS: tuple[tuple[str, _Sender], ...] = (
    ("command", send_command),
    ("webhook", send_webhook),
    ("smtp", send_smtp),
)


def notify(
    config: NotificationsConfig | None,
    event: str,
    payload: Mapping[str, Any],
    *,
    clock: Clock,
    environ: Mapping[str, str] | None = None,
) -> list[ChannelOutcome]:
    """Send ``event`` to every configured channel whose ``events:`` filter lets it through.

    ``payload`` may hold window, occurrence, plan_id, run_uid, summary and text (anything else
    is a ValueError, as is an unknown event). Returns one outcome per channel tried, in the
    order command, webhook, smtp; channels filtered out or not configured are not listed.
    Never raises because a channel failed; logs one line per channel, without secrets.
    """
    body = build_body(event, payload, clock.now())
    if config is None:
        return []
    env = os.environ if environ is None else environ
    outcomes = []
    for name, sender in _SENDERS:
        channel = getattr(config, name)
        if channel is None or not channel.wants(event):
            continue
        try:
            outcome = sender(channel, body, env)
        except Exception as exc:  # a channel never breaks the caller; its text may hold secrets
            outcome = ChannelOutcome(name, False, f"unexpected {type(exc).__name__}")
        where = f" {shown_url(channel.url)}" if name == "webhook" else ""
        level = logging.INFO if outcome.ok else logging.WARNING
        state = "sent" if outcome.ok else "failed"
        log.log(level, "notify %s via %s%s: %s: %s", event, name, where, state, outcome.detail)
        outcomes.append(outcome)
    return outcomes
