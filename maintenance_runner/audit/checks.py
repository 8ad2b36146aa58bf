"""What the audit itself notices about a host, besides the roles' findings (task ``audit``):
unreachable hosts, roles that could not finish, full disks, operating systems past or near
their end of security support, long uptimes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from maintenance_runner.audit.events import AUDIT_TASK, first_line
from maintenance_runner.core.results import Finding, TaskResult
from maintenance_runner.core.roledata import HostFacts, read_facts

DISK_FULL_PCT = 90.0
DISK_FILLING_PCT = 80.0
LONG_UPTIME_DAYS = 180
EOL_SOON_DAYS = 365


@dataclass(frozen=True)
class Lifecycle:
    """End of free security support for one OS release (``distribution`` matches
    ``ansible_distribution`` exactly on Linux, or is a substring of the Windows product name)."""

    distribution: str
    version: str
    end: date


OS_LIFECYCLE: tuple[Lifecycle, ...] = (
    Lifecycle("Debian", "9", date(2022, 6, 30)),
    Lifecycle("Debian", "10", date(2024, 6, 30)),
    Lifecycle("Debian", "11", date(2026, 8, 31)),
    Lifecycle("Debian", "12", date(2028, 6, 30)),
    Lifecycle("Debian", "13", date(2030, 6, 30)),
    Lifecycle("Ubuntu", "18.04", date(2023, 5, 31)),
    Lifecycle("Ubuntu", "20.04", date(2025, 5, 31)),
    Lifecycle("Ubuntu", "22.04", date(2027, 4, 30)),
    Lifecycle("Ubuntu", "24.04", date(2029, 4, 30)),
    Lifecycle("CentOS", "7", date(2024, 6, 30)),
    Lifecycle("CentOS", "8", date(2021, 12, 31)),
    Lifecycle("RedHat", "7", date(2024, 6, 30)),
    Lifecycle("RedHat", "8", date(2029, 5, 31)),
    Lifecycle("RedHat", "9", date(2032, 5, 31)),
    Lifecycle("Rocky", "8", date(2029, 5, 31)),
    Lifecycle("Rocky", "9", date(2032, 5, 31)),
    Lifecycle("AlmaLinux", "8", date(2029, 3, 1)),
    Lifecycle("AlmaLinux", "9", date(2032, 5, 31)),
    Lifecycle("Windows Server 2008", "", date(2020, 1, 14)),
    Lifecycle("Windows Server 2012", "", date(2023, 10, 10)),
    Lifecycle("Windows Server 2016", "", date(2027, 1, 12)),
    Lifecycle("Windows Server 2019", "", date(2029, 1, 9)),
    Lifecycle("Windows Server 2022", "", date(2031, 10, 14)),
    Lifecycle("Windows 7", "", date(2020, 1, 14)),
    Lifecycle("Windows 10", "", date(2025, 10, 14)),
)


def os_end_of_support(
    facts: HostFacts, table: Sequence[Lifecycle] = OS_LIFECYCLE
) -> Lifecycle | None:
    """The lifecycle entry of the host's OS release, or None when the table does not know it."""
    for entry in table:
        if not entry.version:
            if entry.distribution in facts.product:
                return entry
            continue
        if entry.distribution != facts.distribution:
            continue
        version = facts.version
        if entry.version in (version, facts.major_version) or version.startswith(
            entry.version + "."
        ):
            return entry
    return None


def _audit_finding(fid: str, severity: str, message: str, recommendation: str) -> Finding:
    return Finding(f"{AUDIT_TASK}.{fid}", severity, message, recommendation)


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB"


def audit_findings(
    host: str,
    facts: Mapping[str, Any] | None,
    results: Sequence[TaskResult],
    reason: str,
    today: date,
    lifecycle: Sequence[Lifecycle] = OS_LIFECYCLE,
) -> list[Finding]:
    """What the audit itself notices about one host, besides the roles' findings."""
    if facts is None:
        return [
            _audit_finding(
                "unreachable",
                "high",
                f"{host} could not be audited ({reason or 'no facts were gathered'})",
                "Give the maintenance account SSH (or WinRM) access with sudo, check the "
                "inventory address and port, then audit the host again.",
            )
        ]
    known = read_facts(facts)
    out: list[Finding] = []
    for result in results:
        if result.status == "failed" and not result.findings:
            out.append(
                _audit_finding(
                    "task_failed",
                    "medium",
                    f"The {result.task} check could not finish on {host}: "
                    f"{first_line(result.error, 200) or 'no message'}",
                    f"Fix the cause so the {result.task} check can run; until then this part "
                    "of the host is unknown.",
                )
            )
    for disk in known.disks:
        size = _gib(disk.size_bytes)
        if disk.used_pct >= DISK_FULL_PCT:
            out.append(
                _audit_finding(
                    "disk_full",
                    "high",
                    f"{disk.mount} on {host} is {disk.used_pct:.0f}% full ({size})",
                    "Free space or extend the volume now: a full disk stops databases, logs "
                    "and updates.",
                )
            )
        elif disk.used_pct >= DISK_FILLING_PCT:
            out.append(
                _audit_finding(
                    "disk_filling",
                    "medium",
                    f"{disk.mount} on {host} is {disk.used_pct:.0f}% full ({size})",
                    "Plan more space or a clean-up before it fills up.",
                )
            )
    entry = os_end_of_support(known, lifecycle)
    label = known.os or "the operating system"
    if entry is not None and entry.end < today:
        out.append(
            _audit_finding(
                "os_end_of_life",
                "high",
                f"{label} on {host} has had no security support since {entry.end.isoformat()}",
                "Plan an upgrade or replacement of the host: no update will fix new "
                "vulnerabilities in this release.",
            )
        )
    elif entry is not None and entry.end <= today + timedelta(days=EOL_SOON_DAYS):
        out.append(
            _audit_finding(
                "os_eol_soon",
                "medium",
                f"{label} on {host} loses security support on {entry.end.isoformat()}",
                "Plan the upgrade now, before the end of support.",
            )
        )
    uptime = known.uptime_seconds
    if uptime is not None and uptime >= LONG_UPTIME_DAYS * 86400:
        out.append(
            _audit_finding(
                "long_uptime",
                "low",
                f"{host} has run {uptime / 86400:.0f} days without a restart: kernel and library "
                "updates installed since then are not in effect",
                "Restart the host in a maintenance window.",
            )
        )
    return out
