"""The whole report from the action log's rows (pure): one section builder after another."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from maintenance_runner.actionlog.report_rows import LogRows
from maintenance_runner.report.model import Report, Scope
from maintenance_runner.report.sections import approvals, findings, hosts, kpis, runs, trends
from maintenance_runner.report.sections.attention import attention
from maintenance_runner.report.sections.basis import basis
from maintenance_runner.report.sections.common import trend_months
from maintenance_runner.report.sections.followups import scope_followups
from maintenance_runner.report.sections.latency import patch_latency
from maintenance_runner.report.sections.roles import role_sections
from maintenance_runner.report.sections.vulnerabilities import vulnerabilities


def title_of(scope: Scope) -> str:
    if scope.kind == "month":
        return f"Maintenance report {scope.label}"
    if scope.kind == "window":
        return f"Maintenance report: {scope.label}"
    return f"Maintenance report: run {scope.label}"


def build_report_model(
    rows: LogRows,
    scope: Scope,
    generated_at: datetime,
    *,
    history_months: int = 12,
    retro_within: timedelta = approvals.DEFAULT_RETRO_WITHIN,
    title: str | None = None,
    log_heads: Mapping[str, str] | None = None,
) -> Report:
    """The whole report for ``scope`` from ``rows`` (the history up to the scope's end)."""
    b = basis(rows, scope)
    host_tasks = hosts.host_tasks(b)
    rolled_hosts = hosts.rolled_back_hosts(b, host_tasks)
    totals = hosts.totals(host_tasks, rolled_hosts)
    history = findings.timeline(b)
    finding_infos = findings.finding_infos(b, history)
    severity_counts = findings.severity_counts(finding_infos)
    roles = role_sections(b)
    occurrences = runs.occurrences(b)
    plans = approvals.plans(b, generated_at, retro_within)
    run_infos = runs.run_infos(b)
    months = trend_months(rows, scope, history_months)
    cells = kpis.cadence(months, b.runs, rows.results, b.deferred_by_run, b.complete)
    latencies = patch_latency(b.runs, rows.results, rows.details, rows.plans, rows.rollbacks)
    followups = scope_followups(b, generated_at)
    return Report(
        title=title or title_of(scope),
        scope=scope,
        generated_at=generated_at,
        runs=run_infos,
        occurrences=occurrences,
        plans=plans,
        host_tasks=host_tasks,
        totals=totals,
        findings=finding_infos,
        severity_counts=severity_counts,
        patching=roles.patching,
        backups=roles.backups,
        antivirus=roles.antivirus,
        hardening=roles.hardening,
        deferred=runs.deferred(b),
        kpis=kpis.kpis(b, months, cells, latencies, history, followups),
        trends=trends.trends(b, months, cells, history, latencies, generated_at),
        attention=attention(
            b,
            plans,
            run_infos,
            occurrences,
            totals,
            severity_counts,
            followups,
            roles,
            rolled_hosts,
        ),
        log_heads=dict(log_heads or {}),
        vulnerabilities=vulnerabilities(rows, scope, months),
    )
