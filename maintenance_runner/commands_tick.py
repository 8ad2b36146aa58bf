"""``maint tick``: the one command cron calls (see tick.py for what it decides)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .actionlog.store import ActionLog
from .clock import Clock, FixedClock, SystemClock, parse_instant
from .config import config_option, load_config
from .locks import LockBusy, tick_lock
from .notify import notify
from .tick import Ticker


def _clock(at: str | None) -> Clock:
    if not at:
        return SystemClock()
    try:
        return FixedClock(parse_instant(at))
    except ValueError:
        raise click.BadParameter(f"not an instant: {at!r}", param_hint="--at") from None


@click.command("tick")
@click.option("--at", "at_text", help="Run as if it were this instant (ISO 8601): rehearsals.")
@click.option("--dry-run", is_flag=True, help="Say what would be done; do nothing.")
@click.option(
    "--key",
    "-k",
    envvar="MAINT_KEY",
    type=click.Path(path_type=Path),
    help="Key the tick signs its plans with (default: tick.key in maint.yml).",
)
@click.option("-v", "--verbose", is_flag=True, help="Also say what was waiting or already done.")
@config_option
def tick_command(
    at_text: str | None, dry_run: bool, key: Path | None, verbose: bool, config_path: str
) -> None:
    """Plan what is due, apply what is approved inside its window, record what was skipped.

    Safe to call every few minutes and twice at once: one tick at a time holds the lock, the
    others exit quietly. Silent when nothing happened (unless -v); one line per action
    otherwise; exit 1 only when something needs a person (a failed or rolled-back run, a
    window that passed unapproved, a plan that cannot be made or applied).
    """
    clock = _clock(at_text)
    config = load_config(config_path)
    if key is None and config.tick.key:
        key = config.resolve(config.tick.key)
    log = ActionLog(config.actionlog_url, clock=clock)
    try:
        try:
            with tick_lock(config.actionlog_url):

                def send(event: str, payload: dict[str, Any]) -> None:
                    for outcome in notify(config.notifications, event, payload, clock=clock):
                        if not outcome.ok:
                            click.echo(f"notification {event} via {outcome.channel} failed: "
                                       f"{outcome.detail}", err=True)  # fmt: skip

                report = Ticker(config, log, clock, key, dry_run, send).run()
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
