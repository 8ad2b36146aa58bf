"""Change plans (pure): what a check-mode run says would change, its canonical form and its id.

A plan file holds ``{"format", "id", "plan", "author"}``. ``plan`` is the content; ``id`` is the
SHA-256 of its canonical JSON (sorted keys, no spaces, UTF-8), so editing one byte of the content
changes the id, and every signature (the author's and the approvers') is over the id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .results import TaskResult, _role_name

FORMAT = "maint-plan/1"


class PlanError(ValueError):
    """A plan file that cannot be used (message names the file and the field)."""


def canonical(content: Mapping[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def plan_id(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(content)).hexdigest()


def _diff_summary(diff: Any) -> str:
    """``/etc/ssh/sshd_config: +3 -1`` for each file of an Ansible diff (headers and counts)."""
    parts = []
    for item in diff if isinstance(diff, list) else [diff]:
        if not isinstance(item, Mapping):
            continue
        header = item.get("after_header") or item.get("before_header") or ""
        before, after = item.get("before"), item.get("after")
        if isinstance(before, str) and isinstance(after, str):
            old, new = before.splitlines(), after.splitlines()
            added = len([x for x in new if x not in old])
            removed = len([x for x in old if x not in new])
            parts.append(f"{header or 'content'}: +{added} -{removed}".strip())
        elif "prepared" in item:
            parts.append(str(item["prepared"]).strip().splitlines()[0][:120])
        elif before is not None or after is not None:
            parts.append(f"{header or 'state'}: {before!s:.40} -> {after!s:.40}")
    return "; ".join(p for p in parts if p)


@dataclass(frozen=True)
class Change:
    """One Ansible task that would change a host, inside a preventive task (role)."""

    host: str
    task: str
    name: str
    diff: str = ""


def collect_changes(events: Iterable[Mapping[str, Any]]) -> list[Change]:
    """Every task a (check-mode) run reports as changed, per host and role, in order."""
    changes = []
    for event in events:
        if event.get("event") != "runner_on_ok":
            continue
        data = event.get("event_data") or {}
        res = data.get("res") or {}
        if not res.get("changed"):
            continue
        role = _role_name(data)
        if not role:
            continue
        name = str(data.get("task") or "")
        changes.append(Change(str(data.get("host")), role, name, _diff_summary(res.get("diff"))))
    return changes


def _package_items(result: TaskResult) -> list[str]:
    items = []
    for pkg in result.data.get("planned") or []:
        if isinstance(pkg, Mapping):
            action = pkg.get("action", "upgrade")
            items.append(
                f"package {pkg.get('name')} {pkg.get('current') or '-'} -> "
                f"{pkg.get('candidate') or '-'} ({action})"
            )
    return items


def host_entries(
    results: Iterable[TaskResult], changes: Iterable[Change]
) -> dict[str, dict[str, Any]]:
    """Per host: its tasks (status, the changes they would make) and the findings raised."""
    hosts: dict[str, dict[str, Any]] = {}
    for result in results:
        host = hosts.setdefault(result.host, {"tasks": {}, "findings": []})
        host["tasks"][result.task] = {
            "status": result.status,
            "changes": [],
            "items": sorted(_package_items(result)) if result.task == "patching" else [],
            **({"error": result.error} if result.error else {}),
        }
        host["findings"].extend(
            {"task": result.task, **finding.__dict__} for finding in result.findings
        )
    for change in changes:
        host = hosts.setdefault(change.host, {"tasks": {}, "findings": []})
        task = host["tasks"].setdefault(
            change.task, {"status": "changed", "changes": [], "items": []}
        )
        entry = {"name": change.name, "diff": change.diff}
        if entry not in task["changes"]:
            task["changes"].append(entry)
    return hosts


def change_keys(hosts: Mapping[str, Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    """(host, task, what) for everything a plan says will change: tasks and exact packages."""
    keys = set()
    for host, entry in hosts.items():
        for task, detail in (entry.get("tasks") or {}).items():
            for change in detail.get("changes") or []:
                keys.add((host, task, f"task {change.get('name')}"))
            for item in detail.get("items") or []:
                keys.add((host, task, item))
    return keys


def drift(
    planned: Mapping[str, Mapping[str, Any]], live: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """What a live check run would change that the plan did not contain (one line each)."""
    extra = change_keys(live) - change_keys(planned)
    return [f"{host}: {task}: {what}" for host, task, what in sorted(extra)]


def hosts_with_changes(hosts: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return sorted(
        h
        for h, entry in hosts.items()
        if any(
            t.get("changes") or t.get("items") or t.get("status") == "changed"
            for t in (entry.get("tasks") or {}).values()
        )
    )


def make_file(content: Mapping[str, Any], author: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"format": FORMAT, "id": plan_id(content), "plan": dict(content), "author": author}


def load_file(raw: Any, file: str) -> dict[str, Any]:
    """Check a parsed plan file's shape; return it. Tampering is checked by ``integrity``."""
    if not isinstance(raw, dict):
        raise PlanError(f"{file}: not a plan file (expected a JSON object)")
    if raw.get("format") != FORMAT:
        raise PlanError(f"{file}: format: expected {FORMAT!r}, got {raw.get('format')!r}")
    for key, kind in (("id", str), ("plan", dict)):
        if not isinstance(raw.get(key), kind):
            raise PlanError(f"{file}: {key}: missing or not a {kind.__name__}")
    content = raw["plan"]
    for key, kind in (
        ("window", str),
        ("tasks", list),
        ("hosts", dict),
        ("inventory", dict),
        ("content", dict),
    ):
        if not isinstance(content.get(key), kind):
            raise PlanError(f"{file}: plan.{key}: missing or not a {kind.__name__}")
    author = raw.get("author")
    if author is not None and not (
        isinstance(author, dict) and {"signed_at", "signature"} <= set(author)
    ):
        raise PlanError(f"{file}: author: expected signed_at and signature")
    return raw


def integrity(raw: Mapping[str, Any]) -> str | None:
    """None when the id matches the content, else why not."""
    actual = plan_id(raw["plan"])
    if actual != raw["id"]:
        return (
            f"the plan content was edited after it was made (its hash is {actual[:12]}, "
            f"the signed id is {str(raw['id'])[:12]})"
        )
    return None
