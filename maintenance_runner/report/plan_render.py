"""A plan for an approver: terminal text and one self-contained HTML page (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from maintenance_runner.core.plan import Plan, PlannedFinding, PlannedTask
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
    return [
        *detail.items,
        *(c.name + (f" [{c.diff}]" if c.diff else "") for c in detail.changes),
    ]


def text(plan: Plan, decisions: Sequence[Mapping[str, Any]] = ()) -> str:
    content = plan.content
    lines = [f"{k:<11} {v}" for k, v in _head(plan)]
    for host, entry in sorted(content.hosts.items()):
        lines.append("")
        lines.append(f"{host}")
        for task, detail in entry.tasks.items():
            lines.append(f"  {task}: {detail.status}")
            for item in detail.items:
                lines.append(f"    ~ {item}")
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


def html(plan: Plan, decisions: Sequence[Mapping[str, Any]] = ()) -> str:
    content = plan.content
    body = [h.table(["", ""], _head(plan))]
    rows = []
    for host, entry in sorted(content.hosts.items()):
        for task, detail in entry.tasks.items():
            what = _what(detail)
            rows.append(
                [
                    host,
                    task,
                    h.badge(detail.status, _tone(detail.status)),
                    h.Html("<br>".join(h.esc(w) for w in what)) if what else "no change",
                ]
            )
    body.append(
        h.section("What would change", h.table(["host", "task", "status", "changes"], rows))
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
