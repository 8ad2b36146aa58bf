"""``maint plan``'s work: a check-mode run of a window's tasks, turned into a signed plan file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from .clock import Clock
from .config import MaintConfig, Window
from .execution import EventHandler, RunOutcome, run_playbook
from .plan import collect_changes, host_entries, make_file
from .revision import content_revision, inventory_hash
from .schedule import Occurrence, occurrences, window_status
from .signing import SigningError, message, sign, verify


class PlanRefused(click.ClickException):
    """The plan cannot be made (bad input or a key that is not allowed): exit 2."""

    exit_code = 2


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


def check_run(
    window: Window,
    inventory: Path,
    limit: str | None,
    on_event: EventHandler | None = None,
) -> RunOutcome:
    return run_playbook(
        "preventive",
        inventory,
        extravars=extravars(window.tasks, window.targets),
        limit=limit,
        check=True,
        diff=True,
        on_event=on_event,
    )


@dataclass
class Author:
    principal: str
    key: Path


def identify(allowed_signers: Path, key: Path) -> Author:
    """Who ``key`` signs as; refuse keys the allowed_signers file does not know."""
    probe = b"maint-plan whoami\n"
    try:
        checked = verify(allowed_signers, sign(key, probe), probe)
    except SigningError as exc:
        raise PlanRefused(str(exc)) from None
    if not checked.valid or checked.principal is None:
        raise PlanRefused(f"--key {key}: {checked.reason}")
    return Author(checked.principal, key)


def build_plan(
    config: MaintConfig,
    window: Window,
    occ: Occurrence,
    inventory: Path,
    limit: str | None,
    outcome: RunOutcome,
    clock: Clock,
) -> dict[str, Any]:
    """The plan content (unsigned) from a check-mode outcome."""
    hosts = host_entries(outcome.results, collect_changes(outcome.events))
    vars_ = extravars(window.tasks, window.targets)
    return {
        "window": window.name,
        "occurrence": occurrence_dict(occ),
        "created_at": clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
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
        "hosts": hosts,
        "unreachable": unreachable_hosts(outcome.events),
    }


def sign_as_author(content: Mapping[str, Any], author: Author, clock: Clock) -> dict[str, Any]:
    now = clock.now().astimezone(UTC).replace(microsecond=0)
    raw = make_file(content, None)
    try:
        signature = sign(author.key, message("author", raw["id"], now))
    except SigningError as exc:
        raise PlanRefused(str(exc)) from None
    raw["author"] = {
        "principal": author.principal,
        "signed_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "signature": signature,
    }
    return raw


def write_plan(raw: Mapping[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(raw, indent=2, sort_keys=True) + "\n")
    tmp.replace(out)
