"""The backup_verify role's data: restic and borg repositories, or Veeam jobs (Windows).

The verdicts the report and the audit share are here, so both say the same of one backup:

- a repository's **check** passed when ``check.ok`` is true;
- its **test restore** is *clean* when it ran without an error, a mismatched or a missing file,
  and *proved* when, besides, it restored at least one file;
- its **recovery point** is *within target* when the newest snapshot is no older than the
  repository's ``max_age_hours`` (else the role's);
- a repository is **verified** when it opened, holds snapshots, its check passed, its test
  restore proved and its recovery point is within target: the three checks the report counts.
  Otherwise :attr:`Repository.problems` names what is missing (``stale``: restorable but older
  than the target);
- a **Veeam job**'s last session produced a backup when it ended ``Success`` or ``Warning``.
  Veeam ends a session with ``Warning`` when the restore point was written but something
  deserves a look (a file skipped, a retention or space warning): the restore point exists
  and can be restored, so it is a backup. The warning is not lost: the role raises the finding
  ``backup_verify.job_warning`` for it. ``Failed`` (or no session at all) is no backup. The
  role makes no test restore of a Veeam job, so a Veeam job is never *verified*: at best its
  problem is ``no test restore``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from maintenance_runner.core.roledata.values import count, flag, mapping, mappings, number, strings

VEEAM_BACKUP_RESULTS = frozenset({"Success", "Warning"})

# What keeps a backup from being verified, most serious first (the order they are listed in).
PROBLEMS = (
    "unreadable",  # the repository could not be opened, or its tool is missing
    "no snapshot",
    "no session",  # Veeam: the job never ran
    "last session failed",  # Veeam
    "no restore point",  # Veeam
    "check failed",
    "restore failed",  # the test restore failed, or restored files that differ or are missing
    "stale",  # the recovery point is older than the target
    "age unknown",  # no recovery point age, or no target
    "not checked",
    "nothing restored",  # the test restore restored no file: it proves nothing
    "no test restore",
)


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
    def problems(self) -> tuple[str, ...]:
        """What keeps this repository from being verified (see :data:`PROBLEMS`); empty when
        it is verified."""
        if self.error or self.tool_missing:
            return ("unreadable",)
        if not self.snapshots:
            return ("no snapshot",)
        found = []
        if self.check_ok is False:
            found.append("check failed")
        if self.restore is not None and not self.restore.clean:
            found.append("restore failed")
        if self.within_target is False:
            found.append("stale")
        elif self.within_target is None:
            found.append("age unknown")
        if self.check_ok is None:
            found.append("not checked")
        if self.restore is None:
            found.append("no test restore")
        elif self.restore.clean and not self.restore.proved:
            found.append("nothing restored")
        return tuple(found)

    @property
    def restorable(self) -> bool:
        """It opened, holds snapshots, its check passed and a test restore proved it, however
        old its newest snapshot is: its recovery point is a good one."""
        return not (set(self.problems) - {"stale", "age unknown"})

    @property
    def verified(self) -> bool:
        """Restorable, and the recovery point is within the target."""
        return not self.problems


@dataclass(frozen=True)
class VeeamJob:
    name: str
    result: str | None  # the last session's result: Success Warning Failed None
    end_time: str | None  # when the last session ended
    newest_point: str | None  # when the newest restore point was made
    age_hours: float | None  # hours since the newest restore point
    max_age_hours: float | None = None  # the role's recovery point target

    @property
    def succeeded(self) -> bool | None:
        """The last session produced a backup (see the module's docstring); None when the role
        gave no result."""
        if self.result is None:
            return None
        return self.result in VEEAM_BACKUP_RESULTS

    @property
    def within_target(self) -> bool | None:
        if self.age_hours is None or self.max_age_hours is None:
            return None
        return self.age_hours <= self.max_age_hours

    @property
    def problems(self) -> tuple[str, ...]:
        """What keeps this job's backup from being verified (see :data:`PROBLEMS`): never
        empty, since the role makes no test restore of a Veeam job."""
        found = []
        if self.succeeded is None:
            found.append("no session")
        elif not self.succeeded:
            found.append("last session failed")
        if self.age_hours is None:
            found.append("no restore point")
        elif self.within_target is False:
            found.append("stale")
        elif self.within_target is None:
            found.append("age unknown")
        found.append("no test restore")
        return tuple(found)


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


def _veeam_job(raw: Mapping[str, Any], max_age_hours: float | None) -> VeeamJob:
    return VeeamJob(
        name=str(raw.get("name") or "?"),
        result=str(raw["result"]) if raw.get("result") else None,
        end_time=_optional(raw.get("end_time")),
        newest_point=_optional(raw.get("newest_point")),
        age_hours=number(raw.get("age_hours")),
        max_age_hours=max_age_hours,
    )


def _optional(value: Any) -> str | None:
    return str(value) if value else None


def problems_text(items: Sequence[tuple[str, Sequence[str]]]) -> str:
    """``stale: etc, db; no test restore: FS01`` from (name, problems) pairs: each problem
    once, in the order of :data:`PROBLEMS`, with the repositories or jobs it concerns."""
    parts = []
    for problem in PROBLEMS:
        names = [name for name, found in items if problem in found]
        if names:
            parts.append(f"{problem}: {', '.join(names)}")
    return "; ".join(parts)


def read_backup(data: Mapping[str, Any]) -> BackupData:
    max_age = number(data.get("max_age_hours"))
    jobs = data.get("veeam_jobs") if "veeam_jobs" in data else None
    return BackupData(
        max_age_hours=max_age,
        repositories=tuple(_repository(r, max_age) for r in mappings(data.get("repositories"))),
        veeam_jobs=tuple(_veeam_job(j, max_age) for j in mappings(jobs))
        if "veeam_jobs" in data
        else None,
    )
