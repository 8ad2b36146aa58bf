"""Everything ``maint apply`` checks before it touches a host.

Each check returns reasons to refuse; ``maint apply`` runs nothing unless the list is empty.
Signatures are verified with ssh-keygen (``cycle/signing.py``), decisions are made by the pure
``core/policy.evaluate``, the window by ``core/schedule.window_status``; drift needs a live
check-mode run and is checked by the apply use case (``cycle/apply.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from maintenance_runner.actionlog.plans import signatures
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.ansible.bindings import changed_inputs
from maintenance_runner.ansible.revision import content_revision, inventory_hash
from maintenance_runner.config.models import MaintConfig
from maintenance_runner.core.clock import Clock, parse_instant
from maintenance_runner.core.plan import Plan
from maintenance_runner.core.policy import Decision, Signature, evaluate
from maintenance_runner.core.schedule import window_status
from maintenance_runner.cycle.planning import bound_inputs
from maintenance_runner.cycle.signing import message, verify

# The chains whose rows the gate decides on: approvals and rejections, the stored plan, the
# occurrence's state, and runs (interrupted or not, and the hosts they finished).
DECISION_TABLES = (
    "plans",
    "approvals",
    "occurrences",
    "occurrence_states",
    "runs",
    "run_states",
    "run_events",
)


def check_log(log: ActionLog, tables: Iterable[str] = DECISION_TABLES) -> list[str]:
    """Why the recorded rows cannot be trusted (a broken chain names its table and row)."""
    report = log.verify(tables)
    if report.ok:
        return []
    shown = "; ".join(str(p) for p in report.problems[:5])
    more = f" (and {len(report.problems) - 5} more)" if len(report.problems) > 5 else ""
    return [
        f"the action log is not intact, so nothing recorded in it can be trusted: {shown}{more}"
        " (maint log verify shows every problem)"
    ]


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


def author_signature(plan: Plan, allowed_signers: Path) -> Signature | None:
    author = plan.author
    if author is None:
        return None
    try:
        signed_at = parse_instant(author.signed_at)
    except ValueError:
        return Signature(None, "author", datetime.min, False, "unreadable signing time")
    return verify_signature(allowed_signers, "author", plan.id, signed_at, author.signature)


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
    plan: Plan,
    config: MaintConfig,
    log: ActionLog,
    now: datetime,
    *,
    emergency: Signature | None = None,
) -> Decision:
    allowed = config.resolve(config.approvals.allowed_signers)
    change = plan.content.change
    try:
        policy = config.approvals.policy(change)
        if emergency is not None and policy.type != "emergency":
            # an emergency is judged by the emergency policy, not the window's usual one
            policy = config.approvals.policy("emergency")
    except KeyError:
        return Decision(False, [f"unknown change policy {change!r} in maint.yml"])
    sigs, _recorded_emergency = recorded_signatures(log, plan.id, allowed)
    return evaluate(
        policy,
        config.approvals.groups,
        plan.content.tasks,
        author_signature(plan, allowed),
        sigs,
        now,
        emergency_by=emergency,
    )


def check_window(plan: Plan, config: MaintConfig, clock: Clock) -> list[str]:
    """Reasons the plan's occurrence is not open for a new batch now."""
    name = plan.window
    window = next((w for w in config.windows if w.name == name), None)
    if window is None:
        return [f"window {name!r} is no longer in maint.yml"]
    key = plan.content.occurrence.key if plan.content.occurrence else None
    status = window_status(window, config, clock.now())
    current = status.current
    if current is None or current.key != key:
        return [f"window {name} is closed for this plan's occurrence {key}: {status.reason}"]
    if current.status == "skipped":
        return [f"occurrence {current.key} is blacked out: {current.reason}"]
    if status.state == "cutoff":
        return [f"window {name} is past its cutoff: {status.reason}"]
    return []


def check_fingerprints(plan: Plan) -> list[str]:
    reasons = []
    now_rev = content_revision()
    planned = plan.content.revision
    if now_rev["hash"] != planned.get("hash"):
        reasons.append(
            "the content revision changed since the plan (roles, playbooks or plugins differ: "
            f"plan {str(planned.get('hash'))[:12]}, now {str(now_rev['hash'])[:12]})"
        )
    path = Path(plan.content.inventory.path)
    if not path.exists():
        reasons.append(f"the plan's inventory {path} no longer exists")
    elif inventory_hash(path) != plan.content.inventory.hash:
        reasons.append(f"the inventory changed since the plan ({path})")
    return reasons


def check_inputs(plan: Plan, config: MaintConfig) -> list[str]:
    """What shapes the run and changed since the plan: Ansible's inputs, the window's settings."""
    content = plan.content
    if not content.inputs:
        return [
            "the plan binds none of its run's inputs (it was made by an older maint): plan again"
        ]
    window = next((w for w in config.windows if w.name == plan.window), None)
    now = bound_inputs(config, window, content.tasks, content.targets)
    changed = changed_inputs(content.inputs, now)
    if window is not None:
        current = window.model_dump(mode="json")
        for field in sorted({*content.settings, *current}):
            before, after = content.settings.get(field), current.get(field)
            if before != after:
                changed.append(f"window {plan.window}.{field} {before!r} -> {after!r}")
    if not changed:
        return []
    return ["what shapes the run changed since the plan was approved: " + "; ".join(changed)]


def preflight(
    plan: Plan,
    config: MaintConfig,
    log: ActionLog,
    clock: Clock,
    *,
    emergency: Signature | None = None,
) -> Gate:
    """All checks but drift (which needs a run): integrity, approvals, fingerprints, window."""
    gate = Gate()
    broken = plan.integrity()
    if broken:
        gate.refusals.append(broken)
        return gate
    gate.refusals += check_log(log)
    if gate.refusals:
        return gate
    gate.decision = check_approvals(plan, config, log, clock.now(), emergency=emergency)
    gate.refusals += gate.decision.reasons if not gate.decision.allowed else []
    gate.refusals += check_fingerprints(plan)
    gate.refusals += check_inputs(plan, config)
    window_reasons = check_window(plan, config, clock)
    if emergency is not None and window_reasons:
        gate.notes += [f"emergency change outside the window: {r}" for r in window_reasons]
    else:
        gate.refusals += window_reasons
    return gate
