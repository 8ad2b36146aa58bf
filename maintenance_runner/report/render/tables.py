"""What every report format shows the same way: instants, percentages, the KPI table and one
table (headers and rows of text) per section."""

from __future__ import annotations

from datetime import datetime

from maintenance_runner.core.results import SEVERITIES
from maintenance_runner.report.model import HostTask, PlanApproval, Report


def when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}Z" if value else "-"


def pct(value: float | None) -> str:
    return f"{value:.1f}%" if value is not None else "n/a"


def num(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{text}{unit}"


def yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")


# the antivirus definitions update as the "update ok" column shows it
UPDATE_SHOWN = {
    "ok": "yes",
    "failed": "NO",
    "disabled": "disabled",
    "not attempted": "not attempted",
}


def _approval_text(p: PlanApproval) -> str:
    approvals = [d for d in p.decisions if d.decision in ("approve", "approved")]
    if approvals:
        return "; ".join(f"{d.approver} at {when(d.at)}" for d in approvals)
    if p.change == "standard":
        return "standard change (pre-approved)"
    return "none"


def _emergency_text(p: PlanApproval) -> str:
    if p.change != "emergency":
        return "no"
    state = (
        f"approved afterwards {when(p.retro_approved_at)}"
        if p.retro_approved
        else "NOT approved afterwards"
    )
    if p.retro_overdue:
        state += " (past the deadline)"
    return f"EMERGENCY by {p.emergency_by} at {when(p.emergency_at)}: {state}"


def kpi_rows(report: Report) -> list[tuple[str, str, str]]:
    """(KPI, value, how it is counted) for the summary table."""
    k = report.kpis
    lat = k.patch_latency
    flow = k.findings_flow
    fu = k.followups
    return [
        (
            "Task completion rate",
            pct(k.completion.percent),
            f"{k.completion.done} of {k.completion.total} host tasks finished ok or changed "
            "and not rolled back",
        ),
        (
            "Cadence adherence",
            pct(k.cadence_overall.percent),
            f"{k.cadence_overall.done} of {k.cadence_overall.total} host-task slots of the "
            "cycle got their preventive task",
        ),
        (
            "Patch latency",
            f"{num(lat.mean_days, ' d')} mean, {num(lat.median_days, ' d')} median"
            if lat.count
            else "n/a",
            f"{lat.count} package installation(s); longest {num(lat.max_days, ' d')}",
        ),
        (
            "Findings opened / closed",
            f"{flow.opened} / {flow.closed}",
            f"{flow.open_at_end} still open at the end of the period"
            + (
                f", {flow.not_rechecked} of them not re-checked (their task failed, was rolled "
                "back, skipped or deferred)"
                if flow.not_rechecked
                else ""
            ),
        ),
        (
            "Follow-ups met / missed",
            f"{fu.met} / {fu.missed}",
            f"{pct(fu.percent_met)} on time; {fu.pending} awaiting a response, not yet due",
        ),
        *_remediation_rows(report),
    ]


def _remediation_rows(report: Report) -> list[tuple[str, str, str]]:
    """Time to remediate, per severity: from the first judgment that saw a CVE on a host to the
    run that installed its fix, over the fixes inside the period."""
    v = report.vulnerabilities
    if v is None:
        return []
    rows = [
        (
            f"Time to remediate ({s.severity})",
            f"{num(s.mean_days, ' d')} mean, {num(s.p90_days, ' d')} p90",
            f"{s.count} CVE fix(es) on hosts in the period, from first seen to the run that "
            "installed the fix",
        )
        for s in v.time_to_remediate
    ]
    opened = sum(v.open_by_severity.values())
    rows.append(
        (
            "Open CVEs",
            str(opened),
            ", ".join(f"{n} {sev}" for sev, n in v.open_by_severity.items() if n) or "none",
        )
    )
    return rows


def period(report: Report) -> str:
    s = report.scope
    return f"{when(s.start)} to {when(s.end)}"


def highest(report: Report) -> dict[tuple[str, str], str]:
    """(host, task) -> the highest severity of its findings."""
    best: dict[tuple[str, str], str] = {}
    for f in report.findings:
        key = (f.host, f.task)
        if key not in best or SEVERITIES.index(f.severity) > SEVERITIES.index(best[key]):
            best[key] = f.severity
    return best


def host_task_row(h: HostTask) -> list[str]:
    return [
        h.host,
        h.task,
        h.outcome,
        "yes" if h.changed else "-",
        h.rolled_back or "-",
        str(h.checks_passed),
        str(h.checks_failed),
        str(h.findings),
        num(h.duration_s, " s") if h.outcome != "deferred" else "-",
    ]


HOST_TASK_HEADERS = [
    "host",
    "task",
    "outcome",
    "changed",
    "rolled back",
    "checks passed",
    "checks failed",
    "findings",
    "duration",
]


def cve_sections(report: Report) -> dict[str, tuple[list[str], list[list[str]]]]:
    """The vulnerability tables (empty when the log holds no CVE judgment)."""
    v = report.vulnerabilities
    if v is None:
        return {}
    return {
        "vulnerabilities": (
            ["host", "CVE", "package", "severity", "exposed since", "days open", "fixed in"],
            [
                [i.host, i.cve, i.package, i.severity, when(i.first_seen), num(i.days),
                 i.fixed_in or "no fix yet"]
                for i in v.open
            ],
        ),
        "cve_fixed": (
            ["host", "CVE", "package", "severity", "first seen", "fixed by the run of",
             "days to remediate"],
            [
                [i.host, i.cve, i.package, i.severity, when(i.first_seen),
                 when(i.fixed_at) if i.fixed_at else "-", num(i.days)]
                for i in v.fixed
            ],
        ),
        "cve_hosts": (["host", "open CVEs"], [[h, str(n)] for h, n in v.most_exposed]),
    }  # fmt: skip


def sections(report: Report) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Plain tables shared by Markdown and HTML: title -> (headers, rows)."""
    out: dict[str, tuple[list[str], list[list[str]]]] = dict(cve_sections(report))
    out["runs"] = (
        ["run", "window", "mode", "by", "started", "state", "hosts", "plan"],
        [
            [
                r.run_uid,
                r.window or "-",
                r.mode,
                r.actor or "-",
                when(r.started_at),
                r.state + (f": {r.message}" if r.message else ""),
                str(r.hosts),
                (r.plan_uid or "-")[:12],
            ]
            for r in report.runs
        ],
    )
    out["plans"] = (
        ["plan", "window", "change", "author", "made", "approved by", "emergency"],
        [
            [
                p.plan_uid[:12],
                p.window or "-",
                p.change,
                p.created_by or "-",
                when(p.created_at),
                _approval_text(p),
                _emergency_text(p),
            ]
            for p in report.plans
        ],
    )
    out["occurrences"] = (
        ["window", "local start", "time zone", "UTC start", "state", "reason"],
        [
            [o.window, o.local_start, o.timezone, when(o.start_utc), o.state, o.reason or "-"]
            for o in report.occurrences
        ],
    )
    out["findings"] = (
        [
            "severity",
            "host",
            "task",
            "finding",
            "message",
            "recommendation",
            "open since",
            "cycles",
        ],
        [
            [
                f.severity,
                f.host,
                f.task,
                f.finding_id,
                f.message,
                f.recommendation or "-",
                when(f.first_seen),
                str(f.recurring_cycles),
            ]
            for f in report.findings
        ],
    )
    out["patching"] = (
        ["host", "updates applied", "still pending", "security pending", "reboot pending"],
        [
            [
                p.host,
                (", ".join(p.applied) or "none") + (" (check only)" if p.check_only else ""),
                str(p.still_pending),
                str(p.security_pending),
                "YES" if p.reboot_required else ("rebooted" if p.rebooted else "no"),
            ]
            for p in report.patching
        ],
    )
    out["backups"] = (
        [
            "host",
            "repository",
            "newest backup",
            "recovery point",
            "target",
            "within",
            "check",
            "restore time",
            "restore ok",
        ],
        [
            [
                b.host,
                b.name + (f" ({b.kind})" if b.kind else ""),
                b.newest or "-",
                num(b.recovery_point_age_hours, " h"),
                num(b.max_age_hours, " h"),
                yes(b.within_target),
                yes(b.check_ok),
                num(b.restore_seconds, " s"),
                yes(b.restore_ok) + (f" ({b.error})" if b.error else ""),
            ]
            for b in report.backups
        ],
    )
    out["antivirus"] = (
        ["host", "engine", "definitions age", "stale", "update ok", "infected files"],
        [
            [
                a.host,
                " ".join(x for x in (a.engine, a.engine_version) if x) or "-",
                num(a.definitions_age_days, " d"),
                "YES" if a.stale else ("no" if a.stale is not None else "-"),
                UPDATE_SHOWN.get(a.update or "", yes(a.update_ok)),
                str(a.infected),
            ]
            for a in report.antivirus
        ],
    )
    out["hardening"] = (
        ["host", "score", "before", "compliant / enabled", "not compliant", "fixed now"],
        [
            [
                h.host,
                pct(h.percent),
                pct(h.percent_before),
                f"{num(h.compliant)} / {num(h.enabled)}",
                str(h.noncompliant),
                str(h.fixed),
            ]
            for h in report.hardening
        ],
    )
    out["deferred"] = (
        ["host", "task", "why", "run", "when"],
        [
            [d.host or "-", d.task or "all", d.reason, d.run_uid or "-", when(d.at)]
            for d in report.deferred
        ],
    )
    out["cadence"] = (
        ["cycle", "task", "hosts done", "hosts expected", "adherence", "missed hosts"],
        [
            [
                c.cycle,
                c.task,
                str(c.hosts_done),
                str(c.hosts_expected),
                pct(c.percent),
                ", ".join(c.missing) or "-",
            ]
            for c in report.kpis.cadence
        ],
    )
    out["latency"] = (
        ["host", "package", "version", "first pending", "installed", "days"],
        [
            [
                i.host,
                i.package,
                i.version or "-",
                when(i.first_pending),
                when(i.installed_at),
                num(i.days),
            ]
            for i in report.kpis.patch_latency.items
        ],
    )
    out["open_findings"] = (
        ["severity", "host", "task", "finding", "open since", "age", "re-checked"],
        [
            [
                o.severity,
                o.host,
                o.task,
                o.finding_id,
                when(o.opened_at),
                num(o.age_days, " d"),
                "NO" if o.not_rechecked else "-",
            ]
            for o in report.kpis.findings_flow.still_open
        ],
    )
    out["followups"] = (
        ["id", "priority", "title", "opened", "due", "first response", "target"],
        [
            [
                str(f.id),
                f.priority,
                f.title,
                when(f.created_at),
                when(f.due_at),
                when(f.responded_at),
                f.state,
            ]
            for f in report.kpis.followups.items
        ],
    )
    t = report.trends
    out["trends"] = (
        [
            "month",
            "findings",
            "completion",
            "cadence",
            "opened",
            "closed",
            "open",
            "patch latency",
            "follow-ups met/missed",
        ],
        [
            [
                month,
                str(sum(t.findings_by_severity[s][i] for s in t.findings_by_severity)),
                pct(t.completion_percent[i]),
                pct(t.cadence_percent[i]),
                str(t.findings_opened[i]),
                str(t.findings_closed[i]),
                str(t.findings_open[i]),
                num(t.patch_latency_mean_days[i], " d"),
                f"{t.followups_met[i]}/{t.followups_missed[i]}",
            ]
            for i, month in enumerate(t.months)
        ],
    )
    v = report.vulnerabilities
    if v is not None and v.months == t.months:
        headers, rows = out["trends"]
        out["trends"] = (
            [*headers, "open CVEs", "time to remediate"],
            [
                [*row, str(v.open_trend[i]), num(v.remediation_trend_days[i], " d")]
                for i, row in enumerate(rows)
            ],
        )
    return out


SECTION_TITLES = {
    "occurrences": "Window",
    "plans": "Plan and approvals",
    "runs": "Runs",
    "hosts": "Hosts and tasks",
    "findings": "Findings by severity",
    "patching": "Updates applied and reboots pending",
    "backups": "Backups: recovery point and measured restore time",
    "antivirus": "Antivirus definitions",
    "hardening": "Hardening score",
    "deferred": "Deferred and why",
    "cadence": "Cadence adherence",
    "latency": "Patch latency",
    "open_findings": "Findings still open",
    "followups": "Follow-ups",
    "trends": "Trends by month",
    "vulnerabilities": "Vulnerabilities: open CVEs, oldest first",
    "cve_fixed": "CVEs fixed in the period and time to remediate",
    "cve_hosts": "Hosts most exposed",
}


# ------------------------------------------------------------------------------ Markdown


def totals_line(report: Report) -> str:
    """The totals; hosts rolled back are counted as the run's summary counts them."""
    t = report.totals
    tasks = "host task" if t.rolled_back == 1 else "host tasks"
    return (
        f"{t.hosts} hosts, {t.host_tasks} host tasks: {t.done} done ({t.changed} changed), "
        f"{t.failed} failed, {t.skipped} skipped, {t.deferred} deferred; "
        f"{t.hosts_rolled_back} {'host' if t.hosts_rolled_back == 1 else 'hosts'} rolled back "
        f"({t.rolled_back} {tasks} undone); checks {t.checks_passed} passed, "
        f"{t.checks_failed} failed."
    )
