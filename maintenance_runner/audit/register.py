"""The asset register (pure): one row per host from its facts and the roles' results.

Facts and role data are read with the shared readers (``core/roledata``), the ones the
maintenance report reads the same role data with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from maintenance_runner.core.results import SEVERITIES, Finding, TaskResult
from maintenance_runner.core.roledata import (
    AdminAccount,
    AntivirusData,
    Disk,
    HostFacts,
    read_access_review,
    read_antivirus,
    read_backup,
    read_facts,
    read_hardening,
    read_patching,
)
from maintenance_runner.core.roledata.antivirus import UPDATE_DISABLED
from maintenance_runner.core.roledata.backup import problems_text


@dataclass(frozen=True)
class AssetRow:
    host: str
    reachable: bool
    reason: str = ""
    os: str | None = None
    os_family: str | None = None
    kernel: str | None = None
    architecture: str | None = None
    cpu_model: str | None = None
    cpu_sockets: int | None = None
    cpu_cores: int | None = None
    cpu_threads: int | None = None
    memory_mb: int | None = None
    swap_mb: int | None = None
    disks: tuple[Disk, ...] = ()
    uptime_days: float | None = None
    address: str | None = None
    virtualization: str | None = None
    pending_updates: int | None = None
    security_updates: int | None = None
    reboot_required: bool | None = None
    antivirus: str | None = None
    av_definitions_age_days: float | None = None
    last_good_backup: str | None = None
    backup_age_hours: float | None = None
    backup_state: str | None = None
    hardening_score: float | None = None
    hardening_noncompliant: int | None = None
    admin_accounts: tuple[AdminAccount, ...] = ()
    tasks: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    findings: Mapping[str, int] = field(default_factory=dict)

    @property
    def disk_max_used_pct(self) -> float | None:
        return max((d.used_pct for d in self.disks), default=None)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["disks"] = [asdict(d) for d in self.disks]
        out["admin_accounts"] = [asdict(a) for a in self.admin_accounts]
        out["disk_max_used_pct"] = self.disk_max_used_pct
        return out


def facts_fields(facts: HostFacts) -> dict[str, Any]:
    return {
        "os": facts.os,
        "os_family": facts.os_family,
        "kernel": facts.kernel,
        "architecture": facts.architecture,
        "cpu_model": facts.cpu_model,
        "cpu_sockets": facts.cpu_sockets,
        "cpu_cores": facts.cpu_cores,
        "cpu_threads": facts.cpu_threads,
        "memory_mb": facts.memory_mb,
        "swap_mb": facts.swap_mb,
        "disks": facts.disks,
        "uptime_days": facts.uptime_days,
        "address": facts.address,
        "virtualization": facts.virtualization,
    }


# --- what each role's maint_result.data says --------------------------------------------------


def patching_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """Pending updates (all, security) and the reboot state: apt/dnf ``pending`` or Windows."""
    patching = read_patching(data)
    if patching.windows:
        return {
            "pending_updates": patching.found,
            "security_updates": sum(1 for u in patching.updates if u.security),
            "reboot_required": patching.reboot_required,
        }
    if patching.pending is None:
        return {}
    return {
        "pending_updates": len(patching.pending),
        "security_updates": sum(1 for p in patching.pending if p.security),
        "reboot_required": patching.reboot_required,
    }


def antivirus_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """A one-line antivirus state and the definitions age in days; the state ends with
    "definitions updates disabled" when the role was told not to update them (the audit
    runs in check mode, where no update is attempted anyway)."""
    av = read_antivirus(data)
    fields = _antivirus_state(av)
    if av.update_state == UPDATE_DISABLED and fields.get("antivirus"):
        fields["antivirus"] += ", definitions updates disabled"
    return fields


def _antivirus_state(av: AntivirusData) -> dict[str, Any]:
    age = av.definitions_age_days
    if av.defender:
        defender = av.service("defender")
        if av.engine_version is None:
            state = "Microsoft Defender: status unavailable"
        else:
            realtime = "on" if defender and defender.realtime else "OFF"
            running = "running" if defender and defender.running else "service NOT running"
            state = (
                f"Microsoft Defender {av.engine_version}, {running}, "
                f"real-time protection {realtime}"
            )
        return {"antivirus": state, "av_definitions_age_days": age}
    if not av.engine_installed:
        return {"antivirus": "not installed (ClamAV)", "av_definitions_age_days": None}
    clamd, freshclam = av.service("clamd"), av.service("freshclam")
    parts = [f"ClamAV {av.engine_version or '(version unknown)'}"]
    parts.append("daemon running" if clamd and clamd.running else "daemon NOT running")
    parts.append("updater running" if freshclam and freshclam.running else "updater NOT running")
    if not (av.definitions and av.definitions_present):
        parts.append("NO official definitions")
    return {"antivirus": ", ".join(parts), "av_definitions_age_days": age}


def backup_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The host's backups, with the verdicts the report's checks use (core/roledata/backup.py).

    ``backup_state`` is ``verified`` when every repository is (its check passed, a test restore
    restored files and matched, its recovery point is within the target), else what keeps each
    from it (``stale: restic-main``). The last good backup is the oldest "newest snapshot"
    across the repositories that a test restore proved, however old (a host's recovery point
    is as old as its weakest repository's); Veeam: the oldest last session among the jobs whose
    last session produced a backup."""
    backup = read_backup(data)
    if backup.veeam_jobs is not None:
        if not backup.veeam_jobs:
            return {"backup_state": "no Veeam job found", "last_good_backup": None}
        items = [(j.name, j.problems) for j in backup.veeam_jobs]
        good = [j for j in backup.veeam_jobs if j.succeeded]
        times = [j.end_time for j in good if j.end_time]
        ages = [j.age_hours for j in good]
    else:
        if not backup.repositories:
            return {"backup_state": "not configured", "last_good_backup": None}
        items = [(r.name, r.problems) for r in backup.repositories]
        restorable = [r for r in backup.repositories if r.restorable]
        times = [r.newest for r in restorable if r.newest]
        ages = [r.age_hours for r in restorable]
    bad = [(name, found) for name, found in items if found]
    return {
        "backup_state": problems_text(bad) if bad else "verified",
        "last_good_backup": min(times) if times else None,
        "backup_age_hours": max((a for a in ages if a is not None), default=None),
    }


def hardening_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The hardening score as found (percent of enabled controls compliant)."""
    hardening = read_hardening(data)
    count = len(hardening.noncompliant) if hardening.noncompliant is not None else None
    score = hardening.percent_before
    if score is None:
        score = hardening.percent
    if score is None:
        return {"hardening_noncompliant": count}
    return {"hardening_score": score, "hardening_noncompliant": count}


def _role_fields(result: TaskResult) -> dict[str, Any]:
    data = result.data
    if result.task == "patching":
        return patching_fields(data)
    if result.task == "antivirus":
        return antivirus_fields(data)
    if result.task == "backup_verify":
        return backup_fields(data)
    if result.task == "hardening":
        return hardening_fields(data)
    if result.task == "access_review":
        return {"admin_accounts": read_access_review(data).admins}
    return {}


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Findings per severity, most severe first."""
    counts = dict.fromkeys(reversed(SEVERITIES), 0)
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return counts


def asset_row(
    host: str,
    facts: Mapping[str, Any] | None,
    results: Sequence[TaskResult],
    tasks: Sequence[str],
    reason: str = "",
    findings: Sequence[Finding] = (),
) -> AssetRow:
    """One register row. ``findings`` are every finding of the host (roles' and the audit's)."""
    if facts is None:
        return AssetRow(
            host=host,
            reachable=False,
            reason=reason or "no facts were gathered",
            tasks=dict.fromkeys(tasks, "not run"),
            findings=severity_counts(findings),
        )
    fields: dict[str, Any] = facts_fields(read_facts(facts))
    statuses = dict.fromkeys(tasks, "not run")
    errors: dict[str, str] = {}
    for result in results:
        statuses[result.task] = result.status
        if result.error:
            errors[result.task] = result.error
        fields.update(_role_fields(result))
    return AssetRow(
        host=host,
        reachable=True,
        reason=reason,
        tasks=statuses,
        errors=errors,
        findings=severity_counts(findings),
        **fields,
    )
