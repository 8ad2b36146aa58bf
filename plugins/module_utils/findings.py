# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""The one builder of a finding in the role result contract (docs/role-contract.md).

Every module and filter plugin of the collection builds its findings here, so the shape
(``id``, ``severity``, ``message``, ``recommendation``) and the severity scale are spelled once:

    from ansible_collections.maint.preventive.plugins.module_utils.findings import finder

    _finding = finder("antivirus")
    _finding("update_failed", "high", "Definitions update failed ...", "Restore the route ...")
"""

from __future__ import annotations

# The severity scale of the contract, lowest first (the runner rejects any other value).
SEVERITIES = ("info", "low", "medium", "high", "critical")


def finding(task, check, severity, message, recommendation):
    """One finding: id ``<task>.<check>`` (stable across releases), a severity of the scale,
    a message naming the host's object and a plain-language recommendation."""
    if severity not in SEVERITIES:
        raise ValueError(
            "finding %s.%s: unknown severity %r (one of %s)"
            % (task, check, severity, ", ".join(SEVERITIES))
        )
    if not task or not check:
        raise ValueError("a finding id needs a task and a check, got %r.%r" % (task, check))
    return {
        "id": "%s.%s" % (task, check),
        "severity": severity,
        "message": message,
        "recommendation": recommendation,
    }


def finder(task):
    """A finding builder bound to one role: ``finder("patching")("reboot_pending", ...)``."""

    def build(check, severity, message, recommendation):
        return finding(task, check, severity, message, recommendation)

    build.__name__ = "%s_finding" % task
    return build
