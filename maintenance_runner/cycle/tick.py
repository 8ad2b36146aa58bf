"""``maint tick``: decide what is due and do it, once (what cron calls every few minutes).

For each window and each occurrence from a day back to its lead time ahead:

- blacked out: recorded as skipped with the reason (once);
- within the lead time, or open, and not yet planned: planned (check mode), signed with the
  tick's key, recorded as awaiting approval, approvers notified;
- open (before the cutoff) with a plan the policy allows (approved, or a standard change):
  applied, through the same checks as ``maint apply``; an interrupted run is resumed with the
  hosts it did not finish;
- over without an apply: recorded as skipped ("the window passed without an approved plan").

The whole tick holds the tick lock (a file lock beside a SQLite log, an advisory lock on
PostgreSQL), and each apply the occurrence lock, so overlapping ticks, even from two control
nodes, never run one occurrence twice. ``phase`` is the pure core.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from maintenance_runner.actionlog.plans import latest_plan, occurrence_id_of
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.config.models import MaintConfig, Window
from maintenance_runner.core.clock import Clock, SystemClock
from maintenance_runner.core.plan import Plan
from maintenance_runner.core.schedule import Occurrence, occurrences
from maintenance_runner.cycle.anchor import heads_of, short_heads
from maintenance_runner.cycle.applier import Progress
from maintenance_runner.cycle.apply import apply_plan
from maintenance_runner.cycle.gate import check_log, preflight
from maintenance_runner.cycle.planning import inventory_path, plan_window, stored_plan
from maintenance_runner.cycle.signing import identify
from maintenance_runner.errors import InputError, MaintError, Refused

Phase = Literal["ahead", "lead", "open", "cutoff", "passed"]
LOOKBACK = timedelta(days=1)


def phase(occ: Occurrence, now: datetime, lead_time: timedelta) -> Phase:
    """Where ``now`` stands relative to an occurrence."""
    if now >= occ.end:
        return "passed"
    if now >= occ.cutoff:
        return "cutoff"
    if now >= occ.start:
        return "open"
    if now >= occ.start - lead_time:
        return "lead"
    return "ahead"


@dataclass
class TickReport:
    lines: list[str] = field(default_factory=list)  # what happened, one line per action
    quiet: list[str] = field(default_factory=list)  # shown with -v only
    needs_person: bool = False

    def did(self, line: str, *, person: bool = False) -> None:
        self.lines.append(line)
        self.needs_person = self.needs_person or person


Notify = Callable[[str, dict[str, Any]], None]
ACTOR = "maint tick"


def _quiet(_kind: str, _info: Mapping[str, Any]) -> None:
    return None


@dataclass
class Ticker:
    config: MaintConfig
    log: ActionLog
    clock: Clock
    key: Path | None
    dry_run: bool
    notify: Notify
    progress: Progress = _quiet
    report: TickReport = field(default_factory=TickReport)

    def run(self) -> TickReport:
        """Decide and act on every window; refuse (exit 3) on a log that is not intact."""
        if not self.dry_run and not isinstance(self.clock, SystemClock):
            raise InputError(
                "a simulated clock never reaches a host: a tick at another time than now "
                "must be a dry run"
            )
        broken = check_log(self.log)
        if broken:
            raise Refused("the tick decides nothing: " + broken[0])
        now = self.clock.now()
        for window in self.config.windows:
            since = now - window.duration - LOOKBACK
            for occ in occurrences(window, self.config, since=since, until=now + window.lead_time):
                self.occurrence(window, occ, now)
        return self.report

    # --- one occurrence ---------------------------------------------------------------------

    def occurrence(self, window: Window, occ: Occurrence, now: datetime) -> None:
        where = phase(occ, now, window.lead_time)
        if where == "ahead":
            return
        oid = occurrence_id_of(self.log, window.name, occ.start)
        state = self.log.occurrence_state(oid)[0] if oid is not None else None
        if state in ("done", "skipped"):
            self.report.quiet.append(f"{occ.key}: {state}")
            return
        if occ.status == "skipped":
            self._skip(occ, oid, occ.reason or "blacked out")
            return
        if where == "passed":
            self._skip(occ, oid, "the window passed without an approved plan", person=True)
            return
        if where == "cutoff":
            self.report.quiet.append(f"{occ.key}: past the cutoff, nothing new starts")
            return
        plan = self._plan_for(window, occ, oid)
        if plan is None or where != "open":
            return
        self._apply(occ, plan)

    def _notify(self, event: str, payload: dict[str, Any]) -> None:
        """Send a notification carrying the log's chain heads (each copy is an anchor)."""
        self.notify(event, {**payload, "log_heads": short_heads(heads_of(self.log))})

    def _skip(self, occ: Occurrence, oid: int | None, reason: str, *, person: bool = False) -> None:
        if self.dry_run:
            self.report.did(f"{occ.key}: would record skipped: {reason}")
            return
        if oid is None:
            self.log.record_occurrence(occ.slot, "skipped", reason)
        else:
            self.log.set_occurrence_state(oid, "skipped", reason, actor=ACTOR)
        self.report.did(f"{occ.key}: skipped: {reason}", person=person)

    def _plan_for(self, window: Window, occ: Occurrence, oid: int | None) -> Plan | None:
        found = latest_plan(self.log, oid) if oid is not None else None
        if found is not None:
            return stored_plan(found, f"the plan of {occ.key}")
        if self.dry_run:
            self.report.did(f"{occ.key}: would plan {', '.join(window.tasks)} and ask approvers")
            return None
        if self.key is None:
            self.report.did(
                f"{occ.key}: cannot plan: no signing key (tick.key in maint.yml, or --key)",
                person=True,
            )
            return None
        try:
            author = identify(self.config.resolve(self.config.approvals.allowed_signers), self.key)
            inventory_path(self.config)
        except MaintError as exc:
            self.report.did(f"{occ.key}: cannot plan: {exc.message}", person=True)
            return None
        planned = plan_window(self.config, self.log, window, occ, author, self.clock)
        plan = planned.plan
        self.log.set_occurrence_state(
            planned.occurrence_id, "awaiting_approval", f"plan {plan.id}", ACTOR
        )
        self.report.did(f"{occ.key}: planned {plan.short} ({planned.path}); awaiting approval")
        self._notify(
            "plan_awaiting_approval",
            {
                "window": window.name,
                "occurrence": occ.key,
                "plan_id": plan.id,
                "text": f"maint show {plan.short}; maint approve {plan.short} --key ...",
            },
        )
        return plan

    def _expired(self, occ: Occurrence, plan: Plan, why: str) -> None:
        """Tell approvers once that the plan's approvals expired unused."""
        oid = occurrence_id_of(self.log, occ.window, occ.start)
        reason = f"approval expired: plan {plan.id}"
        if oid is None or self.log.occurrence_state(oid)[1] == reason:
            self.report.quiet.append(f"{occ.key}: {why}")
            return
        if self.dry_run:
            self.report.did(f"{occ.key}: would notify that the approval expired")
            return
        self.log.set_occurrence_state(oid, "awaiting_approval", reason, ACTOR)
        self.report.did(f"{occ.key}: the approval of plan {plan.short} expired unused: {why}")
        self._notify(
            "approval_expired",
            {"window": occ.window, "occurrence": occ.key, "plan_id": plan.id, "text": why},
        )

    def _apply(self, occ: Occurrence, plan: Plan) -> None:
        gate = preflight(plan, self.config, self.log, self.clock)
        if not gate.ok:
            waiting = all("required approval" in r for r in gate.refusals)
            if waiting and any("expired" in r for r in gate.refusals):
                self._expired(occ, plan, gate.refusals[0])
            elif waiting:
                self.report.quiet.append(f"{occ.key}: waiting for approval ({gate.refusals[0]})")
            else:
                self.report.did(
                    f"{occ.key}: cannot apply plan {plan.short}: " + "; ".join(gate.refusals),
                    person=True,
                )
            return
        if self.dry_run:
            self.report.did(f"{occ.key}: would apply plan {plan.short}")
            return
        try:
            summary = apply_plan(
                plan,
                self.config,
                self.log,
                self.clock,
                actor=ACTOR,
                progress=self.progress,
                gate=gate,
            )
        except MaintError as exc:
            self.report.did(f"{occ.key}: {exc.message.replace(chr(10), ' ')}", person=True)
            return
        self.report.did(f"{occ.key}: {summary.line()}", person=not summary.ok)
        event = "run_finished"
        if summary.count("rolled_back") or summary.count("rollback_failed"):
            event = "run_rolled_back"
        elif not summary.ok:
            event = "run_failed"
        payload = {
            "window": occ.window,
            "occurrence": occ.key,
            "plan_id": plan.id,
            "run_uid": summary.run_uid,
            "summary": {s: summary.count(s) for s in ("done", "failed", "rolled_back", "deferred")},
            "text": summary.line(),
        }
        self._notify(event, payload)
        if event != "run_finished":
            self._notify("run_finished", payload)
