"""The maintenance report (pure): action log rows in, a typed report model and its KPIs out.

Nothing here reads a database, a file or the clock: ``report_data`` reads the rows, this module
decides what they mean, ``report_render`` and ``htmlkit`` draw them. docs/reports.md explains
every section and KPI in words; the definitions below are the reference.

Cycles are calendar months in UTC. A host and task's *outcome* in a scope is its deciding
result: the latest one of an apply run, else of a check run, else of a rollback run.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .results import SEVERITIES

DONE = ("ok", "changed")
# results that are not a preventive task: shown with their checks, left out of the KPIs
NON_PREVENTIVE = frozenset({"post_check", "audit"})
UNREACHABLE_EVENT = "runner_on_unreachable"
FAILED = ("failed", "unreachable")
MODE_RANK = {"apply": 3, "check": 2, "rollback": 1}
APPROVE = ("approve", "approved")
REJECT = ("reject", "rejected")
DEFAULT_RETRO_WITHIN = timedelta(hours=48)
_PLAN_ITEM = re.compile(r"^package (\S+) (\S+) -> (\S+)")

# ------------------------------------------------------------------------------ input rows


@dataclass(frozen=True)
class RunRow:
    id: int
    run_uid: str
    mode: str
    started_at: datetime
    window: str | None = None
    plan_uid: str | None = None
    occurrence_id: int | None = None
    actor: str | None = None
    state: str = "running"  # the last run_states row
    state_message: str | None = None
    ended_at: datetime | None = None  # when the last state was recorded, unless running


@dataclass(frozen=True)
class ResultRow:
    run_id: int
    host: str
    task: str
    status: str
    started_at: datetime
    changed: bool = False
    duration_s: float = 0.0
    message: str | None = None
    diff_summary: str | None = None


@dataclass(frozen=True)
class FindingRow:
    run_id: int | None
    host: str
    task: str
    finding_id: str
    severity: str
    message: str
    recommendation: str | None = None
    id: int = 0  # the findings row id (follow-ups point at it)


@dataclass(frozen=True)
class DetailRow:
    run_id: int
    host: str
    task: str
    data: Mapping[str, Any] = field(default_factory=dict)
    rollback: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RollbackRow:
    run_id: int | None
    host: str
    task: str
    status: str
    recorded_at: datetime
    message: str | None = None


@dataclass(frozen=True)
class PlanRow:
    plan_uid: str
    created_at: datetime
    window: str | None = None
    occurrence_id: int | None = None
    content_hash: str = ""
    created_by: str | None = None
    summary: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ApprovalRow:
    plan_uid: str
    approver: str
    decision: str
    at: datetime  # when it was signed (else recorded)
    comment: str | None = None


@dataclass(frozen=True)
class OccurrenceRow:
    id: int
    window: str
    start_utc: datetime
    end_utc: datetime
    timezone: str = "UTC"
    wall_start: str = ""
    state: str = "planned"  # the last occurrence_states row
    reason: str | None = None


@dataclass(frozen=True)
class EventRow:
    run_id: int
    event: str
    recorded_at: datetime
    host: str | None = None
    task: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class FollowupRow:
    id: int
    priority: str
    title: str
    created_at: datetime
    finding_row_id: int | None = None
    status: str = "open"
    due_at: datetime | None = None
    first_response_at: datetime | None = None  # first ack or close
    closed_at: datetime | None = None


@dataclass(frozen=True)
class LogRows:
    """Everything the report reads, for the history range (trends) up to the scope's end."""

    runs: Sequence[RunRow] = ()
    results: Sequence[ResultRow] = ()
    findings: Sequence[FindingRow] = ()
    details: Sequence[DetailRow] = ()
    rollbacks: Sequence[RollbackRow] = ()
    plans: Sequence[PlanRow] = ()
    approvals: Sequence[ApprovalRow] = ()
    occurrences: Sequence[OccurrenceRow] = ()
    events: Sequence[EventRow] = ()
    followups: Sequence[FollowupRow] = ()


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


# ------------------------------------------------------------------------------ the model


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
    rolled_back: int
    checks_passed: int
    checks_failed: int


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
    update_ok: bool | None
    infected: int


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


@dataclass(frozen=True)
class FindingsFlow:
    opened: int
    closed: int
    open_at_end: int
    still_open: tuple[OpenFinding, ...]


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


# ------------------------------------------------------------------------------ helpers


def month_of(instant: datetime) -> str:
    return f"{instant.astimezone(UTC):%Y-%m}"


def month_range(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` from ``first`` to ``last`` inclusive."""
    year, month = int(first[:4]), int(first[5:7])
    end = (int(last[:4]), int(last[5:7]))
    out = []
    while (year, month) <= end:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)


def _days(delta: timedelta) -> float:
    return round(delta.total_seconds() / 86400, 2)


def _rank(run: RunRow | None) -> int:
    return MODE_RANK.get(run.mode, 0) if run else 0


def deciding_results(
    results: Iterable[ResultRow], runs: Mapping[int, RunRow]
) -> dict[tuple[str, str], ResultRow]:
    """Per (host, task): the latest result of the highest-ranked mode (apply > check > rollback).

    When any result comes from an apply run, check-mode results are left out: a host that the
    plan's check run saw but the apply run never reached was not done."""
    results = list(results)
    applied = any((run := runs.get(r.run_id)) is not None and run.mode == "apply" for r in results)
    if applied:
        results = [r for r in results if (run := runs.get(r.run_id)) is None or run.mode != "check"]
    best: dict[tuple[str, str], ResultRow] = {}
    for r in results:
        key = (r.host, r.task)
        cur = best.get(key)
        if cur is None:
            best[key] = r
            continue
        new_rank, cur_rank = _rank(runs.get(r.run_id)), _rank(runs.get(cur.run_id))
        if (new_rank, r.started_at, r.run_id) > (cur_rank, cur.started_at, cur.run_id):
            best[key] = r
    return best


# ------------------------------------------------------------------------------ role data


def checks_of(
    task: str, status: str, data: Mapping[str, Any], findings: Sequence[FindingRow]
) -> tuple[list[str], list[str]]:
    """(passed, failed) check names of one host and task, from the role's ``maint_result.data``.

    hardening: one check per enabled control; backup_verify: recovery point, repository check
    and test restore per repository (Veeam: last session and restore point per job);
    antivirus: definitions fresh, each required service running, update, scan clean;
    patching: post-patch services and commands; post_check (the window's post-check commands):
    one per command. Any other task (access_review): each finding
    above info is a failed check, none is one passed check.
    """
    passed: list[str] = []
    failed: list[str] = []

    def check(name: str, ok: bool | None) -> None:
        if ok is None:
            return
        (passed if ok else failed).append(name)

    if task == "hardening" and isinstance(data.get("controls"), list):
        for c in data["controls"]:
            if not isinstance(c, Mapping):
                continue
            state = c.get("status")
            if state in ("compliant", "fixed"):
                passed.append(str(c.get("id")))
            elif state in ("noncompliant", "failed"):
                failed.append(str(c.get("id")))
    elif task == "backup_verify" and (data.get("repositories") or data.get("veeam_jobs")):
        for repo in _backup_repos("", data):
            check(f"{repo.name}: recovery point", repo.within_target)
            check(f"{repo.name}: repository check", repo.check_ok)
            check(f"{repo.name}: test restore", repo.restore_ok)
    elif task == "antivirus" and data:
        defs = data.get("definitions") if isinstance(data.get("definitions"), Mapping) else {}
        if defs:
            stale = defs.get("stale")
            present = defs.get("present", True)
            check("definitions fresh", _truthy(present) and not _truthy(stale))
        services = data.get("services") if isinstance(data.get("services"), Mapping) else {}
        for name, svc in sorted(services.items()):
            if isinstance(svc, Mapping) and _truthy(svc.get("required", True)):
                check(f"service {name} running", _truthy(svc.get("running")))
        update = data.get("update") if isinstance(data.get("update"), Mapping) else {}
        if update and _truthy(update.get("attempted", True)) and "ok" in update:
            check("definitions update", _truthy(update.get("ok")))
        scan = data.get("scan") if isinstance(data.get("scan"), Mapping) else {}
        if scan and _truthy(scan.get("ran")):
            check("scan clean", not scan.get("infected"))
    elif task == "post_check" and isinstance(data.get("checks"), list):
        bad = {str(n) for n in data.get("failed") or []}
        for name in data["checks"]:
            check(f"post-check {name}", str(name) not in bad)
    elif task == "patching" and data and not _truthy(data.get("check_mode")):
        check("post-patch services", not data.get("services_down"))
        check("post-patch commands", not data.get("post_checks_failed"))
    else:
        raised = sorted({f.finding_id for f in findings if f.severity != "info"})
        if raised:
            failed.extend(raised)
        elif status in DONE:
            passed.append(f"{task} review")
    if status in FAILED and not failed:
        failed.append(f"{task} {status}")
    return passed, failed


def _backup_repos(host: str, data: Mapping[str, Any]) -> list[BackupRepo]:
    repos = []
    for repo in data.get("repositories") or []:
        if not isinstance(repo, Mapping):
            continue
        age, limit = _num(repo.get("recovery_point_age_hours")), _num(repo.get("max_age_hours"))
        if limit is None:
            limit = _num(data.get("max_age_hours"))
        check = repo.get("check") if isinstance(repo.get("check"), Mapping) else {}
        restore = repo.get("restore") if isinstance(repo.get("restore"), Mapping) else {}
        newest = repo.get("newest") if isinstance(repo.get("newest"), Mapping) else {}
        restore_ok: bool | None = None
        if restore:
            restore_ok = (
                not restore.get("mismatches")
                and not restore.get("missing")
                and not restore.get("error")
                and bool(restore.get("files"))
            )
        repos.append(
            BackupRepo(
                host=host,
                name=str(repo.get("name") or repo.get("repository") or "?"),
                kind=repo.get("type"),
                snapshots=int(repo["snapshots"])
                if _num(repo.get("snapshots")) is not None
                else None,
                newest=newest.get("time"),
                recovery_point_age_hours=age,
                max_age_hours=limit,
                within_target=(age <= limit)
                if age is not None and limit is not None
                else (False if repo.get("snapshots") == 0 else None),
                check_ok=_truthy(check["ok"]) if "ok" in check else None,
                restore_seconds=_num(restore.get("seconds")),
                restore_ok=restore_ok,
                error=repo.get("error") or restore.get("error") or None,
            )
        )
    for job in data.get("veeam_jobs") or []:
        if not isinstance(job, Mapping):
            continue
        age, limit = _num(job.get("age_hours")), _num(data.get("max_age_hours"))
        repos.append(
            BackupRepo(
                host=host,
                name=str(job.get("name") or "?"),
                kind="veeam",
                snapshots=None,
                newest=job.get("newest_point"),
                recovery_point_age_hours=age,
                max_age_hours=limit,
                within_target=(age <= limit) if age is not None and limit is not None else None,
                check_ok=(str(job.get("result")) == "Success") if job.get("result") else None,
                restore_seconds=None,
                restore_ok=None,
                error=None,
            )
        )
    return repos


def _package_names(items: Any) -> list[tuple[str, str | None]]:
    out = []
    for pkg in items or []:
        if isinstance(pkg, Mapping) and pkg.get("name"):
            out.append((str(pkg["name"]), pkg.get("candidate") or pkg.get("after")))
    return out


def _patch_host(host: str, run: RunRow | None, data: Mapping[str, Any]) -> PatchHost:
    check_only = _truthy(data.get("check_mode")) or (run is not None and run.mode == "check")
    applied = _package_names(data.get("applied"))
    applied_names = {n for n, _ in applied}
    pending = [
        p
        for p in data.get("pending") or []
        if isinstance(p, Mapping) and p.get("name") not in applied_names
    ]
    shown = [f"{n} {v}" if v else n for n, v in applied]
    if not shown and isinstance(data.get("updates"), Mapping) and not check_only:
        # Windows: KB -> update; installed is a count
        shown = [str(k) for k in sorted(data["updates"])][: int(_num(data.get("installed")) or 0)]
    return PatchHost(
        host=host,
        manager=data.get("manager"),
        check_only=check_only,
        applied=tuple(shown),
        still_pending=len(pending)
        if data.get("pending") is not None
        else int(_num(data.get("found")) or 0) - int(_num(data.get("installed")) or 0),
        security_pending=sum(1 for p in pending if _truthy(p.get("security"))),
        reboot_required=_truthy(data.get("reboot_required")),
        rebooted=_truthy(data.get("rebooted")),
    )


def _antivirus_host(host: str, data: Mapping[str, Any]) -> AntivirusHost:
    defs = data.get("definitions") if isinstance(data.get("definitions"), Mapping) else {}
    update = data.get("update") if isinstance(data.get("update"), Mapping) else {}
    scan = data.get("scan") if isinstance(data.get("scan"), Mapping) else {}
    infected = scan.get("infected") or data.get("threats") or []
    return AntivirusHost(
        host=host,
        engine=data.get("engine"),
        engine_version=data.get("engine_version"),
        definitions_age_days=_num(defs.get("age_days")),
        stale=_truthy(defs["stale"]) if "stale" in defs else None,
        update_ok=_truthy(update["ok"]) if "ok" in update else None,
        infected=len(infected) if isinstance(infected, list) else 0,
    )


def _hardening_host(host: str, data: Mapping[str, Any]) -> HardeningHost:
    score = data.get("score") if isinstance(data.get("score"), Mapping) else {}
    before = data.get("score_before") if isinstance(data.get("score_before"), Mapping) else {}
    controls = [c for c in data.get("controls") or [] if isinstance(c, Mapping)]
    return HardeningHost(
        host=host,
        percent=_num(score.get("percent")),
        percent_before=_num(before.get("percent")),
        compliant=int(score["compliant"]) if _num(score.get("compliant")) is not None else None,
        enabled=int(score["enabled"]) if _num(score.get("enabled")) is not None else None,
        noncompliant=sum(1 for c in controls if c.get("status") in ("noncompliant", "failed")),
        fixed=sum(1 for c in controls if c.get("status") == "fixed"),
    )


# ------------------------------------------------------------------------------ approvals


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


# ------------------------------------------------------------------------------ KPIs


def completion(
    deciding: Mapping[tuple[str, str], ResultRow], deferred: Iterable[tuple[str, str]]
) -> Rate:
    """Host-task pairs finished (ok or changed) over those due: results plus deferred (or
    unreachable) pairs that got no result. Post-checks and audits are not preventive tasks."""
    pairs = {k for k in deciding if k[1] not in NON_PREVENTIVE} | set(deferred)
    done = sum(1 for key in pairs if key in deciding and deciding[key].status in DONE)
    return Rate(done, len(pairs))


def event_pairs(
    events: Iterable[EventRow], results: Iterable[ResultRow], kind: str = "deferred"
) -> dict[int, set[tuple[str, str]]]:
    """run id -> (host, task) pairs a run deferred (or found unreachable: ``kind``); an event
    without a task stands for every preventive task that run ran (``*`` when it ran none)."""
    tasks_of: dict[int, set[str]] = defaultdict(set)
    for r in results:
        if r.task not in NON_PREVENTIVE:
            tasks_of[r.run_id].add(r.task)
    out: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for e in events:
        if e.event != kind or not e.host:
            continue
        for task in [e.task] if e.task else sorted(tasks_of[e.run_id]) or ["*"]:
            out[e.run_id].add((e.host, task))
    return out


def cadence(
    months: Sequence[str],
    runs: Mapping[int, RunRow],
    results: Iterable[ResultRow],
    deferred: Mapping[int, set[tuple[str, str]]],
) -> dict[str, list[CadenceCell]]:
    """Per month and task: hosts that got the task (an apply-run result ok or changed) over
    hosts expected to (every host that had the task or was deferred from it in that month or
    any earlier month of the range)."""
    done: dict[tuple[str, str], set[str]] = defaultdict(set)
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in results:
        run = runs.get(r.run_id)
        if run is None or run.mode == "rollback" or r.task in NON_PREVENTIVE:
            continue
        month = month_of(run.started_at)
        seen[(month, r.task)].add(r.host)
        if run.mode == "apply" and r.status in DONE:
            done[(month, r.task)].add(r.host)
    for run_id, pairs in deferred.items():
        run = runs.get(run_id)
        if run is None:
            continue
        for host, task in pairs:
            if task != "*":
                seen[(month_of(run.started_at), task)].add(host)
    tasks = sorted({task for _, task in seen})
    out: dict[str, list[CadenceCell]] = {}
    expected: dict[str, set[str]] = defaultdict(set)
    for month in months:
        cells = []
        for task in tasks:
            expected[task] |= seen.get((month, task), set())
            if not expected[task]:
                continue
            got = done.get((month, task), set()) & expected[task]
            cells.append(
                CadenceCell(
                    month, task, len(got), len(expected[task]), tuple(sorted(expected[task] - got))
                )
            )
        out[month] = cells
    return out


def _plan_pending(summary: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """host -> package names a stored plan says would be installed (``items`` of patching)."""
    if not isinstance(summary, Mapping):
        return {}
    content = summary.get("plan") if isinstance(summary.get("plan"), Mapping) else summary
    hosts = content.get("hosts") if isinstance(content, Mapping) else None
    out: dict[str, list[str]] = {}
    if not isinstance(hosts, Mapping):
        return out
    for host, entry in hosts.items():
        tasks = entry.get("tasks") if isinstance(entry, Mapping) else None
        patch = tasks.get("patching") if isinstance(tasks, Mapping) else None
        if not isinstance(patch, Mapping):
            continue
        names = []
        for item in patch.get("items") or []:
            match = _PLAN_ITEM.match(str(item))
            if match:
                names.append(match.group(1))
        names += [n for n, _ in _package_names(patch.get("pending"))]
        out[str(host)] = names
    return out


def patch_latency(
    runs: Mapping[int, RunRow],
    results: Iterable[ResultRow],
    details: Iterable[DetailRow],
    plans: Iterable[PlanRow],
    rollbacks: Iterable[RollbackRow],
) -> list[PatchLatency]:
    """Days from a package's first appearance as pending on a host (in any run's patching data,
    or in a plan) to its installation there. The clock restarts after each installation; an
    installation rolled back in the same run does not count."""
    timing = {(r.run_id, r.host, r.task): r for r in results}
    undone = {(b.run_id, b.host) for b in rollbacks if b.task == "patching" and b.status == "ok"}
    # (when, order, host, pending names, installs) ; order 0 = seen, 1 = installed
    events: list[tuple[datetime, int, int, str, list[str], list[tuple[str, str | None]]]] = []
    for plan in plans:
        for host, names in _plan_pending(plan.summary).items():
            events.append((plan.created_at, 0, 0, host, names, []))
    for d in details:
        if d.task != "patching" or not isinstance(d.data, Mapping):
            continue
        run = runs.get(d.run_id)
        result = timing.get((d.run_id, d.host, d.task))
        if run is None:
            continue
        when = result.started_at if result else run.started_at
        pending = [n for n, _ in _package_names(d.data.get("pending"))]
        events.append((when, 0, d.run_id, d.host, pending, []))
        applied = _package_names(d.data.get("applied"))
        installed = (
            applied
            and run.mode == "apply"
            and not _truthy(d.data.get("check_mode"))
            and (result is None or result.status in (*DONE, "failed"))
            and (d.run_id, d.host) not in undone
        )
        if installed:
            end = when + timedelta(seconds=result.duration_s if result else 0)
            events.append((end, 1, d.run_id, d.host, [], applied))
    events.sort(key=lambda e: (e[0], e[1]))
    first: dict[tuple[str, str], datetime] = {}
    out = []
    for when, kind, run_id, host, pending, installs in events:
        if kind == 0:
            for name in pending:
                first.setdefault((host, name), when)
            continue
        for name, version in installs:
            since = first.pop((host, name), when)
            out.append(PatchLatency(run_id, host, name, version, since, when, _days(when - since)))
    return out


def latency_stats(items: Sequence[PatchLatency]) -> LatencyStats:
    days = [i.days for i in items]
    if not days:
        return LatencyStats(0, None, None, None, tuple(items))
    return LatencyStats(
        len(days),
        round(statistics.fmean(days), 2),
        round(statistics.median(days), 2),
        max(days),
        tuple(sorted(items, key=lambda i: (-i.days, i.host, i.package))),
    )


@dataclass(frozen=True)
class FindingEvent:
    kind: str  # opened closed
    at: datetime
    run_id: int
    host: str
    task: str
    finding_id: str
    severity: str


def findings_timeline(
    runs: Mapping[int, RunRow],
    results: Iterable[ResultRow],
    findings: Iterable[FindingRow],
    details: Iterable[DetailRow],
) -> tuple[list[FindingEvent], dict[tuple[str, str, str], tuple[datetime, str]]]:
    """Opened and closed events of findings, and the ones open at the end of the rows.

    Every result that evaluated a task on a host (ok or changed, or failed with a published
    result or findings) is compared with the previous one of the same host and task: a finding
    it raises that was not open is opened; an open finding it no longer raises is closed.
    Rollback runs do not count (they restore, they do not re-check).
    """
    raised: dict[tuple[int, str, str], dict[str, str]] = defaultdict(dict)
    for f in findings:
        if f.run_id is not None:
            raised[(f.run_id, f.host, f.task)][f.finding_id] = f.severity
    published = {(d.run_id, d.host, d.task) for d in details}
    ordered = sorted(results, key=lambda r: (r.started_at, r.run_id))
    open_now: dict[tuple[str, str], dict[str, tuple[datetime, str]]] = defaultdict(dict)
    events: list[FindingEvent] = []
    for r in ordered:
        run = runs.get(r.run_id)
        if run is None or run.mode == "rollback":
            continue
        key = (r.run_id, r.host, r.task)
        evaluated = key in published or key in raised
        if not (r.status in DONE or (r.status == "failed" and evaluated)):
            continue
        current = raised.get(key, {})
        was = open_now[(r.host, r.task)]
        for fid, sev in sorted(current.items()):
            if fid not in was:
                was[fid] = (r.started_at, sev)
                events.append(
                    FindingEvent("opened", r.started_at, r.run_id, r.host, r.task, fid, sev)
                )
        for fid in sorted(set(was) - set(current)):
            _, sev = was.pop(fid)
            events.append(FindingEvent("closed", r.started_at, r.run_id, r.host, r.task, fid, sev))
    still = {
        (host, task, fid): value
        for (host, task), found in open_now.items()
        for fid, value in found.items()
    }
    return events, still


def followup_state(f: FollowupRow, now: datetime) -> str:
    """met: first ack or close at or before the due time; missed: after it, or none and the
    due time has passed; pending: none yet and not due; none: no target."""
    if f.due_at is None:
        return "none"
    if f.first_response_at is not None:
        return "met" if f.first_response_at <= f.due_at else "missed"
    return "missed" if now > f.due_at else "pending"


def followup_stats(items: Iterable[FollowupRow], now: datetime) -> FollowupStats:
    infos = tuple(
        FollowupInfo(
            f.id,
            f.priority,
            f.title,
            f.created_at,
            f.due_at,
            f.first_response_at,
            followup_state(f, now),
        )
        for f in sorted(items, key=lambda f: (f.created_at, f.id))
    )
    count = defaultdict(int)
    for i in infos:
        count[i.state] += 1
    return FollowupStats(count["met"], count["missed"], count["pending"], infos)


# ------------------------------------------------------------------------------ building


def _scope_months(scope: Scope) -> list[str]:
    last = scope.end - timedelta(microseconds=1) if scope.end > scope.start else scope.end
    return month_range(month_of(scope.start), month_of(last))


def _trend_months(rows: LogRows, scope: Scope, history_months: int) -> list[str]:
    last = _scope_months(scope)[-1]
    firsts = [month_of(r.started_at) for r in rows.runs if r.started_at < scope.end]
    first = min([*firsts, _scope_months(scope)[0]])
    months = month_range(first, last)
    return months[-history_months:]


def _local_start(occ: OccurrenceRow) -> str:
    if occ.wall_start:
        return occ.wall_start.replace("T", " ")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return f"{occ.start_utc.astimezone(ZoneInfo(occ.timezone)):%Y-%m-%d %H:%M}"
    except (ZoneInfoNotFoundError, ValueError):  # an unknown zone still shows the UTC start
        return f"{occ.start_utc:%Y-%m-%d %H:%M}Z"


def build_report_model(
    rows: LogRows,
    scope: Scope,
    generated_at: datetime,
    *,
    history_months: int = 12,
    retro_within: timedelta = DEFAULT_RETRO_WITHIN,
    title: str | None = None,
) -> Report:
    """The whole report for ``scope`` from ``rows`` (the history up to the scope's end)."""
    runs = {r.id: r for r in rows.runs}
    in_scope = scope.run_ids
    scope_runs = sorted((runs[i] for i in in_scope if i in runs), key=lambda r: r.started_at)
    scope_results = [r for r in rows.results if r.run_id in in_scope]
    details = {(d.run_id, d.host, d.task): d for d in rows.details}
    by_result: dict[tuple[int, str, str], list[FindingRow]] = defaultdict(list)
    for f in rows.findings:
        if f.run_id is not None:
            by_result[(f.run_id, f.host, f.task)].append(f)

    deciding = deciding_results(scope_results, runs)
    deferred_only = event_pairs(rows.events, rows.results, "deferred")
    unreachable_by_run = event_pairs(rows.events, rows.results, UNREACHABLE_EVENT)
    deferred_by_run: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for source in (deferred_only, unreachable_by_run):
        for run_id, pairs in source.items():
            deferred_by_run[run_id] |= pairs
    scope_deferred_pairs = {p for i in in_scope for p in deferred_by_run.get(i, set())}
    scope_deferred_only = {p for i in in_scope for p in deferred_only.get(i, set())}

    # rollbacks: rows logged against a run in scope, and rollback runs' own results
    rolled: dict[tuple[str, str], str] = {}
    for b in sorted(rows.rollbacks, key=lambda b: b.recorded_at):
        if b.run_id in in_scope:
            rolled[(b.host, b.task)] = "ok" if b.status == "ok" else "failed"
    for r in scope_results:
        run = runs.get(r.run_id)
        if run is not None and run.mode == "rollback":
            rolled[(r.host, r.task)] = "ok" if r.status in DONE else "failed"

    host_tasks: list[HostTask] = []
    for (host, task), r in sorted(deciding.items()):
        run = runs.get(r.run_id)
        detail = details.get((r.run_id, host, task))
        data = detail.data if detail and isinstance(detail.data, Mapping) else {}
        found = by_result.get((r.run_id, host, task), [])
        passed, failed = checks_of(task, r.status, data, found)
        host_tasks.append(
            HostTask(
                host=host,
                task=task,
                outcome=r.status,
                changed=r.changed or r.status == "changed",
                rolled_back=rolled.get((host, task)),
                checks_passed=len(passed),
                checks_failed=len(failed),
                failed_checks=tuple(failed),
                findings=len(found),
                duration_s=r.duration_s,
                message=r.message,
                run_uid=run.run_uid if run else None,
                mode=run.mode if run else None,
            )
        )
    for host, task in sorted(scope_deferred_pairs - set(deciding)):
        host_tasks.append(
            HostTask(
                host,
                task,
                "deferred" if (host, task) in scope_deferred_only else "unreachable",
                False,
                rolled.get((host, task)),
                0,
                0,
                (),
                0,
                0.0,
                None,
                None,
                None,
            )
        )
    host_tasks.sort(key=lambda h: (h.host, h.task))
    outcomes = [h.outcome for h in host_tasks]
    totals = Totals(
        host_tasks=len(host_tasks),
        hosts=len({h.host for h in host_tasks}),
        done=sum(1 for o in outcomes if o in DONE),
        changed=sum(1 for h in host_tasks if h.changed),
        failed=sum(1 for o in outcomes if o in FAILED),
        skipped=sum(1 for o in outcomes if o == "skipped"),
        deferred=sum(1 for o in outcomes if o == "deferred"),
        rolled_back=sum(1 for h in host_tasks if h.rolled_back),
        checks_passed=sum(h.checks_passed for h in host_tasks),
        checks_failed=sum(h.checks_failed for h in host_tasks),
    )

    # findings of the deciding results, with how long and how often they have been raised
    events, still_open = findings_timeline(runs, rows.results, rows.findings, rows.details)
    opened_at: dict[tuple[str, str, str], datetime] = {}
    cycles: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in rows.findings:
        run = runs.get(f.run_id) if f.run_id is not None else None
        if run is not None and run.started_at < scope.end:
            cycles[(f.host, f.finding_id)].add(month_of(run.started_at))
    for e in events:
        if e.kind == "opened" and e.at < scope.end:
            opened_at[(e.host, e.task, e.finding_id)] = e.at
    finding_infos = []
    for (host, task), r in deciding.items():
        for f in by_result.get((r.run_id, host, task), []):
            finding_infos.append(
                FindingInfo(
                    host,
                    task,
                    f.finding_id,
                    f.severity,
                    f.message,
                    f.recommendation,
                    opened_at.get((host, task, f.finding_id)),
                    len(cycles.get((host, f.finding_id), ())),
                )
            )
    finding_infos.sort(key=lambda f: (-SEVERITIES.index(f.severity), f.host, f.finding_id))
    severity_counts = {s: sum(1 for f in finding_infos if f.severity == s) for s in SEVERITIES}

    # role sections
    patching, backups, antivirus, hardening = [], [], [], []
    for (host, task), r in sorted(deciding.items()):
        detail = details.get((r.run_id, host, task))
        data = detail.data if detail and isinstance(detail.data, Mapping) else None
        if not data or data.get("action") == "rollback":
            continue
        if task == "patching":
            patching.append(_patch_host(host, runs.get(r.run_id), data))
        elif task == "backup_verify":
            backups.extend(_backup_repos(host, data))
        elif task == "antivirus":
            antivirus.append(_antivirus_host(host, data))
        elif task == "hardening":
            hardening.append(_hardening_host(host, data))

    deferred = tuple(
        sorted(
            (
                Deferred(
                    e.host,
                    e.task,
                    e.message or "no reason recorded",
                    runs[e.run_id].run_uid if e.run_id in runs else None,
                    e.recorded_at,
                )
                for e in rows.events
                if e.event == "deferred" and e.run_id in in_scope
            ),
            key=lambda d: (d.at, d.host or "", d.task or ""),
        )
    )

    occurrences = tuple(
        OccurrenceInfo(o.window, o.start_utc, _local_start(o), o.timezone, o.state, o.reason)
        for o in sorted(rows.occurrences, key=lambda o: o.start_utc)
        if o.id in scope.occurrence_ids
    )

    plan_ids = {r.plan_uid for r in scope_runs if r.plan_uid}
    plan_ids |= {p.plan_uid for p in rows.plans if p.occurrence_id in scope.occurrence_ids}
    decisions: dict[str, list[ApprovalRow]] = defaultdict(list)
    for a in rows.approvals:
        decisions[a.plan_uid].append(a)
    plans = tuple(
        plan_approval(p, decisions.get(p.plan_uid, []), generated_at, retro_within)
        for p in sorted(rows.plans, key=lambda p: p.created_at)
        if p.plan_uid in plan_ids
    )

    run_infos = tuple(
        RunInfo(
            r.run_uid,
            r.window,
            r.mode,
            r.actor,
            r.started_at,
            r.state,
            r.state_message,
            r.plan_uid,
            len({x.host for x in scope_results if x.run_id == r.id}),
            sum(1 for x in scope_results if x.run_id == r.id),
        )
        for r in scope_runs
    )

    # KPIs
    months = _trend_months(rows, scope, history_months)
    scope_months = [m for m in _scope_months(scope) if m in months] or months[-1:]
    cad = cadence(months, runs, rows.results, deferred_by_run)
    scope_cells = tuple(c for m in scope_months for c in cad.get(m, []))
    cad_overall = Rate(
        sum(c.hosts_done for c in scope_cells), sum(c.hosts_expected for c in scope_cells)
    )
    latencies = patch_latency(runs, rows.results, rows.details, rows.plans, rows.rollbacks)
    scope_latency = [li for li in latencies if li.run_id in in_scope]
    scope_events = [e for e in events if e.run_id in in_scope]
    end_open = [
        OpenFinding(h, t, fid, sev, at, _days(scope.end - at))
        for (h, t, fid), (at, sev) in still_open.items()
        if at < scope.end
    ]
    # still_open is the state after all rows; rows are read up to the scope end, so it is the
    # state at the end of the scope.
    end_open.sort(key=lambda o: (-SEVERITIES.index(o.severity), o.opened_at, o.host))
    flow = FindingsFlow(
        opened=sum(1 for e in scope_events if e.kind == "opened"),
        closed=sum(1 for e in scope_events if e.kind == "closed"),
        open_at_end=len(end_open),
        still_open=tuple(end_open),
    )
    finding_row_runs = {f.id: f.run_id for f in rows.findings}
    scoped_followups = [
        f
        for f in rows.followups
        if scope.start <= f.created_at < scope.end
        or finding_row_runs.get(f.finding_row_id or -1) in in_scope
    ]
    followups = followup_stats(scoped_followups, generated_at)
    kpis = Kpis(
        completion=completion(deciding, scope_deferred_pairs),
        cadence=scope_cells,
        cadence_overall=cad_overall,
        patch_latency=latency_stats(scope_latency),
        findings_flow=flow,
        followups=followups,
    )
    trends = _trends(months, runs, rows, deferred_by_run, cad, events, latencies, generated_at)

    attention = _attention(
        patching,
        backups,
        antivirus,
        plans,
        run_infos,
        occurrences,
        totals,
        severity_counts,
        flow,
        followups,
        scope_runs,
        in_scope,
    )
    return Report(
        title=title or _title(scope),
        scope=scope,
        generated_at=generated_at,
        runs=run_infos,
        occurrences=occurrences,
        plans=plans,
        host_tasks=tuple(host_tasks),
        totals=totals,
        findings=tuple(finding_infos),
        severity_counts=severity_counts,
        patching=tuple(patching),
        backups=tuple(backups),
        antivirus=tuple(antivirus),
        hardening=tuple(hardening),
        deferred=deferred,
        kpis=kpis,
        trends=trends,
        attention=attention,
    )


def _title(scope: Scope) -> str:
    if scope.kind == "month":
        return f"Maintenance report {scope.label}"
    if scope.kind == "window":
        return f"Maintenance report: {scope.label}"
    return f"Maintenance report: run {scope.label}"


def _trends(
    months: Sequence[str],
    runs: Mapping[int, RunRow],
    rows: LogRows,
    deferred_by_run: Mapping[int, set[tuple[str, str]]],
    cad: Mapping[str, list[CadenceCell]],
    events: Sequence[FindingEvent],
    latencies: Sequence[PatchLatency],
    now: datetime,
) -> Trends:
    index = {m: i for i, m in enumerate(months)}
    n = len(months)
    sev: dict[str, list[int]] = {s: [0] * n for s in SEVERITIES}
    distinct: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for f in rows.findings:
        run = runs.get(f.run_id) if f.run_id is not None else None
        if run is None or run.mode == "rollback":
            continue
        month = month_of(run.started_at)
        if month in index and (f.host, f.finding_id) not in distinct[month]:
            distinct[month].add((f.host, f.finding_id))
            sev[f.severity if f.severity in sev else "info"][index[month]] += 1
    completion_pct: list[float | None] = []
    for month in months:
        month_runs = {i for i, r in runs.items() if month_of(r.started_at) == month}
        dec = deciding_results((r for r in rows.results if r.run_id in month_runs), runs)
        pairs = {p for i in month_runs for p in deferred_by_run.get(i, set())}
        completion_pct.append(completion(dec, pairs).percent)
    cadence_pct = []
    for month in months:
        cells = cad.get(month, [])
        cadence_pct.append(
            Rate(sum(c.hosts_done for c in cells), sum(c.hosts_expected for c in cells)).percent
        )
    opened, closed, still = [0] * n, [0] * n, [0] * n
    for e in events:
        month = month_of(e.at)
        if month in index:
            (opened if e.kind == "opened" else closed)[index[month]] += 1
    running = sum(
        1 if e.kind == "opened" else -1 for e in events if months and month_of(e.at) < months[0]
    )
    for i in range(n):
        running += opened[i] - closed[i]
        still[i] = running
    latency_mean: list[float | None] = []
    for month in months:
        days = [li.days for li in latencies if month_of(li.installed_at) == month]
        latency_mean.append(round(statistics.fmean(days), 2) if days else None)
    met, missed = [0] * n, [0] * n
    for f in rows.followups:
        month = month_of(f.created_at)
        if month not in index:
            continue
        state = followup_state(f, now)
        if state == "met":
            met[index[month]] += 1
        elif state == "missed":
            missed[index[month]] += 1
    return Trends(
        months=tuple(months),
        findings_by_severity={s: tuple(v) for s, v in sev.items()},
        completion_percent=tuple(completion_pct),
        cadence_percent=tuple(cadence_pct),
        findings_opened=tuple(opened),
        findings_closed=tuple(closed),
        findings_open=tuple(still),
        patch_latency_mean_days=tuple(latency_mean),
        followups_met=tuple(met),
        followups_missed=tuple(missed),
    )


def _attention(
    patching: Sequence[PatchHost],
    backups: Sequence[BackupRepo],
    antivirus: Sequence[AntivirusHost],
    plans: Sequence[PlanApproval],
    runs: Sequence[RunInfo],
    occurrences: Sequence[OccurrenceInfo],
    totals: Totals,
    severity_counts: Mapping[str, int],
    flow: FindingsFlow,
    followups: FollowupStats,
    scope_runs: Sequence[RunRow],
    in_scope: frozenset[int],
) -> tuple[str, ...]:
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
    for r in scope_runs:
        if r.mode == "apply" and not r.plan_uid:
            lines.append(f"Run {r.run_uid} applied changes without a recorded plan.")
    for r in runs:
        if r.state == "running":
            lines.append(f"Run {r.run_uid} has no end recorded (still running, or it crashed).")
        elif r.state != "done":
            lines.append(
                f"Run {r.run_uid} ended {r.state}" + (f": {r.message}" if r.message else ".")
            )
    for o in occurrences:
        if o.state == "skipped":
            lines.append(
                f"Window {o.window} of {o.local_start} was skipped: {o.reason or 'no reason'}."
            )
    if totals.failed:
        lines.append(f"{totals.failed} host task(s) failed.")
    if totals.deferred:
        lines.append(f"{totals.deferred} host task(s) were deferred to a later window.")
    serious = severity_counts.get("critical", 0) + severity_counts.get("high", 0)
    if serious:
        lines.append(f"{serious} critical or high finding(s) need action.")
    if followups.missed:
        lines.append(f"{followups.missed} follow-up(s) missed their response target.")
    reboot = sorted(p.host for p in patching if p.reboot_required and not p.check_only)
    if reboot:
        lines.append(f"Reboot pending to finish updates: {', '.join(reboot)}.")
    bad_backups = sorted(
        f"{b.host} {b.name}"
        for b in backups
        if b.within_target is False or b.restore_ok is False or b.check_ok is False
    )
    if bad_backups:
        lines.append(f"Backups not proven restorable or too old: {', '.join(bad_backups)}.")
    stale = sorted(a.host for a in antivirus if a.stale)
    if stale:
        lines.append(f"Antivirus definitions out of date: {', '.join(stale)}.")
    if not runs:
        lines.append("No maintenance run is recorded for this period.")
    return tuple(lines)
