# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Findings for the Windows side of access_review (local admins, users, Remote Desktop)."""

from __future__ import annotations

import datetime

from ansible_collections.maint.preventive.plugins.module_utils.findings import finder

BUILTIN_ADMINS = ("Administrator", "Domain Admins")

_finding = finder("access_review")


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return list(value)


def _short(name):
    return str(name).split("\\")[-1]


def _parse_time(text):
    if not text:
        return None
    text = str(text).replace("Z", "+00:00")
    # PowerShell's round-trip format has 7 fractional digits; Python takes at most 6.
    if "." in text:
        head, rest = text.split(".", 1)
        digits = "".join(c for c in rest if c.isdigit())
        tz = rest[len(digits) :]
        text = "%s.%s%s" % (head, digits[:6], tz)
    value = datetime.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value


def access_review_windows_findings(
    admins,
    users,
    rdp_enabled=False,
    nla_required=True,
    approved_admins=None,
    stale_days=90,
    rdp_allowed=False,
    now=None,
):
    """Findings from Get-LocalGroupMember, Get-LocalUser and the Terminal Server registry."""
    findings = []
    now = _parse_time(now) if now else datetime.datetime.now(datetime.timezone.utc)
    if approved_admins is not None:
        approved = {_short(a).lower() for a in approved_admins}
        approved |= {a.lower() for a in BUILTIN_ADMINS}
        for member in _as_list(admins):
            name = _short(member.get("name", ""))
            if name.lower() not in approved:
                findings.append(
                    _finding(
                        "unapproved_admin",
                        "high",
                        "'%s' is a member of the local Administrators group" % name,
                        "Confirm that '%s' needs administrator rights; if not, "
                        "have it removed from Administrators." % name,
                    )
                )
    for user in _as_list(users):
        if not user.get("enabled"):
            continue
        name = user.get("name", "?")
        if name.lower() == "guest":
            findings.append(
                _finding(
                    "guest_enabled",
                    "high",
                    "The Guest account is enabled",
                    "Have the Guest account disabled.",
                )
            )
            continue
        last = _parse_time(user.get("last_logon"))
        if last is not None and (now - last).days > stale_days:
            findings.append(
                _finding(
                    "stale_account",
                    "medium",
                    "Account '%s' last logged on %d days ago" % (name, (now - last).days),
                    "Check whether '%s' is still needed; if not, have it disabled." % name,
                )
            )
    if rdp_enabled and not rdp_allowed:
        findings.append(
            _finding(
                "rdp_enabled",
                "high",
                "Remote Desktop is enabled although this host should not offer it",
                "Disable Remote Desktop, or record that it is needed.",
            )
        )
    if rdp_enabled and not nla_required:
        findings.append(
            _finding(
                "rdp_without_nla",
                "high",
                "Remote Desktop accepts connections without Network Level Authentication",
                "Require Network Level Authentication for Remote Desktop.",
            )
        )
    return findings


class FilterModule:
    def filters(self):
        return {"access_review_windows_findings": access_review_windows_findings}
