"""Approval policy checks (pure): do the verified signatures on a plan allow applying it now?

Inputs are already verified by ssh-keygen (see ``signing.py``); this module only decides. It
never trusts a name a person typed: the author and each approver are the principals the
allowed_signers file gives for the keys that signed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from maintenance_runner.config.models import ChangePolicy


@dataclass(frozen=True)
class Signature:
    """A verified (or not) signature on a plan id."""

    principal: str | None
    decision: str  # author approve reject emergency
    signed_at: datetime
    valid: bool
    reason: str = ""
    comment: str = ""


@dataclass
class Decision:
    allowed: bool
    reasons: list[str] = field(default_factory=list)  # why not (or notes when allowed)
    approvers: list[str] = field(default_factory=list)
    emergency: bool = False


def members(groups: Mapping[str, Sequence[str]], wanted: Sequence[str]) -> set[str] | None:
    """Principals of the wanted groups; None means anyone in allowed_signers."""
    if not wanted:
        return None
    found: set[str] = set()
    for group in wanted:
        found.update(groups.get(group, ()))
    return found


def evaluate(
    policy: ChangePolicy,
    groups: Mapping[str, Sequence[str]],
    tasks: Sequence[str],
    author: Signature | None,
    signatures: Sequence[Signature],
    now: datetime,
    *,
    emergency_by: Signature | None = None,
) -> Decision:
    """Decide whether a plan with these signatures may be applied at ``now``."""
    reasons: list[str] = []
    if author is None:
        reasons.append("the plan has no author signature")
    elif not author.valid:
        reasons.append(f"the author signature is not valid: {author.reason}")
    for sig in signatures:
        if not sig.valid:
            who = sig.principal or "an unknown key"
            reasons.append(f"{sig.decision} signature by {who} is not valid: {sig.reason}")
    valid = [s for s in signatures if s.valid]
    rejected = sorted({s.principal or "?" for s in valid if s.decision == "reject"})
    if rejected:
        return Decision(False, [f"rejected by {', '.join(rejected)}", *reasons])

    if emergency_by is not None:
        allowed = members(groups, policy.groups or ["emergency"]) or set()
        if not emergency_by.valid:
            reasons.append(f"the emergency signature is not valid: {emergency_by.reason}")
        elif emergency_by.principal not in allowed:
            reasons.append(
                f"{emergency_by.principal} is not in the emergency group "
                f"({', '.join(policy.groups or ['emergency'])})"
            )
        ok = not reasons
        return Decision(ok, reasons, [emergency_by.principal or "?"] if ok else [], True)

    if policy.type == "emergency":
        reasons.append("this window's change policy is emergency: apply with --emergency")
        return Decision(False, reasons)

    if policy.type == "standard":
        outside = [t for t in tasks if t not in policy.tasks]
        if outside:
            reasons.append(
                f"a standard change may only run {', '.join(policy.tasks) or 'no tasks'}; "
                f"this plan also runs {', '.join(outside)}"
            )
    needed = policy.approvals
    allowed_principals = members(groups, policy.groups)
    author_principal = author.principal if author is not None and author.valid else None
    counted: list[str] = []
    for sig in valid:
        if sig.decision != "approve" or sig.principal is None:
            continue
        if sig.principal == author_principal:
            continue  # separation of duties: the author never counts
        if allowed_principals is not None and sig.principal not in allowed_principals:
            continue
        if now - sig.signed_at > policy.expires:
            continue
        if sig.signed_at > now:
            continue
        if sig.principal not in counted:
            counted.append(sig.principal)
    if len(counted) < needed:
        notes = []
        for sig in valid:
            if sig.decision != "approve":
                continue
            if sig.principal == author_principal:
                notes.append(f"{sig.principal} is the plan's author and does not count")
            elif allowed_principals is not None and sig.principal not in allowed_principals:
                notes.append(f"{sig.principal} is not in {', '.join(policy.groups)}")
            elif now - sig.signed_at > policy.expires:
                notes.append(
                    f"the approval by {sig.principal} expired "
                    f"({sig.signed_at:%Y-%m-%d %H:%M}Z + {policy.expires})"
                )
        reasons.append(
            f"{len(counted)} of {needed} required approval(s)"
            + (f" ({'; '.join(notes)})" if notes else "")
        )
    return Decision(not reasons, reasons, counted)
