# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""The one builder of a finding in the role result contract (docs/role-contract.md).

Every module and filter plugin of the collection builds its findings here, so the shape
(``id``, ``severity``, ``message``, ``recommendation`` and, for a finding about a host's
configuration, ``evidence``) and the severity scale are spelled once:

    from ansible_collections.maint.preventive.plugins.module_utils.findings import finder

    _finding = finder("antivirus")
    _finding("update_failed", "high", "Definitions update failed ...", "Restore the route ...")
    _finding("ssh_root_login", "high",
             "root login is allowed: PermitRootLogin yes from /etc/ssh/sshd_config:33", "...",
             evidence=evidence("permitrootlogin yes", "permitrootlogin no",
                               "/etc/ssh/sshd_config:33"))
"""

from __future__ import annotations

# The severity scale of the contract, lowest first (the runner rejects any other value).
SEVERITIES = ("info", "low", "medium", "high", "critical")


# The fields of a finding's evidence (docs/role-contract.md, "Evidence in findings").
EVIDENCE_FIELDS = ("effective", "expected", "source")


def evidence(effective, expected, source):
    """The evidence of a finding: the value the host really runs with, the value the control
    expects, and where the effective value comes from (``FILE:LINE``, a path, or the command
    that reported it, e.g. ``sshd -T``). Each is a string; None becomes ``""``."""
    return {
        "effective": "" if effective is None else str(effective),
        "expected": "" if expected is None else str(expected),
        "source": "" if source is None else str(source),
    }


def finding(task, check, severity, message, recommendation, evidence=None):
    """One finding: id ``<task>.<check>`` (stable across releases), a severity of the scale,
    a message naming the host's object and a plain-language recommendation; ``evidence``
    (optional, see :func:`evidence`) names the effective value, the expected one and its
    source."""
    if severity not in SEVERITIES:
        raise ValueError(
            "finding %s.%s: unknown severity %r (one of %s)"
            % (task, check, severity, ", ".join(SEVERITIES))
        )
    if not task or not check:
        raise ValueError("a finding id needs a task and a check, got %r.%r" % (task, check))
    built = {
        "id": "%s.%s" % (task, check),
        "severity": severity,
        "message": message,
        "recommendation": recommendation,
    }
    if evidence is not None:
        if not isinstance(evidence, dict) or set(evidence) != set(EVIDENCE_FIELDS):
            raise ValueError(
                "finding %s.%s: evidence needs exactly %s, got %r"
                % (task, check, ", ".join(EVIDENCE_FIELDS), evidence)
            )
        built["evidence"] = {k: str(evidence[k]) for k in EVIDENCE_FIELDS}
    return built


def finder(task):
    """A finding builder bound to one role: ``finder("patching")("reboot_pending", ...)``."""

    def build(check, severity, message, recommendation, evidence=None):
        return finding(task, check, severity, message, recommendation, evidence=evidence)

    build.__name__ = "%s_finding" % task
    return build
