# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Parsing of ``apt-get -s`` (simulate) output: pure functions, unit-tested on real samples.

A simulation line looks like::

    Inst perl [5.36.0-7+deb12u3] (5.36.0-7+deb12u4 Debian-Security:12/oldstable-security [amd64]) []
    Inst newdep (1.2 Debian:12.5/stable [amd64])

that is: name, the installed version in brackets (absent for a new package), then the candidate
version, one or more comma-separated origins (``Label:Version/Archive``) and the architecture.
"""

from __future__ import annotations

import fnmatch
import re

from ansible_collections.maint.preventive.plugins.module_utils.changes import change

INST_RE = re.compile(
    r"^Inst (?P<name>\S+)"
    r"(?: \[(?P<current>[^\]]+)\])?"
    r" \((?P<candidate>\S+) (?P<origins>.*?) \[(?P<arch>[^\]]+)\]\)"
)
REMV_RE = re.compile(r"^(?P<verb>Remv|Purg) (?P<name>\S+)(?: \[(?P<current>[^\]]+)\])?")

DEFAULT_SECURITY_PATTERNS = ("*-security", "Debian-Security*", "*security*")


def parse_simulation(text):
    """Return the packages an ``apt-get -s`` run would install, upgrade or remove."""
    packages = []
    seen = set()
    for line in text.splitlines():
        match = INST_RE.match(line)
        if match:
            name = match.group("name")
            if name in seen:
                continue
            seen.add(name)
            origins = [o.strip() for o in match.group("origins").split(",") if o.strip()]
            packages.append(
                {
                    "name": name,
                    "current": match.group("current"),
                    "candidate": match.group("candidate"),
                    "arch": match.group("arch"),
                    "origins": origins,
                    "action": "upgrade" if match.group("current") else "install",
                }
            )
            continue
        match = REMV_RE.match(line)
        if match and match.group("name") not in seen:
            seen.add(match.group("name"))
            packages.append(
                {
                    "name": match.group("name"),
                    "current": match.group("current"),
                    "candidate": None,
                    "arch": None,
                    "origins": [],
                    "action": "purge" if match.group("verb") == "Purg" else "remove",
                }
            )
    return packages


def is_security(package, patterns=DEFAULT_SECURITY_PATTERNS):
    """True when any origin of the candidate is a security archive or label."""
    for origin in package.get("origins") or []:
        parts = re.split(r"[:/]", origin)
        for part in [origin, *parts]:
            if any(fnmatch.fnmatchcase(part, p) for p in patterns):
                return True
    return False


def _matches(name, patterns):
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def select_updates(pending, allow=(), deny=(), held=(), security_only=False, patterns=None):
    """Choose the upgrades to apply and say why each other one was left out.

    Returns ``(selected, skipped)``: ``selected`` are the pending upgrades to apply,
    ``skipped`` maps a package name to the reason it is not applied.
    """
    patterns = tuple(patterns or DEFAULT_SECURITY_PATTERNS)
    selected, skipped = [], {}
    for pkg in pending:
        name = pkg["name"]
        if pkg.get("action") != "upgrade":
            continue
        if name in held:
            skipped[name] = "held"
        elif deny and _matches(name, deny):
            skipped[name] = "deny list"
        elif allow and not _matches(name, allow):
            skipped[name] = "not in allow list"
        elif security_only and not is_security(pkg, patterns):
            skipped[name] = "not a security update"
        else:
            selected.append(pkg)
    return selected, skipped


def deb_version_filename(version):
    """The version as it appears in a .deb file name (epoch colon escaped as %3a)."""
    return version.replace(":", "%3a")


def describe(package):
    """``name version`` of a simulated package (the candidate, else the installed version)."""
    return "%s %s" % (package["name"], package.get("candidate") or package.get("current") or "")


def install_plan(transaction, name):
    """What installing ``name`` does, from the simulation of installing it alone: its
    ``version``, whether it is an ``upgrade``, the other packages it ``pulls`` (new installs and
    upgrades, ``name version``) and what it ``removes``."""
    own = next((p for p in transaction if p["name"] == name), None)
    return {
        "name": name,
        "version": own.get("candidate") if own else None,
        "current": own.get("current") if own else None,
        "action": own.get("action") if own else None,
        "pulls": [
            describe(p)
            for p in transaction
            if p["name"] != name and p["action"] in ("install", "upgrade")
        ],
        "removes": [describe(p) for p in transaction if p["action"] in ("remove", "purge")],
    }


def update_changes(control, transaction, chosen, pulls=None, failed=(), would_fail=None):
    """The data.changes entries of applying updates: one per chosen update in the transaction
    (versions before and after, and every other package it pulls: ``pulls`` is
    {update: ["name version"]}), one per package the transaction removes, one per package it
    pulls that no update's simulation explains, and one per chosen update apt cannot install
    (``failed`` packages, ``would_fail``: {name: reason})."""
    pulls = pulls or {}
    would_fail = would_fail or {}
    explained = {p.split()[0] for names in pulls.values() for p in names}
    out = []
    for pkg in transaction or []:
        name = pkg["name"]
        if name in chosen and pkg["action"] in ("install", "upgrade"):
            out.append(
                change(
                    control,
                    "package",
                    name,
                    pkg["action"],
                    before=pkg.get("current"),
                    after=pkg.get("candidate"),
                    pulls=pulls.get(name) or [],
                )
            )
        elif pkg["action"] in ("remove", "purge"):
            out.append(
                change(
                    control,
                    "package",
                    name,
                    "remove",
                    before=pkg.get("current"),
                    note="apt removes it to apply the updates",
                )
            )
        elif name not in explained:
            out.append(
                change(
                    control,
                    "package",
                    name,
                    pkg["action"],
                    before=pkg.get("current"),
                    after=pkg.get("candidate"),
                    note="pulled in by the updates",
                )
            )
    for pkg in failed or []:
        out.append(
            change(
                control,
                "package",
                pkg["name"],
                "upgrade" if pkg.get("current") else "install",
                before=pkg.get("current"),
                after=pkg.get("candidate"),
                would_fail=would_fail.get(pkg["name"]) or "apt cannot install it",
            )
        )
    return out
