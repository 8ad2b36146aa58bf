"""The role result contract, read from ansible-runner events (pure: no I/O).

Every preventive role ends with a task that sets the fact ``maint_result``; the runner reads it
from the ``runner_on_ok`` event of that task, never from scraped text. See docs/role-contract.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("ok", "changed", "failed")
SEVERITIES = ("info", "low", "medium", "high", "critical")


COMPLETE_STATUSES = ("ok", "changed")
OBSERVING_MODES = ("apply", "check")


def complete_observation(
    status: str, mode: str, *, rolled_back: bool = False, action: str | None = None
) -> bool:
    """Whether a recorded result re-checked its task on its host: what it reports is the
    host's state then, and a finding it no longer reports is gone.

    The task finished there (``ok`` or ``changed``: not failed, skipped, unreachable or
    deferred), in an apply or a check run (a plan's or an audit's check run looks at the host
    as it is), its change was not rolled back, and it is the task's own run, not a rollback's
    or a reconcile's result (``data.action``). The report's findings opened and closed and
    the automatic closing of follow-ups both use this rule.
    """
    return (
        status in COMPLETE_STATUSES and mode in OBSERVING_MODES and not rolled_back and not action
    )


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    message: str
    recommendation: str = ""
    # What the host really runs with: effective, expected, source ("FILE:LINE" or a command)
    evidence: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Finding:
        severity = str(raw.get("severity", "info"))
        if severity not in SEVERITIES:
            raise ValueError(f"finding {raw.get('id')!r}: unknown severity {severity!r}")
        evidence = raw.get("evidence")
        return cls(
            id=str(raw["id"]),
            severity=severity,
            message=str(raw.get("message", "")),
            recommendation=str(raw.get("recommendation", "")),
            evidence=(
                {str(k): str(v) for k, v in evidence.items() if v is not None}
                if isinstance(evidence, Mapping)
                else {}
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "id": self.id,
            "severity": self.severity,
            "message": self.message,
            "recommendation": self.recommendation,
        }
        if self.evidence:
            found["evidence"] = dict(self.evidence)
        return found


@dataclass(frozen=True)
class TaskResult:
    host: str
    task: str
    status: str
    findings: tuple[Finding, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    rollback: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""

    @classmethod
    def from_fact(cls, host: str, raw: Mapping[str, Any]) -> TaskResult:
        status = str(raw.get("status", "ok"))
        if status not in STATUSES:
            raise ValueError(f"{host}: maint_result.status {status!r} is not one of {STATUSES}")
        return cls(
            host=host,
            task=str(raw.get("task", "")),
            status=status,
            findings=tuple(Finding.from_dict(f) for f in raw.get("findings") or ()),
            data=dict(raw.get("data") or {}),
            rollback=dict(raw.get("rollback") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "task": self.task,
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
            "data": dict(self.data),
            "rollback": dict(self.rollback),
            **({"error": self.error} if self.error else {}),
        }


FACTS_TASK = "Gathering Facts"  # the play's implicit fact gathering
KEPT_FACTS = frozenset({"maint_result"})  # the only facts read from other tasks' events


def lean_event(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """What a run keeps of an event in memory: no display text (``stdout``), and of the facts a
    task returned, other than fact gathering's, only ``maint_result``.

    The rest (``package_facts``' list of every installed package, service lists) is read by
    nobody; held for every host and task it made the runner the largest process of a
    200-host run. Returns the event itself when there is nothing to leave out.
    """
    data = event.get("event_data")
    res = data.get("res") if isinstance(data, Mapping) else None
    facts = res.get("ansible_facts") if isinstance(res, Mapping) else None
    trim_facts = (
        isinstance(facts, Mapping)
        and data.get("task") != FACTS_TASK
        and any(key not in KEPT_FACTS for key in facts)
    )
    if "stdout" not in event and not trim_facts:
        return event
    kept = {key: value for key, value in event.items() if key != "stdout"}
    if trim_facts:
        kept_facts = {key: value for key, value in facts.items() if key in KEPT_FACTS}
        kept["event_data"] = {**data, "res": {**res, "ansible_facts": kept_facts}}
    return kept


def role_name(event_data: Mapping[str, Any]) -> str:
    role = str(event_data.get("role") or "")
    return role.rsplit(".", 1)[-1]


def collect_results(events: Iterable[Mapping[str, Any]]) -> list[TaskResult]:
    """Turn an ansible-runner event stream into one result per host and task.

    A ``maint_result`` fact wins; a host that failed or was unreachable inside a role without
    publishing a result gets a ``failed`` result carrying the error message.
    """
    published: dict[tuple[str, str], TaskResult] = {}
    failures: dict[tuple[str, str], str] = {}
    order: list[tuple[str, str]] = []
    last: dict[str, tuple[str, str]] = {}  # host -> its latest published result
    for event in events:
        kind = event.get("event")
        data = event.get("event_data") or {}
        host = str(data.get("host") or "")
        if not host:
            continue
        res = data.get("res") or {}
        if kind == "runner_on_ok":
            fact = (res.get("ansible_facts") or {}).get("maint_result")
            if isinstance(fact, Mapping):
                result = TaskResult.from_fact(host, fact)
                key = (host, result.task)
                if key not in published and key not in failures:
                    order.append(key)
                published[key] = result
                last[host] = key
        elif kind in ("runner_on_failed", "runner_on_unreachable"):
            if kind == "runner_on_failed" and data.get("ignore_errors"):
                continue
            task = role_name(data)
            # A failure outside any role (a playbook's own task) belongs to the result the
            # playbook published just before it, e.g. the post-checks' "fail the host".
            key = (host, task) if task else last.get(host, (host, "unknown"))
            message = str(res.get("msg") or res.get("stderr") or "task failed")
            failures[key] = f"{data.get('task', '')}: {message}".strip(": ")
            if key not in published:
                order.append(key)
    results: list[TaskResult] = []
    for key in dict.fromkeys(order):
        host, task = key
        if key in failures:
            base = published.get(key)
            results.append(
                TaskResult(
                    host=host,
                    task=task,
                    status="failed",
                    findings=base.findings if base else (),
                    data=base.data if base else {},
                    rollback=base.rollback if base else {},
                    error=failures[key],
                )
            )
        else:
            results.append(published[key])
    return results
