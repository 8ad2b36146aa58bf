"""A plan for an approver: terminal text and one self-contained HTML page (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import htmlkit as h
from .plan import hosts_with_changes

SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


def _findings(content: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    found = [
        (host, f)
        for host, entry in sorted((content.get("hosts") or {}).items())
        for f in entry.get("findings") or []
    ]
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return sorted(found, key=lambda hf: (rank.get(str(hf[1].get("severity")), 9), hf[0]))


def _head(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    content = raw["plan"]
    occ = content.get("occurrence") or {}
    author = raw.get("author") or {}
    return [
        ("plan", str(raw["id"])),
        ("window", f"{content['window']} ({content.get('change', 'normal')} change)"),
        (
            "occurrence",
            f"{occ.get('start', '?')} to {occ.get('end', '?')} "
            f"(cutoff {occ.get('cutoff', '?')}, {occ.get('timezone', '')})",
        ),
        ("author", f"{author.get('principal', 'unsigned')} at {author.get('signed_at', '-')}"),
        ("tasks", ", ".join(content.get("tasks") or [])),
        ("batches", f"{content.get('batch')} per batch, error budget {content.get('max_fail')}"),
        (
            "hosts",
            f"{len(content.get('hosts') or {})} "
            f"({len(hosts_with_changes(content.get('hosts') or {}))} would change)",
        ),
        (
            "content",
            f"{str((content.get('content') or {}).get('hash'))[:16]} "
            f"git {(content.get('content') or {}).get('git') or '-'}",
        ),
        (
            "inventory",
            f"{(content.get('inventory') or {}).get('path')} "
            f"{str((content.get('inventory') or {}).get('hash'))[:16]}",
        ),
    ]


def text(raw: Mapping[str, Any], decisions: Sequence[Mapping[str, Any]] = ()) -> str:
    content = raw["plan"]
    lines = [f"{k:<11} {v}" for k, v in _head(raw)]
    for host, entry in sorted((content.get("hosts") or {}).items()):
        lines.append("")
        lines.append(f"{host}")
        for task, detail in (entry.get("tasks") or {}).items():
            lines.append(f"  {task}: {detail.get('status')}")
            for item in detail.get("items") or []:
                lines.append(f"    ~ {item}")
            for change in detail.get("changes") or []:
                diff = f"  [{change['diff']}]" if change.get("diff") else ""
                lines.append(f"    ~ {change.get('name')}{diff}")
            if detail.get("error"):
                lines.append(f"    ! {detail['error']}")
    if content.get("unreachable"):
        lines += ["", "unreachable: " + ", ".join(content["unreachable"])]
    findings = _findings(content)
    if findings:
        lines += ["", "findings:"]
        lines += [
            f"  {f.get('severity'):<8} {host}: {f.get('id')}: {f.get('message')}"
            for host, f in findings
        ]
    if decisions:
        lines += ["", "decisions:"]
        lines += [
            f"  {d['decision']:<9} {d['approver']} at {d['signed_at']:%Y-%m-%d %H:%M}Z"
            + (f" ({d['comment']})" if d.get("comment") else "")
            for d in decisions
        ]
    return "\n".join(lines)


def html(raw: Mapping[str, Any], decisions: Sequence[Mapping[str, Any]] = ()) -> str:
    content = raw["plan"]
    body = [h.table(["", ""], _head(raw))]
    rows = []
    for host, entry in sorted((content.get("hosts") or {}).items()):
        for task, detail in (entry.get("tasks") or {}).items():
            what = [*(detail.get("items") or [])]
            what += [
                f"{c.get('name')}" + (f" [{c['diff']}]" if c.get("diff") else "")
                for c in detail.get("changes") or []
            ]
            rows.append(
                [
                    host,
                    task,
                    h.badge(detail.get("status"), _tone(str(detail.get("status")))),
                    h.Html("<br>".join(h.esc(w) for w in what)) if what else "no change",
                ]
            )
    body.append(
        h.section("What would change", h.table(["host", "task", "status", "changes"], rows))
    )
    findings = _findings(content)
    counts = {s: sum(1 for _, f in findings if f.get("severity") == s) for s in SEVERITY_ORDER}
    body.append(
        h.section(
            "Findings",
            h.bar_chart(list(counts), list(counts.values()), title="Findings by severity")
            + h.table(
                ["severity", "host", "finding", "message", "recommendation"],
                [
                    [
                        h.badge(f.get("severity"), str(f.get("severity"))),
                        host,
                        f.get("id"),
                        f.get("message"),
                        f.get("recommendation", ""),
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
    return h.page(f"Change plan {str(raw['id'])[:12]} for {content['window']}", "\n".join(body))


def _tone(status: str) -> str:
    return {"ok": "good", "changed": "warn", "failed": "bad"}.get(status, "neutral")
