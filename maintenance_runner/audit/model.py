"""The onboarding audit, as data (pure: no I/O).

``maint audit`` runs every preventive role in check mode with fact gathering; this package turns
what came back (the gathered facts, the roles' ``maint_result`` as :class:`TaskResult` and the
raw ansible-runner events, read by ``events.py``) into:

- an **asset register**: one :class:`~.register.AssetRow` per host, reachable or not;
- **risk notes**: findings grouped by finding id across hosts, in plain language, ranked by
  severity (:class:`~.roadmap.RiskNote`);
- a **roadmap**: each finding sorted into *fix now*, *enters the preventive cycle* or *separate
  project* by ordered rules (:data:`~.roadmap.DEFAULT_RULES`, first match wins).

Besides the roles' findings the audit adds its own (task ``audit``, ``checks.py``): unreachable
hosts, roles that could not finish, full disks, operating systems past or near their end of
security support, long uptimes. See docs/audit.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from maintenance_runner.audit.checks import OS_LIFECYCLE, Lifecycle, audit_findings
from maintenance_runner.audit.events import AUDIT_TASK, Timing
from maintenance_runner.audit.register import AssetRow, asset_row, severity_counts
from maintenance_runner.audit.roadmap import (
    BUCKETS,
    DEFAULT_RULES,
    HostFinding,
    RiskNote,
    Rule,
    risk_notes,
    roadmap,
)
from maintenance_runner.core.clock import Clock
from maintenance_runner.core.results import TaskResult


@dataclass(frozen=True)
class Audit:
    generated_at: datetime
    tasks: tuple[str, ...]
    rows: tuple[AssetRow, ...]
    findings: tuple[HostFinding, ...]
    notes: tuple[RiskNote, ...]  # ranked by severity
    roadmap: tuple[RiskNote, ...]  # the same notes by bucket

    @property
    def reachable(self) -> list[AssetRow]:
        return [r for r in self.rows if r.reachable]

    @property
    def unreachable(self) -> list[AssetRow]:
        return [r for r in self.rows if not r.reachable]

    def severity_counts(self) -> dict[str, int]:
        """Host findings per severity, most severe first."""
        return severity_counts(f.finding for f in self.findings)

    def bucket_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(BUCKETS, 0)
        for item in self.roadmap:
            counts[item.bucket] += len(item.hosts)
        return counts

    @property
    def complete(self) -> bool:
        """Every host answered and no task failed on any host."""
        return all(r.reachable and "failed" not in r.tasks.values() for r in self.rows)


def build_audit(
    facts: Mapping[str, Mapping[str, Any]],
    results: Sequence[TaskResult],
    unreachable: Mapping[str, str],
    tasks: Sequence[str],
    clock: Clock,
    *,
    hosts: Sequence[str] = (),
    rules: Sequence[Rule] = DEFAULT_RULES,
    lifecycle: Sequence[Lifecycle] = OS_LIFECYCLE,
) -> Audit:
    """Everything the audit writes, from what the run returned.

    ``hosts`` may name hosts that produced no event at all; every host in ``facts``,
    ``unreachable`` and ``results`` is included anyway. Results of task ``unknown`` (what the
    result reader makes of a host that failed outside any role) are left to ``unreachable``.
    """
    now = clock.now()
    everyone = dict.fromkeys([*hosts, *facts, *unreachable, *(r.host for r in results)])
    by_host: dict[str, list[TaskResult]] = {}
    for result in results:
        if result.task in tasks:
            by_host.setdefault(result.host, []).append(result)
    rows = []
    found: list[HostFinding] = []
    for host in sorted(everyone):
        host_facts = facts.get(host) if host not in unreachable else None
        host_results = by_host.get(host, [])
        reason = unreachable.get(host, "")
        if host_facts is None and not reason:
            reason = "no answer: the host produced no facts"
        own = audit_findings(host, host_facts, host_results, reason, now.date(), lifecycle)
        host_findings = [HostFinding(host, AUDIT_TASK, f) for f in own]
        if host_facts is not None:
            for result in host_results:
                host_findings += [HostFinding(host, result.task, f) for f in result.findings]
        found += host_findings
        rows.append(
            asset_row(
                host,
                host_facts,
                host_results,
                tasks,
                reason,
                [h.finding for h in host_findings],
            )
        )
    notes = risk_notes(found, rules)
    return Audit(
        generated_at=now,
        tasks=tuple(tasks),
        rows=tuple(rows),
        findings=tuple(found),
        notes=tuple(notes),
        roadmap=tuple(roadmap(notes)),
    )


# ---------------------------------------------------------------------------------------------
# Action log rows (plain dicts for ActionLog.add_results / append)


def actionlog_results(
    audit: Audit, timings: Mapping[tuple[str, str], Timing]
) -> list[dict[str, Any]]:
    """``task_results`` rows: one per host and role, plus ``audit`` for unreachable hosts.

    Check mode changes nothing, so ``changed`` is always false; a role that *would* change the
    host keeps ``status: changed`` and says so in ``diff_summary``.
    """
    rows: list[dict[str, Any]] = []
    for row in audit.rows:
        if not row.reachable:
            timing = timings.get((row.host, AUDIT_TASK))
            rows.append(
                {
                    "host": row.host,
                    "task": AUDIT_TASK,
                    "status": "unreachable",
                    "changed": False,
                    "started_at": timing.started_at if timing else audit.generated_at,
                    "duration_s": timing.duration_s if timing else 0.0,
                    "message": row.reason,
                    "diff_summary": None,
                }
            )
            continue
        for task, status in row.tasks.items():
            if status == "not run":
                continue
            timing = timings.get((row.host, task))
            rows.append(
                {
                    "host": row.host,
                    "task": task,
                    "status": status,
                    "changed": False,
                    "started_at": timing.started_at if timing else audit.generated_at,
                    "duration_s": timing.duration_s if timing else 0.0,
                    "message": row.errors.get(task) or None,
                    "diff_summary": "check mode: would change" if status == "changed" else None,
                }
            )
    return rows


def actionlog_findings(audit: Audit) -> list[dict[str, Any]]:
    """``findings`` rows, one per host and finding (the audit's own under task ``audit``)."""
    return [
        {
            "host": f.host,
            "task": f.task,
            "finding_id": f.id,
            "severity": f.severity,
            "message": f.finding.message,
            "recommendation": f.finding.recommendation or None,
        }
        for f in audit.findings
    ]


def actionlog_details(audit: Audit) -> list[dict[str, Any]]:
    """``result_details`` rows: the register row of each host (task ``audit``)."""
    return [
        {"host": row.host, "task": AUDIT_TASK, "data": row.to_dict(), "rollback": None}
        for row in audit.rows
    ]
