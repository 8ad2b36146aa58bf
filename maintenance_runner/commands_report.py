"""``maint report``: what a window, a run or a month did, read from the action log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
from sqlalchemy.engine import make_url

from .actionlog import ActionLog
from .actionlog.store import normalise_url, redact
from .clock import Clock, FixedClock, SystemClock, parse_instant
from .config import MaintConfig, config_option, load_config
from .report_data import ReportInputError, build_report, check_subject
from .report_model import DEFAULT_RETRO_WITHIN
from .report_render import FORMATS, write_report


class ReportError(click.ClickException):
    """The report's subject is missing or malformed: one line, exit code 2."""

    exit_code = 2


def _retro_within(config: MaintConfig) -> timedelta:
    """The emergency policy's retrospective approval deadline, when maint.yml has one."""
    approvals = getattr(config, "approvals", None)
    policy_of = getattr(approvals, "policy", None)
    if policy_of is None:
        return DEFAULT_RETRO_WITHIN
    try:
        policy = policy_of("emergency")
    except KeyError:
        return DEFAULT_RETRO_WITHIN
    value = getattr(policy, "retro_within", None)
    return value if isinstance(value, timedelta) else DEFAULT_RETRO_WITHIN


def _clock(at_text: str | None) -> Clock:
    if not at_text:
        return SystemClock()
    try:
        return FixedClock(parse_instant(at_text))
    except ValueError:
        raise ReportError(f"--at: not an instant: {at_text!r} (e.g. 2026-12-01T09:00Z)") from None


@click.command("report")
@click.argument("run_uid", metavar="[RUN]", required=False)
@click.option("--window", "-w", help="Report on an occurrence of this window.")
@click.option(
    "--occurrence",
    "-t",
    metavar="T",
    help="The occurrence's local start (2026-11-10, 2026-11-10T22:00) or instant; "
    "default: the occurrence of the window's latest apply run.",
)
@click.option("--month", metavar="YYYY-MM", help="Report on every run of a month (UTC).")
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(FORMATS),
    default="md",
    show_default=True,
    help="md, html (self-contained, printable), json, csv (one row per host and task), junit.",
)
@click.option(
    "--out", "-o", type=click.Path(dir_okay=False), help="Write here instead of standard output."
)
@click.option(
    "--history",
    default=12,
    show_default=True,
    type=click.IntRange(1, 120),
    help="Months of trends and KPI history to read.",
)
@click.option("--at", "at_text", help="Report as if now were this instant (ISO 8601).")
@config_option
def report_command(
    run_uid: str | None,
    window: str | None,
    occurrence: str | None,
    month: str | None,
    fmt: str,
    out: str | None,
    history: int,
    at_text: str | None,
    config_path: str,
) -> None:
    """Report what was done: one RUN, a --window occurrence, or a --month.

    Window, plan and approvals (emergency changes flagged), per host and task what was done,
    changed, failed, skipped and rolled back, checks, findings with recommendations, updates
    and reboots, backups, antivirus, hardening, what was deferred and why, and the KPIs with
    their trends. Everything comes from the action log.
    """
    config = load_config(config_path)
    clock = _clock(at_text)
    try:
        check_subject(run_uid=run_uid, window=window, occurrence=occurrence, month=month)
    except ReportInputError as exc:
        raise ReportError(str(exc)) from None
    url = config.actionlog_url
    database = make_url(normalise_url(url)).database
    local = url.startswith("sqlite") and database and database != ":memory:"
    if local and not Path(database).exists():
        raise ReportError(
            f"{config_path}: actionlog: no action log at {database} (nothing ran yet)"
        )
    with ActionLog(url, clock=clock) as log:
        try:
            report = build_report(
                log,
                run_uid=run_uid,
                window=window,
                occurrence=occurrence,
                month=month,
                history_months=history,
                retro_within=_retro_within(config),
            )
        except ReportInputError as exc:
            raise ReportError(f"{redact(log.url)}: {exc}") from None
    text = write_report(report, fmt, out)
    if out is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"report written to {out}", err=True)
