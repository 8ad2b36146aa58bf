"""Record ansible-runner events in the action log while a run goes on.

``event_row`` (pure) keeps what a report or an investigation needs — host, preventive task,
Ansible task name, changed, a short message for failures — and never a module's whole result
(``no_log`` results arrive censored already; nothing else of ``res`` is stored). The
``EventRecorder`` buffers rows and a background thread writes them every ``interval`` seconds, so
recording costs the run almost nothing and a crash loses at most that interval.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from maintenance_runner.core.results import role_name

RECORDED = frozenset(
    {
        "playbook_on_play_start",
        "runner_on_ok",
        "runner_on_failed",
        "runner_on_unreachable",
        "runner_on_skipped",
        "runner_on_start",
    }
)
MESSAGE_LIMIT = 500


def event_row(event: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = str(event.get("event") or "")
    if kind not in RECORDED:
        return None
    data = event.get("event_data") or {}
    res = data.get("res") or {}
    message = None
    if kind in ("runner_on_failed", "runner_on_unreachable"):
        text = res.get("msg") or res.get("stderr") or ""
        if res.get("censored"):
            text = str(res["censored"])
        message = str(text)[:MESSAGE_LIMIT] or None
    elif kind == "playbook_on_play_start":
        message = str(data.get("play") or "")[:MESSAGE_LIMIT] or None
    return {
        "host": str(data.get("host")) if data.get("host") else None,
        "task": role_name(data) or None,
        "event": kind,
        "name": str(data.get("task") or "")[:MESSAGE_LIMIT] or None,
        "changed": bool(res.get("changed")) if isinstance(res, Mapping) else False,
        "message": message,
    }


def timing(events: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[datetime, float]]:
    """(host, task) -> (first event time, seconds to its last event), from event timestamps."""
    spans: dict[tuple[str, str], list[datetime]] = {}
    for event in events:
        data = event.get("event_data") or {}
        host, role = data.get("host"), role_name(data)
        created = event.get("created")
        if not host or not role or not created:
            continue
        try:
            when = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
        except ValueError:
            continue
        span = spans.setdefault((str(host), role), [when, when])
        span[0], span[1] = min(span[0], when), max(span[1], when)
    from datetime import UTC

    return {
        key: (
            first if first.tzinfo else first.replace(tzinfo=UTC),
            (last - first).total_seconds(),
        )
        for key, (first, last) in spans.items()
    }


class EventRecorder:
    """Buffer event rows and write them from a background thread."""

    def __init__(
        self, write: Callable[[list[dict[str, Any]]], None], interval: float = 0.25
    ) -> None:
        self._write = write
        self._interval = interval
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="maint-recorder", daemon=True)
        self.errors: list[str] = []
        self._thread.start()

    def add(self, row: Mapping[str, Any]) -> None:
        with self._lock:
            self._rows.append(dict(row))

    def __call__(self, event: Mapping[str, Any]) -> None:
        row = event_row(event)
        if row is not None:
            self.add(row)

    def flush(self) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
        if rows:
            try:
                self._write(rows)
            except Exception as exc:  # keep the run going; reported at the end
                self.errors.append(str(exc))

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.flush()
