"""The "Needs attention" section: plain sentences a manager must not miss."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from maintenance_runner.report.model import (
    FollowupStats,
    OccurrenceInfo,
    PlanApproval,
    RunInfo,
    Totals,
)
from maintenance_runner.report.sections.basis import Basis
from maintenance_runner.report.sections.roles import RoleSections


def _plans(plans: Sequence[PlanApproval]) -> list[str]:
    lines = []
    for p in plans:
        if p.change == "emergency":
            when = f"{p.emergency_at:%Y-%m-%d %H:%M}Z" if p.emergency_at else "?"
            if p.retro_approved:
                lines.append(
                    f"Emergency change {p.plan_uid[:12]} applied by {p.emergency_by} at {when}; "
                    f"approved afterwards by {', '.join(p.approved_by)}"
                    + (" (later than the deadline)" if p.retro_overdue else "")
                    + "."
                )
            else:
                lines.append(
                    f"EMERGENCY change {p.plan_uid[:12]} applied by {p.emergency_by} at {when} "
                    "has not been approved afterwards"
                    + (" and is past its deadline." if p.retro_overdue else ".")
                )
        elif not p.approved:
            lines.append(f"Plan {p.plan_uid[:12]} has no valid approval recorded.")
    return lines


def _runs(b: Basis, runs: Sequence[RunInfo], occurrences: Sequence[OccurrenceInfo]) -> list[str]:
    lines = []
    for r in b.scope_runs:
        if r.mode == "apply" and not r.plan_uid:
            lines.append(f"Run {r.run_uid} applied changes without a recorded plan.")
    for info in runs:
        if info.state == "running":
            lines.append(f"Run {info.run_uid} has no end recorded (still running, or it crashed).")
        elif info.state != "done":
            lines.append(
                f"Run {info.run_uid} ended {info.state}"
                + (f": {info.message}" if info.message else ".")
            )
    for o in occurrences:
        if o.state == "skipped":
            lines.append(
                f"Window {o.window} of {o.local_start} was skipped: {o.reason or 'no reason'}."
            )
    return lines


def _roles(roles: RoleSections) -> list[str]:
    lines = []
    reboot = sorted(p.host for p in roles.patching if p.reboot_required and not p.check_only)
    if reboot:
        lines.append(f"Reboot pending to finish updates: {', '.join(reboot)}.")
    bad_backups = sorted(
        f"{r.host} {r.name}"
        for r in roles.backups
        if r.within_target is False or r.restore_ok is False or r.check_ok is False
    )
    if bad_backups:
        lines.append(f"Backups not proven restorable or too old: {', '.join(bad_backups)}.")
    stale = sorted(a.host for a in roles.antivirus if a.stale)
    if stale:
        lines.append(f"Antivirus definitions out of date: {', '.join(stale)}.")
    return lines


def attention(
    b: Basis,
    plans: Sequence[PlanApproval],
    runs: Sequence[RunInfo],
    occurrences: Sequence[OccurrenceInfo],
    totals: Totals,
    severity_counts: dict[str, int],
    followups: FollowupStats,
    roles: RoleSections,
    rolled_hosts: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    lines = _plans(plans) + _runs(b, runs, occurrences)
    if totals.failed:
        lines.append(f"{totals.failed} host task(s) failed.")
    rolled = rolled_hosts or {}
    undone = sorted(h for h, state in rolled.items() if state == "ok")
    if undone:
        lines.append(f"Rolled back: {', '.join(undone)}.")
    broken = sorted(h for h, state in rolled.items() if state != "ok")
    if broken:
        lines.append(f"Rollback FAILED, check by hand: {', '.join(broken)}.")
    if totals.deferred:
        lines.append(f"{totals.deferred} host task(s) were deferred to a later window.")
    serious = severity_counts.get("critical", 0) + severity_counts.get("high", 0)
    if serious:
        lines.append(f"{serious} critical or high finding(s) need action.")
    if followups.missed:
        lines.append(f"{followups.missed} follow-up(s) missed their response target.")
    lines += _roles(roles)
    if not runs:
        lines.append("No maintenance run is recorded for this period.")
    return tuple(lines)
