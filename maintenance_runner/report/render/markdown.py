"""The report as Markdown, for email or a ticket."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from maintenance_runner.core.results import SEVERITIES
from maintenance_runner.report.model import Report
from maintenance_runner.report.render.tables import (
    HOST_TASK_HEADERS,
    SECTION_TITLES,
    host_task_row,
    kpi_rows,
    period,
    sections,
    totals_line,
    when,
)


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


def render_markdown(report: Report) -> str:
    s = sections(report)
    out = [
        f"# {report.title}",
        "",
        f"Period {period(report)} (UTC). Generated {when(report.generated_at)} "
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
        totals_line(report),
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
    if report.vulnerabilities is not None:
        order[order.index("latency") + 1 : order.index("latency") + 1] = [
            "vulnerabilities",
            "cve_fixed",
            "cve_hosts",
        ]
    for key in order:
        out += ["", f"## {SECTION_TITLES[key]}", ""]
        if key == "hosts":
            out.append(md_table(HOST_TASK_HEADERS, [host_task_row(h) for h in report.host_tasks]))
            failed = [h for h in report.host_tasks if h.failed_checks]
            if failed:
                out += ["", "Failed checks:", ""]
                out += [f"- {h.host} {h.task}: {', '.join(h.failed_checks)}" for h in failed]
            continue
        if key == "findings":
            out += [f"{counts}.", ""]
        headers, rows = s[key]
        out.append(md_table(headers, rows))
    if report.log_heads:
        heads = ", ".join(f"{name} {head}" for name, head in sorted(report.log_heads.items()))
        out += ["", f"Written against the action log's chain heads: {heads}."]
    return "\n".join(out).rstrip() + "\n"
