"""``maint plan|show|approve|reject|apply|rollback``: the change cycle of a window.

Parsing and printing only: each command calls one use case in ``cycle/``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from maintenance_runner.actionlog.plans import signatures
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.cli.options import (
    command,
    config_option,
    current_actor,
    key_option,
)
from maintenance_runner.cli.progress import apply_progress
from maintenance_runner.config.load import load_config
from maintenance_runner.config.models import MaintConfig
from maintenance_runner.core.clock import SystemClock, parse_instant
from maintenance_runner.cycle.apply import apply_plan, sign_emergency
from maintenance_runner.cycle.decide import STORED, Verdict, decide
from maintenance_runner.cycle.planning import pick_occurrence, plan_window, read_plan
from maintenance_runner.cycle.rollback import rollback_run
from maintenance_runner.cycle.signing import identify
from maintenance_runner.errors import EXIT_REFUSED, UsageProblem
from maintenance_runner.report.plan_render import html as render_html
from maintenance_runner.report.plan_render import text as render_text


@contextmanager
def _site(config_path: str) -> Iterator[tuple[MaintConfig, ActionLog]]:
    config = load_config(config_path)
    log = ActionLog(config.actionlog_url)
    try:
        yield config, log
    finally:
        log.close()


def _say(text: str) -> None:
    click.echo(text, err=True)


# --- plan -------------------------------------------------------------------------------------


@command("plan")
@click.argument("window_name", metavar="WINDOW")
@click.option("--occurrence", "occurrence_text", help="Start of the occurrence (ISO 8601).")
@click.option("--limit", "-l", help="Only hosts matching this pattern.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Plan file.")
@click.option(
    "--allow-empty", is_flag=True, help="Record a plan even when no host matches (refused else)."
)
@key_option()
@config_option
def plan_command(
    window_name: str,
    occurrence_text: str | None,
    limit: str | None,
    out: Path | None,
    allow_empty: bool,
    key: Path | None,
    config_path: str,
) -> None:
    """Plan WINDOW: run its tasks in check and diff mode and write a signed plan file.

    The plan id is the SHA-256 of the plan's canonical content; you sign it as the author with
    --key, so your own approval never counts towards it. The file is written to --out, else
    to .maint/plans/ next to maint.yml.
    """
    if key is None:
        raise UsageProblem("--key is required: the plan's author signs it (or set MAINT_KEY)")
    clock = SystemClock()
    with _site(config_path) as (config, log):
        window = config.window(window_name)
        author = identify(config.resolve(config.approvals.allowed_signers), key)
        at = parse_instant(occurrence_text, window.timezone) if occurrence_text else None
        occ = pick_occurrence(window, config, clock.now(), at)
        planned = plan_window(
            config, log, window, occ, author, clock, limit=limit, out=out, say=_say,
            allow_empty=allow_empty,
        )  # fmt: skip
    click.echo(render_text(planned.plan))
    click.echo(f"\nplan {planned.plan.id}\nwritten to {planned.path}")
    if not planned.outcome.ok:
        click.echo("some hosts failed their checks; see above (the plan records them)", err=True)


# --- show -------------------------------------------------------------------------------------


@command("show")
@click.argument("plan_ref", metavar="PLAN")
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the plan as one self-contained HTML page.",
)
@config_option
def show_command(plan_ref: str, html_out: Path | None, config_path: str) -> None:
    """Show PLAN (a plan file or id) for an approver: what changes where, findings, decisions."""
    decisions: list[dict[str, Any]] = []
    log = None
    if Path(config_path).is_file():
        config = load_config(config_path)
        log = ActionLog(config.actionlog_url)
    try:
        plan = read_plan(plan_ref, log)
        if log is not None:
            decisions = signatures(log, plan.id)
    finally:
        if log is not None:
            log.close()
    broken = plan.integrity()
    if broken:
        click.echo(f"WARNING: {broken}", err=True)
    click.echo(render_text(plan, decisions))
    if html_out:
        html_out.write_text(render_html(plan, decisions))
        click.echo(f"HTML written to {html_out}", err=True)


# --- approve / reject -------------------------------------------------------------------------


def _decide(
    plan_ref: str, key: Path, verdict: Verdict, comment: str | None, config_path: str
) -> None:
    with _site(config_path) as (config, log):
        plan = read_plan(plan_ref, log)
        principal = decide(plan, config, log, key, verdict, comment, SystemClock(), plan_ref)
    click.echo(f"{STORED[verdict]} plan {plan.short} as {principal}")


@command("approve")
@click.argument("plan_ref", metavar="PLAN")
@key_option(required=True)
@click.option("--comment", "-m", help="Why, or conditions.")
@config_option
def approve_command(plan_ref: str, key: Path, comment: str | None, config_path: str) -> None:
    """Approve PLAN: sign its id with your SSH key (ssh-keygen -Y sign, namespace maint-plan)."""
    _decide(plan_ref, key, "approve", comment, config_path)


@command("reject")
@click.argument("plan_ref", metavar="PLAN")
@key_option(required=True)
@click.option("--reason", "-m", required=True, help="Why the plan must not be applied.")
@config_option
def reject_command(plan_ref: str, key: Path, reason: str, config_path: str) -> None:
    """Reject PLAN: a signed refusal; a rejected plan is never applied."""
    _decide(plan_ref, key, "reject", reason, config_path)


# --- apply ------------------------------------------------------------------------------------


@command("apply")
@click.argument("plan_ref", metavar="PLAN")
@click.option(
    "--drift-check/--no-drift-check",
    default=True,
    show_default=True,
    help="Check live (in check mode) that nothing would change beyond the plan.",
)
@click.option("--emergency", is_flag=True, help="Apply as an emergency change (needs --reason).")
@click.option("--reason", help="Why this is an emergency.")
@key_option()
@config_option
def apply_command(
    plan_ref: str,
    drift_check: bool,
    emergency: bool,
    reason: str | None,
    key: Path | None,
    config_path: str,
) -> None:
    """Apply exactly what PLAN says, in batches, inside its window; roll back what fails.

    Refuses (exit 3, nothing run) when approvals are missing, invalid or expired, the plan was
    edited, the content or inventory changed, the window is closed, past its cutoff or blacked
    out, or a live check predicts changes the plan does not contain; also exit 3 when the
    cutoff came before the first batch (the run is recorded, every host deferred, nothing run).
    Exit 1 when a host failed (it was rolled back), 0 when every host finished.
    """
    if emergency and (not reason or key is None):
        raise UsageProblem("--emergency needs --reason and --key (a member of the emergency group)")
    clock = SystemClock()
    with _site(config_path) as (config, log):
        plan = read_plan(plan_ref, log)
        emergency_sig = (
            sign_emergency(config, log, plan, key, reason or "", clock)
            if (emergency and key is not None and not plan.integrity())
            else None
        )
        with apply_progress() as progress:
            summary = apply_plan(
                plan,
                config,
                log,
                clock,
                actor=current_actor(),
                drift_check=drift_check,
                emergency_sig=emergency_sig,
                progress=progress,
            )
    click.echo(summary.line())
    for host in sorted(summary.hosts.values(), key=lambda h: h.host):
        if host.status != "done":
            click.echo(f"  {host.host}: {host.status.replace('_', ' ')}: {host.reason}")
    if summary.nothing_ran:
        click.echo("maint: nothing was run: every host was deferred before its batch", err=True)
        sys.exit(EXIT_REFUSED)
    if not summary.ok:
        sys.exit(1)


# --- rollback ---------------------------------------------------------------------------------


@command("rollback")
@click.argument("run_uid", metavar="RUN")
@click.option("--host", "-H", "hosts", multiple=True, help="Only this host (repeatable).")
@config_option
def rollback_command(run_uid: str, hosts: tuple[str, ...], config_path: str) -> None:
    """Roll back what RUN changed (every host, or --host), from what its tasks recorded."""
    with _site(config_path) as (config, log):
        outcome = rollback_run(
            config, log, SystemClock(), run_uid, hosts, actor=current_actor(), say=click.echo
        )
    if outcome.nothing_left:
        click.echo(
            f"run {run_uid}: nothing left to roll back"
            + (f" on {', '.join(hosts)}" if hosts else "")
        )
        return
    if outcome.failed:
        sys.exit(1)
