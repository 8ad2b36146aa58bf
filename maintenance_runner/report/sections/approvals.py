"""The "Plan and approvals" section: who approved which plan when; emergency changes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from maintenance_runner.actionlog.report_rows import ApprovalRow, PlanRow
from maintenance_runner.report.model import ApprovalInfo, PlanApproval
from maintenance_runner.report.sections.basis import Basis

APPROVE = ("approve", "approved")
REJECT = ("reject", "rejected")
DEFAULT_RETRO_WITHIN = timedelta(hours=48)


def plan_approval(
    plan: PlanRow,
    decisions: Sequence[ApprovalRow],
    now: datetime,
    retro_within: timedelta = DEFAULT_RETRO_WITHIN,
) -> PlanApproval:
    """Who approved a plan when; an emergency apply and whether it was approved afterwards.

    The author's own signature never counts as an approval (separation of duties).
    """
    ordered = sorted(decisions, key=lambda d: d.at)
    author = plan.created_by
    emergency = next((d for d in ordered if d.decision == "emergency"), None)
    standard = any(d.decision == "standard" for d in ordered)
    rejected = [d for d in ordered if d.decision in REJECT]
    approvals = [d for d in ordered if d.decision in APPROVE and d.approver != author]
    change = "emergency" if emergency else ("standard" if standard else "normal")
    retro: bool | None = None
    retro_at = retro_due = None
    overdue = False
    if emergency is not None:
        later = [d for d in approvals if d.at >= emergency.at and d.approver != emergency.approver]
        retro = bool(later)
        retro_at = later[0].at if later else None
        retro_due = emergency.at + retro_within
        overdue = (retro_at is None and now > retro_due) or (
            retro_at is not None and retro_at > retro_due
        )
    approved_by = tuple(dict.fromkeys(d.approver for d in approvals))
    approved = (bool(approved_by) or standard) and not rejected
    return PlanApproval(
        plan_uid=plan.plan_uid,
        window=plan.window,
        created_by=author,
        created_at=plan.created_at,
        change=change,
        approved=approved,
        approved_by=approved_by,
        decisions=tuple(ApprovalInfo(d.approver, d.decision, d.at, d.comment) for d in ordered),
        emergency_by=emergency.approver if emergency else None,
        emergency_at=emergency.at if emergency else None,
        emergency_reason=emergency.comment if emergency else None,
        retro_approved=retro,
        retro_approved_at=retro_at,
        retro_due=retro_due,
        retro_overdue=overdue,
    )


def plans(b: Basis, now: datetime, retro_within: timedelta) -> tuple[PlanApproval, ...]:
    """The plans used by a run in scope, or made for an occurrence in scope."""
    rows = b.rows
    wanted = {r.plan_uid for r in b.scope_runs if r.plan_uid}
    wanted |= {p.plan_uid for p in rows.plans if p.occurrence_id in b.scope.occurrence_ids}
    decisions: dict[str, list[ApprovalRow]] = defaultdict(list)
    for a in rows.approvals:
        decisions[a.plan_uid].append(a)
    return tuple(
        plan_approval(p, decisions.get(p.plan_uid, []), now, retro_within)
        for p in sorted(rows.plans, key=lambda p: p.created_at)
        if p.plan_uid in wanted
    )
