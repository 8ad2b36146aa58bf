"""Apply's progress for a person: a rich bar on a terminal, plain lines elsewhere.

Both take the use case's ``progress(kind, info)`` callback (see ``cycle/apply.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import click


class Lines:
    """Progress where stderr is not a terminal (a log, cron, CI): one line per batch and per
    finished host, without loading rich."""

    def __enter__(self) -> Lines:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def __call__(self, kind: str, info: Mapping[str, Any]) -> None:
        if kind == "note":
            click.echo(str(info["text"]), err=True)
        elif kind == "batch":
            click.echo(f"batch {info['number']}/{info['of']}: {', '.join(info['hosts'])}", err=True)
        elif kind == "host_done":
            click.echo(f"  {info['host']}: {str(info['status']).replace('_', ' ')}", err=True)


class Bar(Lines):
    """A rich progress bar on a terminal's stderr: batch, hosts done and failed, the task."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(
            TextColumn("{task.fields[batch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("hosts, {task.fields[failed]} failed · {task.fields[current]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self.task: Any = None
        self.failed = 0

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.task is not None:
            self.progress.stop()

    def __call__(self, kind: str, info: Mapping[str, Any]) -> None:
        if kind == "note":
            self.progress.console.print(str(info["text"]), markup=False, highlight=False)
        elif kind == "start":
            self.task = self.progress.add_task(
                "apply", total=int(info["hosts"]), batch="batch -", failed=0, current=""
            )
            self.progress.start()
        elif self.task is None:
            return
        elif kind == "batch":
            self.progress.update(self.task, batch=f"batch {info['number']}/{info['of']}")
        elif kind == "task":
            self.progress.update(self.task, current=str(info.get("task", ""))[:60])
        elif kind == "host_done":
            if info.get("status") != "done":
                self.failed += 1
            self.progress.update(self.task, advance=1, failed=self.failed)


def apply_progress() -> Lines:
    """The bar on a terminal, plain lines otherwise."""
    return Bar() if sys.stderr.isatty() else Lines()
