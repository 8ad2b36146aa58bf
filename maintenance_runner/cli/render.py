"""Terminal rendering of role results (pure: returns text)."""

from __future__ import annotations

from collections.abc import Sequence

from maintenance_runner.core.results import SEVERITIES, TaskResult


def _value(value: object) -> str:
    """Compact text for a data value: package lists as ``name current -> candidate``."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        items = []
        for v in value:
            if "name" in v and "candidate" in v:
                flag = " (security)" if v.get("security") else ""
                items.append(f"{v['name']} {v.get('current') or '-'} -> {v['candidate']}{flag}")
            else:
                items.append(", ".join(f"{k}={v[k]}" for k in sorted(v)))
        return "; ".join(items)
    if isinstance(value, list | dict) and not value:
        return "none"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def summarize(results: Sequence[TaskResult]) -> str:
    """One block per host and task: status, findings by severity, then the key data."""
    if not results:
        return "no results: no host ran a maint task (check --limit and the inventory)"
    lines: list[str] = []
    for r in sorted(results, key=lambda r: r.host):
        lines.append(f"{r.host}  {r.task}  {r.status.upper()}")
        if r.error:
            lines.append(f"  error: {r.error}")
        ranked = sorted(r.findings, key=lambda f: -SEVERITIES.index(f.severity))
        for f in ranked:
            lines.append(f"  [{f.severity}] {f.id}: {f.message}")
            if f.recommendation:
                lines.append(f"      -> {f.recommendation}")
        for key, value in r.data.items():
            lines.append(f"  {key}: {_value(value)}")
        if r.rollback:
            manifest = r.rollback.get("manifest_path") or "recorded"
            lines.append(f"  rollback: {manifest}")
    return "\n".join(lines)
