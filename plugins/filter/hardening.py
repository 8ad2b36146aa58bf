# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Filters of the hardening role: per-control outcomes, score, findings and backup lists."""

from __future__ import annotations

from ansible_collections.maint.preventive.plugins.module_utils.findings import finder

DOCUMENTATION_NOTE = "See docs/roles/hardening.md for the control ids and finding ids."

_finding = finder("hardening")


def hardening_outcome(items, controls):
    """{control: {'ran', 'changed', 'failed'}} from per-item results that carry a ``control``
    (the results of maint.preventive.hardening_files plus the package and service probes)."""
    out = {c: {"ran": False, "changed": False, "failed": False} for c in controls}
    for item in items or []:
        control = item.get("control")
        if control not in out or item.get("skipped"):
            continue
        out[control]["ran"] = True
        out[control]["changed"] = out[control]["changed"] or bool(item.get("changed"))
        out[control]["failed"] = out[control]["failed"] or bool(item.get("failed"))
    return out


def hardening_noncompliant(outcome, enabled):
    """Enabled controls whose audit (check-mode) pass would change something, in registry order."""
    return [c for c in enabled if (outcome.get(c) or {}).get("changed")]


def hardening_controls(controls, enabled, audit, applied=None, check_mode=False, not_writable=None):
    """The control table of the result: id, title, flag, severity, enabled and status.

    status: ``compliant`` (nothing to change), ``fixed`` (changed in this run),
    ``noncompliant`` (would change: check mode or not applied), ``not_writable`` (persisted but
    the live kernel value cannot be set here), ``failed``, ``disabled``.
    """
    applied = applied or {}
    not_writable = not_writable or {}
    table = []
    for c in controls:
        cid = c["id"]
        row = {
            "id": cid,
            "title": c["title"],
            "flag": c["flag"],
            "severity": c["severity"],
            "enabled": cid in enabled,
        }
        if cid not in enabled:
            row["status"] = "disabled"
        else:
            before = (audit.get(cid) or {}).get("changed")
            after = applied.get(cid) or {}
            if after.get("failed"):
                row["status"] = "failed"
            elif not before:
                row["status"] = "compliant"
            elif check_mode or not after.get("ran"):
                row["status"] = "noncompliant"
            else:
                row["status"] = "fixed"
            if row["status"] in ("compliant", "fixed") and not_writable.get(cid):
                row["status"] = "not_writable"
                row["not_writable"] = not_writable[cid]
        table.append(row)
    return table


def hardening_score(table, before=False):
    """compliant controls / enabled controls (``before``: as found, else after the run)."""
    enabled = [r for r in table if r["enabled"]]
    good = ("compliant",) if before else ("compliant", "fixed")
    compliant = [r for r in enabled if r["status"] in good]
    percent = round(100.0 * len(compliant) / len(enabled), 1) if enabled else 100.0
    return {"compliant": len(compliant), "enabled": len(enabled), "percent": percent}


def hardening_findings(
    controls,
    table,
    not_writable_keys=None,
    lockout_problems=None,
    lockout_user="",
    ssh_drift=None,
    dropin="",
):
    """Result-contract findings: one per non-compliant or failed control, the sysctl keys a
    container cannot write, the lockout refusal, and sshd values that did not take effect."""
    by_id = {c["id"]: c for c in controls}
    findings = []
    if lockout_problems:
        findings.append(
            _finding(
                "lockout_risk",
                "critical",
                "Access-related hardening refused for account %s: %s"
                % (lockout_user or "?", "; ".join(lockout_problems)),
                "Give the maintenance account an authorized key and sudo (or set "
                "hardening_lockout_user to the account operators use), then run again.",
            )
        )
    for row in table:
        if row["status"] not in ("noncompliant", "failed"):
            continue
        control = by_id[row["id"]]
        findings.append(
            _finding(
                control["key"],
                control["severity"],
                "%s %s: %s"
                % (
                    row["id"],
                    row["status"].replace("noncompliant", "not compliant"),
                    control["title"],
                ),
                control["recommendation"],
            )
        )
    if ssh_drift:
        findings.append(
            _finding(
                "sshd_not_effective",
                "high",
                "sshd does not use the hardened values for: %s"
                % ", ".join("%s (%s)" % (d["key"], d["control"]) for d in ssh_drift),
                "Look for a Match block or an Include read before %s, "
                "fix it, then reload sshd." % (dropin or "the hardening drop-in"),
            )
        )
    if not_writable_keys:
        findings.append(
            _finding(
                "sysctl_not_writable",
                "low",
                "%d kernel setting(s) differ and cannot be set live on this host "
                "(read-only /proc/sys, typical of containers); persisted for the next boot: %s"
                % (len(not_writable_keys), ", ".join(sorted(not_writable_keys))),
                "Set them on the container host or VM kernel; inside a container "
                "they are the host's to decide.",
            )
        )
    return findings


def hardening_backup_files(controls, todo):
    """[{path, kind}] of every file the controls in ``todo`` touch (a control's ``kind`` is
    ``content``, or ``mode`` when it only changes mode and ownership)."""
    out = []
    seen = set()
    for c in controls:
        if c["id"] not in todo:
            continue
        files = c.get("files") or []
        if isinstance(files, str):
            files = [files]
        kind = c.get("kind") or "content"
        for path in files:
            if path and (path, kind) not in seen:
                seen.add((path, kind))
                out.append({"path": path, "kind": kind})
    return out


def hardening_user_homes(getent_passwd, min_uid=1000):
    """Home directories of user accounts (UID >= min_uid, not nobody) from getent passwd."""
    homes = []
    for _name, fields in sorted((getent_passwd or {}).items()):
        try:
            uid = int(fields[1])
        except (IndexError, TypeError, ValueError):
            continue
        home = fields[4] if len(fields) > 4 else ""
        if min_uid <= uid < 65534 and home.startswith("/") and home != "/" and home not in homes:
            homes.append(home)
    return homes


def hardening_ssh_drift(entries, effective):
    """sshd directives (per-control entries with ``lines``) whose effective value (sshd -T)
    differs from the wanted one."""
    drift = []
    for entry in entries:
        for d in entry["lines"]:
            got = str(effective.get(d["key"].lower(), "")).lower()
            want = str(d["value"]).lower()
            if got != want:
                drift.append(
                    {
                        "control": entry["control"],
                        "key": d["key"],
                        "wanted": str(d["value"]),
                        "effective": got,
                    }
                )
    return drift


def hardening_modprobe_conf(modules, control):
    """modprobe.d content that makes the modules unloadable (install /bin/false + blacklist)."""
    lines = ["# Managed by maint (hardening %s): modules this host does not use." % control]
    for module in modules:
        lines.append("install %s /bin/false" % module)
        lines.append("blacklist %s" % module)
    return "\n".join(lines) + "\n"


WINDOWS_CONTROLS = {
    "WIN-01": ("win_smb1", "high", "SMBv1 server protocol is enabled", "Turn SMBv1 off."),
    "WIN-02": (
        "win_firewall",
        "high",
        "the firewall is off for a profile",
        "Turn the firewall on.",
    ),
    "WIN-03": (
        "win_rdp_nla",
        "medium",
        "RDP does not require NLA",
        "Require Network Level Authentication.",
    ),
    "WIN-04": ("win_guest", "medium", "the Guest account is enabled", "Disable the Guest account."),
}


def hardening_windows_findings(changed, check_mode=False):
    """Findings of the Windows subset: in check mode each control that would change is not
    compliant; after a real run nothing is reported (the controls were fixed)."""
    if not check_mode:
        return []
    findings = []
    for cid in changed:
        key, severity, message, recommendation = WINDOWS_CONTROLS[cid]
        findings.append(
            _finding(key, severity, "%s not compliant: %s" % (cid, message), recommendation)
        )
    return findings


class FilterModule:
    def filters(self):
        return {
            "hardening_outcome": hardening_outcome,
            "hardening_noncompliant": hardening_noncompliant,
            "hardening_controls": hardening_controls,
            "hardening_score": hardening_score,
            "hardening_findings": hardening_findings,
            "hardening_backup_files": hardening_backup_files,
            "hardening_user_homes": hardening_user_homes,
            "hardening_ssh_drift": hardening_ssh_drift,
            "hardening_modprobe_conf": hardening_modprobe_conf,
            "hardening_windows_findings": hardening_windows_findings,
        }
