"""Turning a run's findings into follow-ups with maint.yml's rules (the use case).

The rules are ``core/followups.py``'s, the rows ``actionlog/followups.py``'s; the inventory's
groups (for P1 by group) come from ``ansible-inventory``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from maintenance_runner.actionlog.followups import anything_to_open, create_followups, has_findings
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.ansible.inventory import inventory_groups
from maintenance_runner.config.models import MaintConfig
from maintenance_runner.core.followups import rules_from_config


def create_from_config(
    log: ActionLog,
    config: MaintConfig,
    run_id: int | None = None,
    groups: Mapping[str, Collection[str]] | None = None,
) -> list[int]:
    """:func:`create_followups` with maint.yml's rules and its inventory's groups.

    Without ``groups``, the inventory named in maint.yml is read (when there is one,
    ``p1_groups`` is not empty and there is a follow-up to open: ``ansible-inventory`` takes
    about a second, which a run without new findings should not pay). A run without findings
    returns at once: the working-hours calendar loads the holidays package (about 0.25 s).
    """
    if run_id is not None and not has_findings(log, run_id):
        return []
    rules = rules_from_config(config.followups)
    if groups is None:
        groups = {}
        if config.inventory and rules.p1_groups and anything_to_open(log, rules, run_id):
            groups = inventory_groups(config.resolve(config.inventory))
    return create_followups(log, rules, groups, run_id)
