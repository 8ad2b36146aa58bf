"""What the audit reads from the ansible-runner event stream (pure): facts, unreachable hosts,
timings, and the tasks a failing role kept from running."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from maintenance_runner.core.results import FACTS_TASK, TaskResult

AUDIT_TASK = "audit"  # the task the audit's own results and findings are recorded under


def _event_data(event: Mapping[str, Any]) -> Mapping[str, Any]:
    data = event.get("event_data")
    return data if isinstance(data, Mapping) else {}


def gathered_facts(events: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """host -> ``ansible_facts`` of the "Gathering Facts" task (the first one that answered)."""
    facts: dict[str, dict[str, Any]] = {}
    for event in events:
        data = _event_data(event)
        if event.get("event") != "runner_on_ok" or data.get("task") != FACTS_TASK:
            continue
        host = str(data.get("host") or "")
        res = data.get("res") or {}
        gathered = res.get("ansible_facts") if isinstance(res, Mapping) else None
        if host and isinstance(gathered, Mapping) and host not in facts:
            facts[host] = dict(gathered)
    return facts


def unreachable_hosts(events: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """host -> why it could not be audited: unreachable, or fact gathering failed.

    A host that answered in another pass (the audit may run more than one) is not listed.
    """
    reasons: dict[str, str] = {}
    answered: set[str] = set()
    for event in events:
        kind = event.get("event")
        data = _event_data(event)
        host = str(data.get("host") or "")
        if not host:
            continue
        if kind == "runner_on_ok" and data.get("task") == FACTS_TASK:
            answered.add(host)
            continue
        res = data.get("res") or {}
        msg = str(res.get("msg") or res.get("stderr") or "") if isinstance(res, Mapping) else ""
        if kind == "runner_on_unreachable":
            reasons.setdefault(host, f"unreachable: {first_line(msg) or 'no answer'}")
        elif kind == "runner_on_failed" and data.get("task") == FACTS_TASK:
            reasons.setdefault(host, f"fact gathering failed: {first_line(msg) or 'no message'}")
    return {h: r for h, r in reasons.items() if h not in answered}


def first_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.strip().split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def hosts_seen(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every host named by an event, in order of first appearance."""
    seen: dict[str, None] = {}
    for event in events:
        host = _event_data(event).get("host")
        if host:
            seen.setdefault(str(host), None)
    return list(seen)


def _instant(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


@dataclass(frozen=True)
class Timing:
    started_at: datetime
    duration_s: float


def task_timings(events: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Timing]:
    """(host, task) -> when the role started on the host and how long it took, from the events.

    Fact gathering and unreachable hosts are timed under the task ``audit``.
    """
    spans: dict[tuple[str, str], tuple[datetime, datetime]] = {}
    for event in events:
        data = _event_data(event)
        host = str(data.get("host") or "")
        start, end = _instant(data.get("start")), _instant(data.get("end"))
        if not host or start is None:
            continue
        role = str(data.get("role") or "").rsplit(".", 1)[-1]
        task = role or (AUDIT_TASK if data.get("task") == FACTS_TASK else "")
        if not task:
            continue
        end = end or start
        key = (host, task)
        if key in spans:
            first, last = spans[key]
            spans[key] = (min(first, start), max(last, end))
        else:
            spans[key] = (start, end)
    return {
        key: Timing(first, round((last - first).total_seconds(), 3))
        for key, (first, last) in spans.items()
    }


def remaining_tasks(
    tasks: Sequence[str],
    results: Iterable[TaskResult],
    facts: Mapping[str, Any],
    unreachable: Mapping[str, str],
) -> dict[tuple[str, ...], list[str]]:
    """Tasks that never ran on a reachable host, grouped by the same remaining task list.

    In a playbook a role that fails stops the host: the roles after it never run. The audit runs
    those again (another pass, limited to the hosts concerned) so one broken role does not hide
    the rest of a host. Returns ``{(task, ...): [host, ...]}``; empty when nothing is left.
    """
    done: dict[str, set[str]] = {}
    for result in results:
        done.setdefault(result.host, set()).add(result.task)
    groups: dict[tuple[str, ...], list[str]] = {}
    for host in facts:
        if host in unreachable:
            continue
        ran = done.get(host, set())
        left = tuple(t for t in tasks if t not in ran)
        if left:
            groups.setdefault(left, []).append(host)
    return groups
