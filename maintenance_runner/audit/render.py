"""Writers for the onboarding audit: CSV, JSON, Markdown and HTML (pure renderers + one writer).

Every ``render_*`` function returns text; :func:`write_audit` is the only I/O: it writes the
files into a directory, each through a temporary file renamed into place.

Files (see docs/audit.md): ``assets.csv``, ``assets.json`` (the asset register), ``risks.md``
(risk notes ranked by severity), ``roadmap.md`` and ``roadmap.csv`` (each finding in its bucket),
``audit.html`` (all of it in one self-contained, printable page).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from maintenance_runner.audit.model import Audit
from maintenance_runner.audit.register import AssetRow
from maintenance_runner.audit.roadmap import BUCKETS, CYCLE, FIX_NOW, PROJECT
from maintenance_runner.core.results import SEVERITIES
from maintenance_runner.core.roledata import AdminAccount, Disk
from maintenance_runner.report import htmlkit as hk
from maintenance_runner.report.files import write_atomic

FILES = ("assets.csv", "assets.json", "risks.md", "roadmap.md", "roadmap.csv", "audit.html")

BUCKET_TITLES = {
    FIX_NOW: "Fix now",
    CYCLE: "Enters the preventive cycle",
    PROJECT: "Separate project",
}
BUCKET_NOTES = {
    FIX_NOW: "Before the first maintenance window: signs of compromise, backups that cannot be "
    "relied on, hosts maint cannot reach, things failing now.",
    CYCLE: "Handled by the monthly preventive tasks (patching, antivirus, backup verification, "
    "access review, hardening): planned, approved and reversible.",
    PROJECT: "Outside the preventive cycle: needs its own budget and plan (OS upgrades, backup "
    "design, platform settings, capacity).",
}
BUCKET_COLORS = {FIX_NOW: "#b00020", CYCLE: "#1f5fa8", PROJECT: "#6a4c93"}

REGISTER_COLUMNS = (
    "host",
    "reachable",
    "reason",
    "os",
    "os_family",
    "kernel",
    "architecture",
    "cpu_model",
    "cpu_sockets",
    "cpu_cores",
    "cpu_threads",
    "memory_mb",
    "swap_mb",
    "disks",
    "disk_max_used_pct",
    "uptime_days",
    "address",
    "virtualization",
    "pending_updates",
    "security_updates",
    "reboot_required",
    "antivirus",
    "av_definitions_age_days",
    "last_good_backup",
    "backup_age_hours",
    "backup_state",
    "hardening_score",
    "hardening_noncompliant",
    "admin_accounts",
    *(f"findings_{s}" for s in reversed(SEVERITIES)),
)
ROADMAP_COLUMNS = (
    "bucket",
    "severity",
    "host",
    "task",
    "finding_id",
    "title",
    "message",
    "recommendation",
    "reason",
)


# --- small formatting helpers -----------------------------------------------------------------


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB"


def disk_text(disk: Disk) -> str:
    return f"{disk.mount} {_gib(disk.size_bytes)} {disk.used_pct:.0f}% used"


def admin_text(account: AdminAccount) -> str:
    how = list(account.via) + (["no password"] if account.nopasswd else [])
    return f"{account.name} ({', '.join(how)})"


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return ""
    return f"{value:.{digits}f}"


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _safe_cell(value: Any) -> Any:
    """Keep a spreadsheet from reading a text cell as a formula (=, +, -, @ first)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else _safe_cell(v) for v in row])
    return buffer.getvalue()


def _md(text: object) -> str:
    """One Markdown table cell or line: no newlines, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _host_count(n: int) -> str:
    return f"{n} host" if n == 1 else f"{n} hosts"


# --- the register ---------------------------------------------------------------------------------


def register_record(row: AssetRow, tasks: Sequence[str]) -> dict[str, Any]:
    """A flat record of one register row (the CSV columns, then one column per task)."""
    record: dict[str, Any] = {
        "host": row.host,
        "reachable": _yes_no(row.reachable),
        "reason": row.reason,
        "os": row.os,
        "os_family": row.os_family,
        "kernel": row.kernel,
        "architecture": row.architecture,
        "cpu_model": row.cpu_model,
        "cpu_sockets": row.cpu_sockets,
        "cpu_cores": row.cpu_cores,
        "cpu_threads": row.cpu_threads,
        "memory_mb": row.memory_mb,
        "swap_mb": row.swap_mb,
        "disks": "; ".join(disk_text(d) for d in row.disks),
        "disk_max_used_pct": row.disk_max_used_pct,
        "uptime_days": row.uptime_days,
        "address": row.address,
        "virtualization": row.virtualization,
        "pending_updates": row.pending_updates,
        "security_updates": row.security_updates,
        "reboot_required": _yes_no(row.reboot_required),
        "antivirus": row.antivirus,
        "av_definitions_age_days": row.av_definitions_age_days,
        "last_good_backup": row.last_good_backup,
        "backup_age_hours": row.backup_age_hours,
        "backup_state": row.backup_state,
        "hardening_score": row.hardening_score,
        "hardening_noncompliant": row.hardening_noncompliant,
        "admin_accounts": "; ".join(admin_text(a) for a in row.admin_accounts),
    }
    for severity in reversed(SEVERITIES):
        record[f"findings_{severity}"] = row.findings.get(severity, 0)
    for task in tasks:
        status = row.tasks.get(task, "not run")
        error = row.errors.get(task)
        record[f"task_{task}"] = f"{status}: {error}" if error else status
    return record


def render_register_csv(audit: Audit) -> str:
    header = [*REGISTER_COLUMNS, *(f"task_{t}" for t in audit.tasks)]
    records = [register_record(row, audit.tasks) for row in audit.rows]
    return _csv(header, ([r[c] for c in header] for r in records))


def render_register_json(audit: Audit) -> str:
    document = {
        "generated_at": audit.generated_at.isoformat(),
        "tasks": list(audit.tasks),
        "hosts": [row.to_dict() for row in audit.rows],
    }
    return json.dumps(document, indent=2, sort_keys=False, default=str) + "\n"


# --- risk notes -----------------------------------------------------------------------------------


def _headline(audit: Audit) -> str:
    counts = audit.severity_counts()
    audited = len(audit.reachable)
    missing = len(audit.unreachable)
    parts = [f"{_host_count(len(audit.rows))} in scope, {audited} audited"]
    if missing:
        parts.append(f"{missing} could not be audited")
    found = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return "; ".join(parts) + f". Findings: {found or 'none'}."


def render_risks_md(audit: Audit) -> str:
    lines = [
        "# Onboarding audit: risk notes",
        "",
        f"Generated {audit.generated_at:%Y-%m-%d %H:%M} UTC. {_headline(audit)}",
        "",
        "Ranked by severity, then by how many hosts share the risk.",
        "",
    ]
    if not audit.notes:
        lines.append("No risk was found.")
    for number, note in enumerate(audit.notes, start=1):
        lines.append(
            f"## {number}. [{note.severity.upper()}] {_md(note.title)} "
            f"({_host_count(len(note.hosts))})"
        )
        lines.append("")
        if note.same_message:
            if note.details[0][1] != note.title:
                lines += [_md(note.details[0][1]), ""]
            lines.append(f"Hosts: {', '.join(note.hosts)}")
        else:
            lines += [f"- {host}: {_md(message)}" for host, message in note.details]
        lines.append("")
        if note.recommendation:
            lines.append(f"What to do: {_md(note.recommendation)}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# --- the roadmap ----------------------------------------------------------------------------------


def render_roadmap_md(audit: Audit) -> str:
    counts = audit.bucket_counts()
    lines = [
        "# Onboarding audit: roadmap",
        "",
        f"Generated {audit.generated_at:%Y-%m-%d %H:%M} UTC. {_headline(audit)}",
        "",
    ]
    for bucket in BUCKETS:
        items = [i for i in audit.roadmap if i.bucket == bucket]
        lines += [
            f"## {BUCKET_TITLES[bucket]} ({counts[bucket]} finding(s) on hosts)",
            "",
            BUCKET_NOTES[bucket],
            "",
        ]
        if not items:
            lines += ["Nothing.", ""]
            continue
        lines += ["| severity | finding | hosts | why here | what to do |", "|---|---|---|---|---|"]
        for item in items:
            lines.append(
                f"| {item.severity} | {_md(item.title)} (`{item.id}`) | "
                f"{_md(', '.join(item.hosts))} | {_md(item.reason)} | {_md(item.recommendation)} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def roadmap_records(audit: Audit) -> list[dict[str, Any]]:
    """One record per bucket, host and finding (for roadmap.csv)."""
    records = []
    for item in audit.roadmap:
        for host, message in item.details:
            records.append(
                {
                    "bucket": item.bucket,
                    "severity": item.severity,
                    "host": host,
                    "task": item.task,
                    "finding_id": item.id,
                    "title": item.title,
                    "message": message,
                    "recommendation": item.recommendation,
                    "reason": item.reason,
                }
            )
    return records


def render_roadmap_csv(audit: Audit) -> str:
    return _csv(ROADMAP_COLUMNS, ([r[c] for c in ROADMAP_COLUMNS] for r in roadmap_records(audit)))


# --- HTML -----------------------------------------------------------------------------------------


def _lines(values: Iterable[object]) -> hk.Html:
    return hk.Html("<br>".join(hk.esc(v) for v in values))


def _summary_html(audit: Audit) -> str:
    counts = audit.severity_counts()
    scores = [r.hardening_score for r in audit.reachable if r.hardening_score is not None]
    security = sum(r.security_updates or 0 for r in audit.reachable)
    no_backup = sum(1 for r in audit.reachable if r.backup_state != "verified")
    buckets = audit.bucket_counts()
    cards = hk.kpi_cards(
        [
            ("Hosts audited", f"{len(audit.reachable)} / {len(audit.rows)}", None),
            ("Critical and high", counts["critical"] + counts["high"], "findings on hosts"),
            ("Fix now", buckets[FIX_NOW], "findings on hosts"),
            (
                "Hardening score",
                f"{sum(scores) / len(scores):.0f}%" if scores else "n/a",
                "average, as found",
            ),
            ("Security updates pending", security, "all hosts"),
            ("Hosts without a verified backup", no_backup, None),
        ]
    )
    severity_chart = hk.bar_chart(
        [s for s in counts], list(counts.values()), title="Findings by severity"
    )
    bucket_chart = hk.bar_chart(
        [BUCKET_TITLES[b] for b in BUCKETS],
        [buckets[b] for b in BUCKETS],
        title="Findings by roadmap bucket",
        colors=[BUCKET_COLORS[b] for b in BUCKETS],
    )
    headline = f'<p class="note">{hk.esc(_headline(audit))}</p>'
    return hk.section("Summary", headline + cards + severity_chart + bucket_chart, anchor="summary")


def _risks_html(audit: Audit) -> str:
    rows = []
    for number, note in enumerate(audit.notes, start=1):
        if note.same_message:
            message = note.details[0][1]
            extra = f"<br>{hk.esc(message)}" if message != note.title else ""
            detail = hk.Html(f"<strong>{hk.esc(note.title)}</strong>{extra}")
        else:
            detail = hk.Html(
                f"<strong>{hk.esc(note.title)}</strong><br>"
                + _lines(f"{host}: {message}" for host, message in note.details)
            )
        rows.append(
            [
                number,
                hk.badge(note.severity, note.severity),
                detail,
                _lines(note.hosts),
                note.recommendation,
            ]
        )
    body = '<p class="note">Ranked by severity, then by how many hosts share the risk.</p>'
    body += hk.table(["#", "severity", "risk", "hosts", "what to do"], rows, numeric=(0,))
    return hk.section("Risk notes", body, anchor="risks")


def _roadmap_html(audit: Audit) -> str:
    parts = []
    for bucket in BUCKETS:
        items = [i for i in audit.roadmap if i.bucket == bucket]
        rows = [
            [
                hk.badge(i.severity, i.severity),
                hk.Html(f"{hk.esc(i.title)}<br><code>{hk.esc(i.id)}</code>"),
                _lines(i.hosts),
                i.reason,
                i.recommendation,
            ]
            for i in items
        ]
        parts.append(
            f"<h3>{hk.esc(BUCKET_TITLES[bucket])} ({len(items)})</h3>"
            f'<p class="note">{hk.esc(BUCKET_NOTES[bucket])}</p>'
            + hk.table(["severity", "finding", "hosts", "why here", "what to do"], rows)
        )
    return hk.section("Roadmap", "".join(parts), anchor="roadmap")


def _register_html(audit: Audit) -> str:
    rows = []
    for row in audit.rows:
        if not row.reachable:
            rows.append(
                [
                    row.host,
                    hk.Html(f"<strong>not audited</strong>: {hk.esc(row.reason)}"),
                    *[""] * 10,
                ]
            )
            continue
        cpu = row.cpu_model or ""
        if row.cpu_cores:
            cpu += f" ({row.cpu_cores} cores, {row.cpu_threads or row.cpu_cores} threads)"
        updates = (
            f"{row.pending_updates} ({row.security_updates or 0} security)"
            if row.pending_updates is not None
            else "unknown"
        )
        if row.reboot_required:
            updates += ", reboot pending"
        backup = row.last_good_backup or "none verified"
        if row.backup_state and row.backup_state != "verified":
            backup += f" ({row.backup_state})"
        rows.append(
            [
                row.host,
                _lines([row.os or "unknown", f"kernel {row.kernel or 'unknown'}"]),
                cpu,
                f"{row.memory_mb / 1024:.1f} GiB" if row.memory_mb is not None else "",
                _lines(disk_text(d) for d in row.disks),
                _num(row.uptime_days),
                updates,
                row.antivirus or "",
                _num(row.av_definitions_age_days),
                backup,
                f"{row.hardening_score:.0f}%" if row.hardening_score is not None else "",
                _lines(admin_text(a) for a in row.admin_accounts),
            ]
        )
    headers = [
        "host",
        "OS and kernel",
        "CPU",
        "memory",
        "disks",
        "uptime (days)",
        "pending updates",
        "antivirus",
        "definitions age (days)",
        "last good backup",
        "hardening score",
        "admin accounts",
    ]
    body = (
        '<p class="note">Also in assets.csv and assets.json. Facts come from Ansible fact '
        "gathering; updates, antivirus, backups, hardening and accounts from the preventive "
        "tasks run in check mode (nothing was changed).</p>"
    )
    body += hk.table(headers, rows, numeric=(5, 8, 10))
    return hk.section("Asset register", body, anchor="register")


def render_html(audit: Audit) -> str:
    body = "\n".join(
        [_summary_html(audit), _risks_html(audit), _roadmap_html(audit), _register_html(audit)]
    )
    subtitle = (
        f"Generated {audit.generated_at:%Y-%m-%d %H:%M} UTC; every preventive task in check "
        f"mode ({', '.join(audit.tasks)}) plus fact gathering"
    )
    return hk.page("Onboarding audit", body, subtitle=subtitle)


# --- writing --------------------------------------------------------------------------------------


def render_all(audit: Audit) -> dict[str, str]:
    """File name -> content, for every file the audit writes."""
    return {
        "assets.csv": render_register_csv(audit),
        "assets.json": render_register_json(audit),
        "risks.md": render_risks_md(audit),
        "roadmap.md": render_roadmap_md(audit),
        "roadmap.csv": render_roadmap_csv(audit),
        "audit.html": render_html(audit),
    }


def write_audit(audit: Audit, out_dir: Path) -> list[Path]:
    """Write every file into ``out_dir`` (created when missing); return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in render_all(audit).items():
        target = write_atomic(out_dir / name, content)
        written.append(target)
    return written
