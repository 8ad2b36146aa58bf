"""The access_review role's data: who can administer the host."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from maintenance_runner.core.roledata.values import flag, mappings


@dataclass(frozen=True)
class AdminAccount:
    name: str
    via: tuple[str, ...]  # uid 0, group <name>, Administrators, admin group, sudo ALL
    nopasswd: bool = False


@dataclass(frozen=True)
class AccessReviewData:
    admins: tuple[AdminAccount, ...]  # sorted by name


def admin_accounts(data: Mapping[str, Any]) -> list[AdminAccount]:
    """Who can administer the host: UID 0 accounts, admin group members, sudo rules for ALL."""
    via: dict[str, list[str]] = {}
    nopasswd: set[str] = set()

    def add(name: str, how: str) -> None:
        if name and how not in via.setdefault(name, []):
            via[name].append(how)

    for account in mappings(data.get("accounts")):
        if account.get("uid") == 0 and "name" in account:
            add(str(account["name"]), "uid 0")
    members = data.get("admin_members")
    if isinstance(members, Mapping):
        for group, names in members.items():
            for name in names or ():
                add(str(name), f"group {group}")
    elif isinstance(members, list):  # Windows: local Administrators [{name, class, source}]
        for member in members:
            name = member.get("name") if isinstance(member, Mapping) else member
            add(str(name or ""), "Administrators")
    for name in data.get("admin_accounts") or ():
        if str(name) not in via:
            add(str(name), "admin group")
    for rule in mappings(data.get("sudo_rules")):
        if not flag(rule.get("all_commands")):
            continue
        for principal in rule.get("principals") or ():
            principal = str(principal)
            if principal.startswith(("%", "+")) or principal == "ALL":
                continue  # groups are covered by admin_members; netgroups are not accounts
            add(principal, "sudo ALL")
            if flag(rule.get("nopasswd_all")) or flag(rule.get("nopasswd")):
                nopasswd.add(principal)
    return [AdminAccount(name, tuple(how), name in nopasswd) for name, how in sorted(via.items())]


def read_access_review(data: Mapping[str, Any]) -> AccessReviewData:
    return AccessReviewData(admins=tuple(admin_accounts(data)))
