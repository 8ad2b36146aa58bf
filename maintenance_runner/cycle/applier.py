"""``maint apply``'s work once the gate let it through: batches, post-checks, rollback, the log.

Tasks run in the plan's order on the plan's hosts, a batch at a time. No batch starts at or
after the occurrence's cutoff or once the error budget is spent; those hosts are recorded as
deferred with the reason. After each batch the post-checks run; every host whose task or
post-check failed is rolled back from the rollback record its tasks published, and the rollback's
own verification is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maintenance_runner.actionlog.plans import record_events, record_results, record_rollback
from maintenance_runner.actionlog.store import ActionLog, RunId
from maintenance_runner.ansible.execution import RunOutcome, check_stop, run_playbook
from maintenance_runner.ansible.recorder import EventRecorder, timing
from maintenance_runner.config.models import parse_amount
from maintenance_runner.core.batching import batches, budget, budget_spent
from maintenance_runner.core.clock import Clock
from maintenance_runner.core.plan import Plan, collect_changes
from maintenance_runner.core.results import TaskResult

ROLLBACK_VARS: dict[str, tuple[str, str]] = {
    # task -> (role variable naming the record, key of the published rollback record)
    "patching": ("patching_rollback_manifest", "manifest_path"),
    "hardening": ("hardening_rollback_manifest", "manifest_path"),
    "access_review": ("access_review_rollback_manifest", "manifest_path"),
    "antivirus": ("antivirus_rollback_backup", "freshclam_conf_backup"),
}


def rollback_vars(task: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """Extra variables that point a role's rollback at what it recorded on the host."""
    name, key = ROLLBACK_VARS.get(task, ("", ""))
    if name and record.get(key):
        return {name: record[key]}
    return {}


def would_fail_policy(
    plan: Plan, hosts: Sequence[str]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(host -> controls to leave out, host -> why the whole host is left out), from the plan's
    would-fail predictions and its window's ``on_would_fail`` (``skip_control`` by default)."""
    policy = str(plan.content.settings.get("on_would_fail") or "skip_control")
    controls: dict[str, list[str]] = {}
    whole: dict[str, str] = {}
    for host in hosts:
        entry = plan.content.hosts.get(host)
        failing = entry.would_fail() if entry is not None else {}
        if not failing:
            continue
        names = sorted({c.control for changes in failing.values() for c in changes})
        if policy == "skip_host":
            first = next(c for changes in failing.values() for c in changes)
            whole[host] = (
                f"the plan predicts {', '.join(names)} would fail ({first.would_fail}); "
                "the window leaves such hosts out (on_would_fail: skip_host)"
            )
        else:
            controls[host] = names
    return controls, whole


@dataclass
class HostOutcome:
    host: str
    status: str = "pending"  # done failed rolled_back rollback_failed deferred unreachable
    reason: str = ""


@dataclass
class ApplySummary:
    run_id: int
    run_uid: str
    hosts: dict[str, HostOutcome] = field(default_factory=dict)
    state: str = "done"

    def count(self, status: str) -> int:
        return sum(1 for h in self.hosts.values() if h.status == status)

    @property
    def nothing_ran(self) -> bool:
        """Every host was deferred before its batch: like a refusal, nothing touched a host."""
        return bool(self.hosts) and all(h.status == "deferred" for h in self.hosts.values())

    @property
    def ok(self) -> bool:
        return all(h.status == "done" for h in self.hosts.values())

    def line(self) -> str:
        parts = [
            f"{self.count(s)} {s.replace('_', ' ')}"
            for s in ("done", "failed", "rolled_back", "rollback_failed", "deferred", "unreachable")
            if self.count(s)
        ]
        return f"run {self.run_uid}: {self.state}; " + ", ".join(parts)


Progress = Callable[[str, Mapping[str, Any]], None]


def _noop(_kind: str, _info: Mapping[str, Any]) -> None:
    return None


@dataclass
class Applier:
    """Runs one recorded run: a plan's batches (``apply``) or a finished run's undo."""

    log: ActionLog
    clock: Clock
    run: RunId
    inventory: Path
    targets: str = "all"
    progress: Progress = _noop
    recorder_interval: float = 0.25
    extra: Mapping[str, Any] = field(default_factory=dict)  # every preventive run gets these

    @property
    def run_id(self) -> int:
        return int(self.run)

    def _run(
        self, playbook: str, hosts: Sequence[str], extra: Mapping[str, Any], on_event: Any
    ) -> RunOutcome:
        return run_playbook(
            playbook,
            self.inventory,
            extravars={"maint_targets": self.targets, "maint_run_id": self.run.uid, **extra},
            limit=",".join(hosts),
            diff=True,
            on_event=on_event,
            run_uid=self.run.uid,
        )

    def _recorded_run(
        self, playbook: str, hosts: Sequence[str], extra: Mapping[str, Any]
    ) -> RunOutcome:
        recorder = EventRecorder(
            lambda rows: record_events(self.log, self.run_id, rows), self.recorder_interval
        )

        def on_event(event: Mapping[str, Any]) -> None:
            recorder(event)
            data = event.get("event_data") or {}
            if event.get("event") == "playbook_on_task_start":
                self.progress("task", {"task": str(data.get("task") or "")})
            elif event.get("event") in (
                "runner_on_ok",
                "runner_on_failed",
                "runner_on_unreachable",
            ):
                self.progress("event", {"host": data.get("host"), "event": event.get("event")})

        try:
            outcome = self._run(playbook, hosts, extra, on_event)
        finally:
            recorder.close()
        summaries: dict[tuple[str, str], list[str]] = {}
        for change in collect_changes(outcome.events):
            text = change.name + (f" [{change.diff}]" if change.diff else "")
            summaries.setdefault((change.host, change.task), []).append(text)
        record_results(
            self.log,
            self.run_id,
            outcome.results,
            timing(outcome.events),
            self.clock.now(),
            {key: "; ".join(parts)[:2000] for key, parts in summaries.items()},
        )
        return outcome

    def _event(self, kind: str, hosts: str | Sequence[str] | None, message: str) -> None:
        """One event of ``kind`` for a host (or each of several, or none: the run itself)."""
        names = [hosts] if hosts is None or isinstance(hosts, str) else list(hosts)
        record_events(
            self.log,
            self.run_id,
            [
                {
                    "host": host,
                    "task": None,
                    "event": kind,
                    "name": None,
                    "changed": False,
                    "message": message,
                }
                for host in names
            ],
        )

    def rollback_host(
        self, host: str, results: Sequence[TaskResult], of_run: int | None = None
    ) -> tuple[bool, str]:
        """Roll back every task that recorded something to undo on ``host``, newest first.

        The rollback is recorded against ``of_run``, the run whose change it undoes (this run
        when it rolls back its own batch).
        """
        done: list[str] = []
        ok = True
        for result in reversed([r for r in results if r.host == host and r.rollback]):
            extra = {"maint_tasks": [result.task], **rollback_vars(result.task, result.rollback)}
            self.progress("task", {"task": f"rollback {result.task} on {host}"})
            outcome = self._recorded_run("rollback", [host], extra)
            mine = [r for r in outcome.results if r.host == host and r.task == result.task]
            good = outcome.rc == 0 and bool(mine) and all(r.status != "failed" for r in mine)
            message = (
                "rolled back and verified"
                if good
                else (
                    "; ".join(r.error for r in mine if r.error) or f"rollback run {outcome.status}"
                )
            )
            record_rollback(
                self.log,
                of_run or self.run_id,
                host,
                result.task,
                "ok" if good else "failed",
                message,
                {"record": dict(result.rollback), "result": mine[0].data if mine else {}},
            )
            done.append(f"{result.task}: {message}")
            ok = ok and good
        return ok, "; ".join(done) or "nothing to roll back"

    def apply(self, plan: Plan, hosts: Sequence[str], *, emergency: bool = False) -> ApplySummary:
        """Apply ``plan`` to ``hosts`` in its batches; an emergency is not held by the cutoff."""
        content = plan.content
        summary = ApplySummary(self.run_id, self.run.uid, {h: HostOutcome(h) for h in hosts})
        size, percent = parse_amount(content.batch)
        fail_value, fail_percent = parse_amount(content.max_fail)
        allowed = budget(fail_value, fail_percent, len(hosts))
        cutoff = content.occurrence.cutoff if content.occurrence else None
        post_checks = [dict(c) for c in content.post_checks]
        tasks = list(content.tasks)
        skip_controls, skip_hosts = would_fail_policy(plan, hosts)
        for host, why in sorted(skip_hosts.items()):
            summary.hosts[host] = HostOutcome(host, "deferred", why)
            self._event("deferred", host, why)
        for host, controls in sorted(skip_controls.items()):
            self._event(
                "note", host, "left out, the plan predicts they would fail: " + ", ".join(controls)
            )
        hosts = [h for h in hosts if h not in skip_hosts]
        groups = batches(list(hosts), size, percent)
        failed = 0
        for number, batch in enumerate(groups, start=1):
            check_stop()  # SIGTERM between batches: stop here, recorded as interrupted
            now = self.clock.now()
            why = None
            if cutoff is not None and now >= cutoff and not emergency:
                why = f"past the cutoff ({cutoff:%Y-%m-%d %H:%M}Z)"
            elif budget_spent(failed, allowed):
                why = f"error budget spent ({failed} failed, {allowed} allowed)"
            if why:
                for host in batch:
                    summary.hosts[host] = HostOutcome(host, "deferred", why)
                    self._event("deferred", host, why)
                summary.state = "stopped"
                continue
            self.progress("batch", {"number": number, "of": len(groups), "hosts": batch})
            self._event("batch_start", None, f"batch {number}/{len(groups)}: {', '.join(batch)}")
            self._event("host_start", batch, f"batch {number}/{len(groups)}")
            skips = {h: skip_controls[h] for h in batch if h in skip_controls}
            extra = {
                **self.extra,
                "maint_tasks": tasks,
                **({"maint_skip_controls": skips} if skips else {}),
            }
            outcome = self._recorded_run("preventive", batch, extra)
            broken: dict[str, str] = {}
            for r in outcome.results:
                if r.status == "failed":
                    broken.setdefault(r.host, f"{r.task} failed: {r.error}")
            unreachable = {
                str((e.get("event_data") or {}).get("host"))
                for e in outcome.events
                if e.get("event") == "runner_on_unreachable"
            }
            ran = {r.host for r in outcome.results}
            for host in batch:
                if host not in ran and host not in unreachable:
                    broken.setdefault(host, f"no result from the run ({outcome.status})")
            checkable = [h for h in batch if h not in broken and h not in unreachable]
            if post_checks and checkable:
                self.progress("task", {"task": "post-checks"})
                checked = self._recorded_run(
                    "postcheck", checkable, {"maint_post_checks": post_checks}
                )
                for r in checked.results:
                    names = ", ".join(str(n) for n in r.data.get("failed") or [])
                    if r.status == "failed" or names:
                        broken.setdefault(
                            r.host, f"post-check failed: {names}" if names else r.error
                        )
            for host in batch:
                if host in unreachable:
                    summary.hosts[host] = HostOutcome(host, "unreachable", "unreachable")
                    failed += 1
                elif host in broken:
                    failed += 1
                    ok, message = self.rollback_host(host, outcome.results)
                    status = "rolled_back" if ok else "rollback_failed"
                    summary.hosts[host] = HostOutcome(host, status, f"{broken[host]}; {message}")
                    self._event(status, host, summary.hosts[host].reason)
                else:
                    summary.hosts[host] = HostOutcome(host, "done")
                self._event("host_done", host, summary.hosts[host].status)
                self.progress("host_done", {"host": host, "status": summary.hosts[host].status})
        if summary.nothing_ran:
            summary.state = "deferred"
        elif summary.state != "stopped":
            summary.state = "done" if summary.ok else "failed"
        return summary
