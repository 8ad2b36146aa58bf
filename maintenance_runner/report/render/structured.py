"""The report for machines: JSON (the whole model), CSV (one row per host and task) and JUnit
XML (one test case per host and task, for a CI pipeline)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from maintenance_runner.report.model import HostTask, Report
from maintenance_runner.report.render.tables import highest


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
    worst = highest(report)
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
                worst.get((h.host, h.task), ""),
                f"{h.duration_s:.3f}",
                h.run_uid or "",
                h.mode or "",
                h.message or "",
            ]
        )
    return buffer.getvalue()


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
