"""The maintenance report as a typed model: what every section holds, and nothing else.

``report/data.py`` decides what a report covers and reads its rows from the action log;
``report/build.py`` turns the rows into this model, one section builder at a time
(``report/sections/``); ``report/render/`` and ``htmlkit`` draw it. docs/reports.md explains
every section and KPI in words; the builders are the reference.

Cycles are calendar months in UTC. A host and task's *outcome* in a scope is its deciding
result: the latest one of an apply run, else of a check run, else of a rollback run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Scope:
    """What one report covers: some runs (and occurrences) between two instants."""

    kind: str  # run window month
    label: str
    start: datetime
    end: datetime
    run_ids: frozenset[int] = frozenset()
    occurrence_ids: frozenset[int] = frozenset()
    window: str | None = None


@dataclass(frozen=True)
class RunInfo:
    run_uid: str
    window: str | None
    mode: str
    actor: str | None
    started_at: datetime
    state: str
    message: str | None
    plan_uid: str | None
    hosts: int
    results: int


@dataclass(frozen=True)
class OccurrenceInfo:
    window: str
    start_utc: datetime
    local_start: str
    timezone: str
    state: str
    reason: str | None


@dataclass(frozen=True)
class ApprovalInfo:
    approver: str
    decision: str
    at: datetime
    comment: str | None


@dataclass(frozen=True)
class PlanApproval:
    plan_uid: str
    window: str | None
    created_by: str | None
    created_at: datetime
    change: str  # normal standard emergency
    approved: bool
    approved_by: tuple[str, ...]
    decisions: tuple[ApprovalInfo, ...]
    emergency_by: str | None = None
    emergency_at: datetime | None = None
    emergency_reason: str | None = None
    retro_approved: bool | None = None  # None when not an emergency
    retro_approved_at: datetime | None = None
    retro_due: datetime | None = None
    retro_overdue: bool = False


@dataclass(frozen=True)
class HostTask:
    host: str
    task: str
    outcome: str  # ok changed failed skipped unreachable deferred
    changed: bool
    rolled_back: str | None  # ok failed, None when nothing was rolled back
    checks_passed: int
    checks_failed: int
    failed_checks: tuple[str, ...]
    findings: int
    duration_s: float
    message: str | None
    run_uid: str | None
    mode: str | None


@dataclass(frozen=True)
class Totals:
    host_tasks: int
    hosts: int
    done: int
    changed: int
    failed: int
    skipped: int
    deferred: int
    rolled_back: int  # host tasks whose change was undone
    checks_passed: int
    checks_failed: int
    hosts_rolled_back: int = 0  # hosts a run rolled back, as the run's summary counts them


@dataclass(frozen=True)
class FindingInfo:
    host: str
    task: str
    finding_id: str
    severity: str
    message: str
    recommendation: str | None
    first_seen: datetime | None
    recurring_cycles: int


@dataclass(frozen=True)
class PatchHost:
    host: str
    manager: str | None
    check_only: bool
    applied: tuple[str, ...]
    still_pending: int
    security_pending: int
    reboot_required: bool
    rebooted: bool


@dataclass(frozen=True)
class BackupRepo:
    host: str
    name: str
    kind: str | None
    snapshots: int | None
    newest: str | None
    recovery_point_age_hours: float | None
    max_age_hours: float | None
    within_target: bool | None
    check_ok: bool | None
    restore_seconds: float | None
    restore_ok: bool | None
    error: str | None


@dataclass(frozen=True)
class AntivirusHost:
    host: str
    engine: str | None
    engine_version: str | None
    definitions_age_days: float | None
    stale: bool | None
    update_ok: bool | None  # None: not attempted (or not said), never a failure
    infected: int
    update: str | None = None  # ok failed disabled "not attempted"; None: not said


@dataclass(frozen=True)
class HardeningHost:
    host: str
    percent: float | None
    percent_before: float | None
    compliant: int | None
    enabled: int | None
    noncompliant: int
    fixed: int


@dataclass(frozen=True)
class Deferred:
    host: str | None
    task: str | None
    reason: str
    run_uid: str | None
    at: datetime


@dataclass(frozen=True)
class Rate:
    done: int
    total: int

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.done / self.total, 1) if self.total else None


@dataclass(frozen=True)
class CadenceCell:
    cycle: str
    task: str
    hosts_done: int
    hosts_expected: int
    missing: tuple[str, ...]

    @property
    def percent(self) -> float | None:
        if not self.hosts_expected:
            return None
        return round(100.0 * self.hosts_done / self.hosts_expected, 1)


@dataclass(frozen=True)
class PatchLatency:
    run_id: int  # the run that installed it
    host: str
    package: str
    version: str | None
    first_pending: datetime
    installed_at: datetime
    days: float


@dataclass(frozen=True)
class LatencyStats:
    count: int
    mean_days: float | None
    median_days: float | None
    max_days: float | None
    items: tuple[PatchLatency, ...]


@dataclass(frozen=True)
class OpenFinding:
    host: str
    task: str
    finding_id: str
    severity: str
    opened_at: datetime
    age_days: float
    # its task was due on its host in the scope, but no complete result re-checked it there
    not_rechecked: bool = False


@dataclass(frozen=True)
class FindingsFlow:
    opened: int
    closed: int
    open_at_end: int
    still_open: tuple[OpenFinding, ...]
    not_rechecked: int = 0  # of those open at the end


@dataclass(frozen=True)
class FollowupInfo:
    id: int
    priority: str
    title: str
    created_at: datetime
    due_at: datetime | None
    responded_at: datetime | None
    state: str  # met missed pending (no response yet, not due) none (no target)


@dataclass(frozen=True)
class FollowupStats:
    met: int
    missed: int
    pending: int
    items: tuple[FollowupInfo, ...]

    @property
    def percent_met(self) -> float | None:
        decided = self.met + self.missed
        return round(100.0 * self.met / decided, 1) if decided else None


@dataclass(frozen=True)
class Kpis:
    completion: Rate
    cadence: tuple[CadenceCell, ...]  # the scope's cycle(s), one per task
    cadence_overall: Rate
    patch_latency: LatencyStats
    findings_flow: FindingsFlow
    followups: FollowupStats


@dataclass(frozen=True)
class CveItem:
    """A vulnerability on a host: open (``fixed_at`` None) or fixed."""

    host: str
    cve: str
    package: str
    severity: str
    first_seen: datetime
    fixed_in: str | None = None  # the version that fixes it
    fixed_at: datetime | None = None  # the run that installed the fix (or the judgment that saw it)
    days: float | None = None  # open so far, or time to remediate


@dataclass(frozen=True)
class RemediationStats:
    severity: str
    count: int
    mean_days: float | None
    p90_days: float | None


@dataclass(frozen=True)
class Vulnerabilities:
    """CVE exposure at the scope's end, and the fixes inside it (``cve:`` in maint.yml)."""

    open_by_severity: Mapping[str, int]
    open: tuple[CveItem, ...]  # the oldest first
    fixed: tuple[CveItem, ...]  # fixed inside the scope
    most_exposed: tuple[tuple[str, int], ...]  # host, open CVEs
    time_to_remediate: tuple[RemediationStats, ...]  # per severity, fixes inside the scope
    months: tuple[str, ...] = ()
    open_trend: tuple[int, ...] = ()  # open at each month's end
    remediation_trend_days: tuple[float | None, ...] = ()  # mean time to remediate per month


@dataclass(frozen=True)
class Trends:
    months: tuple[str, ...]
    findings_by_severity: Mapping[str, tuple[int, ...]]
    completion_percent: tuple[float | None, ...]
    cadence_percent: tuple[float | None, ...]
    findings_opened: tuple[int, ...]
    findings_closed: tuple[int, ...]
    findings_open: tuple[int, ...]
    patch_latency_mean_days: tuple[float | None, ...]
    followups_met: tuple[int, ...]
    followups_missed: tuple[int, ...]


@dataclass(frozen=True)
class Report:
    title: str
    scope: Scope
    generated_at: datetime
    runs: tuple[RunInfo, ...]
    occurrences: tuple[OccurrenceInfo, ...]
    plans: tuple[PlanApproval, ...]
    host_tasks: tuple[HostTask, ...]
    totals: Totals
    findings: tuple[FindingInfo, ...]
    severity_counts: Mapping[str, int]
    patching: tuple[PatchHost, ...]
    backups: tuple[BackupRepo, ...]
    antivirus: tuple[AntivirusHost, ...]
    hardening: tuple[HardeningHost, ...]
    deferred: tuple[Deferred, ...]
    kpis: Kpis
    trends: Trends
    attention: tuple[str, ...]  # plain-language lines a manager must not miss
    # The action log's chain heads the report was written against (table -> "id:hash16"): each
    # copy of a report is an anchor that shows rows removed from the log afterwards.
    log_heads: Mapping[str, str] = field(default_factory=dict)
    vulnerabilities: Vulnerabilities | None = None  # when the log has CVE judgments
