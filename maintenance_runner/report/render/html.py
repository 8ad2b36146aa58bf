"""The report as one self-contained, printable HTML page with inline SVG charts (htmlkit)."""

from __future__ import annotations

from maintenance_runner.core.results import SEVERITIES
from maintenance_runner.report import htmlkit as hk
from maintenance_runner.report.model import Report
from maintenance_runner.report.render.tables import (
    HOST_TASK_HEADERS,
    SECTION_TITLES,
    host_task_row,
    kpi_rows,
    num,
    pct,
    period,
    sections,
    totals_line,
    when,
)

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
    s = sections(report)
    k = report.kpis
    t = report.trends
    parts: list[str] = []
    parts.append(
        f'<p class="note">Period {hk.esc(period(report))} (UTC). Generated '
        f"{hk.esc(when(report.generated_at))} from the action log. "
        f"{hk.esc(totals_line(report))}</p>"
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
            ("Tasks completed", pct(k.completion.percent), "ok or changed, not rolled back"),
            ("Cadence adherence", pct(k.cadence_overall.percent), "hosts that got each task"),
            (
                "Patch latency",
                num(k.patch_latency.mean_days, " d"),
                f"mean, {k.patch_latency.count} installs",
            ),
            (
                "Findings opened / closed",
                f"{k.findings_flow.opened} / {k.findings_flow.closed}",
                f"{k.findings_flow.open_at_end} open at the end"
                + (
                    f", {k.findings_flow.not_rechecked} not re-checked"
                    if k.findings_flow.not_rechecked
                    else ""
                ),
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
        row: list[object] = list(host_task_row(h))
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
    cve_keys = ("vulnerabilities", "cve_fixed", "cve_hosts") if report.vulnerabilities else ()
    for key in ("cadence", "latency", *cve_keys, "open_findings", "followups"):
        headers, rows = s[key]
        parts.append(hk.section(SECTION_TITLES[key], hk.table(headers, rows), anchor=key))
    if report.log_heads:
        heads = ", ".join(f"{name} {head}" for name, head in sorted(report.log_heads.items()))
        parts.append(
            f'<p class="note">Written against the action log\'s chain heads: {hk.esc(heads)}.</p>'
        )
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
