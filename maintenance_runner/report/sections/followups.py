"""Follow-ups met and missed: was the first response at or before the due time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from maintenance_runner.actionlog.report_rows import FollowupRow
from maintenance_runner.report.model import FollowupInfo, FollowupStats
from maintenance_runner.report.sections.basis import Basis


def followup_state(f: FollowupRow, now: datetime) -> str:
    """met: first ack or close at or before the due time; missed: after it, or none and the
    due time has passed; pending: none yet and not due; none: no target."""
    if f.due_at is None:
        return "none"
    if f.first_response_at is not None:
        return "met" if f.first_response_at <= f.due_at else "missed"
    return "missed" if now > f.due_at else "pending"


def followup_stats(items: Iterable[FollowupRow], now: datetime) -> FollowupStats:
    infos = tuple(
        FollowupInfo(
            f.id,
            f.priority,
            f.title,
            f.created_at,
            f.due_at,
            f.first_response_at,
            followup_state(f, now),
        )
        for f in sorted(items, key=lambda f: (f.created_at, f.id))
    )
    count: dict[str, int] = defaultdict(int)
    for i in infos:
        count[i.state] += 1
    return FollowupStats(count["met"], count["missed"], count["pending"], infos)


def scope_followups(b: Basis, now: datetime) -> FollowupStats:
    """The follow-ups opened in the scope's period and those raised from its runs' findings."""
    scope = b.scope
    finding_runs = {f.id: f.run_id for f in b.rows.findings}
    scoped = [
        f
        for f in b.rows.followups
        if scope.start <= f.created_at < scope.end
        or finding_runs.get(f.finding_row_id or -1) in b.in_scope
    ]
    return followup_stats(scoped, now)
