"""Change plans (pure): what a check-mode run says would change, its canonical form and its id.

A plan file holds ``{"format", "id", "plan", "author"}``. ``plan`` is the content; ``id`` is the
SHA-256 of its canonical JSON (sorted keys, no spaces, UTF-8), so editing one byte of the content
changes the id, and every signature (the author's and the approvers') is over the id.

A plan file is read once into a typed, frozen :class:`Plan` (:func:`load_file`); everything
after that reads its fields, never the bare dict. The dict it was read from stays in
``Plan.raw``: it is what the id is computed over and what the action log stores.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from maintenance_runner.core.results import TaskResult, role_name
from maintenance_runner.core.schedule import Slot

FORMAT = "maint-plan/1"


class PlanError(ValueError):
    """A plan file that cannot be used (message names the file and the field)."""


def canonical(content: Mapping[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def plan_id(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(content)).hexdigest()


# --- the typed plan ---------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class PlannedChange(_Frozen):
    """One Ansible task that would change the host, with a summary of its diff."""

    name: str
    diff: str = ""


class ControlChange(_Frozen):
    """One change a control would make (a role's ``data.changes``, docs/role-contract.md)."""

    control: str
    kind: str
    target: str
    action: str
    before: str | None = None
    after: str | None = None
    diff: str | None = None
    pulls: tuple[str, ...] = ()
    would_fail: str | None = None
    note: str | None = None  # a line for the approver

    @property
    def key(self) -> str:
        """What the drift check compares: the control, what it touches, how, and to what."""
        return f"{self.control} {self.kind} {self.target} {self.action} {self.after or ''}".strip()

    def summary(self) -> str:
        """``package libpam-pwquality install - -> 1.4.5-1 (pulls libpwquality1 1.4.5-1)``."""
        values = ""
        if self.before is not None or self.after is not None:
            values = f" {self.before or '-'} -> {self.after or '-'}"
        pulls = f" (pulls {', '.join(self.pulls)})" if self.pulls else ""
        return f"{self.kind} {self.target} {self.action}{values}{pulls}"


class PlannedTask(_Frozen):
    """A preventive task on one host: its check-mode status and what it would change."""

    status: str
    changes: tuple[PlannedChange, ...] = ()
    items: tuple[str, ...] = ()
    controls: tuple[ControlChange, ...] = ()
    waiting: tuple[str, ...] = ()  # updates the patch baseline keeps out, each with why
    error: str | None = None

    def by_control(self) -> dict[str, list[ControlChange]]:
        """The control changes grouped by control, would-fail controls first."""
        groups: dict[str, list[ControlChange]] = {}
        for change in self.controls:
            groups.setdefault(change.control, []).append(change)
        failing = sorted(c for c, items in groups.items() if any(i.would_fail for i in items))
        rest = sorted(c for c in groups if c not in failing)
        return {c: groups[c] for c in [*failing, *rest]}


class PlannedFinding(_Frozen):
    task: str
    id: str
    severity: str
    message: str = ""
    recommendation: str = ""
    evidence: dict[str, str] = Field(default_factory=dict)


class PlannedHost(_Frozen):
    tasks: dict[str, PlannedTask] = Field(default_factory=dict)
    findings: tuple[PlannedFinding, ...] = ()

    @property
    def would_change(self) -> bool:
        return any(
            t.changes or t.items or t.controls or t.status == "changed" for t in self.tasks.values()
        )

    def would_fail(self) -> dict[str, list[ControlChange]]:
        """task -> the changes predicted to fail on this host."""
        found: dict[str, list[ControlChange]] = {}
        for task, detail in self.tasks.items():
            failing = [c for c in detail.controls if c.would_fail]
            if failing:
                found[task] = failing
        return found


class PlanOccurrence(_Frozen):
    """The window occurrence a plan is for (instants in UTC)."""

    key: str
    start: datetime
    end: datetime
    cutoff: datetime
    timezone: str


class PlanInventory(_Frozen):
    path: str
    hash: str


class PlanContent(_Frozen):
    """What the approvers sign (through the id): the window, its settings, every host's changes."""

    window: str
    occurrence: PlanOccurrence | None = None
    created_at: str = ""
    tasks: tuple[str, ...]
    targets: str = "all"
    limit: str | None = None
    change: str = "normal"
    batch: str = "100%"
    max_fail: str = "0"
    post_checks: tuple[dict[str, Any], ...] = ()
    inventory: PlanInventory
    variables: dict[str, Any] = Field(default_factory=dict)
    revision: dict[str, Any] = Field(alias="content")
    inputs: dict[str, str] = Field(default_factory=dict)  # what else shapes the run (bindings)
    settings: dict[str, Any] = Field(default_factory=dict)  # the window's settings when planned
    hosts: dict[str, PlannedHost]
    unreachable: tuple[str, ...] = ()

    def hosts_with_changes(self) -> list[str]:
        return sorted(h for h, entry in self.hosts.items() if entry.would_change)


class PlanAuthor(_Frozen):
    principal: str | None = None
    signed_at: str
    signature: str


class Plan(_Frozen):
    """A plan file, read and checked once."""

    format: Literal["maint-plan/1"]
    id: str
    content: PlanContent = Field(alias="plan")
    author: PlanAuthor | None = None
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def raw(self) -> dict[str, Any]:
        """The file as read: the id is over ``raw["plan"]``; the action log stores all of it."""
        return self._raw

    @property
    def short(self) -> str:
        return self.id[:12]

    @property
    def window(self) -> str:
        return self.content.window

    @property
    def slot(self) -> Slot | None:
        """The occurrence this plan is for, in the shape the action log records."""
        occ = self.content.occurrence
        if occ is None:
            return None
        return Slot(self.window, occ.timezone, occ.start, occ.end, occ.cutoff)

    @property
    def lock_key(self) -> str:
        """What a lock on applying this plan is named after: its occurrence, else the plan."""
        return self.content.occurrence.key if self.content.occurrence else self.id

    def integrity(self) -> str | None:
        """None when the id matches the content, else why not."""
        return integrity(self.raw)


def _where(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for key in loc:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif key in ("function-after", "function-before") or "[" in str(key):
            continue
        else:
            parts.append(("." if parts else "") + str(key))
    return "".join(parts)


def load_file(raw: Any, file: str) -> Plan:
    """A parsed plan file, checked field by field; tampering is checked by ``integrity``.

    Raises PlanError with one line naming the file and the first wrong field.
    """
    if not isinstance(raw, dict):
        raise PlanError(f"{file}: not a plan file (expected a JSON object)")
    if raw.get("format") != FORMAT:
        raise PlanError(f"{file}: format: expected {FORMAT!r}, got {raw.get('format')!r}")
    try:
        plan = Plan.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = _where(tuple(error["loc"])) or "plan"
        value = error.get("input")
        got = "" if isinstance(value, dict | list) else f" (got {value!r:.60})"
        text = f"{where}: {error['msg']}{got}"
        if not text.isprintable():
            text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
        raise PlanError(f"{file}: {text}") from None
    plan._raw = raw
    return plan


def integrity(raw: Mapping[str, Any]) -> str | None:
    """None when the id matches the content, else why not."""
    actual = plan_id(raw["plan"])
    if actual != raw["id"]:
        return (
            f"the plan content was edited after it was made (its hash is {actual[:12]}, "
            f"the signed id is {str(raw['id'])[:12]})"
        )
    return None


def make_file(content: Mapping[str, Any], author: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"format": FORMAT, "id": plan_id(content), "plan": dict(content), "author": author}


# --- from a check-mode run to plan entries ----------------------------------------------------


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
        role = role_name(data)
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


def _waiting(result: TaskResult) -> list[str]:
    """``package openssl 3.0.11 -> 3.0.13: held until 2027-01-31: vendor bug`` for every pending
    update the patch baseline keeps out of the plan."""
    found = []
    for pkg in result.data.get("pending") or []:
        if isinstance(pkg, Mapping) and pkg.get("decision") == "out":
            found.append(
                f"package {pkg.get('name')} {pkg.get('current') or '-'} -> "
                f"{pkg.get('candidate') or '-'}: {pkg.get('reason') or 'left out'}"
            )
    return sorted(found)


def _control_changes(result: TaskResult) -> list[dict[str, Any]]:
    """The role's ``data.changes`` as plan entries; an entry that is not one is left out."""
    found = []
    for raw in result.data.get("changes") or []:
        if not isinstance(raw, Mapping):
            continue
        values = {
            k: (str(v) if k in ("before", "after") and v is not None else v) for k, v in raw.items()
        }
        try:
            change = ControlChange.model_validate(values)
        except ValidationError:
            continue
        found.append(change.model_dump(exclude_defaults=True))
    return found


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
            "controls": _control_changes(result),
            "waiting": _waiting(result) if result.task == "patching" else [],
            **({"error": result.error} if result.error else {}),
        }
        host["findings"].extend(
            {"task": result.task, **finding.to_dict()} for finding in result.findings
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


ChangeKey = tuple[str, str, str]


def change_keys(hosts: Mapping[str, PlannedHost]) -> set[ChangeKey]:
    """(host, task, what) for everything a plan says will change: tasks and exact packages."""
    keys = set()
    for host, entry in hosts.items():
        for task, detail in entry.tasks.items():
            for change in detail.changes:
                keys.add((host, task, f"task {change.name}"))
            for item in detail.items:
                keys.add((host, task, item))
            for control in detail.controls:
                keys.add((host, task, control.key))
    return keys


def typed_hosts(entries: Mapping[str, Mapping[str, Any]]) -> dict[str, PlannedHost]:
    """Plan entries (as :func:`host_entries` builds them) in their typed form."""
    return {host: PlannedHost.model_validate(entry) for host, entry in entries.items()}


def drift(planned: Mapping[str, PlannedHost], live: Mapping[str, PlannedHost]) -> list[str]:
    """What a live check run would change that the plan did not contain (one line each)."""
    extra = change_keys(live) - change_keys(planned)
    return [f"{host}: {task}: {what}" for host, task, what in sorted(extra)]
