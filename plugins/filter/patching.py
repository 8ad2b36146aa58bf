# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Filters that turn the patching role's probes into result-contract findings."""

from __future__ import annotations

from ansible_collections.maint.preventive.plugins.module_utils.findings import finder

DOCUMENTATION_NOTE = "See docs/role-contract.md for the finding ids."

_finding = finder("patching")


def _name(package):
    return str(package.get("name") or package.get("title") or package.get("id") or "?")


def patching_findings(
    pending,
    selected,
    skipped=None,
    applied=False,
    check_mode=False,
    reboot_required=False,
    reboot_allowed=False,
    failed_services=None,
    failed_commands=None,
    missing_debs=None,
):
    """Findings for one host's patching run.

    ``pending`` is every pending update, ``selected`` the transaction chosen to apply,
    ``applied`` whether updates were really installed in this run.
    """
    findings = []
    skipped = skipped or {}
    if check_mode or not applied:
        security = [_name(p) for p in selected if p.get("security")]
        other = [_name(p) for p in selected if not p.get("security")]
        if security:
            findings.append(
                _finding(
                    "security_updates_pending",
                    "high",
                    "%d security update(s) pending: %s"
                    % (len(security), ", ".join(sorted(security))),
                    "Approve and apply them in the next maintenance window.",
                )
            )
        if other:
            findings.append(
                _finding(
                    "updates_pending",
                    "low",
                    "%d update(s) pending: %s" % (len(other), ", ".join(sorted(other))),
                    "Apply them in the next maintenance window.",
                )
            )
    held = sorted(name for name, why in skipped.items() if why == "held")
    if held:
        findings.append(
            _finding(
                "held_packages",
                "info",
                "Updates held back on purpose: %s" % ", ".join(held),
                "Review the holds; release them once the reason is gone.",
            )
        )
    if reboot_required and not reboot_allowed:
        findings.append(
            _finding(
                "reboot_pending",
                "medium",
                "A reboot is required to finish installing updates",
                "Schedule a reboot inside the next window.",
            )
        )
    for service in failed_services or []:
        findings.append(
            _finding(
                "service_down",
                "high",
                "Service %s is not running after patching" % service,
                "Roll back the update or restart the service, then investigate.",
            )
        )
    for command in failed_commands or []:
        findings.append(
            _finding(
                "post_check_failed",
                "high",
                "Post-patch check failed: %s" % command,
                "Roll back the update and investigate before patching again.",
            )
        )
    if missing_debs:
        findings.append(
            _finding(
                "rollback_incomplete",
                "medium",
                "No pre-change package kept for: %s" % ", ".join(sorted(missing_debs)),
                "Install dpkg-repack so every update can be rolled back.",
            )
        )
    return findings


def patching_pins(transaction):
    """``name=version`` pins for every package the transaction installs or upgrades."""
    return [
        "%s=%s" % (p["name"], p["candidate"])
        for p in transaction or []
        if p.get("action") != "remove" and p.get("candidate")
    ]


def patching_down_services(services, service_facts):
    """Services from ``services`` that service_facts does not report as running."""
    down = []
    for name in services or []:
        state = None
        for key in (name, name + ".service"):
            if key in (service_facts or {}):
                state = service_facts[key].get("state")
                break
        if state != "running":
            down.append(name)
    return down


def patching_rpm_transaction(
    updates, installed, security_names=None, allow=(), deny=(), security_only=False
):
    """The dnf equivalent of apt_pending's ``selected`` list, from ``dnf list updates``.

    ``updates`` are the results of ``ansible.builtin.dnf: list=updates``, ``installed`` the
    ``ansible_facts.packages`` of package_facts, ``security_names`` the package names that
    ``dnf updateinfo list --security`` reported.
    """
    import fnmatch

    security_names = set(security_names or [])
    chosen = []
    for upd in updates or []:
        name = upd.get("name")
        if not name:
            continue
        if deny and any(fnmatch.fnmatchcase(name, p) for p in deny):
            continue
        if allow and not any(fnmatch.fnmatchcase(name, p) for p in allow):
            continue
        security = name in security_names
        if security_only and not security:
            continue
        current = None
        for inst in (installed or {}).get(name, []):
            current = "%s-%s" % (inst.get("version"), inst.get("release"))
        chosen.append(
            {
                "name": name,
                "current": current,
                "candidate": "%s-%s" % (upd.get("version"), upd.get("release")),
                "arch": upd.get("arch"),
                "origins": [upd.get("repo", "")],
                "action": "upgrade" if current else "install",
                "security": security,
            }
        )
    return chosen


def patching_security_names(advisory_lines):
    """Package names from ``dnf -q updateinfo list --security`` lines (ID, type, NEVRA)."""
    names = set()
    for line in advisory_lines or []:
        parts = line.split()
        if len(parts) >= 3:
            nevra = parts[-1]
            name = nevra.rsplit("-", 2)[0]
            names.add(name)
    return sorted(names)


class FilterModule:
    def filters(self):
        return {
            "patching_findings": patching_findings,
            "patching_pins": patching_pins,
            "patching_down_services": patching_down_services,
            "patching_rpm_transaction": patching_rpm_transaction,
            "patching_security_names": patching_security_names,
        }
