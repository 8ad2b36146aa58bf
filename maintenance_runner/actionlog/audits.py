"""The onboarding audit in the action log: a check-mode run with its results, findings and the
asset register (one ``result_details`` row per host)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from maintenance_runner.actionlog.store import ActionLog

Rows = Sequence[Mapping[str, Any]]


def record_audit_rows(
    log: ActionLog, run_id: int, results: Rows, findings: Rows, register: Rows
) -> None:
    """Add an audit to run ``run_id``: ``task_results``, ``findings`` and ``result_details``
    rows (plain dicts, without their run id)."""
    log.add_results(run_id, results)
    log.append("findings", findings, {"run_id": run_id})
    log.append("result_details", register, {"run_id": run_id})
