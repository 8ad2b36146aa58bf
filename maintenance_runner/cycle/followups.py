"""Following a run's findings up with maint.yml's rules (the use case): close what the latest
complete runs no longer report, then open follow-ups for the findings still there.

The rules are ``core/followups.py``'s, the rows ``actionlog/followups.py``'s; the inventory's
groups (for P1 by group) come from ``ansible-inventory``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from maintenance_runner.actionlog.followups import (
    anything_to_open,
    close_resolved,
    create_followups,
    has_findings,
)
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.ansible.inventory import inventory_groups
from maintenance_runner.config.models import MaintConfig
from maintenance_runner.core.followups import rules_from_config


@dataclass(frozen=True)
class Synced:
    opened: list[int]  # follow-ups opened
    closed: list[int]  # follow-ups closed by maint: a later complete run no longer reports them


def sync_from_config(
    log: ActionLog,
    config: MaintConfig,
    run_id: int | None = None,
    groups: Mapping[str, Collection[str]] | None = None,
) -> Synced:
    """Follow-ups after run ``run_id`` (the whole log when None), with maint.yml's rules.

    First the open follow-ups whose finding the latest complete run of its task on its host no
    longer reports are closed (with ``run_id``: those for a task that run ran on their host);
    then :func:`create_followups` opens one for each qualifying finding still reported.

    Without ``groups``, the inventory named in maint.yml is read (when there is one,
    ``p1_groups`` is not empty and there is a follow-up to open: ``ansible-inventory`` takes
    about a second, which a run without new findings should not pay). A run without findings
    opens nothing and does not build the working-hours calendar (it loads the holidays package,
    about 0.25 s); closing needs neither.
    """
    closed = close_resolved(log, run_id)
    if run_id is not None and not has_findings(log, run_id):
        return Synced([], closed)
    rules = rules_from_config(config.followups)
    if groups is None:
        groups = {}
        if config.inventory and rules.p1_groups and anything_to_open(log, rules, run_id):
            groups = inventory_groups(config.resolve(config.inventory))
    return Synced(create_followups(log, rules, groups, run_id), closed)


def create_from_config(
    log: ActionLog,
    config: MaintConfig,
    run_id: int | None = None,
    groups: Mapping[str, Collection[str]] | None = None,
) -> list[int]:
    """:func:`sync_from_config` (closing included), returning the follow-ups opened: what
    ``maint apply`` and the tick call after every apply run."""
    return sync_from_config(log, config, run_id, groups).opened
