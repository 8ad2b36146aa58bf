"""Approving or rejecting a plan: a signature over its id, recorded in the action log."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Literal

from maintenance_runner.actionlog.plans import record_plan, record_signature
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.config.models import MaintConfig
from maintenance_runner.core.clock import Clock
from maintenance_runner.core.plan import Plan
from maintenance_runner.cycle.planning import record_occurrence_of
from maintenance_runner.cycle.signing import identify, message, sign
from maintenance_runner.errors import Refused

Verdict = Literal["approve", "reject"]
STORED: dict[str, str] = {"approve": "approved", "reject": "rejected"}


def decide(
    plan: Plan,
    config: MaintConfig,
    log: ActionLog,
    key: Path,
    verdict: Verdict,
    comment: str | None,
    clock: Clock,
    ref: str,
) -> str:
    """Sign ``verdict`` on ``plan`` with ``key`` and record it; return the signer's principal."""
    broken = plan.integrity()
    if broken:
        raise Refused(f"{ref}: {broken}; not signing it")
    signer = identify(config.resolve(config.approvals.allowed_signers), key)
    author = plan.author.principal if plan.author else None
    if verdict == "approve" and signer.principal == author:
        raise Refused(
            f"refusing to record an approval of plan {plan.short}: {signer.principal} is its "
            "author, and an author's approval never counts (separation of duties); "
            "ask another approver"
        )
    now = clock.now().astimezone(UTC).replace(microsecond=0)
    signature = sign(key, message(verdict, plan.id, now))
    record_plan(log, plan, record_occurrence_of(log, plan))
    record_signature(log, plan.id, signer.principal, STORED[verdict], now, signature, comment)
    return signer.principal
