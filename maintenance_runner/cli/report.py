"""``maint report``: what a window, a run or a month did, read from the action log."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click

from maintenance_runner.actionlog import ActionLog
from maintenance_runner.actionlog.store import redact, sqlite_file
from maintenance_runner.cli.options import at_option, clock_at, command, config_option
from maintenance_runner.config.load import load_config
from maintenance_runner.config.models import MaintConfig
from maintenance_runner.errors import InputError
from maintenance_runner.report.data import ReportInputError, build_report, check_subject
from maintenance_runner.report.render import FORMATS, write_report
from maintenance_runner.report.sections.approvals import DEFAULT_RETRO_WITHIN


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


@command("report")
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
@at_option("Report as if now were this instant (ISO 8601).")
@config_option
def report_command(
    run_uid: str | None,
    window: str | None,
    occurrence: str | None,
    month: str | None,
    fmt: str,
    out: str | None,
    history: int,
    at: datetime | None,
    config_path: str,
) -> None:
    """Report what was done: one RUN, a --window occurrence, or a --month.

    Window, plan and approvals (emergency changes flagged), per host and task what was done,
    changed, failed, skipped and rolled back, checks, findings with recommendations, updates
    and reboots, backups, antivirus, hardening, what was deferred and why, and the KPIs with
    their trends. Everything comes from the action log.
    """
    config = load_config(config_path)
    check_subject(run_uid=run_uid, window=window, occurrence=occurrence, month=month)
    url = config.actionlog_url
    database = sqlite_file(url)
    if database is not None and not Path(database).exists():
        raise InputError(f"{config_path}: actionlog: no action log at {database} (nothing ran yet)")
    with ActionLog(url, clock=clock_at(at)) as log:
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
            raise InputError(f"{redact(log.url)}: {exc}") from None
    text = write_report(report, fmt, out)
    if out is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"report written to {out}", err=True)
