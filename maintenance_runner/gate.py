"""Everything ``maint apply`` checks before it touches a host.

Each check returns reasons to refuse; ``maint apply`` runs nothing unless the list is empty.
Signatures are verified with ssh-keygen (``signing.py``), decisions are made by the pure
``policy.evaluate``, the window by ``schedule.window_status``, drift by a live check-mode run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .actionlog.store import ActionLog
from .clock import Clock, parse_instant
from .config import MaintConfig
from .plan import integrity
from .planlog import signatures
from .policy import Decision, Signature, evaluate
from .revision import content_revision, inventory_hash
from .schedule import window_status
from .signing import message, verify


@dataclass
class Gate:
    refusals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    decision: Decision | None = None

    @property
    def ok(self) -> bool:
        return not self.refusals


def verify_signature(
    allowed_signers: Path, decision: str, plan_uid: str, signed_at: datetime, signature: str
) -> Signature:
    if not signature:
        return Signature(None, decision, signed_at, False, "no signature recorded")
    checked = verify(allowed_signers, signature, message(decision, plan_uid, signed_at))
    return Signature(checked.principal, decision, signed_at, checked.valid, checked.reason)


def author_signature(raw: Mapping[str, Any], allowed_signers: Path) -> Signature | None:
    author = raw.get("author")
    if not author:
        return None
    try:
        signed_at = parse_instant(str(author["signed_at"]))
    except (KeyError, ValueError):
        return Signature(None, "author", datetime.min, False, "unreadable signing time")
    return verify_signature(
        allowed_signers, "author", raw["id"], signed_at, str(author.get("signature") or "")
    )


def recorded_signatures(
    log: ActionLog, plan_uid: str, allowed_signers: Path
) -> tuple[list[Signature], Signature | None]:
    """(approvals and rejections, the latest emergency signature) recorded for a plan."""
    found: list[Signature] = []
    emergency = None
    for row in signatures(log, plan_uid):
        decision = {"approved": "approve", "rejected": "reject"}.get(row["decision"])
        if row["decision"] == "emergency":
            emergency = verify_signature(
                allowed_signers, "emergency", plan_uid, row["signed_at"], row["signature"]
            )
            continue
        if decision is None:
            continue  # author rows are checked from the plan file itself
        sig = verify_signature(
            allowed_signers, decision, plan_uid, row["signed_at"], row["signature"]
        )
        found.append(
            Signature(
                sig.principal, decision, sig.signed_at, sig.valid, sig.reason, row["comment"] or ""
            )
        )
    return found, emergency


def check_approvals(
    raw: Mapping[str, Any],
    config: MaintConfig,
    log: ActionLog,
    now: datetime,
    *,
    emergency: Signature | None = None,
) -> Decision:
    content = raw["plan"]
    allowed = config.resolve(config.approvals.allowed_signers)
    try:
        policy = config.approvals.policy(str(content.get("change", "normal")))
        if emergency is not None and policy.type != "emergency":
            # an emergency is judged by the emergency policy, not the window's usual one
            policy = config.approvals.policy("emergency")
    except KeyError:
        return Decision(False, [f"unknown change policy {content.get('change')!r} in maint.yml"])
    sigs, _recorded_emergency = recorded_signatures(log, raw["id"], allowed)
    return evaluate(
        policy,
        config.approvals.groups,
        content.get("tasks") or [],
        author_signature(raw, allowed),
        sigs,
        now,
        emergency_by=emergency,
    )


def check_window(
    raw: Mapping[str, Any], config: MaintConfig, clock: Clock
) -> tuple[list[str], int | None]:
    """Reasons the plan's occurrence is not open for a new batch now."""
    content = raw["plan"]
    name = content["window"]
    window = next((w for w in config.windows if w.name == name), None)
    if window is None:
        return [f"window {name!r} is no longer in maint.yml"], None
    occ = content.get("occurrence") or {}
    status = window_status(window, config, clock.now())
    current = status.current
    if current is None or current.key != occ.get("key"):
        return [
            f"window {name} is closed for this plan's occurrence {occ.get('key')}: {status.reason}"
        ], None
    if current.status == "skipped":
        return [f"occurrence {current.key} is blacked out: {current.reason}"], None
    if status.state == "cutoff":
        return [f"window {name} is past its cutoff: {status.reason}"], None
    return [], None


def check_fingerprints(raw: Mapping[str, Any]) -> list[str]:
    content = raw["plan"]
    reasons = []
    now_rev = content_revision()
    planned = content.get("content") or {}
    if now_rev["hash"] != planned.get("hash"):
        reasons.append(
            "the content revision changed since the plan (roles, playbooks or plugins differ: "
            f"plan {str(planned.get('hash'))[:12]}, now {str(now_rev['hash'])[:12]})"
        )
    inv = content.get("inventory") or {}
    path = Path(str(inv.get("path") or ""))
    if not path.exists():
        reasons.append(f"the plan's inventory {path} no longer exists")
    elif inventory_hash(path) != inv.get("hash"):
        reasons.append(f"the inventory changed since the plan ({path})")
    return reasons


def preflight(
    raw: Mapping[str, Any],
    config: MaintConfig,
    log: ActionLog,
    clock: Clock,
    *,
    emergency: Signature | None = None,
) -> Gate:
    """All checks but drift (which needs a run): integrity, approvals, fingerprints, window."""
    gate = Gate()
    broken = integrity(raw)
    if broken:
        gate.refusals.append(broken)
        return gate
    gate.decision = check_approvals(raw, config, log, clock.now(), emergency=emergency)
    gate.refusals += gate.decision.reasons if not gate.decision.allowed else []
    gate.refusals += check_fingerprints(raw)
    window_reasons, _ = check_window(raw, config, clock)
    if emergency is not None and window_reasons:
        gate.notes += [f"emergency change outside the window: {r}" for r in window_reasons]
    else:
        gate.refusals += window_reasons
    return gate
