"""``maint followups list|show|ack|note|close|reopen|sync``: findings followed to closure."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from maintenance_runner.actionlog.followups import (
    get_followup,
    list_followups,
    record_action,
    run_id_of,
)
from maintenance_runner.cli.options import (
    actor_option,
    at_option,
    clock_at,
    config_option,
    current_actor,
    group,
    json_option,
    open_actionlog,
)
from maintenance_runner.config.load import load_config
from maintenance_runner.core.followups import Followup, FollowupError, Rules, rules_from_config
from maintenance_runner.cycle.followups import sync_from_config


class BadFollowupInput(click.ClickException):
    """An unknown follow-up or run, or an action the follow-up's state does not allow."""

    exit_code = 2


_AT_HELP = "Judge targets as of this instant (ISO 8601; no offset = UTC). Default: now."


def _local(value: datetime | None, rules: Rules) -> str:
    if value is None:
        return "-"
    return f"{value.astimezone(rules.calendar.zone):%Y-%m-%d %a %H:%M %Z}"


def _utc(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%MZ}" if value else "-"


def _target(item: Followup) -> str:
    if item.working_hours_left is None:
        return item.target
    if item.working_hours_left >= 0:
        return f"{item.target}, {item.working_hours_left:g} working h left"
    return f"{item.target}, overdue {-item.working_hours_left:g} working h"


def _recurring(item: Followup) -> str:
    return f"  RECURRING x{len(item.cycles)}" if item.recurring else ""


def _line(item: Followup, rules: Rules) -> str:
    return (
        f"#{item.id:<4} {item.priority:<3} {item.status:<12} due {_local(item.due_at, rules):<26} "
        f"{item.target:<8} {item.host or '-':<24} {item.finding_id or item.title}"
        f"{_recurring(item)}"
    )


def _rules(config_path: str) -> Rules:
    return rules_from_config(load_config(config_path).followups)


@group("followups")
def followups_group() -> None:
    """Findings tracked to closure against response targets in working hours.

    Every finding at or above followups.min_severity (maint.yml) becomes one follow-up per host
    and finding id, P1 or P2, due after the priority's target in working hours.
    """


@followups_group.command("list")
@click.option(
    "--status",
    type=click.Choice(["open", "acknowledged", "closed", "all"]),
    default="open",
    show_default=True,
    help="open includes acknowledged ones (everything not closed).",
)
@click.option("--host", "-H", help="Only follow-ups for this host.")
@at_option(_AT_HELP)
@json_option()
@config_option
def list_command(
    status: str, host: str | None, at: datetime | None, as_json: bool, config_path: str
) -> None:
    """Follow-ups, oldest first: priority, state, due time (local) and target met or missed."""
    now = clock_at(at).now()
    rules = _rules(config_path)
    with open_actionlog(config_path) as log:
        items = list_followups(log, rules, now, status=status, host=host)
    if as_json:
        for item in items:
            click.echo(json.dumps(item.to_dict(), sort_keys=True))
        return
    if not items:
        click.echo("no follow-ups" if status == "all" else f"no {status} follow-ups")
        return
    for item in items:
        click.echo(_line(item, rules))


@followups_group.command("show")
@click.argument("followup_id", metavar="ID", type=int)
@at_option(_AT_HELP)
@json_option()
@config_option
def show_command(followup_id: int, at: datetime | None, as_json: bool, config_path: str) -> None:
    """One follow-up: the finding, its target, its history and whether it keeps coming back."""
    now = clock_at(at).now()
    rules = _rules(config_path)
    with open_actionlog(config_path) as log:
        try:
            item = get_followup(log, rules, followup_id, now)
        except FollowupError as exc:
            raise BadFollowupInput(str(exc)) from None
    if as_json:
        click.echo(json.dumps(item.to_dict(), indent=2, sort_keys=True))
        return
    fields = [
        ("follow-up", f"#{item.id} {item.priority} {item.status}"),
        ("title", item.title),
        ("host", item.host or "-"),
        ("finding", f"{item.finding_id or '-'} ({item.severity or '-'}, task {item.task or '-'})"),
        ("message", item.message or "-"),
        ("recommendation", item.recommendation or "-"),
        ("run", f"{item.run_uid or '-'} (window {item.window or '-'})"),
        ("found", f"{_local(item.found_at, rules)} = {_utc(item.found_at)}"),
        ("opened", f"{_local(item.created_at, rules)} = {_utc(item.created_at)}"),
        ("due", f"{_local(item.due_at, rules)} = {_utc(item.due_at)}"),
        ("target", _target(item)),
    ]
    if item.state.responded_at:
        fields.append(("responded", _local(item.state.responded_at, rules)))
    if item.cycles:
        cycles = ", ".join(item.cycles)
        if item.recurring:
            text = f"YES: found in {len(item.cycles)} cycles ({cycles}): fix the root cause"
        else:
            text = f"no: found in {len(item.cycles)} cycle(s) ({cycles})"
        fields.append(("recurring", text))
    for label, value in fields:
        click.echo(f"{label + ':':<16}{value}")
    if item.events:
        click.echo("history:")
    for event in item.events:
        note = f": {event.note}" if event.note else ""
        click.echo(f"  {_local(event.at, rules)}  {event.action:<7} {event.actor or '-'}{note}")


def _act(config_path: str, followup_id: int, action: str, actor: str, note: str | None) -> None:
    with open_actionlog(config_path) as log:
        try:
            record_action(log, followup_id, action, actor, note)
        except FollowupError as exc:
            raise BadFollowupInput(f"follow-up {followup_id}: {exc}") from None
    past = {"ack": "acknowledged", "note": "noted", "close": "closed", "reopen": "reopened"}
    click.echo(f"follow-up #{followup_id} {past[action]} by {actor}")


@followups_group.command("ack")
@click.argument("followup_id", metavar="ID", type=int)
@click.option("--note", help="Why, or what happens next.")
@actor_option
@config_option
def ack_command(followup_id: int, note: str | None, actor: str | None, config_path: str) -> None:
    """Acknowledge: someone owns it now (meets the response target when in time)."""
    _act(config_path, followup_id, "ack", current_actor(actor), note)


@followups_group.command("note")
@click.argument("followup_id", metavar="ID", type=int)
@click.argument("text")
@actor_option
@config_option
def note_command(followup_id: int, text: str, actor: str | None, config_path: str) -> None:
    """Add a note (any state)."""
    _act(config_path, followup_id, "note", current_actor(actor), text)


@followups_group.command("close")
@click.argument("followup_id", metavar="ID", type=int)
@click.option("--note", required=True, help="What was done (required).")
@actor_option
@config_option
def close_command(followup_id: int, note: str, actor: str | None, config_path: str) -> None:
    """Close with a note saying what was done."""
    _act(config_path, followup_id, "close", current_actor(actor), note)


@followups_group.command("reopen")
@click.argument("followup_id", metavar="ID", type=int)
@click.option("--note", help="Why it is open again.")
@actor_option
@config_option
def reopen_command(followup_id: int, note: str | None, actor: str | None, config_path: str) -> None:
    """Reopen a closed follow-up."""
    _act(config_path, followup_id, "reopen", current_actor(actor), note)


@followups_group.command("sync")
@click.option("--run", "run_uid", metavar="RUN_UID", help="Only the findings of this run.")
@at_option(_AT_HELP)
@json_option()
@config_option
def sync_command(run_uid: str | None, at: datetime | None, as_json: bool, config_path: str) -> None:
    """Close follow-ups a later complete run no longer reports, open them for findings still
    reported (idempotent).

    A complete run finished the finding's task on its host, ok or changed, in an apply or a
    check run (a plan's or an audit's), and was not rolled back. Closes are recorded by
    "maint" with a note naming the run. --json prints the follow-ups opened and closed, each
    with "synced": "opened" or "closed".
    """
    now = clock_at(at).now()
    config = load_config(config_path)
    rules = rules_from_config(config.followups)
    with open_actionlog(config_path) as log:
        try:
            run_id = run_id_of(log, run_uid) if run_uid else None
            synced = sync_from_config(log, config, run_id=run_id)
        except FollowupError as exc:
            raise BadFollowupInput(str(exc)) from None
        ids = [*synced.opened, *synced.closed]
        found = (
            {i.id: i for i in list_followups(log, rules, now, status="all", ids=ids)} if ids else {}
        )
    opened = [found[i] for i in synced.opened if i in found]
    closed = [found[i] for i in synced.closed if i in found]
    if as_json:
        rows = [{**i.to_dict(), "synced": "opened"} for i in opened]
        rows += [{**i.to_dict(), "synced": "closed"} for i in closed]
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    click.echo(f"opened {len(opened)} follow-up(s)")
    if closed:
        click.echo(f"closed {len(closed)} follow-up(s)")
    for item in [*opened, *closed]:
        click.echo(_line(item, rules))
