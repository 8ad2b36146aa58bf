"""``maint log``: query the action log; ``maint log verify``: check its hash chains."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from maintenance_runner.actionlog.chain import Problem
from maintenance_runner.actionlog.plans import run_list
from maintenance_runner.actionlog.store import redact
from maintenance_runner.cli.options import (
    config_option,
    config_path_of,
    group,
    inherited_config_option,
    json_option,
    key_option,
    open_actionlog,
)
from maintenance_runner.config.load import load_config
from maintenance_runner.core.clock import SystemClock, parse_instant
from maintenance_runner.cycle.anchor import (
    check_anchor,
    default_anchor_path,
    make_anchor,
    read_anchor,
    write_anchor,
)
from maintenance_runner.errors import UsageProblem


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    relative = text.strip()
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if relative[:-1].isdigit() and relative[-1:] in units:
        return SystemClock().now() - timedelta(**{units[relative[-1]]: int(relative[:-1])})
    try:
        return parse_instant(relative)
    except ValueError:
        raise click.BadParameter(
            f"not an instant or an age: {text!r} (use 2026-11-01, 2026-11-01T22:00Z or 7d)",
            param_hint="--since",
        ) from None


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@group("log", invoke_without_command=True)
@click.option("--window", "-w", help="Only results of runs of this window.")
@click.option("--host", "-H", help="Only results for this host.")
@click.option("--since", help="Only results from this instant (ISO 8601) or age (7d, 12h) on.")
@click.option("--limit", default=200, show_default=True, help="At most this many (0: all).")
@json_option("Print JSON lines.")
@config_option
@click.pass_context
def log_group(
    ctx: click.Context,
    window: str | None,
    host: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
    config_path: str,
) -> None:
    """Per-host, per-task results recorded in the action log (newest last)."""
    ctx.obj = {**(ctx.obj or {}), "config_path": config_path}
    if ctx.invoked_subcommand is not None:
        return
    since_at = _since(since)
    with open_actionlog(config_path) as store:
        rows = store.results(window=window, host=host, since=since_at, limit=limit or None)
    if as_json:
        for row in rows:
            click.echo(json.dumps({k: _jsonable(v) for k, v in row.items()}, sort_keys=True))
        return
    if not rows:
        click.echo("no results")
        return
    for row in rows:
        changed = "changed" if row["changed"] else "-"
        click.echo(
            f"{row['started_at']:%Y-%m-%d %H:%M:%SZ}  {row['window'] or '-':<20} "
            f"{row['host']:<24} {row['task']:<14} {row['status']:<10} {changed:<8} "
            f"{row['duration_s']:7.1f}s  {row['message'] or ''}"
        )
    shown = {row["run_uid"] for row in rows}
    with open_actionlog(config_path) as store:
        runs = [r for r in run_list(store, window, limit=None) if r["run_uid"] in shown]
    if runs:
        click.echo("runs:")
        for run in runs:
            _echo_run(run)


def _echo_run(run: dict[str, Any]) -> None:
    click.echo(
        f"{run['started_at']:%Y-%m-%d %H:%M:%SZ}  {run['run_uid']:<36} {run['mode']:<9} "
        f"{run['window'] or '-':<20} {run['state']:<12} {run['message'] or ''}"
    )


@log_group.command("runs")
@click.option("--window", "-w", help="Only runs of this window.")
@click.option("--limit", default=50, show_default=True, help="At most this many (0: all).")
@inherited_config_option
@json_option("Print JSON lines.")
@click.pass_context
def runs_command(
    ctx: click.Context, window: str | None, limit: int, config_path: str | None, as_json: bool
) -> None:
    """Runs and their state (running, done, failed, stopped, interrupted), newest last."""
    with open_actionlog(config_path_of(ctx, config_path)) as store:
        runs = run_list(store, window, limit=limit or None)
    if as_json:
        for run in runs:
            click.echo(json.dumps({k: _jsonable(v) for k, v in run.items()}, sort_keys=True))
        return
    if not runs:
        click.echo("no runs")
    for run in runs:
        _echo_run(run)


@log_group.command("anchor")
@key_option(help_text="Key the checkpoint is signed with (default: tick.key in maint.yml).")
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Checkpoint file (default: .maint/anchors/anchor-TIME.json next to maint.yml).",
)
@inherited_config_option
@click.pass_context
def anchor_command(
    ctx: click.Context, key: Path | None, out: Path | None, config_path: str | None
) -> None:
    """Write a signed checkpoint of every chain's head; keep it outside the database.

    maint log verify --anchor FILE then finds rows removed or rewritten up to it.
    """
    config = load_config(config_path_of(ctx, config_path))
    if key is None and config.tick.key:
        key = config.resolve(config.tick.key)
    if key is None:
        raise UsageProblem("--key is required (or tick.key in maint.yml): the checkpoint is signed")
    clock = SystemClock()
    with open_actionlog(config_path_of(ctx, config_path)) as store:
        anchor = make_anchor(store, key, clock)
    path = write_anchor(anchor, out or default_anchor_path(config.base_dir, clock.now()))
    heads = anchor["heads"]
    click.echo(f"anchored {len(heads)} chains ({sum(h['id'] for h in heads.values())} rows)")
    click.echo(f"written to {path}")


@log_group.command("verify")
@inherited_config_option
@click.option(
    "--anchor",
    "anchor_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also check against a checkpoint of maint log anchor: rows removed or rewritten.",
)
@json_option("Print the report as JSON.")
@click.pass_context
def verify_command(
    ctx: click.Context, config_path: str | None, anchor_path: Path | None, as_json: bool
) -> None:
    """Recompute every hash chain; name each edited, deleted or inserted row (exit 1 if any)."""
    path = config_path_of(ctx, config_path)
    anchor = read_anchor(anchor_path) if anchor_path else None
    with open_actionlog(path) as store:
        report = store.verify()
        url = redact(store.url)
        if anchor is not None:
            config = load_config(path)
            checked = check_anchor(store, anchor, config.resolve(config.approvals.allowed_signers))
            report.problems += [Problem("anchor", None, p) for p in checked.problems]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "rows": report.rows,
                    "heads": report.heads,
                    "problems": [
                        {"table": p.table, "id": p.row_id, "message": p.message}
                        for p in report.problems
                    ],
                },
                indent=2,
            )
        )
    else:
        total = sum(report.rows.values())
        if report.ok:
            click.echo(f"{url}: OK, {total} rows in {len(report.rows)} chains intact")
            for table, head in report.heads.items():
                click.echo(f"  {table:<18} {report.rows.get(table, 0):>9} rows  head {head[:16]}")
        else:
            click.echo(f"{url}: TAMPERED, {len(report.problems)} problem(s)", err=True)
            for problem in report.problems:
                click.echo(f"  {problem}", err=True)
    if not report.ok:
        ctx.exit(1)


@log_group.command("summary")
@click.option("--month", help="YYYY-MM (default: the current month, UTC).")
@inherited_config_option
@json_option()
@click.pass_context
def summary_command(
    ctx: click.Context, month: str | None, config_path: str | None, as_json: bool
) -> None:
    """Results of one month grouped by task and status."""
    try:
        first = (
            datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
            if month
            else SystemClock().now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        )
    except ValueError:
        raise click.BadParameter(f"not YYYY-MM: {month!r}", param_hint="--month") from None
    after = (first + timedelta(days=32)).replace(day=1)
    with open_actionlog(config_path_of(ctx, config_path)) as store:
        rows = store.summary(first, after)
    if as_json:
        click.echo(json.dumps({"month": f"{first:%Y-%m}", "rows": rows}, indent=2))
        return
    click.echo(f"{first:%Y-%m}: {sum(r['results'] for r in rows)} results")
    for row in rows:
        click.echo(
            f"  {row['task']:<14} {row['status']:<10} {row['results']:>8} results "
            f"{row['changed'] or 0:>8} changed {row['hosts']:>6} hosts "
            f"avg {float(row['avg_duration_s'] or 0):.1f}s"
        )
