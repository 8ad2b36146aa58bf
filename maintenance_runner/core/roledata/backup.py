"""The backup_verify role's data: restic and borg repositories, or Veeam jobs (Windows).

The verdicts the report and the audit share are here, so both say the same of one backup:

- a repository's **check** passed when ``check.ok`` is true;
- its **test restore** is *clean* when it ran without an error, a mismatched or a missing file,
  and *proved* when, besides, it restored at least one file;
- a **Veeam job**'s last session produced a backup when it ended ``Success`` or ``Warning``.
  Veeam ends a session with ``Warning`` when the restore point was written but something
  deserves a look (a file skipped, a retention or space warning): the restore point exists
  and can be restored, so it is a backup. The warning is not lost: the role raises the finding
  ``backup_verify.job_warning`` for it. ``Failed`` (or no session at all) is no backup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from maintenance_runner.core.roledata.values import count, flag, mapping, mappings, number, strings

VEEAM_BACKUP_RESULTS = frozenset({"Success", "Warning"})


@dataclass(frozen=True)
class RestoreTest:
    files: int  # files restored and compared
    seconds: float | None  # the measured restore time
    mismatches: tuple[str, ...]
    missing: tuple[str, ...]
    error: str | None

    @property
    def clean(self) -> bool:
        """No error, no restored file that differs, no expected file missing."""
        return not self.error and not self.mismatches and not self.missing

    @property
    def proved(self) -> bool:
        """Clean, and at least one file was restored."""
        return self.clean and self.files > 0


@dataclass(frozen=True)
class Repository:
    name: str
    kind: str | None  # restic borg
    snapshots: int | None
    newest: str | None  # when the newest snapshot was taken
    age_hours: float | None  # the recovery point: hours since the newest snapshot
    max_age_hours: float | None  # the repository's target, else the role's
    check_ok: bool | None  # None: no check ran
    restore: RestoreTest | None  # None: no test restore ran
    error: str | None  # the repository could not be read
    tool_missing: bool

    @property
    def within_target(self) -> bool | None:
        """The recovery point is within the target; an empty repository is not."""
        if self.age_hours is not None and self.max_age_hours is not None:
            return self.age_hours <= self.max_age_hours
        return False if self.snapshots == 0 else None

    @property
    def verified(self) -> bool:
        """The repository opened, holds snapshots, its check passed and its test restore
        (when one ran) was clean."""
        if self.error or self.tool_missing or not self.snapshots or self.check_ok is not True:
            return False
        return self.restore is None or self.restore.clean


@dataclass(frozen=True)
class VeeamJob:
    name: str
    result: str | None  # the last session's result: Success Warning Failed None
    end_time: str | None  # when the last session ended
    newest_point: str | None  # when the newest restore point was made
    age_hours: float | None  # hours since the newest restore point

    @property
    def succeeded(self) -> bool | None:
        """The last session produced a backup (see the module's docstring); None when the role
        gave no result."""
        if self.result is None:
            return None
        return self.result in VEEAM_BACKUP_RESULTS


@dataclass(frozen=True)
class BackupData:
    max_age_hours: float | None
    repositories: tuple[Repository, ...]
    veeam_jobs: tuple[VeeamJob, ...] | None  # None: not a Veeam host

    @property
    def configured(self) -> bool:
        return bool(self.repositories or self.veeam_jobs)


def _restore(raw: Mapping[str, Any]) -> RestoreTest | None:
    if not raw:
        return None
    files = raw.get("files")
    return RestoreTest(
        files=len(files) if isinstance(files, list) else 0,
        seconds=number(raw.get("seconds")),
        mismatches=strings(raw.get("mismatches")),
        missing=strings(raw.get("missing")),
        error=str(raw["error"]) if raw.get("error") else None,
    )


def _repository(raw: Mapping[str, Any], max_age_hours: float | None) -> Repository:
    check = mapping(raw.get("check"))
    limit = number(raw.get("max_age_hours"))
    return Repository(
        name=str(raw.get("name") or raw.get("repository") or "?"),
        kind=str(raw["type"]) if raw.get("type") else None,
        snapshots=count(raw.get("snapshots")),
        newest=_optional(mapping(raw.get("newest")).get("time")),
        age_hours=number(raw.get("recovery_point_age_hours")),
        max_age_hours=limit if limit is not None else max_age_hours,
        check_ok=flag(check["ok"]) if "ok" in check else None,
        restore=_restore(mapping(raw.get("restore"))),
        error=str(raw["error"]) if raw.get("error") else None,
        tool_missing=flag(raw.get("tool_missing")),
    )


def _veeam_job(raw: Mapping[str, Any]) -> VeeamJob:
    return VeeamJob(
        name=str(raw.get("name") or "?"),
        result=str(raw["result"]) if raw.get("result") else None,
        end_time=_optional(raw.get("end_time")),
        newest_point=_optional(raw.get("newest_point")),
        age_hours=number(raw.get("age_hours")),
    )


def _optional(value: Any) -> str | None:
    return str(value) if value else None


def read_backup(data: Mapping[str, Any]) -> BackupData:
    max_age = number(data.get("max_age_hours"))
    jobs = data.get("veeam_jobs") if "veeam_jobs" in data else None
    return BackupData(
        max_age_hours=max_age,
        repositories=tuple(_repository(r, max_age) for r in mappings(data.get("repositories"))),
        veeam_jobs=tuple(_veeam_job(j) for j in mappings(jobs)) if "veeam_jobs" in data else None,
    )
