"""Render a maintenance report (pure text out) as Markdown, HTML, JSON, CSV or JUnit XML.

:func:`render` returns the text; :func:`write_report` also writes it to a file (atomically) or
returns it for stdout. The HTML page is drawn with :mod:`maintenance_runner.report.htmlkit`: one
self-contained, printable file with inline SVG charts.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from maintenance_runner.core.results import SEVERITIES
from maintenance_runner.report import htmlkit as hk
from maintenance_runner.report.files import write_atomic
from maintenance_runner.report.model import HostTask, PlanApproval, Report

FORMATS = ("md", "html", "json", "csv", "junit")

# ------------------------------------------------------------------------------ shared text


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
            f"{k.completion.done} of {k.completion.total} host tasks finished ok or changed",
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
            f"{flow.open_at_end} still open at the end of the period",
        ),
        (
            "Follow-ups met / missed",
            f"{fu.met} / {fu.missed}",
            f"{pct(fu.percent_met)} on time; {fu.pending} awaiting a response, not yet due",
        ),
    ]


def _period(report: Report) -> str:
    s = report.scope
    return f"{when(s.start)} to {when(s.end)}"


def _highest(report: Report) -> dict[tuple[str, str], str]:
    best: dict[tuple[str, str], str] = {}
    for f in report.findings:
        key = (f.host, f.task)
        if key not in best or SEVERITIES.index(f.severity) > SEVERITIES.index(best[key]):
            best[key] = f.severity
    return best


def _host_task_row(h: HostTask) -> list[str]:
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


def _sections(report: Report) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Plain tables shared by Markdown and HTML: title -> (headers, rows)."""
    out: dict[str, tuple[list[str], list[list[str]]]] = {}
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
                yes(a.update_ok),
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
        ["severity", "host", "task", "finding", "open since", "age"],
        [
            [o.severity, o.host, o.task, o.finding_id, when(o.opened_at), num(o.age_days, " d")]
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
}


# ------------------------------------------------------------------------------ Markdown


def _md_cell(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip() or "-"


def md_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    rows = list(rows)
    if not rows:
        return "_none_"
    lines = [
        "| " + " | ".join(_md_cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(_md_cell(str(c)) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _totals_line(report: Report) -> str:
    t = report.totals
    return (
        f"{t.hosts} hosts, {t.host_tasks} host tasks: {t.done} done ({t.changed} changed), "
        f"{t.failed} failed, {t.skipped} skipped, {t.deferred} deferred, "
        f"{t.rolled_back} rolled back; checks {t.checks_passed} passed, "
        f"{t.checks_failed} failed."
    )


def render_markdown(report: Report) -> str:
    s = _sections(report)
    out = [
        f"# {report.title}",
        "",
        f"Period {_period(report)} (UTC). Generated {when(report.generated_at)} "
        "from the action log.",
        "",
        "## Needs attention",
        "",
        "\n".join(f"- {line}" for line in report.attention) or "Nothing needs attention.",
        "",
        "## Key figures",
        "",
        md_table(["KPI", "value", "how it is counted"], [list(r) for r in kpi_rows(report)]),
        "",
        _totals_line(report),
    ]
    counts = ", ".join(f"{report.severity_counts.get(sev, 0)} {sev}" for sev in SEVERITIES[::-1])
    order = [
        "occurrences",
        "plans",
        "runs",
        "hosts",
        "findings",
        "patching",
        "backups",
        "antivirus",
        "hardening",
        "deferred",
        "cadence",
        "latency",
        "open_findings",
        "followups",
        "trends",
    ]
    for key in order:
        out += ["", f"## {SECTION_TITLES[key]}", ""]
        if key == "hosts":
            out.append(md_table(HOST_TASK_HEADERS, [_host_task_row(h) for h in report.host_tasks]))
            failed = [h for h in report.host_tasks if h.failed_checks]
            if failed:
                out += ["", "Failed checks:", ""]
                out += [f"- {h.host} {h.task}: {', '.join(h.failed_checks)}" for h in failed]
            continue
        if key == "findings":
            out += [f"{counts}.", ""]
        headers, rows = s[key]
        out.append(md_table(headers, rows))
    return "\n".join(out).rstrip() + "\n"


# ------------------------------------------------------------------------------ JSON


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for prop in ("percent", "percent_met"):
            if hasattr(type(value), prop):
                out[prop] = getattr(value, prop)
        return out
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return [_jsonable(v) for v in items]
    return value


def to_dict(report: Report) -> dict[str, Any]:
    """The whole report as JSON-ready data (instants in ISO 8601 UTC)."""
    data = _jsonable(report)
    data["format"] = "maint-report/1"
    return data


def render_json(report: Report) -> str:
    return json.dumps(to_dict(report), indent=2, sort_keys=True) + "\n"


# ------------------------------------------------------------------------------ CSV

CSV_HEADERS = [
    "host",
    "task",
    "outcome",
    "changed",
    "rolled_back",
    "checks_passed",
    "checks_failed",
    "failed_checks",
    "findings",
    "highest_severity",
    "duration_s",
    "run",
    "mode",
    "message",
]


def render_csv(report: Report) -> str:
    """One row per host and task."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADERS)
    highest = _highest(report)
    for h in report.host_tasks:
        writer.writerow(
            [
                h.host,
                h.task,
                h.outcome,
                str(h.changed).lower(),
                h.rolled_back or "",
                h.checks_passed,
                h.checks_failed,
                "; ".join(h.failed_checks),
                h.findings,
                highest.get((h.host, h.task), ""),
                f"{h.duration_s:.3f}",
                h.run_uid or "",
                h.mode or "",
                h.message or "",
            ]
        )
    return buffer.getvalue()


# ------------------------------------------------------------------------------ JUnit


def render_junit(report: Report) -> str:
    """One ``testsuite`` per task, one ``testcase`` per host and task: failed -> ``failure``,
    unreachable -> ``error``, skipped or deferred -> ``skipped``; findings in ``system-out``."""
    by_task: dict[str, list[HostTask]] = defaultdict(list)
    for h in report.host_tasks:
        by_task[h.task].append(h)
    findings: dict[tuple[str, str], list[str]] = defaultdict(list)
    for f in report.findings:
        findings[(f.host, f.task)].append(f"[{f.severity}] {f.finding_id}: {f.message}")
    root = ET.Element("testsuites", name=report.title)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for task in sorted(by_task):
        cases = by_task[task]
        suite = ET.SubElement(root, "testsuite", name=task)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        suite_time = 0.0
        for h in cases:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"maint.{task}",
                name=h.host,
                time=f"{h.duration_s:.3f}",
            )
            counts["tests"] += 1
            suite_time += h.duration_s
            detail = "; ".join([*(h.failed_checks or ()), *([h.message] if h.message else [])])
            if h.outcome == "failed":
                counts["failures"] += 1
                node = ET.SubElement(case, "failure", message=detail or "failed", type="failed")
                node.text = detail or "failed"
            elif h.outcome == "unreachable":
                counts["errors"] += 1
                node = ET.SubElement(
                    case, "error", message=h.message or "unreachable", type="unreachable"
                )
                node.text = h.message or "unreachable"
            elif h.outcome == "skipped":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=h.message or "skipped")
            elif h.outcome == "deferred":
                counts["skipped"] += 1
                reasons = [
                    d.reason
                    for d in report.deferred
                    if d.host == h.host and d.task in (h.task, None)
                ]
                ET.SubElement(
                    case, "skipped", message="deferred: " + (reasons[0] if reasons else "?")
                )
            lines = findings.get((h.host, h.task), [])
            if h.rolled_back:
                lines.append(f"rolled back: {h.rolled_back}")
            if lines:
                ET.SubElement(case, "system-out").text = "\n".join(lines)
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("time", f"{suite_time:.3f}")
        total_time += suite_time
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ------------------------------------------------------------------------------ HTML

_OUTCOME_TONE = {
    "ok": "good",
    "changed": "info",
    "failed": "bad",
    "unreachable": "bad",
    "skipped": "neutral",
    "deferred": "warn",
}


def _emergency_tone(text: str) -> str:
    return "bad" if "NOT approved" in text or "past the deadline" in text else "warn"


def render_html(report: Report) -> str:
    s = _sections(report)
    k = report.kpis
    t = report.trends
    parts: list[str] = []
    parts.append(
        f'<p class="note">Period {hk.esc(_period(report))} (UTC). Generated '
        f"{hk.esc(when(report.generated_at))} from the action log. "
        f"{hk.esc(_totals_line(report))}</p>"
    )
    attention = (
        "<ul>"
        + "".join(
            f"<li>{hk.badge('!', 'bad') if 'EMERGENCY' in line or 'failed' in line else ''} "
            f"{hk.esc(line)}</li>"
            for line in report.attention
        )
        + "</ul>"
        if report.attention
        else '<p class="note">Nothing needs attention.</p>'
    )
    parts.append(hk.section("Needs attention", attention, anchor="attention"))
    cards = hk.kpi_cards(
        [
            ("Tasks completed", pct(k.completion.percent), "host tasks ok or changed"),
            ("Cadence adherence", pct(k.cadence_overall.percent), "hosts that got each task"),
            (
                "Patch latency",
                num(k.patch_latency.mean_days, " d"),
                f"mean, {k.patch_latency.count} installs",
            ),
            (
                "Findings opened / closed",
                f"{k.findings_flow.opened} / {k.findings_flow.closed}",
                f"{k.findings_flow.open_at_end} open at the end",
            ),
            (
                "Follow-ups met / missed",
                f"{k.followups.met} / {k.followups.missed}",
                f"{pct(k.followups.percent_met)} on time",
            ),
        ]
    )
    kpi_table = hk.table(["KPI", "value", "how it is counted"], kpi_rows(report))
    parts.append(hk.section("Key figures", cards + kpi_table, anchor="kpis"))

    for key in ("occurrences", "plans", "runs"):
        headers, rows = s[key]
        if key == "plans":
            rows = [
                [
                    *row[:-1],
                    row[-1] if row[-1] == "no" else hk.badge(row[-1], _emergency_tone(row[-1])),
                ]
                for row in rows
            ]
        parts.append(hk.section(SECTION_TITLES[key], hk.table(headers, rows), anchor=key))

    host_rows = []
    for h in report.host_tasks:
        row: list[object] = list(_host_task_row(h))
        row[2] = hk.badge(h.outcome, _OUTCOME_TONE.get(h.outcome, "neutral"))
        if h.rolled_back:
            row[4] = hk.badge(h.rolled_back, "good" if h.rolled_back == "ok" else "bad")
        host_rows.append(row)
    hosts_html = hk.table(HOST_TASK_HEADERS, host_rows, numeric=(5, 6, 7, 8))
    failed = [h for h in report.host_tasks if h.failed_checks]
    if failed:
        hosts_html += hk.table(
            ["host", "task", "failed checks"],
            [[h.host, h.task, ", ".join(h.failed_checks)] for h in failed],
            caption="Failed checks",
        )
    parts.append(hk.section(SECTION_TITLES["hosts"], hosts_html, anchor="hosts"))

    sev_chart = hk.bar_chart(
        list(SEVERITIES[::-1]),
        [report.severity_counts.get(x, 0) for x in SEVERITIES[::-1]],
        title="Findings by severity",
    )
    headers, rows = s["findings"]
    rows = [[hk.badge(r[0], r[0]), *r[1:]] for r in rows]
    parts.append(
        hk.section(
            SECTION_TITLES["findings"],
            sev_chart + hk.table(headers, rows, numeric=(7,)),
            anchor="findings",
        )
    )
    for key in ("patching", "backups", "antivirus", "hardening", "deferred"):
        headers, rows = s[key]
        parts.append(hk.section(SECTION_TITLES[key], hk.table(headers, rows), anchor=key))

    trend_html = hk.stacked_bar_chart(
        list(t.months),
        {sev: list(t.findings_by_severity[sev]) for sev in SEVERITIES},
        title="Findings raised per month, by severity",
    )
    trend_html += hk.line_chart(
        list(t.months),
        {
            "task completion %": list(t.completion_percent),
            "cadence adherence %": list(t.cadence_percent),
        },
        title="Task completion and cadence adherence per month (%)",
        unit="%",
    )
    trend_html += hk.line_chart(
        list(t.months),
        {
            "opened": list(t.findings_opened),
            "closed": list(t.findings_closed),
            "open at month end": list(t.findings_open),
        },
        title="Findings opened and closed per month",
    )
    trend_html += hk.line_chart(
        list(t.months),
        {"mean patch latency (days)": list(t.patch_latency_mean_days)},
        title="Patch latency per month (mean days from pending to installed)",
    )
    headers, rows = s["trends"]
    trend_html += hk.table(headers, rows)
    parts.append(hk.section(SECTION_TITLES["trends"], trend_html, anchor="trends"))
    for key in ("cadence", "latency", "open_findings", "followups"):
        headers, rows = s[key]
        parts.append(hk.section(SECTION_TITLES[key], hk.table(headers, rows), anchor=key))
    return hk.page(report.title, "\n".join(parts), subtitle=_subtitle(report))


def _subtitle(report: Report) -> str:
    windows = sorted({r.window for r in report.runs if r.window})
    plans = [p.plan_uid[:12] for p in report.plans]
    bits = [f"{len(report.runs)} run(s)"]
    if windows:
        bits.append("window " + ", ".join(windows))
    if plans:
        bits.append("plan " + ", ".join(plans))
    return "; ".join(bits)


# ------------------------------------------------------------------------------ entry points

RENDERERS: dict[str, Callable[[Report], str]] = {
    "md": render_markdown,
    "html": render_html,
    "json": render_json,
    "csv": render_csv,
    "junit": render_junit,
}


def render(report: Report, fmt: str) -> str:
    """The report as text in ``fmt`` (md, html, json, csv, junit)."""
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown report format {fmt!r} (use {', '.join(FORMATS)})") from None
    return renderer(report)


def write_report(report: Report, fmt: str, out: str | Path | None = None) -> str:
    """Render ``report``; write it to ``out`` atomically when given. Returns the text."""
    text = render(report, fmt)
    if out is not None:
        write_atomic(Path(out), text)
    return text


__all__ = [
    "FORMATS",
    "render",
    "render_csv",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "to_dict",
    "write_report",
]
