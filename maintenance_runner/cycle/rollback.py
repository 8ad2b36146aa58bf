"""Rolling back a finished run by hand: every host (or some) from what its tasks recorded."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from maintenance_runner.actionlog.plans import (
    load_plan,
    rollback_records,
    rolled_back,
    run_by_uid,
)
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.config.models import MaintConfig
from maintenance_runner.core.clock import Clock
from maintenance_runner.core.results import TaskResult
from maintenance_runner.cycle.applier import Applier
from maintenance_runner.cycle.gate import check_log
from maintenance_runner.cycle.planning import PlanRefused, inventory_path, stored_plan
from maintenance_runner.errors import Refused

# The chains a rollback decides on: the run, what its tasks recorded, what was undone already.
ROLLBACK_TABLES = ("plans", "runs", "run_states", "result_details", "rollbacks")


@dataclass
class RollbackOutcome:
    run_uid: str
    lines: list[str] = field(default_factory=list)  # one per host: how its rollback went
    failed: list[str] = field(default_factory=list)
    nothing_left: bool = False


def rollback_run(
    config: MaintConfig,
    log: ActionLog,
    clock: Clock,
    run_uid: str,
    hosts: Sequence[str],
    *,
    actor: str,
    say: Callable[[str], None] | None = None,
) -> RollbackOutcome:
    """Roll back what run ``run_uid`` changed on ``hosts`` (all of them when empty)."""
    broken = check_log(log, ROLLBACK_TABLES)
    if broken:
        raise Refused(f"refusing to roll back {run_uid}, nothing was run: {broken[0]}")
    run = run_by_uid(log, run_uid)
    if run is None:
        raise PlanRefused(f"no run {run_uid!r} in the action log (see maint log)")
    done = rolled_back(log, run["id"])
    records = [
        r
        for r in rollback_records(log, run["id"])
        if (not hosts or r["host"] in hosts) and (r["host"], r["task"]) not in done
    ]
    outcome = RollbackOutcome(run_uid)
    if not records:
        outcome.nothing_left = True
        return outcome
    found = load_plan(log, run["plan_uid"]) if run["plan_uid"] else None
    plan = stored_plan(found, f"plan {run['plan_uid']}") if found else None
    inventory = Path(plan.content.inventory.path) if plan else inventory_path(config)
    rb_run = log.start_run(run["window"], "rollback", plan_uid=run["plan_uid"], actor=actor)
    applier = Applier(log, clock, rb_run, inventory, plan.content.targets if plan else "all")
    for host in dict.fromkeys(r["host"] for r in records):
        results = [
            TaskResult(host=host, task=r["task"], status="changed", rollback=r["rollback"])
            for r in records
            if r["host"] == host
        ]
        ok, detail = applier.rollback_host(host, results, of_run=run["id"])
        line = f"{host}: {'rolled back' if ok else 'ROLLBACK FAILED'}: {detail}"
        outcome.lines.append(line)
        if say is not None:
            say(line)
        if not ok:
            outcome.failed.append(host)
    log.finish_run(
        rb_run,
        "failed" if outcome.failed else "done",
        f"rollback of {run_uid}: {len(outcome.failed)} failed",
    )
    return outcome
