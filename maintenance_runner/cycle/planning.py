"""Planning a window: a check-mode run of its tasks, turned into a signed, recorded plan file.

:func:`plan_window` is the one way a plan is made: ``maint plan`` and the tick both call it.
Plans are written under ``.maint/plans/`` next to maint.yml unless a path is given.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from maintenance_runner.actionlog.plans import load_plan, record_plan, record_signature
from maintenance_runner.actionlog.sightings import record_sightings
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.ansible.bindings import run_inputs
from maintenance_runner.ansible.execution import EventHandler, RunOutcome, process_env, run_playbook
from maintenance_runner.ansible.inventory import check_inventory
from maintenance_runner.ansible.revision import content_revision, inventory_hash
from maintenance_runner.config.models import MaintConfig, Window
from maintenance_runner.core.clock import Clock, parse_instant
from maintenance_runner.core.plan import (
    Plan,
    PlanError,
    collect_changes,
    host_entries,
    load_file,
    make_file,
)
from maintenance_runner.core.results import Finding, TaskResult
from maintenance_runner.core.schedule import Occurrence, occurrences, window_status
from maintenance_runner.cycle.cve import judge
from maintenance_runner.cycle.followups import create_from_config
from maintenance_runner.cycle.patch_policy import (
    UPDATE,
    baseline_digest,
    baseline_vars,
    patch_vars,
    update_sightings,
)
from maintenance_runner.cycle.signing import Signer, message, sign
from maintenance_runner.errors import InputError
from maintenance_runner.report.files import write_atomic

PLANS_DIR = ".maint/plans"


class PlanRefused(InputError):
    """The plan cannot be made or read (bad input or a key that is not allowed): exit 2."""


def inventory_path(config: MaintConfig) -> Path:
    if not config.inventory:
        raise PlanRefused("maint.yml: inventory: required to plan or apply a window")
    path = config.resolve(config.inventory)
    if not path.exists():
        raise PlanRefused(f"maint.yml: inventory: {path} does not exist")
    return path


def pick_occurrence(
    window: Window, config: MaintConfig, now: datetime, at: datetime | None
) -> Occurrence:
    """The occurrence starting at (or containing) ``at``; else the open or next planned one."""
    if at is not None:
        for occ in occurrences(window, config, since=at, count=5):
            if occ.start <= at < occ.end or occ.start >= at:
                if occ.status != "planned":
                    raise PlanRefused(
                        f"occurrence {occ.key} is skipped ({occ.reason}); pick another"
                    )
                return occ
        raise PlanRefused(
            f"window {window.name} has no occurrence at or after {at:%Y-%m-%dT%H:%MZ}"
        )
    status = window_status(window, config, now)
    if status.current is not None and status.current.status == "planned":
        return status.current
    if status.next is None:
        raise PlanRefused(f"window {window.name} has no planned occurrence ahead")
    return status.next


def extravars(window_tasks: Sequence[str], targets: str) -> dict[str, Any]:
    return {"maint_tasks": list(window_tasks), "maint_targets": targets}


def variables_hash(vars_: Mapping[str, Any], window: Window) -> str:
    payload = {"extravars": vars_, "window": window.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def unreachable_hosts(events: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted(
        {
            str((e.get("event_data") or {}).get("host"))
            for e in events
            if e.get("event") == "runner_on_unreachable"
        }
    )


def occurrence_dict(occ: Occurrence) -> dict[str, str]:
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "key": occ.key,
        "start": occ.start.strftime(fmt),
        "end": occ.end.strftime(fmt),
        "cutoff": occ.cutoff.strftime(fmt),
        "timezone": occ.timezone,
    }


def bound_inputs(
    config: MaintConfig, window: Window | None, tasks: Sequence[str], targets: str
) -> dict[str, str]:
    """What a plan binds besides its content: Ansible's inputs (``ansible/bindings.py``) and
    the patch baselines its window decides with."""
    inputs = run_inputs(process_env(), extravars(tasks, targets))
    if window is not None and baseline_vars(config, window):
        inputs["patch baselines"] = baseline_digest(config, window)
    return inputs


def check_run(
    window: Window,
    inventory: Path,
    limit: str | None,
    on_event: EventHandler | None = None,
    extra: Mapping[str, Any] | None = None,
) -> RunOutcome:
    """The window's tasks in check and diff mode: what a plan (or a drift check) is made of."""
    return run_playbook(
        "preventive",
        inventory,
        extravars={**extravars(window.tasks, window.targets), **(extra or {})},
        limit=limit,
        check=True,
        diff=True,
        on_event=on_event,
    )


def with_findings(
    results: Sequence[TaskResult], extra: Mapping[str, Sequence[Finding]]
) -> list[TaskResult]:
    """``results`` with each host's ``extra`` findings added to its patching result."""
    found = []
    for result in results:
        more = tuple(extra.get(result.host, ())) if result.task == "patching" else ()
        found.append(replace(result, findings=(*result.findings, *more)) if more else result)
    return found


def build_plan(
    config: MaintConfig,
    window: Window,
    occ: Occurrence,
    inventory: Path,
    limit: str | None,
    outcome: RunOutcome,
    clock: Clock,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """The plan content (unsigned) from a check-mode outcome (decided as of ``as_of``)."""
    hosts = host_entries(outcome.results, collect_changes(outcome.events))
    vars_ = extravars(window.tasks, window.targets)
    created = (as_of or clock.now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "window": window.name,
        "occurrence": occurrence_dict(occ),
        "created_at": created,
        "tasks": list(window.tasks),
        "targets": window.targets,
        "limit": limit,
        "change": window.change,
        "batch": window.batch,
        "max_fail": window.max_fail,
        "post_checks": [c.model_dump() for c in window.post_checks],
        "inventory": {"path": str(inventory.resolve()), "hash": inventory_hash(inventory)},
        "variables": {"hash": variables_hash(vars_, window)},
        "content": content_revision(),
        "inputs": bound_inputs(config, window, window.tasks, window.targets),
        "settings": window.model_dump(mode="json"),
        "hosts": hosts,
        "unreachable": unreachable_hosts(outcome.events),
    }


def sign_as_author(content: Mapping[str, Any], author: Signer, clock: Clock) -> Plan:
    now = clock.now().astimezone(UTC).replace(microsecond=0)
    raw = make_file(content, None)
    raw["author"] = {
        "principal": author.principal,
        "signed_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "signature": sign(author.key, message("author", raw["id"], now)),
    }
    return load_file(raw, "the new plan")


def write_plan(plan: Plan, out: Path) -> None:
    write_atomic(out, json.dumps(plan.raw, indent=2, sort_keys=True) + "\n")


def record_occurrence_of(log: ActionLog, plan: Plan, state: str = "planned") -> int | None:
    """The occurrence a plan is for, recorded once; None for a plan without one."""
    slot = plan.slot
    return log.record_occurrence(slot, state) if slot is not None else None


def record_planned(log: ActionLog, plan: Plan, occurrence_id: int | None) -> None:
    """Record a new plan and its author's signature."""
    record_plan(log, plan, occurrence_id)
    if plan.author is not None and plan.author.principal:
        record_signature(
            log,
            plan.id,
            plan.author.principal,
            "author",
            parse_instant(plan.author.signed_at),
            plan.author.signature,
        )


@dataclass(frozen=True)
class Planned:
    plan: Plan
    path: Path
    occurrence: Occurrence
    occurrence_id: int
    outcome: RunOutcome


def plan_window(
    config: MaintConfig,
    log: ActionLog,
    window: Window,
    occ: Occurrence,
    author: Signer,
    clock: Clock,
    *,
    limit: str | None = None,
    out: Path | None = None,
    say: Callable[[str], None] | None = None,
    allow_empty: bool = False,
) -> Planned:
    """Plan one occurrence of a window: check-mode run, sign as author, write, record.

    The plan is written to ``out``, else ``.maint/plans/<window>-<id>.json`` next to maint.yml.
    An inventory that is not one is refused before the check run, and a plan for no host
    unless ``allow_empty``.
    """
    inventory = inventory_path(config)
    check_inventory(inventory)
    if say is not None:
        say(f"planning {window.name} for {occ.key}: {', '.join(window.tasks)} (check mode)")
    as_of = clock.now()
    outcome = check_run(window, inventory, limit, extra=patch_vars(config, window, log, as_of))
    if config.cve is not None and "patching" in window.tasks:
        judgment = judge(
            config.cve, log, clock, inventory, window.targets, limit, outcome.results,
            window=window.name,
        )  # fmt: skip
        outcome = replace(outcome, results=with_findings(outcome.results, judgment.findings))
        create_from_config(log, config, judgment.run_id)
    content = build_plan(config, window, occ, inventory, limit, outcome, clock, as_of)
    if not content["hosts"] and not content["unreachable"] and not allow_empty:
        raise PlanRefused(
            f"{inventory}: no host matched the window's targets {window.targets!r}"
            + (f" and --limit {limit!r}" if limit else "")
            + ": nothing to plan (--allow-empty records an empty plan on purpose)"
        )
    plan = sign_as_author(content, author, clock)
    path = out or config.resolve(PLANS_DIR) / f"{window.name}-{plan.short}.json"
    write_plan(plan, path)
    occurrence_id = log.record_occurrence(occ.slot)
    record_planned(log, plan, occurrence_id)
    record_sightings(log, UPDATE, update_sightings(outcome.results), plan_uid=plan.id)
    return Planned(plan, path, occ, occurrence_id, outcome)


def read_plan(ref: str, log: ActionLog | None = None) -> Plan:
    """A plan from a file, or from the action log by id (or id prefix), read once and typed."""
    path = Path(ref)
    if path.is_file():
        try:
            raw = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PlanRefused(f"{path}: not a readable plan file: {exc}") from None
        try:
            return load_file(raw, str(path))
        except PlanError as exc:
            raise PlanRefused(str(exc)) from None
    if log is not None and len(ref) >= 8 and all(c in "0123456789abcdef" for c in ref):
        found = load_plan(log, ref)
        if found is not None:
            return stored_plan(found, f"plan {ref}")
    raise PlanRefused(f"{ref}: no such plan file (or plan id in the action log)")


def stored_plan(raw: Mapping[str, Any], where: str) -> Plan:
    """A plan file as the action log stored it."""
    try:
        return load_file(dict(raw), where)
    except PlanError as exc:
        raise PlanRefused(str(exc)) from None
