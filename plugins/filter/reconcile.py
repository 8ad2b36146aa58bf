# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Filters of the roles' reconcile entry point (tasks_from: reconcile, playbooks/reconcile.yml):
what an interrupted run changed, and the maint_result that records it."""

from __future__ import annotations

from ansible_collections.maint.preventive.plugins.module_utils.run_record import (
    reconcile_result as _reconcile_result,
)

DOCUMENTATION_NOTE = "See docs/role-contract.md, section Reconcile, for the result shape."


def reconcile_result(task, run, found, changed=None, rollback=None, check_mode=False, **details):
    """``'patching' | maint.preventive.reconcile_result(run, found, changed, rollback, ...)``:
    the reconcile's maint_result (see module_utils/run_record.py)."""
    return _reconcile_result(task, run, found, changed, rollback, check_mode, **details)


def hardening_reconcile_changes(compared, sysctl=None, packages=None):
    """What the hardening run of ``compared`` (hardening_backup state=compared) changed: the
    files that differ from its backup, ``sysctl:<key>`` for each live value that is not the one
    it recorded (``sysctl``: hardening_sysctl_probe of the recorded values), and
    ``package:<name>`` for each package it was to install that is installed now or to remove
    that is gone (``packages``: ansible_facts.packages)."""
    compared = compared or {}
    if not compared.get("found"):
        return []
    changed = list(compared.get("differ") or {})
    changed += ["sysctl:%s" % key for key in (sysctl or {}).get("noncompliant") or []]
    extra = (compared.get("manifest") or {}).get("extra") or {}
    installed = packages or {}
    changed += ["package:%s" % name for name in extra.get("installed") or [] if name in installed]
    changed += ["package:%s" % name for name in extra.get("removed") or [] if name not in installed]
    return sorted(set(changed))


def patching_windows_reconcile_changes(manifest, hotfix_ids):
    """KBs of a Windows patching manifest (win_updates ``updates``: id -> {kb: [...], title})
    that are installed now (``hotfix_ids``: the HotFixID of Get-HotFix, ``KB5034441``)."""
    installed = {str(h).upper().removeprefix("KB") for h in hotfix_ids or []}
    found = []
    for update in ((manifest or {}).get("updates") or {}).values():
        for kb in update.get("kb") or []:
            if str(kb).upper().removeprefix("KB") in installed:
                found.append("KB%s" % str(kb).upper().removeprefix("KB"))
    return sorted(set(found))


class FilterModule:
    def filters(self):
        return {
            "reconcile_result": reconcile_result,
            "hardening_reconcile_changes": hardening_reconcile_changes,
            "patching_windows_reconcile_changes": patching_windows_reconcile_changes,
        }
