"""``maint audit``: the onboarding audit (every preventive task in check mode + facts).

Parsing, progress and printing; the use case is :mod:`maintenance_runner.cycle.audit`.
"""

from __future__ import annotations

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

from maintenance_runner.cli.options import command, current_actor
from maintenance_runner.core.clock import SystemClock
from maintenance_runner.core.results import FACTS_TASK
from maintenance_runner.cycle.audit import headline, prepare_audit, run_audit


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
        self.stop()

    def stop(self) -> None:
        if self.progress is not None:
            self._describe("done")
            self.progress.stop()
            self.progress = None

    def __call__(self, kind: str, info: Mapping[str, Any]) -> None:
        """The use case's progress callback (see ``cycle/audit.py``)."""
        if kind == "note":
            self.note(str(info["text"]))
        elif kind == "pass":
            self.start_pass(info["tasks"], info["hosts"], again=bool(info.get("again")))
        elif kind == "event":
            self.event(info["event"])
        elif kind == "done":
            self.stop()

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

    def event(self, event: Mapping[str, Any]) -> None:
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


@command("audit")
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
    subject = prepare_audit(inventory, limit, config_path)
    actor = current_actor()
    with AuditProgress(Console(stderr=True), subject.tasks) as progress:
        done = run_audit(subject, out, actor=actor, clock=SystemClock(), progress=progress)
    click.echo(f"maint audit (check mode): {headline(done.audit)}")
    for path in done.written:
        click.echo(f"  {path}")
    if done.run_id is not None:
        click.echo(f"  recorded in {done.log_url} as run {done.run_id} (mode check)")
    else:
        click.echo("  not recorded: no maint.yml (give --config to record the audit)")
    if not done.audit.complete:
        sys.exit(1)
