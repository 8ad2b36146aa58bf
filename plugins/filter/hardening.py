# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Filters of the hardening role: per-control outcomes, score, findings and backup lists."""

from __future__ import annotations

import re

from ansible_collections.maint.preventive.plugins.module_utils.findings import finder

DOCUMENTATION_NOTE = "See docs/roles/hardening.md for the control ids and finding ids."

_finding = finder("hardening")

# Controls that judge or change sshd's configuration: left out where sshd is not installed.
SSHD_CONTROLS = re.compile(r"^(SSH-|PERM-04)")


# --- discovery: which controls run and on what ------------------------------------------------


def hardening_enabled(controls, flags, sshd=True):
    """Ids of the enabled controls, in registry order. ``flags`` are the values of each control's
    ``flag`` variable, in the same order (``query('ansible.builtin.vars', *flag names)``);
    without sshd (``sshd`` false) the sshd controls are left out."""
    flags = list(flags)
    if len(flags) != len(controls):
        raise ValueError(
            "hardening_enabled: %d flags for %d controls" % (len(flags), len(controls))
        )
    return [
        c["id"]
        for c, flag in zip(controls, flags, strict=True)
        if flag and (sshd or not SSHD_CONTROLS.match(c["id"]))
    ]


def hardening_perm_items(static_results, home_results=None):
    """The permission items that exist on this host: the looped stat results of the static
    items (owner root added) and of the user homes (PERM-06, mode 0750, directories only)."""
    items = [
        dict(r["item"], owner="root")
        for r in static_results or []
        if (r.get("stat") or {}).get("exists")
    ]
    for r in home_results or []:
        if (r.get("stat") or {}).get("isdir"):
            items.append({"path": r["item"], "control": "PERM-06", "mode": "0750"})
    return items


def hardening_sysctl_control(kernel, network):
    """{sysctl key: control id}: KERN-01 for the kernel settings, NET-01 for the network ones."""
    out = dict.fromkeys(kernel or {}, "KERN-01")
    out.update(dict.fromkeys(network or {}, "NET-01"))
    return out


def hardening_missing_packages(package_items, scope, installed):
    """Packages of the controls in ``scope`` that are not installed (``installed``: the
    package_facts packages); controls without a package on this OS family are skipped."""
    return [
        item["package"]
        for item in package_items or []
        if item["control"] in scope and item["package"] and item["package"] not in installed
    ]


def hardening_sysctl_live(probe, control_of=None, scope=None):
    """Keys whose live value differs and can be written here (hardening_sysctl_probe result);
    with ``scope``, only the keys of those controls (``control_of``: hardening_sysctl_control)."""
    writable = probe.get("writable") or []
    keys = [k for k in probe.get("noncompliant") or [] if k in writable]
    if scope is not None:
        keys = [k for k in keys if (control_of or {}).get(k) in scope]
    return keys


def hardening_sysctl_current(probe):
    """{key: live value} of the keys the run may set live: what rollback writes back."""
    current = probe.get("current") or {}
    return {k: current[k] for k in hardening_sysctl_live(probe)}


def hardening_not_writable(probe, kernel, network):
    """{KERN-01: keys, NET-01: keys} that differ but cannot be written live on this host."""
    keys = probe.get("not_writable") or []
    return {
        "KERN-01": [k for k in keys if k in (kernel or {})],
        "NET-01": [k for k in keys if k in (network or {})],
    }


# --- a pass over the controls (audit in check mode, then apply) ----------------------------------


def hardening_pass_items(
    file_results,
    package_items,
    scope,
    missing_packages,
    legacy_installed,
    syslog=None,
    sysctl_live=(),
    sysctl_control=None,
):
    """Per-item results of one pass, each with the ``control`` it belongs to (the input of
    hardening_outcome): the file module's results, the packages to install, the legacy services
    to remove, the syslog service (unless skipped) and the sysctl keys to set live."""
    items = list(file_results or [])
    items += [
        dict(item, changed=True)
        for item in package_items or []
        if item["control"] in scope and item["package"] and item["package"] in missing_packages
    ]
    if "SVC-01" in scope and legacy_installed:
        items.append({"control": "SVC-01", "changed": True})
    if syslog is not None and not syslog.get("skipped"):
        items.append({"control": "LOG-01", "changed": syslog.get("changed", False)})
    items += [{"control": (sysctl_control or {})[k], "changed": True} for k in sysctl_live or []]
    return items


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


def hardening_access_todo(controls, todo):
    """The controls of ``todo`` that can affect remote access: the lockout guard must pass."""
    access = {c["id"] for c in controls if c.get("access")}
    return [cid for cid in todo if cid in access]


def hardening_ssh_planned(entries, todo):
    """{sshd directive: value} the apply pass writes for the controls in ``todo``."""
    return {
        line["key"]: line["value"]
        for entry in entries
        if entry["control"] in todo
        for line in entry["lines"]
    }


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


def hardening_status(table, todo, refused=False, drift=None, after_problems=None):
    """The result's status: ``failed`` on a refusal, sshd drift, access problems after the run
    or a failed control; else ``changed`` when controls were (or would be) applied; else ``ok``."""
    if refused or drift or after_problems or any(r["status"] == "failed" for r in table):
        return "failed"
    return "changed" if todo else "ok"


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
            "hardening_enabled": hardening_enabled,
            "hardening_perm_items": hardening_perm_items,
            "hardening_sysctl_control": hardening_sysctl_control,
            "hardening_missing_packages": hardening_missing_packages,
            "hardening_sysctl_live": hardening_sysctl_live,
            "hardening_sysctl_current": hardening_sysctl_current,
            "hardening_not_writable": hardening_not_writable,
            "hardening_pass_items": hardening_pass_items,
            "hardening_access_todo": hardening_access_todo,
            "hardening_ssh_planned": hardening_ssh_planned,
            "hardening_status": hardening_status,
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
