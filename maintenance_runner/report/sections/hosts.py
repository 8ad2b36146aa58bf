"""The "Hosts and tasks" section: per host and task the outcome, rollback and checks; totals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from maintenance_runner.actionlog.report_rows import FindingRow
from maintenance_runner.core.roledata import (
    read_antivirus,
    read_backup,
    read_hardening,
    read_patching,
)
from maintenance_runner.report.model import HostTask, Totals
from maintenance_runner.report.sections.basis import Basis, Pair
from maintenance_runner.report.sections.common import DONE, FAILED
from maintenance_runner.report.sections.roles import STALE_FINDING, backup_repos


class _Checks:
    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failed: list[str] = []

    def __call__(self, name: str, ok: bool | None) -> None:
        if ok is not None:
            (self.passed if ok else self.failed).append(name)


def definitions_stale(data: Mapping[str, Any], findings: Sequence[FindingRow]) -> bool | None:
    """The role's verdict, else the definitions' age against the role's threshold
    (``core/roledata/antivirus.py``), else whether the role raised its finding
    ``antivirus.definitions_stale`` (Defender data from a role that published no threshold)."""
    stale = read_antivirus(data).definitions_stale
    if stale is None and any(f.finding_id == STALE_FINDING for f in findings):
        return True
    return stale


def _antivirus(data: Mapping[str, Any], findings: Sequence[FindingRow], check: _Checks) -> None:
    av = read_antivirus(data)
    if av.definitions:
        stale = definitions_stale(data, findings)
        check("definitions fresh", av.definitions_present and not stale)
    for svc in av.services:
        if svc.required:
            check(f"service {svc.name} running", svc.running)
    if av.update and av.update_attempted and av.update_ok is not None:
        check("definitions update", av.update_ok)
    if av.scan_ran:
        check("scan clean", av.scan_clean)


def checks_of(
    task: str, status: str, data: Mapping[str, Any], findings: Sequence[FindingRow]
) -> tuple[list[str], list[str]]:
    """(passed, failed) check names of one host and task, from the role's ``maint_result.data``.

    hardening: one check per enabled control; backup_verify: recovery point, repository check
    and test restore per repository (Veeam: restore point and last session per job);
    antivirus: definitions fresh (Defender: its age against the role's threshold), each
    required service running, the update when one was attempted, scan clean;
    patching: post-patch services and commands; post_check (the window's post-check commands):
    one per command. Any other task (access_review): each finding
    above info is a failed check, none is one passed check.
    """
    check = _Checks()
    hardening = read_hardening(data) if task == "hardening" else None
    if hardening is not None and hardening.listed:
        check.passed += hardening.passed
        check.failed += hardening.failed
    elif task == "backup_verify" and (data.get("repositories") or data.get("veeam_jobs")):
        for repo in backup_repos("", read_backup(data)):
            check(f"{repo.name}: recovery point", repo.within_target)
            check(f"{repo.name}: repository check", repo.check_ok)
            check(f"{repo.name}: test restore", repo.restore_ok)
    elif task == "antivirus" and data:
        _antivirus(data, findings, check)
    elif task == "post_check" and isinstance(data.get("checks"), list):
        bad = {str(n) for n in data.get("failed") or []}
        for name in data["checks"]:
            check(f"post-check {name}", str(name) not in bad)
    elif task == "patching" and data and not (patching := read_patching(data)).check_mode:
        check("post-patch services", not patching.services_down)
        check("post-patch commands", not patching.post_checks_failed)
    else:
        raised = sorted({f.finding_id for f in findings if f.severity != "info"})
        if raised:
            check.failed.extend(raised)
        elif status in DONE:
            check.passed.append(f"{task} review")
    if status in FAILED and not check.failed:
        check.failed.append(f"{task} {status}")
    return check.passed, check.failed


def rolled_back(b: Basis) -> dict[Pair, str]:
    """(host, task) -> ok or failed: the deciding result's change was rolled back (a
    ``rollbacks`` row against its run), or a rollback run in scope rolled the task back."""
    rolled: dict[Pair, str] = {}
    for (host, task), r in b.deciding.items():
        state = b.undone.get((r.run_id, host, task))
        if state is not None:
            rolled[(host, task)] = state
    for r in b.scope_results:
        run = b.runs.get(r.run_id)
        if run is not None and run.mode == "rollback":
            rolled[(r.host, r.task)] = "ok" if r.status in DONE else "failed"
    return rolled


def host_tasks(b: Basis) -> tuple[HostTask, ...]:
    """One row per host and task: its deciding result, or deferred (unreachable) without one."""
    rolled = rolled_back(b)
    rows: list[HostTask] = []
    for (host, task), r in sorted(b.deciding.items()):
        run = b.runs.get(r.run_id)
        found = b.found_by(r)
        passed, failed = checks_of(task, r.status, b.data_of(r) or {}, found)
        rows.append(
            HostTask(
                host=host,
                task=task,
                outcome=r.status,
                changed=r.changed or r.status == "changed",
                rolled_back=rolled.get((host, task)),
                checks_passed=len(passed),
                checks_failed=len(failed),
                failed_checks=tuple(failed),
                findings=len(found),
                duration_s=r.duration_s,
                message=r.message,
                run_uid=run.run_uid if run else None,
                mode=run.mode if run else None,
            )
        )
    for host, task in sorted(b.scope_deferred - set(b.deciding)):
        outcome = "deferred" if (host, task) in b.scope_deferred_only else "unreachable"
        rows.append(
            HostTask(
                host,
                task,
                outcome,
                False,
                rolled.get((host, task)),
                0,
                0,
                (),
                0,
                0.0,
                None,
                None,
                None,
            )
        )
    return tuple(sorted(rows, key=lambda h: (h.host, h.task)))


def rolled_back_hosts(b: Basis, rows: Sequence[HostTask]) -> dict[str, str]:
    """host -> ok or failed: the hosts a run in scope rolled back (its ``rolled_back`` and
    ``rollback_failed`` events, which its summary line counts, also for a host that had nothing
    to undo), and the hosts of host tasks rolled back; failed wins."""
    hosts = dict(b.hosts_rolled_back)
    for h in rows:
        if h.rolled_back and hosts.get(h.host) != "failed":
            hosts[h.host] = h.rolled_back
    return hosts


def totals(rows: Sequence[HostTask], rolled_hosts: Mapping[str, str] | None = None) -> Totals:
    outcomes = [h.outcome for h in rows]
    return Totals(
        host_tasks=len(rows),
        hosts=len({h.host for h in rows}),
        done=sum(1 for h in rows if h.outcome in DONE and h.rolled_back is None),
        changed=sum(1 for h in rows if h.changed),
        failed=sum(1 for o in outcomes if o in FAILED),
        skipped=sum(1 for o in outcomes if o == "skipped"),
        deferred=sum(1 for o in outcomes if o == "deferred"),
        rolled_back=sum(1 for h in rows if h.rolled_back),
        checks_passed=sum(h.checks_passed for h in rows),
        checks_failed=sum(h.checks_failed for h in rows),
        hosts_rolled_back=len(rolled_hosts or {h.host: "" for h in rows if h.rolled_back}),
    )
