"""Reconciling a killed run: what it may have changed is found on the hosts and recorded.

An apply run still marked *running* when the next apply (or tick) of its plan holds the
occurrence's lock was killed. Before anything else starts:

1. what is left of it on this machine is killed (``guard.reap``: every process carrying its
   run uid), so nothing of it runs beside the next apply;
2. every host it started (a ``host_start`` event) without finishing (``host_done``) may have
   been changed: ``playbooks/reconcile.yml`` looks on each for what the run wrote before
   changing anything (its manifest or backups, named after the run uid) and compares it with
   the host's state now;
3. each change found is recorded as a result of the killed run, with the rollback record the
   role publishes after a normal apply, so ``maint rollback RUN`` undoes it;
4. the run is recorded as interrupted, naming the hosts reconciled.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from maintenance_runner.actionlog.plans import (
    finished_hosts,
    record_events,
    record_results,
    run_hosts,
)
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.ansible.execution import run_playbook
from maintenance_runner.ansible.guard import reap
from maintenance_runner.ansible.recorder import timing
from maintenance_runner.core.clock import Clock
from maintenance_runner.core.plan import Plan
from maintenance_runner.errors import Refused


def _event(host: str | None, kind: str, message: str) -> dict[str, Any]:
    return {
        "host": host,
        "task": None,
        "event": kind,
        "name": None,
        "changed": False,
        "message": message,
    }


def reconcile(plan: Plan, log: ActionLog, clock: Clock, run: Mapping[str, Any]) -> str:
    """Reconcile the killed apply ``run`` of ``plan`` (see the module); return what was done."""
    uid = str(run["run_uid"])
    try:
        killed = reap(uid)
    except TimeoutError as exc:
        raise Refused(f"refusing to apply, nothing was run: {exc}") from None
    done = set(run_hosts(log, run["id"], "host_done"))
    touched = [h for h in run_hosts(log, run["id"], "host_start") if h not in done]
    parts = [f"killed {len(killed)} leftover process(es)"] if killed else []
    if not touched:
        parts.append("no host was in flight")
        return "; ".join(parts)
    content = plan.content
    outcome = run_playbook(
        "reconcile",
        Path(content.inventory.path),
        extravars={
            "maint_tasks": list(content.tasks),
            "maint_targets": content.targets,
            "maint_run_id": uid,
        },
        limit=",".join(touched),
    )
    changed = [r for r in outcome.results if r.status == "changed"]
    record_results(log, run["id"], changed, timing(outcome.events), clock.now())
    answered = {r.host for r in outcome.results}
    rows = []
    for host in touched:
        mine = [r.task for r in changed if r.host == host]
        if host not in answered:
            text = "could not be checked: no answer (check it by hand before relying on it)"
        elif mine:
            text = "changed by the killed run, recorded with its rollback: " + ", ".join(mine)
        else:
            text = "not changed by the killed run"
        rows.append(_event(host, "reconciled", text))
    record_events(log, run["id"], rows)
    parts.append(
        f"reconciled {len(touched)} host(s) in flight: "
        + ", ".join(f"{e['host']} {e['message'].split(':')[0]}" for e in rows)
    )
    return "; ".join(parts)


def interrupted_message(log: ActionLog, plan_uid: str, why: str) -> str:
    """``interrupted (why); finished before: a (done), b (rolled_back)``."""
    finished = finished_hosts(log, plan_uid)
    return f"interrupted ({why}); finished before: " + (
        ", ".join(f"{h} ({s})" for h, s in sorted(finished.items())) or "none"
    )
