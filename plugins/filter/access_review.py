# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Findings for the Windows side of access_review (local admins, users, Remote Desktop), and the
changes a Linux remediation makes (data.changes) with what its rollback needs."""

from __future__ import annotations

import datetime

from ansible_collections.maint.preventive.plugins.module_utils.changes import change
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


EPOCH = datetime.date(1970, 1, 1)


def _day(days):
    """A shadow date (days since 1970-01-01) as YYYY-MM-DD; "never" for None."""
    if days is None or days == "":
        return "never"
    return (EPOCH + datetime.timedelta(days=int(days))).isoformat()


def access_review_expiry(accounts, names):
    """{name: shadow expire day or None} of the accounts a remediation expires: what its
    rollback puts back (None: the account never expired)."""
    by_name = {a.get("name"): a for a in accounts or []}
    return {name: (by_name.get(name) or {}).get("expire") for name in names or []}


def access_review_changes(remediation, accounts=None, skip=(), done=None):
    """data.changes of AR-05: each unapproved key removed from its authorized_keys file (kind
    key) and each stale account expired (kind account, its expiry before and after). ``done``
    (after an apply): {"keys": [fingerprints removed], "accounts": [names expired]} keeps only
    what really changed; None (check mode) lists what would change."""
    if "AR-05" in (skip or ()):
        return []
    remediation = remediation or {}
    expiry = access_review_expiry(accounts, remediation.get("lock_accounts"))
    out = []
    for key in remediation.get("remove_keys") or []:
        if done is not None and key.get("fingerprint") not in (done.get("keys") or []):
            continue
        parts = str(key.get("key") or "").split()
        comment = " ".join(parts[2:]) if len(parts) > 2 else ""
        out.append(
            change(
                "AR-05",
                "key",
                key.get("file"),
                "remove",
                before=(
                    "%s %s %s" % (parts[0] if parts else "", key.get("fingerprint"), comment)
                ).strip(),
                note="unapproved key of %s" % key.get("user"),
            )
        )
    for name in remediation.get("lock_accounts") or []:
        if done is not None and name not in (done.get("accounts") or []):
            continue
        out.append(
            change(
                "AR-05",
                "account",
                name,
                "expire",
                before="expires %s" % _day(expiry.get(name)),
                after="expires 1970-01-02 (expired: no login, keys refused too)",
            )
        )
    return out


def access_review_restore_expiry(before):
    """The ``expires`` value (seconds since the epoch; -1 for never) that puts an account's
    expiry back to the recorded shadow day (None: it never expired)."""
    if before is None or before == "":
        return -1
    return int(before) * 86400


class FilterModule:
    def filters(self):
        return {
            "access_review_windows_findings": access_review_windows_findings,
            "access_review_expiry": access_review_expiry,
            "access_review_changes": access_review_changes,
            "access_review_restore_expiry": access_review_restore_expiry,
        }
