"""``maint audit``: the onboarding audit (every preventive task in check mode + facts).

The I/O edge: it runs the collection's ``preventive`` playbook in check mode through
:func:`execution.run_playbook`, shows progress on stderr, turns what came back into the asset
register, risk notes and roadmap (:mod:`audit_model`, pure), writes them (:mod:`audit_render`)
and, when a maint.yml names an action log, records the audit there as a run in mode ``check``.
"""

from __future__ import annotations

import getpass
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from .actionlog import ActionLog
from .actionlog.store import redact
from .audit_model import (
    FACTS_TASK,
    Audit,
    actionlog_details,
    actionlog_findings,
    actionlog_results,
    build_audit,
    gathered_facts,
    hosts_seen,
    remaining_tasks,
    task_timings,
    unreachable_hosts,
)
from .audit_render import write_audit
from .clock import SystemClock
from .collection import preventive_tasks
from .config import DEFAULT_CONFIG, MaintConfig, load_config
from .execution import run_playbook
from .results import TaskResult

# The audit looks, it never installs: a missing antivirus engine or backup tool is a finding,
# not something check mode should try (and fail) to plan an installation for.
# The audit installs nothing, and gathers every fact (the asset register: hardware, network).
AUDIT_EXTRAVARS: dict[str, Any] = {
    "antivirus_install": False,
    "backup_verify_install": False,
    "maint_gather_subset": "all",
}


class AuditProgress:
    """Progress on stderr: a live bar on a terminal, one line per milestone otherwise."""

    def __init__(self, console: Console, tasks: Sequence[str]) -> None:
        self.console = console
        self.tasks = tuple(tasks)
        self.live = console.is_terminal
        self.progress: Progress | None = None
        self.bar: TaskID | None = None
        self.pass_tasks: tuple[str, ...] = self.tasks
        self.counted: set[tuple[str, str]] = set()  # (host, task) already advanced this pass

    def __enter__(self) -> AuditProgress:
        if self.live:
            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]maint audit[/bold] {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
            )
            self.progress.start()
            self.bar = self.progress.add_task("starting", total=0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self._describe("done")
            self.progress.stop()

    def start_pass(self, tasks: Sequence[str], hosts: Sequence[str], again: bool = False) -> None:
        """``tasks`` on ``hosts``: one step per host for its facts, plus one per task."""
        self.pass_tasks = tuple(tasks)
        self.counted = set()
        if again:
            self.note(f"running {', '.join(tasks)} again on {', '.join(hosts)}")
        if self.progress is not None and self.bar is not None:
            total = self.progress.tasks[0].total or 0
            self.progress.update(self.bar, total=total + len(hosts) * (1 + len(tasks)))

    def note(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(f"maint audit: {text}", markup=False, highlight=False)
        else:
            self.console.print(f"maint audit: {text}", markup=False, highlight=False)

    def _advance(self, steps: int = 1) -> None:
        if self.progress is not None and self.bar is not None:
            self.progress.advance(self.bar, steps)

    def _count(self, host: str, task: str) -> None:
        if task in self.pass_tasks and (host, task) not in self.counted:
            self.counted.add((host, task))
            self._advance()

    def _describe(self, text: str) -> None:
        if self.progress is not None and self.bar is not None:
            short = text if len(text) <= 40 else text[:39] + "…"
            self.progress.update(self.bar, description=f"{short:<40}")

    def __call__(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        data = event.get("event_data") or {}
        host = str(data.get("host") or "")
        task_name = str(data.get("task") or "")
        if kind == "playbook_on_task_start":
            self._describe(task_name)
            return
        if not host:
            return
        res = data.get("res") or {}
        if task_name == FACTS_TASK:
            if kind == "runner_on_ok":
                facts = res.get("ansible_facts") or {}
                system = " ".join(
                    str(facts.get(k) or "")
                    for k in ("ansible_distribution", "ansible_distribution_version")
                ).strip()
                self.note(f"{host}: facts gathered ({system or 'unknown OS'})")
                self._advance()
            elif kind in ("runner_on_unreachable", "runner_on_failed"):
                self.note(f"{host}: not reachable, it will be listed with the reason")
                self._advance(1 + len(self.pass_tasks))
            return
        if kind == "runner_on_ok":
            result = (res.get("ansible_facts") or {}).get("maint_result")
            if isinstance(result, Mapping):
                count = len(result.get("findings") or ())
                self.note(f"{host}: {result.get('task')} {result.get('status')} ({count} findings)")
                self._count(host, str(result.get("task")))
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get(
            "ignore_errors"
        ):
            role = str(data.get("role") or "").rsplit(".", 1)[-1] or "a task"
            self.note(f"{host}: {role} could not finish ({task_name})")
            self._count(host, role)


def _ensure_ansible_on_path() -> None:
    """ansible-runner starts ``ansible-playbook`` from PATH: add this Python's bin directory
    when the command is installed there but the virtualenv is not activated."""
    if shutil.which("ansible-playbook"):
        return
    bindir = Path(sys.executable).parent
    if (bindir / "ansible-playbook").exists():
        os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"


def _site(config_path: str | None) -> MaintConfig | None:
    if config_path:
        return load_config(config_path)
    if Path(DEFAULT_CONFIG).is_file():
        return load_config(DEFAULT_CONFIG)
    return None


def _inventory(given: Path | None, config: MaintConfig | None, config_path: str | None) -> Path:
    if given is not None:
        return given
    if config is not None and config.inventory:
        path = config.resolve(config.inventory)
        if not path.exists():
            where = config_path or DEFAULT_CONFIG
            raise click.UsageError(f"{where}: inventory: {path} does not exist")
        return path
    raise click.UsageError("no inventory: give one with -i or set inventory in maint.yml")


def inventory_hosts(inventory: Path, limit: str | None) -> list[str]:
    """The hosts of ``inventory`` that ``limit`` selects, read with Ansible's own inventory code
    (so an empty selection is refused before anything runs or is recorded)."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    manager = InventoryManager(loader=DataLoader(), sources=[str(inventory)])
    if limit:
        manager.subset(limit)
    return [host.name for host in manager.get_hosts("all")]


def run_audit_passes(
    inventory: Path,
    tasks: Sequence[str],
    hosts: Sequence[str],
    limit: str | None,
    progress: AuditProgress,
) -> tuple[list[Mapping[str, Any]], list[TaskResult]]:
    """Run every task in check mode; then, on hosts where a failing role stopped the play,
    run the tasks that never ran (until nothing new comes back). Returns all events and the
    results (first result per host and task)."""
    events: list[Mapping[str, Any]] = []
    results: dict[tuple[str, str], TaskResult] = {}
    groups: dict[tuple[str, ...], list[str]] = {tuple(tasks): []}
    for number in range(len(tasks) + 1):
        new = 0
        for left, again in groups.items():
            progress.start_pass(left, again or hosts, again=number > 0)
            outcome = run_playbook(
                "preventive",
                inventory,
                extravars={"maint_tasks": list(left), **AUDIT_EXTRAVARS},
                check=True,
                limit=",".join(again) if again else limit,
                on_event=progress,
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


def record_audit(store: ActionLog, run_id: int, audit: Audit, events: Sequence[Any]) -> None:
    """Add the audit to a run of the action log: results, findings, register rows."""
    store.add_results(run_id, actionlog_results(audit, task_timings(events)))
    store.append("findings", actionlog_findings(audit), {"run_id": run_id})
    store.append("result_details", actionlog_details(audit), {"run_id": run_id})


def _headline(audit: Audit) -> str:
    counts = ", ".join(f"{n} {s}" for s, n in audit.severity_counts().items() if n) or "none"
    buckets = audit.bucket_counts()
    return (
        f"{len(audit.reachable)}/{len(audit.rows)} hosts audited; findings: {counts}; "
        + "; ".join(f"{b}: {n}" for b, n in buckets.items())
    )


@click.command("audit")
@click.option(
    "-i",
    "--inventory",
    type=click.Path(exists=True, path_type=Path),
    help="Inventory file or directory (default: inventory in maint.yml).",
)
@click.option("-l", "--limit", help="Host pattern to limit the audit to.")
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="The site description; its action log records the audit (default: ./maint.yml "
    "when present).",
)
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for assets.csv/.json, risks.md, roadmap.md/.csv and audit.html.",
)
def audit_command(
    inventory: Path | None,
    limit: str | None,
    config_path: str | None,
    out: Path,
) -> None:
    """Onboarding audit: run every preventive task in check mode plus fact gathering and write
    an asset register, risk notes ranked by severity and a roadmap into OUT.

    Nothing is changed on the hosts. Exit status: 0 when every host was audited, 1 when a host
    could not be reached or a task failed on it (the files are written and say so), 2 for bad
    input.
    """
    clock = SystemClock()
    config = _site(config_path)
    inventory_path = _inventory(inventory, config, config_path)
    tasks = preventive_tasks()
    hosts = inventory_hosts(inventory_path, limit)
    if not hosts:
        raise click.UsageError(
            f"{inventory_path}: no host matched"
            + (f" --limit {limit!r}" if limit else "")
            + ": nothing to audit"
        )
    _ensure_ansible_on_path()
    console = Console(stderr=True)
    store = ActionLog(config.actionlog_url, clock) if config is not None else None
    run_id = store.start_run(None, mode="check", actor=getpass.getuser()) if store else None
    try:
        with AuditProgress(console, tasks) as progress:
            progress.note(f"{len(hosts)} host(s), tasks {', '.join(tasks)}, check mode")
            events, results = run_audit_passes(inventory_path, tasks, hosts, limit, progress)
        facts = gathered_facts(events)
        unreachable = unreachable_hosts(events)
        seen = [*hosts, *(h for h in hosts_seen(events) if h not in hosts)]
        audit = build_audit(facts, results, unreachable, tasks, clock, hosts=seen)
        written = write_audit(audit, out)
        if store is not None and run_id is not None:
            record_audit(store, run_id, audit, events)
            store.finish_run(run_id, "done", _headline(audit))
    except BaseException as exc:
        if store is not None and run_id is not None:
            store.finish_run(run_id, "failed", str(exc)[:500] or type(exc).__name__)
        raise
    finally:
        if store is not None:
            store.close()
    click.echo(f"maint audit (check mode): {_headline(audit)}")
    for path in written:
        click.echo(f"  {path}")
    if store is not None:
        click.echo(f"  recorded in {redact(store.url)} as run {run_id} (mode check)")
    else:
        click.echo("  not recorded: no maint.yml (give --config to record the audit)")
    if not audit.complete:
        sys.exit(1)
