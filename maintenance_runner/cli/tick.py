"""``maint tick``: the one command cron calls (see cycle/tick.py for what it decides)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from maintenance_runner.actionlog.locks import LockBusy, tick_lock
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.cli.options import at_option, clock_at, command, config_option, key_option
from maintenance_runner.config.load import load_config
from maintenance_runner.cycle.notify import notify
from maintenance_runner.cycle.tick import Ticker


def _notes(kind: str, info: Mapping[str, Any]) -> None:
    """The apply's notes (drift check, interrupted runs) on stderr; no bar in a tick."""
    if kind == "note":
        click.echo(str(info["text"]), err=True)


@command("tick")
@at_option(
    "Rehearse as if it were this instant (ISO 8601): implies --dry-run, since a simulated "
    "clock never reaches a host."
)
@click.option("--dry-run", is_flag=True, help="Say what would be done; do nothing.")
@key_option(help_text="Key the tick signs its plans with (default: tick.key in maint.yml).")
@click.option("-v", "--verbose", is_flag=True, help="Also say what was waiting or already done.")
@config_option
def tick_command(
    at: datetime | None, dry_run: bool, key: Path | None, verbose: bool, config_path: str
) -> None:
    """Plan what is due, apply what is approved inside its window, record what was skipped.

    Safe to call every few minutes and twice at once: one tick at a time holds the lock, the
    others exit quietly. Silent when nothing happened (unless -v); one line per action
    otherwise; exit 1 only when something needs a person (a failed or rolled-back run, a
    window that passed unapproved, a plan that cannot be made or applied).
    """
    clock = clock_at(at)
    if at is not None and not dry_run:
        click.echo(
            f"maint: --at {at:%Y-%m-%dT%H:%M:%SZ} rehearses: a dry run, nothing is planned, "
            "applied or recorded",
            err=True,
        )
        dry_run = True
    config = load_config(config_path)
    if key is None and config.tick.key:
        key = config.resolve(config.tick.key)
    log = ActionLog(config.actionlog_url)  # records are stamped by the real clock
    try:
        try:
            with tick_lock(config.actionlog_url):

                def send(event: str, payload: dict[str, Any]) -> None:
                    for outcome in notify(config.notifications, event, payload, clock=clock):
                        if not outcome.ok:
                            click.echo(f"notification {event} via {outcome.channel} failed: "
                                       f"{outcome.detail}", err=True)  # fmt: skip

                report = Ticker(config, log, clock, key, dry_run, send, _notes).run()
        except LockBusy as exc:
            if verbose:
                click.echo(f"another tick is running ({exc}); nothing to do")
            return
    finally:
        log.close()
    for line in report.lines:
        click.echo(line)
    if verbose:
        for line in report.quiet:
            click.echo(line)
    if report.needs_person:
        sys.exit(1)
