"""``maint plan|show|approve|reject|apply|rollback``: the change cycle of a window."""

from __future__ import annotations

import getpass
import json
import os
import signal
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

import click

from .actionlog.store import ActionLog
from .apply import Applier, ApplySummary
from .clock import Clock, SystemClock, parse_instant
from .config import MaintConfig, config_option, load_config
from .execution import STOP, request_stop
from .gate import Gate, preflight
from .locks import LockBusy, occurrence_lock
from .plan import PlanError, drift, host_entries, integrity, load_file
from .plan import collect_changes as _changes
from .plan_render import html as render_html
from .plan_render import text as render_text
from .planlog import (
    apply_runs,
    finished_hosts,
    load_plan,
    record_events,
    record_plan,
    record_signature,
    rollback_records,
    rolled_back,
    run_by_uid,
    signatures,
)
from .planning import (
    PlanRefused,
    build_plan,
    check_run,
    identify,
    inventory_path,
    pick_occurrence,
    sign_as_author,
    write_plan,
)
from .policy import Signature
from .results import TaskResult
from .signing import SigningError, message, sign

EXIT_REFUSED = 3
KEY_HELP = "Your SSH private key (ssh-keygen -Y sign); default $MAINT_KEY."


class Refused(click.ClickException):
    """apply would not be safe or allowed: nothing ran."""

    exit_code = EXIT_REFUSED

    def show(self, file: Any = None) -> None:
        for line in self.message.splitlines():
            click.echo(f"maint: {line}", err=True)


def _actor() -> str:
    try:
        return getpass.getuser()
    except OSError:
        return str(os.getuid())


def read_plan(ref: str, log: ActionLog | None = None) -> dict[str, Any]:
    """A plan from a file, or from the action log by id (or id prefix)."""
    path = Path(ref)
    if path.is_file():
        try:
            raw = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise PlanRefused(f"{path}: not a readable plan file: {exc}") from None
        try:
            return load_file(raw, str(path))
        except PlanError as exc:
            raise PlanRefused(str(exc)) from None
    if log is not None and len(ref) >= 8 and all(c in "0123456789abcdef" for c in ref):
        found = load_plan(log, ref)
        if found is not None:
            return load_file(found, f"plan {ref}")
    raise PlanRefused(f"{ref}: no such plan file (or plan id in the action log)")


@contextmanager
def _site(config_path: str) -> Iterator[tuple[MaintConfig, ActionLog]]:
    config = load_config(config_path)
    log = ActionLog(config.actionlog_url)
    try:
        yield config, log
    finally:
        log.close()


def _occurrence_id(log: ActionLog, raw: Mapping[str, Any]) -> int | None:
    occ = raw["plan"].get("occurrence")
    if not occ:
        return None
    start = parse_instant(occ["start"])
    from zoneinfo import ZoneInfo

    wall = start.astimezone(ZoneInfo(occ["timezone"])).strftime("%Y-%m-%d %H:%M")
    return log.record_occurrence(
        raw["plan"]["window"],
        start,
        parse_instant(occ["end"]),
        parse_instant(occ["cutoff"]),
        occ["timezone"],
        wall,
    )


# --- plan -------------------------------------------------------------------------------------


@click.command("plan")
@click.argument("window_name", metavar="WINDOW")
@click.option("--occurrence", "occurrence_text", help="Start of the occurrence (ISO 8601).")
@click.option("--limit", "-l", help="Only hosts matching this pattern.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Plan file.")
@click.option("--key", "-k", envvar="MAINT_KEY", type=click.Path(path_type=Path), help=KEY_HELP)
@config_option
def plan_command(
    window_name: str,
    occurrence_text: str | None,
    limit: str | None,
    out: Path | None,
    key: Path | None,
    config_path: str,
) -> None:
    """Plan WINDOW: run its tasks in check and diff mode and write a signed plan file.

    The plan id is the SHA-256 of the plan's canonical content; you sign it as the author with
    --key, so your own approval never counts towards it.
    """
    if key is None:
        raise click.UsageError("--key is required: the plan's author signs it (or set MAINT_KEY)")
    clock: Clock = SystemClock()
    with _site(config_path) as (config, log):
        window = config.window(window_name)
        inventory = inventory_path(config)
        author = identify(config.resolve(config.approvals.allowed_signers), key)
        at = parse_instant(occurrence_text, window.timezone) if occurrence_text else None
        occ = pick_occurrence(window, config, clock.now(), at)
        click.echo(
            f"planning {window.name} for {occ.key}: {', '.join(window.tasks)} (check mode)",
            err=True,
        )
        outcome = check_run(window, inventory, limit)
        content = build_plan(config, window, occ, inventory, limit, outcome, clock)
        raw = sign_as_author(content, author, clock)
        out = out or Path(".maint/plans") / f"{window.name}-{raw['id'][:12]}.json"
        write_plan(raw, out)
        record_plan(log, raw, _occurrence_id(log, raw))
        signed_at = parse_instant(raw["author"]["signed_at"])
        record_signature(
            log, raw["id"], author.principal, "author", signed_at, raw["author"]["signature"]
        )
    click.echo(render_text(raw))
    click.echo(f"\nplan {raw['id']}\nwritten to {out}")
    if not outcome.ok:
        click.echo("some hosts failed their checks; see above (the plan records them)", err=True)


# --- show -------------------------------------------------------------------------------------


@click.command("show")
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
        raw = read_plan(plan_ref, log)
        if log is not None:
            decisions = signatures(log, raw["id"])
    finally:
        if log is not None:
            log.close()
    broken = integrity(raw)
    if broken:
        click.echo(f"WARNING: {broken}", err=True)
    click.echo(render_text(raw, decisions))
    if html_out:
        html_out.write_text(render_html(raw, decisions))
        click.echo(f"HTML written to {html_out}", err=True)


# --- approve / reject -------------------------------------------------------------------------


def _decide(plan_ref: str, key: Path, decision: str, comment: str | None, config_path: str) -> None:
    clock = SystemClock()
    with _site(config_path) as (config, log):
        raw = read_plan(plan_ref, log)
        broken = integrity(raw)
        if broken:
            raise Refused(f"{plan_ref}: {broken}; not signing it")
        signer = identify(config.resolve(config.approvals.allowed_signers), key)
        now = clock.now().astimezone(UTC).replace(microsecond=0)
        try:
            signature = sign(key, message(decision, raw["id"], now))
        except SigningError as exc:
            raise PlanRefused(str(exc)) from None
        record_plan(log, raw, _occurrence_id(log, raw))
        stored = {"approve": "approved", "reject": "rejected"}[decision]
        record_signature(log, raw["id"], signer.principal, stored, now, signature, comment)
    click.echo(f"{stored} plan {raw['id'][:12]} as {signer.principal}")


@click.command("approve")
@click.argument("plan_ref", metavar="PLAN")
@click.option(
    "--key", "-k", envvar="MAINT_KEY", required=True, type=click.Path(path_type=Path), help=KEY_HELP
)
@click.option("--comment", "-m", help="Why, or conditions.")
@config_option
def approve_command(plan_ref: str, key: Path, comment: str | None, config_path: str) -> None:
    """Approve PLAN: sign its id with your SSH key (ssh-keygen -Y sign, namespace maint-plan)."""
    _decide(plan_ref, key, "approve", comment, config_path)


@click.command("reject")
@click.argument("plan_ref", metavar="PLAN")
@click.option(
    "--key", "-k", envvar="MAINT_KEY", required=True, type=click.Path(path_type=Path), help=KEY_HELP
)
@click.option("--reason", "-m", required=True, help="Why the plan must not be applied.")
@config_option
def reject_command(plan_ref: str, key: Path, reason: str, config_path: str) -> None:
    """Reject PLAN: a signed refusal; a rejected plan is never applied."""
    _decide(plan_ref, key, "reject", reason, config_path)


# --- apply ------------------------------------------------------------------------------------


def _emergency(
    config: MaintConfig,
    log: ActionLog,
    raw: Mapping[str, Any],
    key: Path,
    reason: str,
    clock: Clock,
) -> Signature:
    signer = identify(config.resolve(config.approvals.allowed_signers), key)
    now = clock.now().astimezone(UTC).replace(microsecond=0)
    signature = sign(key, message("emergency", raw["id"], now))
    record_signature(log, raw["id"], signer.principal, "emergency", now, signature, reason)
    return Signature(signer.principal, "emergency", now, True, "", reason)


def _check_drift(raw: Mapping[str, Any], config: MaintConfig) -> list[str]:
    content = raw["plan"]
    window = config.window(content["window"])
    hosts = sorted(content.get("hosts") or {})
    if not hosts:
        return []
    outcome = check_run(window, Path(content["inventory"]["path"]), ",".join(hosts))
    live = host_entries(outcome.results, _changes(outcome.events))
    return drift(content.get("hosts") or {}, live)


def _refuse(gate: Gate) -> None:
    raise Refused(
        "refusing to apply, nothing was run:\n" + "\n".join(f"- {r}" for r in gate.refusals)
    )


class _Lines:
    """Apply's progress where stderr is not a terminal (a log, cron, CI): one line per batch
    and per finished host, without loading rich."""

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def __call__(self, kind: str, info: Mapping[str, Any]) -> None:
        if kind == "batch":
            click.echo(f"batch {info['number']}/{info['of']}: {', '.join(info['hosts'])}", err=True)
        elif kind == "host_done":
            click.echo(f"  {info['host']}: {str(info['status']).replace('_', ' ')}", err=True)


class _Bar(_Lines):
    """A rich progress bar on a terminal's stderr: batch, hosts done and failed, the task."""

    def __init__(self, total: int) -> None:
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
        self.task = self.progress.add_task(
            "apply", total=total, batch="batch -", failed=0, current=""
        )
        self.failed = 0

    def __enter__(self) -> _Bar:
        self.progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.progress.stop()

    def __call__(self, kind: str, info: Mapping[str, Any]) -> None:
        if kind == "batch":
            self.progress.update(self.task, batch=f"batch {info['number']}/{info['of']}")
        elif kind == "task":
            self.progress.update(self.task, current=str(info.get("task", ""))[:60])
        elif kind == "host_done":
            if info.get("status") != "done":
                self.failed += 1
            self.progress.update(self.task, advance=1, failed=self.failed)


def _progress(total: int) -> _Lines:
    return _Bar(total) if sys.stderr.isatty() else _Lines()


@click.command("apply")
@click.argument("plan_ref", metavar="PLAN")
@click.option(
    "--drift-check/--no-drift-check",
    default=True,
    show_default=True,
    help="Check live (in check mode) that nothing would change beyond the plan.",
)
@click.option("--emergency", is_flag=True, help="Apply as an emergency change (needs --reason).")
@click.option("--reason", help="Why this is an emergency.")
@click.option("--key", "-k", envvar="MAINT_KEY", type=click.Path(path_type=Path), help=KEY_HELP)
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
    out, or a live check predicts changes the plan does not contain. Exit 1 when a host failed
    (it was rolled back), 0 when every host finished.
    """
    if emergency and (not reason or key is None):
        raise click.UsageError(
            "--emergency needs --reason and --key (a member of the emergency group)"
        )
    clock = SystemClock()
    with _site(config_path) as (config, log):
        raw = read_plan(plan_ref, log)
        emergency_sig = (
            _emergency(config, log, raw, key, reason or "", clock)
            if (emergency and key is not None and not integrity(raw))
            else None
        )
        summary = apply_plan(
            raw, config, log, clock, drift_check=drift_check, emergency_sig=emergency_sig
        )
    click.echo(summary.line())
    for host in sorted(summary.hosts.values(), key=lambda h: h.host):
        if host.status != "done":
            click.echo(f"  {host.host}: {host.status.replace('_', ' ')}: {host.reason}")
    if not summary.ok:
        sys.exit(1)


def apply_plan(
    raw: Mapping[str, Any],
    config: MaintConfig,
    log: ActionLog,
    clock: Clock,
    *,
    drift_check: bool = True,
    emergency_sig: Signature | None = None,
    progress: Any = None,
) -> ApplySummary:
    """Check everything, then apply (the command and the tick both come here).

    Holds the occurrence's lock, so a tick and a person never apply one occurrence at once; a
    run of this plan still marked running while we hold it was killed, and is recorded as
    interrupted before the hosts it did not finish are applied.
    """
    gate = preflight(raw, config, log, clock, emergency=emergency_sig)
    if not gate.ok:
        _refuse(gate)
    key = str((raw["plan"].get("occurrence") or {}).get("key") or raw["id"])
    try:
        with occurrence_lock(config.actionlog_url, key):
            for run in apply_runs(log, raw["id"]):
                if run["state"] == "running":
                    click.echo(
                        "run " + run["run_uid"] + ": "
                        + mark_interrupted(log, raw["id"], run["id"], "the runner was killed"),
                        err=True,
                    )  # fmt: skip
            if drift_check:
                click.echo("drift check: planning again in check mode to compare", err=True)
                extra = _check_drift(raw, config)
                if extra:
                    gate.refusals.append(
                        "a live check predicts changes the plan does not contain:\n  "
                        + "\n  ".join(extra)
                    )
                    _refuse(gate)
            return run_apply(
                raw, config, log, clock, gate, drift_check, emergency_sig, progress=progress
            )
    except LockBusy as exc:
        raise Refused(f"refusing to apply, nothing was run: {exc}") from None


def run_apply(
    raw: Mapping[str, Any],
    config: MaintConfig,
    log: ActionLog,
    clock: Clock,
    gate: Gate,
    drift_checked: bool,
    emergency_sig: Signature | None,
    progress: Any = None,
) -> ApplySummary:
    """Record the run, apply the batches, record the outcome (the tick calls this too)."""
    content = raw["plan"]
    occurrence_id = _occurrence_id(log, raw)
    record_plan(log, raw, occurrence_id)
    run_id = log.start_run(
        content["window"], "apply", occurrence_id=occurrence_id, plan_uid=raw["id"], actor=_actor()
    )
    run_uid = _run_uid(log, run_id)
    notes = list(gate.notes)
    if not drift_checked:
        notes.append("drift check skipped (--no-drift-check)")
    if gate.decision is not None and not gate.decision.approvers and emergency_sig is None:
        # a standard change: pre-approved by its policy, and recorded as such
        policy = str(content.get("change", "standard"))
        log.append(
            "approvals",
            [
                {
                    "plan_uid": raw["id"],
                    "approver": f"policy:{policy}",
                    "decision": "standard",
                    "signature": None,
                    "comment": f"pre-approved by the {policy} change policy",
                }
            ],
        )
    if gate.decision is not None:
        notes.append(
            ("emergency change by " if emergency_sig else "approved by ")
            + (", ".join(gate.decision.approvers) or "policy (standard change)")
        )
    record_events(
        log,
        run_id,
        [
            {
                "host": None,
                "task": None,
                "event": "note",
                "name": None,
                "changed": False,
                "message": n,
            }
            for n in notes
        ],
    )
    if occurrence_id is not None:
        log.set_occurrence_state(occurrence_id, "running", actor=_actor())
    done_before = finished_hosts(log, raw["id"])
    hosts = sorted(
        set(content.get("hosts") or {}) - set(content.get("unreachable") or []) - set(done_before)
    )
    if done_before:
        record_events(log, run_id, [{"host": None, "task": None, "event": "note", "name": None,
                                     "changed": False, "message": "resuming: already finished: "
                                     + ", ".join(sorted(done_before))}])  # fmt: skip
    bar = progress or _progress(len(hosts))
    applier = Applier(
        {**raw, "_emergency": emergency_sig is not None},
        log,
        clock,
        run_id,
        run_uid,
        Path(content["inventory"]["path"]),
        progress=bar,
    )
    STOP.clear()
    previous = signal.signal(signal.SIGTERM, request_stop)
    try:
        if isinstance(bar, _Lines):
            with bar:
                summary = applier.apply(hosts)
        else:
            summary = applier.apply(hosts)
    except BaseException as exc:
        mark_interrupted(log, raw["id"], run_id, f"{type(exc).__name__}")
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    log.finish_run(run_id, summary.state, summary.line())
    _open_followups(log, config, run_id)
    if occurrence_id is not None:
        log.set_occurrence_state(occurrence_id, "done", reason=summary.line(), actor=_actor())
    return summary


def mark_interrupted(log: ActionLog, plan_uid: str, run_id: int, why: str) -> str:
    """Record a run as interrupted, with the hosts that had finished (SIGTERM now, SIGKILL
    found by the next tick or apply)."""
    finished = finished_hosts(log, plan_uid)
    message = f"interrupted ({why}); finished before: " + (
        ", ".join(f"{h} ({s})" for h, s in sorted(finished.items())) or "none"
    )
    log.finish_run(run_id, "interrupted", message)
    return message


def _open_followups(log: ActionLog, config: MaintConfig, run_id: int) -> None:
    """Turn the run's findings into follow-ups with response targets (see followups.py)."""
    from .followups import create_from_config

    opened = create_from_config(log, config, run_id)
    if opened:
        click.echo(f"{len(opened)} follow-up(s) opened (maint followups list)", err=True)


def _run_uid(log: ActionLog, run_id: int) -> str:
    from sqlalchemy import select

    from .actionlog import models as m

    with log.engine.connect() as conn:
        return str(conn.execute(select(m.runs.c.run_uid).where(m.runs.c.id == run_id)).scalar_one())


# --- rollback ---------------------------------------------------------------------------------


@click.command("rollback")
@click.argument("run_uid", metavar="RUN")
@click.option("--host", "-H", "hosts", multiple=True, help="Only this host (repeatable).")
@config_option
def rollback_command(run_uid: str, hosts: tuple[str, ...], config_path: str) -> None:
    """Roll back what RUN changed (every host, or --host), from what its tasks recorded."""
    clock = SystemClock()
    with _site(config_path) as (config, log):
        run = run_by_uid(log, run_uid)
        if run is None:
            raise PlanRefused(f"no run {run_uid!r} in the action log (see maint log)")
        records = [
            r
            for r in rollback_records(log, run["id"])
            if (not hosts or r["host"] in hosts)
            and (r["host"], r["task"]) not in rolled_back(log, run["id"])
        ]
        if not records:
            click.echo(
                f"run {run_uid}: nothing left to roll back"
                + (f" on {', '.join(hosts)}" if hosts else "")
            )
            return
        raw = load_plan(log, run["plan_uid"]) if run["plan_uid"] else None
        inventory = Path(raw["plan"]["inventory"]["path"]) if raw else inventory_path(config)
        rb_id = log.start_run(run["window"], "rollback", plan_uid=run["plan_uid"], actor=_actor())
        rb_uid = _run_uid(log, rb_id)
        plan_stub = raw or {"plan": {"targets": "all"}, "id": ""}
        applier = Applier(plan_stub, log, clock, rb_id, rb_uid, inventory)
        failed = []
        for host in dict.fromkeys(r["host"] for r in records):
            results = [
                TaskResult(host=host, task=r["task"], status="changed", rollback=r["rollback"])
                for r in records
                if r["host"] == host
            ]
            ok, detail = applier.rollback_host(host, results, of_run=run["id"])
            click.echo(f"{host}: {'rolled back' if ok else 'ROLLBACK FAILED'}: {detail}")
            if not ok:
                failed.append(host)
        log.finish_run(
            rb_id, "failed" if failed else "done", f"rollback of {run_uid}: {len(failed)} failed"
        )
    if failed:
        sys.exit(1)
