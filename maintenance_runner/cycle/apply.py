"""Applying a plan: the use case behind ``maint apply`` and the tick's apply.

:func:`apply_plan` checks everything (the gate, then a live drift check under the occurrence's
lock), records the run and hands the batches to the :class:`~.applier.Applier`. It refuses
with :class:`~maintenance_runner.errors.Refused` (exit 3, nothing run). Progress goes to a
callback: ``progress(kind, info)`` with kinds ``note`` (a line for a person), ``start``
(``hosts``: how many will run), ``batch``, ``task``, ``event`` and ``host_done``.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Mapping
from datetime import UTC
from pathlib import Path
from typing import Any

from maintenance_runner.actionlog.locks import LockBusy, occurrence_lock
from maintenance_runner.actionlog.plans import (
    apply_runs,
    finished_hosts,
    record_events,
    record_plan,
    record_signature,
    record_standard_approval,
)
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.ansible.execution import STOP, request_stop
from maintenance_runner.ansible.guard import reap
from maintenance_runner.config.models import MaintConfig
from maintenance_runner.core.clock import Clock, parse_instant
from maintenance_runner.core.plan import Plan, drift, host_entries, typed_hosts
from maintenance_runner.core.plan import collect_changes as _changes
from maintenance_runner.core.policy import Signature
from maintenance_runner.cycle.anchor import heads_of, short_heads
from maintenance_runner.cycle.applier import Applier, ApplySummary, Progress
from maintenance_runner.cycle.followups import create_from_config
from maintenance_runner.cycle.gate import Gate, check_window, preflight
from maintenance_runner.cycle.patch_policy import baseline_vars, patch_vars
from maintenance_runner.cycle.planning import check_run, record_occurrence_of
from maintenance_runner.cycle.reconcile import interrupted_message, reconcile
from maintenance_runner.cycle.signing import identify, message, sign
from maintenance_runner.errors import Refused


def _quiet(_kind: str, _info: Mapping[str, Any]) -> None:
    return None


def _note(progress: Progress, text: str) -> None:
    progress("note", {"text": text})


def refuse(gate: Gate) -> None:
    raise Refused(
        "refusing to apply, nothing was run:\n" + "\n".join(f"- {r}" for r in gate.refusals)
    )


def sign_emergency(
    config: MaintConfig, log: ActionLog, plan: Plan, key: Path, reason: str, clock: Clock
) -> Signature:
    """Sign and record an emergency decision on ``plan`` with ``key``."""
    signer = identify(config.resolve(config.approvals.allowed_signers), key)
    now = clock.now().astimezone(UTC).replace(microsecond=0)
    signature = sign(key, message("emergency", plan.id, now))
    record_signature(log, plan.id, signer.principal, "emergency", now, signature, reason)
    return Signature(signer.principal, "emergency", now, True, "", reason)


def run_vars(plan: Plan, config: MaintConfig, log: ActionLog) -> dict[str, Any]:
    """Extra variables every run of the plan gets: its patch policy as of the plan's making,
    and the occurrence's cutoff (a reboot must be over by then)."""
    window = config.window(plan.window)
    found: dict[str, Any] = {}
    if plan.content.occurrence is not None:
        found["maint_window_cutoff"] = plan.content.occurrence.cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")
    if baseline_vars(config, window):
        found.update(patch_vars(config, window, log, parse_instant(plan.content.created_at)))
    return found


def check_drift(plan: Plan, config: MaintConfig, log: ActionLog) -> list[str]:
    """What a live check-mode run would change now that the plan does not contain."""
    hosts = sorted(plan.content.hosts)
    if not hosts:
        return []
    window = config.window(plan.window)
    extra = run_vars(plan, config, log)
    outcome = check_run(window, Path(plan.content.inventory.path), ",".join(hosts), extra=extra)
    live = typed_hosts(host_entries(outcome.results, _changes(outcome.events)))
    return drift(plan.content.hosts, live)


def apply_plan(
    plan: Plan,
    config: MaintConfig,
    log: ActionLog,
    clock: Clock,
    *,
    actor: str,
    drift_check: bool = True,
    emergency_sig: Signature | None = None,
    progress: Progress = _quiet,
    gate: Gate | None = None,
) -> ApplySummary:
    """Check everything, then apply (``maint apply`` and the tick both come here).

    ``gate`` is a preflight already made by the caller (the tick decides with it first); it
    is not repeated. Holds the occurrence's lock, so a tick and a person never apply one
    occurrence at once; a run of this plan still marked running while we hold it was killed,
    and is recorded as interrupted before the hosts it did not finish are applied.
    """
    if gate is None:
        gate = preflight(plan, config, log, clock, emergency=emergency_sig)
    if not gate.ok:
        refuse(gate)
    try:
        with occurrence_lock(config.actionlog_url, plan.lock_key):
            for run in apply_runs(log, plan.id):
                if run["state"] == "running":
                    found = reconcile(plan, log, clock, run)
                    why = mark_interrupted(
                        log, plan.id, run["id"], f"the runner was killed; {found}"
                    )
                    _note(progress, f"run {run['run_uid']}: {why}")
            if drift_check:
                _note(progress, "drift check: planning again in check mode to compare")
                extra = check_drift(plan, config, log)
                if extra:
                    gate.refusals.append(
                        "a live check predicts changes the plan does not contain:\n  "
                        + "\n  ".join(extra)
                    )
                    refuse(gate)
            if emergency_sig is None:
                gate.refusals += check_window(plan, config, clock)  # the drift check took time
                if gate.refusals:
                    refuse(gate)
            return run_apply(
                plan, config, log, clock, gate, drift_check, emergency_sig, actor, progress
            )
    except LockBusy as exc:
        raise Refused(f"refusing to apply, nothing was run: {exc}") from None


def _notes(gate: Gate, drift_checked: bool, emergency: bool) -> list[str]:
    notes = list(gate.notes)
    if not drift_checked:
        notes.append("drift check skipped (--no-drift-check)")
    if gate.decision is not None:
        notes.append(
            ("emergency change by " if emergency else "approved by ")
            + (", ".join(gate.decision.approvers) or "policy (standard change)")
        )
    return notes


def _note_rows(notes: list[str]) -> list[dict[str, Any]]:
    return [
        {"host": None, "task": None, "event": "note", "name": None, "changed": False, "message": n}
        for n in notes
    ]


def run_apply(
    plan: Plan,
    config: MaintConfig,
    log: ActionLog,
    clock: Clock,
    gate: Gate,
    drift_checked: bool,
    emergency_sig: Signature | None,
    actor: str,
    progress: Progress = _quiet,
) -> ApplySummary:
    """Record the run, apply the batches, record the outcome."""
    content = plan.content
    occurrence_id = record_occurrence_of(log, plan)
    record_plan(log, plan, occurrence_id)
    run = log.start_run(
        plan.window, "apply", occurrence_id=occurrence_id, plan_uid=plan.id, actor=actor
    )
    if gate.decision is not None and not gate.decision.approvers and emergency_sig is None:
        # a standard change: pre-approved by its policy, and recorded as such
        record_standard_approval(log, plan.id, content.change)
    heads = json.dumps(short_heads(heads_of(log)), sort_keys=True)
    record_events(
        log,
        run,
        [
            *_note_rows(_notes(gate, drift_checked, emergency_sig is not None)),
            {"host": None, "task": None, "event": "heads", "name": None, "changed": False,
             "message": heads},
        ],
    )  # fmt: skip
    if occurrence_id is not None:
        log.set_occurrence_state(occurrence_id, "running", actor=actor)
    done_before = finished_hosts(log, plan.id)
    hosts = sorted(set(content.hosts) - set(content.unreachable) - set(done_before))
    if done_before:
        resumed = "resuming: already finished: " + ", ".join(sorted(done_before))
        record_events(log, run, _note_rows([resumed]))
    progress("start", {"hosts": len(hosts)})
    applier = Applier(
        log,
        clock,
        run,
        Path(content.inventory.path),
        content.targets,
        progress=progress,
        extra=run_vars(plan, config, log),
    )
    STOP.clear()
    previous = signal.signal(signal.SIGTERM, request_stop)
    try:
        summary = applier.apply(plan, hosts, emergency=emergency_sig is not None)
    except BaseException as exc:
        reap(run.uid)  # nothing of this run outlives it, before its lock is let go
        mark_interrupted(log, plan.id, run, f"{type(exc).__name__}")
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    log.finish_run(run, summary.state, summary.line())
    opened = create_from_config(log, config, run)
    if opened:
        _note(progress, f"{len(opened)} follow-up(s) opened (maint followups list)")
    if occurrence_id is not None:
        log.set_occurrence_state(occurrence_id, "done", reason=summary.line(), actor=actor)
    return summary


def mark_interrupted(log: ActionLog, plan_uid: str, run_id: int, why: str) -> str:
    """Record a run as interrupted, with the hosts that had finished (SIGTERM now, SIGKILL
    found by the next tick or apply)."""
    text = interrupted_message(log, plan_uid, why)
    log.finish_run(run_id, "interrupted", text)
    return text
