"""``maint windows list|next|status``: maintenance windows in local time and UTC."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from maintenance_runner.cli.options import at_option, clock_at, config_option, group, json_option
from maintenance_runner.config.load import load_config
from maintenance_runner.config.models import MaintConfig
from maintenance_runner.core.schedule import Occurrence, next_planned, occurrences, window_status

_AT_HELP = "Pretend it is this instant (ISO 8601, e.g. 2026-12-10T22:30+01:00; no offset = UTC)."


def _local(occ: Occurrence, instant: datetime) -> str:
    return f"{occ.local(instant):%Y-%m-%d %a %H:%M %Z}"


def _utc(instant: datetime) -> str:
    return f"{instant.astimezone(UTC):%Y-%m-%d %H:%MZ}"


def occurrence_json(occ: Occurrence) -> dict[str, Any]:
    return {
        "window": occ.window,
        "key": occ.key,
        "status": occ.status,
        "reason": occ.reason,
        "timezone": occ.timezone,
        "start_local": occ.local(occ.start).isoformat(),
        "end_local": occ.local(occ.end).isoformat(),
        "start_utc": occ.start.isoformat(),
        "end_utc": occ.end.isoformat(),
        "cutoff_utc": occ.cutoff.isoformat(),
        "moved_from_utc": occ.moved_from.isoformat() if occ.moved_from else None,
        "dst_shifted": occ.shifted,
    }


def record(config: MaintConfig, found: list[Occurrence]) -> list[int]:
    """Store occurrences in the action log (idempotent): planned, or skipped with the reason."""
    from maintenance_runner.actionlog import ActionLog

    with ActionLog(config.actionlog_url) as store:
        return [
            store.record_occurrence(occ.slot, state=occ.status, reason=occ.reason) for occ in found
        ]


@group("windows")
def windows_group() -> None:
    """Maintenance windows: when they open, what they skip, whether one is open now."""


@windows_group.command("list")
@config_option
@at_option(_AT_HELP)
@json_option()
def list_command(config_path: str, at: datetime | None, as_json: bool) -> None:
    """List the windows with their schedule and next opening."""
    config = load_config(config_path)
    now = clock_at(at).now()
    rows = [(window, next_planned(window, config, now)) for window in config.windows]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": w.name,
                        "schedule": w.schedule,
                        "offset_days": w.offset,
                        "start": w.start.strftime("%H:%M") if w.start else None,
                        "timezone": w.timezone,
                        "duration_s": w.duration.total_seconds(),
                        "cutoff_s": w.cutoff.total_seconds(),
                        "targets": w.targets,
                        "tasks": w.tasks,
                        "blackout": w.blackout,
                        "on_blackout": w.on_blackout,
                        "next": occurrence_json(o) if o else None,
                    }
                    for w, o in rows
                ],
                indent=2,
            )
        )
        return
    for window, upcoming in rows:
        start = window.start.strftime("%H:%M") if window.start else "the cron's time"
        offset = f", {window.offset:+d} days" if window.offset else ""
        blackout = ", ".join(window.blackout) or "-"
        click.echo(f"{window.name}")
        click.echo(f"  schedule  {window.schedule}{offset}, at {start} {window.timezone}")
        click.echo(f"  duration  {window.duration} (cutoff {window.cutoff})")
        click.echo(f"  targets   {window.targets}: {', '.join(window.tasks)}")
        click.echo(f"  blackout  {blackout} (on blackout: {window.on_blackout})")
        if upcoming:
            click.echo(f"  next      {_local(upcoming, upcoming.start)} = {_utc(upcoming.start)}")
        else:
            click.echo("  next      no planned occurrence")


@windows_group.command("next")
@click.argument("name")
@click.option("--count", "-n", default=5, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--record",
    "record_them",
    is_flag=True,
    help="Also store these occurrences in the action log (planned, or skipped with the reason).",
)
@config_option
@at_option(_AT_HELP)
@json_option()
def next_command(
    name: str, count: int, record_them: bool, config_path: str, at: datetime | None, as_json: bool
) -> None:
    """The next COUNT occurrences of window NAME, local time and UTC, skipped ones with why."""
    config = load_config(config_path)
    window = config.window(name)
    now = clock_at(at).now()
    found = list(occurrences(window, config, since=now, count=count))
    if record_them:
        record(config, found)
    if as_json:
        click.echo(json.dumps([occurrence_json(o) for o in found], indent=2))
        return
    click.echo(f"{window.name} ({window.timezone}), from {_utc(now)}")
    header = f"{'local start':<26} {'local end':<26} {'UTC start':<18} {'UTC end':<18} status"
    click.echo(header)
    for occ in found:
        line = (
            f"{_local(occ, occ.start):<26} {_local(occ, occ.end):<26} "
            f"{_utc(occ.start):<18} {_utc(occ.end):<18} {occ.status}"
        )
        notes = []
        if occ.reason:
            notes.append(occ.reason)
        if occ.shifted:
            notes.append(
                f"DST: {occ.wall_start:%H:%M} does not exist that day, starts at the change"
            )
        click.echo(line + (f"  ({'; '.join(notes)})" if notes else ""))
    if not found:
        click.echo("no further occurrences")


@windows_group.command("status")
@click.argument("names", nargs=-1)
@config_option
@at_option(_AT_HELP)
@json_option()
def status_command(
    names: tuple[str, ...], config_path: str, at: datetime | None, as_json: bool
) -> None:
    """Is each window (or the NAMES given) open now, or at --at, and why."""
    config = load_config(config_path)
    now = clock_at(at).now()
    windows = [config.window(n) for n in names] if names else config.windows
    statuses = [window_status(w, config, now) for w in windows]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "window": s.window,
                        "state": s.state,
                        "reason": s.reason,
                        "at": now.isoformat(),
                        "current": occurrence_json(s.current) if s.current else None,
                        "next": occurrence_json(s.next) if s.next else None,
                    }
                    for s in statuses
                ],
                indent=2,
            )
        )
        return
    click.echo(f"at {_utc(now)}")
    for status in statuses:
        click.echo(f"{status.window}: {status.state}: {status.reason}")
