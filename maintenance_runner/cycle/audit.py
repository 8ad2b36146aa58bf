"""The onboarding audit as a use case: every preventive task in check mode plus facts.

:func:`prepare_audit` finds the site, the inventory, the tasks and the hosts (and refuses with
an :class:`~maintenance_runner.errors.InputError` before anything runs); :func:`run_audit` runs
the collection's ``preventive`` playbook in check mode (again on hosts where a failing role
stopped the play), turns what came back into the asset register, risk notes and roadmap
(``audit/``, pure), writes them and, when a maint.yml names an action log, records the audit
there as a run in mode ``check``.

Progress goes to a callback ``progress(kind, info)``: ``note`` (``text``: a line for a person),
``pass`` (``tasks`` on ``hosts``; ``again`` when it runs tasks a failing role kept from running),
``event`` (``event``: each ansible-runner event as it comes) and ``done`` (the runs are over).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maintenance_runner.actionlog.audits import record_audit_rows
from maintenance_runner.actionlog.sightings import record_sightings
from maintenance_runner.actionlog.store import ActionLog, redact
from maintenance_runner.ansible.collection import preventive_tasks
from maintenance_runner.ansible.execution import run_playbook
from maintenance_runner.audit.events import (
    gathered_facts,
    hosts_seen,
    remaining_tasks,
    task_timings,
    unreachable_hosts,
)
from maintenance_runner.audit.model import (
    Audit,
    actionlog_details,
    actionlog_findings,
    actionlog_results,
    build_audit,
)
from maintenance_runner.audit.render import write_audit
from maintenance_runner.config.load import DEFAULT_CONFIG, load_config
from maintenance_runner.config.models import MaintConfig
from maintenance_runner.core.clock import Clock
from maintenance_runner.core.results import TaskResult
from maintenance_runner.cycle.patch_policy import UPDATE, update_sightings
from maintenance_runner.errors import UsageProblem

Progress = Callable[[str, Mapping[str, Any]], None]

# The audit looks, it never installs: a missing antivirus engine or backup tool is a finding,
# not something check mode should try (and fail) to plan an installation for.
# The audit installs nothing, and gathers every fact (the asset register: hardware, network).
AUDIT_EXTRAVARS: dict[str, Any] = {
    "antivirus_install": False,
    "backup_verify_install": False,
    "maint_gather_subset": "all",
}


@dataclass(frozen=True)
class AuditSubject:
    """What one audit looks at, found before anything runs."""

    config: MaintConfig | None  # the site, when there is a maint.yml (its action log records)
    inventory: Path
    limit: str | None
    tasks: tuple[str, ...]
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class AuditOutcome:
    audit: Audit
    written: tuple[Path, ...]
    run_id: int | None  # the action log run, None when nothing was recorded
    log_url: str | None  # where it was recorded, password hidden


def site_config(config_path: str | None) -> MaintConfig | None:
    """maint.yml: the one given, else ./maint.yml when it exists, else none."""
    if config_path:
        return load_config(config_path)
    if Path(DEFAULT_CONFIG).is_file():
        return load_config(DEFAULT_CONFIG)
    return None


def inventory_of(given: Path | None, config: MaintConfig | None, config_path: str | None) -> Path:
    """The inventory given, else maint.yml's."""
    if given is not None:
        return given
    if config is not None and config.inventory:
        path = config.resolve(config.inventory)
        if not path.exists():
            where = config_path or DEFAULT_CONFIG
            raise UsageProblem(f"{where}: inventory: {path} does not exist")
        return path
    raise UsageProblem("no inventory: give one with -i or set inventory in maint.yml")


def inventory_hosts(inventory: Path, limit: str | None) -> list[str]:
    """The hosts of ``inventory`` that ``limit`` selects, read with Ansible's own inventory code
    (so an empty selection is refused before anything runs or is recorded)."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    manager = InventoryManager(loader=DataLoader(), sources=[str(inventory)])
    if limit:
        manager.subset(limit)
    return [host.name for host in manager.get_hosts("all")]


def prepare_audit(
    inventory: Path | None, limit: str | None, config_path: str | None
) -> AuditSubject:
    """The site, inventory, tasks and hosts of an audit; refuses an empty selection."""
    config = site_config(config_path)
    path = inventory_of(inventory, config, config_path)
    hosts = inventory_hosts(path, limit)
    if not hosts:
        raise UsageProblem(
            f"{path}: no host matched"
            + (f" --limit {limit!r}" if limit else "")
            + ": nothing to audit"
        )
    return AuditSubject(config, path, limit, preventive_tasks(), tuple(hosts))


def run_audit_passes(
    subject: AuditSubject, progress: Progress
) -> tuple[list[Mapping[str, Any]], list[TaskResult]]:
    """Run every task in check mode; then, on hosts where a failing role stopped the play,
    run the tasks that never ran (until nothing new comes back). Returns all events and the
    results (first result per host and task)."""
    tasks = subject.tasks

    def on_event(event: Mapping[str, Any]) -> None:
        progress("event", {"event": event})

    events: list[Mapping[str, Any]] = []
    results: dict[tuple[str, str], TaskResult] = {}
    groups: dict[tuple[str, ...], list[str]] = {tuple(tasks): []}
    for number in range(len(tasks) + 1):
        new = 0
        for left, again in groups.items():
            progress("pass", {"tasks": left, "hosts": again or subject.hosts, "again": number > 0})
            outcome = run_playbook(
                "preventive",
                subject.inventory,
                extravars={"maint_tasks": list(left), **AUDIT_EXTRAVARS},
                check=True,
                limit=",".join(again) if again else subject.limit,
                on_event=on_event,
                fresh_facts=True,
            )
            events += outcome.events
            for result in outcome.results:
                key = (result.host, result.task)
                if key not in results:
                    results[key] = result
                    new += 1
        facts = gathered_facts(events)
        groups = remaining_tasks(tasks, results.values(), facts, unreachable_hosts(events))
        if not groups or not new:
            break
    return events, list(results.values())


def record_audit(log: ActionLog, run_id: int, audit: Audit, events: Sequence[Any]) -> None:
    """Add the audit to a run of the action log: results, findings, register rows."""
    record_audit_rows(
        log,
        run_id,
        actionlog_results(audit, task_timings(events)),
        actionlog_findings(audit),
        actionlog_details(audit),
    )


def headline(audit: Audit) -> str:
    """One line: hosts audited, findings per severity, hosts per roadmap bucket."""
    counts = ", ".join(f"{n} {s}" for s, n in audit.severity_counts().items() if n) or "none"
    buckets = audit.bucket_counts()
    return (
        f"{len(audit.reachable)}/{len(audit.rows)} hosts audited; findings: {counts}; "
        + "; ".join(f"{b}: {n}" for b, n in buckets.items())
    )


def run_audit(
    subject: AuditSubject, out: Path, *, actor: str, clock: Clock, progress: Progress
) -> AuditOutcome:
    """Audit the subject's hosts, write the files into ``out`` and, with a site, record the
    audit as a check run (``failed`` with the error if the audit itself broke)."""
    config = subject.config
    log = ActionLog(config.actionlog_url, clock) if config is not None else None
    run_id = log.start_run(None, mode="check", actor=actor) if log is not None else None
    try:
        tasks = ", ".join(subject.tasks)
        progress("note", {"text": f"{len(subject.hosts)} host(s), tasks {tasks}, check mode"})
        events, results = run_audit_passes(subject, progress)
        progress("done", {})
        seen = [*subject.hosts, *(h for h in hosts_seen(events) if h not in subject.hosts)]
        audit = build_audit(
            gathered_facts(events),
            results,
            unreachable_hosts(events),
            subject.tasks,
            clock,
            hosts=seen,
        )
        written = write_audit(audit, out)
        if log is not None and run_id is not None:
            record_audit(log, run_id, audit, events)
            # approve_after counts from the first plan or audit that saw an update
            record_sightings(log, UPDATE, update_sightings(results), run_id=run_id)
            log.finish_run(run_id, "done", headline(audit))
    except BaseException as exc:
        if log is not None and run_id is not None:
            log.finish_run(run_id, "failed", str(exc)[:500] or type(exc).__name__)
        raise
    finally:
        if log is not None:
            log.close()
    return AuditOutcome(audit, tuple(written), run_id, redact(log.url) if log is not None else None)
