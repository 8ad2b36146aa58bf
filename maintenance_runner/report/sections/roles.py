"""The role sections: updates and reboots, backups, antivirus definitions, hardening score.

Each reads a role's data with the shared reader (``core/roledata``), the one the onboarding
audit reads it with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from maintenance_runner.actionlog.report_rows import RunRow
from maintenance_runner.core.roledata import (
    AntivirusData,
    BackupData,
    HardeningData,
    PatchingData,
    read_antivirus,
    read_backup,
    read_hardening,
    read_patching,
)
from maintenance_runner.report.model import AntivirusHost, BackupRepo, HardeningHost, PatchHost
from maintenance_runner.report.sections.basis import Basis

STALE_FINDING = "antivirus.definitions_stale"  # the role's finding for stale definitions


def patch_host(host: str, run: RunRow | None, data: PatchingData) -> PatchHost:
    check_only = data.check_mode or (run is not None and run.mode == "check")
    applied = data.applied_names
    shown = [f"{p.name} {p.version}" if p.version else p.name for p in data.applied if p.name]
    if not shown and data.updates_listed and not check_only:
        # Windows: KB -> update; installed is a count
        shown = sorted(u.id for u in data.updates)[: data.installed or 0]
    if data.pending is not None:
        pending = [p for p in data.pending if p.name not in applied]
        still, security = len(pending), sum(1 for p in pending if p.security)
    else:
        still, security = (data.found or 0) - (data.installed or 0), 0
    return PatchHost(
        host=host,
        manager=data.manager,
        check_only=check_only,
        applied=tuple(shown),
        still_pending=still,
        security_pending=security,
        reboot_required=data.reboot_required,
        rebooted=data.rebooted,
    )


def backup_repos(host: str, data: BackupData) -> list[BackupRepo]:
    """One row per repository (restic, borg) and per Veeam job."""
    rows = []
    for repo in data.repositories:
        rows.append(
            BackupRepo(
                host=host,
                name=repo.name,
                kind=repo.kind,
                snapshots=repo.snapshots,
                newest=repo.newest,
                recovery_point_age_hours=repo.age_hours,
                max_age_hours=repo.max_age_hours,
                within_target=repo.within_target,
                check_ok=repo.check_ok,
                restore_seconds=repo.restore.seconds if repo.restore else None,
                restore_ok=repo.restore.proved if repo.restore else None,
                error=repo.error or (repo.restore.error if repo.restore else None),
            )
        )
    for job in data.veeam_jobs or ():
        rows.append(
            BackupRepo(
                host=host,
                name=job.name,
                kind="veeam",
                snapshots=None,
                newest=job.newest_point,
                recovery_point_age_hours=job.age_hours,
                max_age_hours=job.max_age_hours,
                within_target=job.within_target,
                check_ok=job.succeeded,
                restore_seconds=None,
                restore_ok=None,
                error=None,
            )
        )
    return rows


def antivirus_host(host: str, data: AntivirusData, stale: bool | None = None) -> AntivirusHost:
    """``stale``: the verdict when the data alone has none (``hosts.definitions_stale``)."""
    return AntivirusHost(
        host=host,
        engine=data.engine,
        engine_version=data.engine_version,
        definitions_age_days=data.definitions_age_days,
        stale=data.definitions_stale if data.definitions_stale is not None else stale,
        update_ok=data.update_ok,
        infected=data.infected,
        update=data.update_state,
    )


def hardening_host(host: str, data: HardeningData) -> HardeningHost:
    return HardeningHost(
        host=host,
        percent=data.percent,
        percent_before=data.percent_before,
        compliant=data.score.compliant if data.score else None,
        enabled=data.score.enabled if data.score else None,
        noncompliant=len(data.failed),
        fixed=data.fixed,
    )


@dataclass(frozen=True)
class RoleSections:
    patching: tuple[PatchHost, ...]
    backups: tuple[BackupRepo, ...]
    antivirus: tuple[AntivirusHost, ...]
    hardening: tuple[HardeningHost, ...]


def role_sections(b: Basis) -> RoleSections:
    """The role sections from the deciding results' data (a rollback's data is left out)."""
    patching, backups, antivirus, hardening = [], [], [], []
    for (host, task), r in sorted(b.deciding.items()):
        data: Mapping[str, Any] | None = b.data_of(r)
        if not data or data.get("action") == "rollback":
            continue
        if task == "patching":
            patching.append(patch_host(host, b.runs.get(r.run_id), read_patching(data)))
        elif task == "backup_verify":
            backups.extend(backup_repos(host, read_backup(data)))
        elif task == "antivirus":
            stale = any(f.finding_id == STALE_FINDING for f in b.found_by(r)) or None
            antivirus.append(antivirus_host(host, read_antivirus(data), stale))
        elif task == "hardening":
            hardening.append(hardening_host(host, read_hardening(data)))
    return RoleSections(tuple(patching), tuple(backups), tuple(antivirus), tuple(hardening))
