"""``maint config check``: validate maint.yml and print a short summary."""

from __future__ import annotations

import click

from maintenance_runner.actionlog.store import redact
from maintenance_runner.cli.options import config_option, group
from maintenance_runner.config.load import load_config
from maintenance_runner.config.models import MaintConfig
from maintenance_runner.core.clock import Clock, SystemClock
from maintenance_runner.core.schedule import next_planned


def _calendar_kind(config: MaintConfig, name: str) -> str:
    spec = config.calendars[name]
    if spec.holidays is not None:
        subdiv = f"-{spec.holidays.subdiv}" if spec.holidays.subdiv else ""
        return f"holidays {spec.holidays.country}{subdiv}"
    if spec.ics is not None:
        return f"ics {spec.ics}"
    return f"{len(spec.ranges or [])} range(s)"


def summary_lines(config: MaintConfig, file: str, clock: Clock) -> list[str]:
    now = clock.now()
    lines = [
        f"{file}: OK",
        f"  inventory: {config.inventory or '(not set)'}",
        f"  action log: {redact(config.actionlog)}",
        f"  calendars: {len(config.calendars)}",
    ]
    lines += [f"    {name}: {_calendar_kind(config, name)}" for name in config.calendars]
    lines.append(f"  windows: {len(config.windows)}")
    for window in config.windows:
        upcoming = next_planned(window, config, now)
        when = (
            f"next {upcoming.local(upcoming.start):%Y-%m-%d %H:%M %Z}"
            if upcoming
            else "no planned occurrence"
        )
        lines.append(
            f"    {window.name}: {window.targets}, {len(window.tasks)} task(s), "
            f"{window.duration} in {window.timezone}, {when}"
        )
    return lines


@group("config")
def config_group() -> None:
    """Check the site description (maint.yml)."""


@config_group.command("check")
@config_option
def check_command(config_path: str) -> None:
    """Validate maint.yml; print a summary, or one line per problem and exit 2."""
    config = load_config(config_path)
    for line in summary_lines(config, config_path, SystemClock()):
        click.echo(line)
