"""CVE exposure (pure): a host's packages as a dpkg status text for debsecan, debsecan's
``--format detail`` read back, and what each exposure means for a plan.

debsecan (Debian's own tool) matches installed packages against the security tracker's feed;
the runner gives it each host's packages (read over SSH by ``playbooks/packages.yml``), so the
judgment happens on the control node and nothing is installed on the hosts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

URGENCY_SEVERITY = {"high": "high", "medium": "medium", "low": "low", "": "medium"}
_HEAD = re.compile(r"^(?P<cve>\S+)(?: \((?P<notes>[^)]*)\))?$")
_INSTALLED = re.compile(r"^installed: (?P<name>\S+) (?P<version>\S+)$")
_BUILT = re.compile(r"^\(built from (?P<name>\S+) (?P<version>\S+)\)$")
_FIXED = re.compile(r"^fixed in unstable: (?P<name>\S+) (?P<version>\S+) \(")


@dataclass(frozen=True)
class Exposure:
    """One vulnerability of one installed package on a host."""

    cve: str
    package: str  # the installed binary package
    installed: str  # its version
    source: str
    fixed: str | None  # the version that fixes it in the host's suite, None when none yet
    urgency: str  # high, medium, low, or "" (not yet assigned)
    remote: bool
    description: str = ""

    @property
    def subject(self) -> str:
        """How the action log names it for a host: ``CVE-2026-1234 openssl``."""
        return f"{self.cve} {self.package}"

    @property
    def severity(self) -> str:
        return URGENCY_SEVERITY.get(self.urgency, "medium")


def status_text(packages: Iterable[Sequence[str]]) -> str:
    """A dpkg status file listing ``packages`` ([name, version, source, source version, arch])."""
    stanzas = []
    for name, version, source, source_version, arch in packages:
        source_line = f"Source: {source} ({source_version})\n" if source != name else ""
        stanzas.append(
            f"Package: {name}\nStatus: install ok installed\n{source_line}"
            f"Version: {version}\nArchitecture: {arch or 'all'}\n"
        )
    return "\n".join(stanzas) + "\n"


def parse_detail(text: str) -> list[Exposure]:
    """debsecan's ``--format detail`` output as exposures (one per CVE and binary package)."""
    found = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.rstrip() for line in block.splitlines() if line.strip()]
        head = _HEAD.match(lines[0]) if lines else None
        if head is None or not head.group("cve").startswith(("CVE-", "TEMP-", "DSA-", "DLA-")):
            continue
        notes = [n.strip() for n in (head.group("notes") or "").split(",") if n.strip()]
        urgency = next((n.split()[0] for n in notes if n.endswith(" urgency")), "")
        values: dict[str, str] = {}
        description = lines[1].strip() if len(lines) > 1 else ""
        for line in lines[1:]:
            body = line.strip()
            for pattern, prefix in ((_INSTALLED, "bin"), (_BUILT, "src"), (_FIXED, "fix")):
                match = pattern.match(body)
                if match:
                    values[f"{prefix}_name"] = match.group("name")
                    values[f"{prefix}_version"] = match.group("version")
        if "bin_name" not in values:
            continue
        found.append(
            Exposure(
                cve=head.group("cve"),
                package=values["bin_name"],
                installed=values["bin_version"],
                source=values.get("src_name", values["bin_name"]),
                fixed=values.get("fix_version") if "fixed" in notes else None,
                urgency=urgency,
                remote="remotely exploitable" in notes,
                description=description,
            )
        )
    return found


def plan_status(exposure: Exposure, pending: Mapping[str, Mapping[str, object]]) -> str:
    """Where the fix stands for this host's plan: ``no fix yet``, ``fix in the plan``, or why
    the update that fixes it waits (held, too new...), or ``fix available, not pending``.

    ``pending``: the patching result's pending updates by package name (with ``decision`` and
    ``reason`` when a patch baseline decided).
    """
    if exposure.fixed is None:
        return "no fix yet"
    update = pending.get(exposure.package)
    if update is None:
        return f"fix available ({exposure.fixed}), not pending on this host"
    if update.get("decision", "in") == "out":
        return f"fix {exposure.fixed} waits: {update.get('reason') or 'left out by the baseline'}"
    return f"fix {exposure.fixed} is in the plan"
