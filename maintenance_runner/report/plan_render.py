"""A plan for an approver: terminal text and one self-contained HTML page (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from maintenance_runner.core.plan import (
    ControlChange,
    Plan,
    PlannedFinding,
    PlannedHost,
    PlannedTask,
)
from maintenance_runner.report import htmlkit as h

SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


def _findings(plan: Plan) -> list[tuple[str, PlannedFinding]]:
    found = [
        (host, f) for host, entry in sorted(plan.content.hosts.items()) for f in entry.findings
    ]
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return sorted(found, key=lambda hf: (rank.get(hf[1].severity, 9), hf[0]))


def _head(plan: Plan) -> list[tuple[str, str]]:
    content = plan.content
    occ = content.occurrence
    author = plan.author
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    when = (
        f"{occ.start:{stamp}} to {occ.end:{stamp}} (cutoff {occ.cutoff:{stamp}}, {occ.timezone})"
        if occ
        else "? to ? (cutoff ?, )"
    )
    return [
        ("plan", plan.id),
        ("window", f"{content.window} ({content.change} change)"),
        ("occurrence", when),
        (
            "author",
            f"{author.principal or 'unsigned'} at {author.signed_at}"
            if author
            else "unsigned at -",
        ),
        ("tasks", ", ".join(content.tasks)),
        ("batches", f"{content.batch} per batch, error budget {content.max_fail}"),
        ("hosts", f"{len(content.hosts)} ({len(content.hosts_with_changes())} would change)"),
        (
            "content",
            f"{str(content.revision.get('hash'))[:16]} git {content.revision.get('git') or '-'}",
        ),
        ("inventory", f"{content.inventory.path} {content.inventory.hash[:16]}"),
    ]


def _what(detail: PlannedTask) -> list[str]:
    """The changes of a task without control entries: packages and the Ansible tasks."""
    return [
        *detail.items,
        *(c.name + (f" [{c.diff}]" if c.diff else "") for c in detail.changes),
    ]


def _change_count(entry: PlannedHost) -> int:
    """Control changes, or the task's packages and Ansible tasks when it lists no controls."""
    return sum(len(d.controls) or len(_what(d)) for d in entry.tasks.values())


def _host_line(host: str, entry: PlannedHost) -> str:
    changes = _change_count(entry)
    controls = sum(len(d.by_control()) for d in entry.tasks.values())
    failing = sum(len(items) for items in entry.would_fail().values())
    if not entry.would_change:
        return f"{host}: nothing to change"
    parts = [f"{changes} change(s)"]
    if controls:
        parts.append(f"in {controls} control(s)")
    line = f"{host}: {' '.join(parts)}"
    return line + (f", {failing} would fail" if failing else "")


def _would_fail(plan: Plan) -> list[str]:
    return [
        f"  {host}  {task} {change.control}: {change.summary()}: {change.would_fail}"
        for host, entry in sorted(plan.content.hosts.items())
        for task, items in entry.would_fail().items()
        for change in items
    ]


def text(plan: Plan, decisions: Sequence[Mapping[str, Any]] = ()) -> str:
    content = plan.content
    lines = [f"{k:<11} {v}" for k, v in _head(plan)]
    failing = _would_fail(plan)
    if failing:
        lines += ["", "WOULD FAIL (these controls are left out of the apply):", *failing]
    for host, entry in sorted(content.hosts.items()):
        lines.append("")
        lines.append(_host_line(host, entry))
        for task, detail in entry.tasks.items():
            lines.append(f"  {task}: {detail.status}")
            for control, changes in detail.by_control().items():
                for change in changes:
                    mark = "!" if change.would_fail else "~"
                    lines.append(f"    {mark} {control:<8} {change.summary()}")
                    if change.would_fail:
                        lines.append(f"        would fail: {change.would_fail}")
                    if change.note:
                        lines.append(f"        note: {change.note}")
                    lines += [f"        {row}" for row in (change.diff or "").splitlines()]
            for item in detail.items:
                lines.append(f"    ~ {item}")
            for item in detail.waiting:
                lines.append(f"    . waits: {item}")
            if not detail.controls:
                for change in detail.changes:
                    diff = f"  [{change.diff}]" if change.diff else ""
                    lines.append(f"    ~ {change.name}{diff}")
            if detail.error:
                lines.append(f"    ! {detail.error}")
    if content.unreachable:
        lines += ["", "unreachable: " + ", ".join(content.unreachable)]
    findings = _findings(plan)
    if findings:
        lines += ["", "findings:"]
        lines += [f"  {f.severity:<8} {host}: {f.id}: {f.message}" for host, f in findings]
    if decisions:
        lines += ["", "decisions:"]
        lines += [
            f"  {d['decision']:<9} {d['approver']} at {d['signed_at']:%Y-%m-%d %H:%M}Z"
            + (f" ({d['comment']})" if d.get("comment") else "")
            for d in decisions
        ]
    return "\n".join(lines)


def _control_cell(change: ControlChange) -> h.Html:
    head = h.esc(change.summary())
    if change.would_fail:
        head = f"{h.badge('would fail', 'bad')} {head}: {h.esc(change.would_fail)}"
    note = f"<br><em>{h.esc(change.note)}</em>" if change.note else ""
    diff = f"<pre>{h.esc(change.diff)}</pre>" if change.diff else ""
    return h.Html(head + note + diff)


def _change_rows(plan: Plan) -> list[list[object]]:
    rows: list[list[object]] = []
    for host, entry in sorted(plan.content.hosts.items()):
        if not entry.would_change:
            rows.append([host, "-", "-", h.badge("ok", "good"), "nothing to change"])
            continue
        for task, detail in entry.tasks.items():
            for control, changes in detail.by_control().items():
                for change in changes:
                    tone = "bad" if change.would_fail else "warn"
                    status = h.badge("would fail" if change.would_fail else "change", tone)
                    rows.append([host, task, control, status, _control_cell(change)])
            what = [*detail.items] if detail.controls else _what(detail)
            for item in detail.waiting:
                rows.append([host, task, "-", h.badge("waits", "neutral"), h.Html(
                    f'<span style="color:#777">{h.esc(item)}</span>')])  # fmt: skip
            if what or not detail.controls:
                rows.append(
                    [
                        host,
                        task,
                        "-",
                        h.badge(detail.status, _tone(detail.status)),
                        h.Html("<br>".join(h.esc(w) for w in what)) if what else "no change",
                    ]
                )
    return rows


def html(plan: Plan, decisions: Sequence[Mapping[str, Any]] = ()) -> str:
    content = plan.content
    body = [h.table(["", ""], _head(plan))]
    hosts = content.hosts
    changing = [name for name, entry in hosts.items() if entry.would_change]
    failing = sum(len(c) for e in hosts.values() for c in e.would_fail().values())
    body.append(
        h.kpi_cards(
            [
                ("hosts", len(hosts), None),
                ("would change", len(changing), None),
                (
                    "changes",
                    sum(1 for _ in _change_rows(plan)) - (len(hosts) - len(changing)),
                    None,
                ),
                ("would fail", failing, "left out of the apply" if failing else None),
            ]
        )
    )
    body.append(
        h.section(
            "What would change, per host and control (would-fail first)",
            h.table(["host", "task", "control", "status", "change"], _change_rows(plan)),
        )
    )
    findings = _findings(plan)
    counts = {s: sum(1 for _, f in findings if f.severity == s) for s in SEVERITY_ORDER}
    body.append(
        h.section(
            "Findings",
            h.bar_chart(list(counts), list(counts.values()), title="Findings by severity")
            + h.table(
                ["severity", "host", "finding", "message", "recommendation"],
                [
                    [
                        h.badge(f.severity, f.severity),
                        host,
                        f.id,
                        f.message,
                        f.recommendation,
                    ]
                    for host, f in findings
                ],
            ),
        )
    )
    if decisions:
        body.append(
            h.section(
                "Decisions",
                h.table(
                    ["decision", "by", "signed at", "comment"],
                    [
                        [
                            d["decision"],
                            d["approver"],
                            f"{d['signed_at']:%Y-%m-%d %H:%M}Z",
                            d.get("comment") or "",
                        ]
                        for d in decisions
                    ],
                ),
            )
        )
    return h.page(f"Change plan {plan.short} for {content.window}", "\n".join(body))


def _tone(status: str) -> str:
    return {"ok": "good", "changed": "warn", "failed": "bad"}.get(status, "neutral")
