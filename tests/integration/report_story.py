"""A realistic two-month story written into a real action log through ``ActionLog.append``.

October and November 2026 of the window ``monthly-servers`` (Europe/Madrid, second Tuesday
22:00) on web1, web2 and db1, with every preventive task, a plan check run and an approved plan
each month, a failed post-patch check rolled back, a host deferred at the cutoff and one when the
error budget was spent, an emergency change approved afterwards, follow-ups met, missed and
pending, and a skipped workstation window. The tests check the report's numbers against the
instants below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from maintenance_runner.actionlog import ActionLog
from maintenance_runner.core.schedule import Slot

WINDOW = "monthly-servers"
HOSTS = ("db1", "web1", "web2")
TASKS = ("access_review", "antivirus", "backup_verify", "hardening", "patching")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# the instants the tests compute KPIs from
OCT_PLAN_CHECK = at("2026-10-10T09:00")
OCT_RUN = at("2026-10-13T20:05")
NOV_EMERGENCY = at("2026-11-03T15:00")
NOV_PLAN_CHECK = at("2026-11-07T09:00")
NOV_RUN = at("2026-11-10T21:05")
REPORT_AT = at("2026-12-01T09:00")
PATCH_SECONDS = 120.0


@dataclass
class MovingClock:
    instant: datetime

    def now(self) -> datetime:
        return self.instant


def pkg(name: str, current: str, candidate: str, security: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "current": current,
        "candidate": candidate,
        "arch": "amd64",
        "origins": ["Debian-Security" if security else "Debian"],
        "action": "upgrade",
        "security": security,
    }


OPENSSL = pkg("openssl", "3.0.11-1", "3.0.13-1", security=True)
CURL = pkg("curl", "7.88.1-10", "7.88.1-10+deb12u5")
KERNEL = pkg("linux-image-amd64", "6.1.90-1", "6.1.99-1", security=True)
LIBXML = pkg("libxml2", "2.9.14-2", "2.9.14-2+deb12u1", security=True)


def patching_data(pending, applied=(), check=False, reboot=False, down=(), rebooted=False):
    return {
        "manager": "apt",
        "mode": "all",
        "check_mode": check,
        "pending": list(pending),
        "planned": list(pending),
        "applied": [] if check else list(applied),
        "skipped": {},
        "reboot_required": reboot,
        "reboot_packages": ["linux-image-amd64"] if reboot else [],
        "rebooted": rebooted,
        "services_down": list(down),
        "post_checks_failed": [],
    }


def backup_data(age_hours: float, restore_s: float, when: datetime, mismatch: bool = False):
    newest = (when - timedelta(hours=age_hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "check_mode": False,
        "max_age_hours": 26,
        "installed": False,
        "repositories": [
            {
                "name": "restic-main",
                "type": "restic",
                "repository": "sftp:backup@vault:/srv/restic",
                "snapshots": 30,
                "newest": {"id": "a" * 64, "short_id": "aaaaaaaa", "time": newest},
                "recovery_point_age_hours": age_hours,
                "max_age_hours": 26,
                "check": {"ok": True, "kind": "ok", "message": "", "seconds": 3.1},
                "restore": {
                    "files": [{"path": "/srv/data/.maint-canary", "match": not mismatch}],
                    "seconds": restore_s,
                    "mismatches": ["/srv/data/.maint-canary"] if mismatch else [],
                    "missing": [],
                    "error": None,
                    "cleaned": True,
                },
                "error": None,
            }
        ],
    }


def antivirus_data(age_days: float, stale: bool = False):
    return {
        "engine": "clamav",
        "check_mode": False,
        "engine_version": "1.0.7",
        "definitions": {"present": True, "age_days": age_days, "stale": stale},
        "services": {
            "clamd": {"name": "clamav-daemon", "running": True, "required": True},
            "freshclam": {"name": "clamav-freshclam", "running": True, "required": True},
        },
        "update": {"attempted": True, "ok": not stale, "tool": "freshclam"},
        "scan": {"ran": False, "infected": []},
    }


def hardening_data(before: int, after: int, enabled: int = 10, check: bool = False):
    controls = []
    for i in range(enabled):
        if i < before:
            status = "compliant"
        elif i < after:
            status = "noncompliant" if check else "fixed"
        else:
            status = "noncompliant"
        controls.append({"id": f"CTL-{i:02d}", "status": status, "enabled": True})
    good = before if check else after
    return {
        "check_mode": check,
        "controls": controls,
        "noncompliant": [c["id"] for c in controls if c["status"] == "noncompliant"],
        "applied": [c["id"] for c in controls if c["status"] == "fixed"],
        "score": {"compliant": good, "enabled": enabled, "percent": round(100 * good / enabled)},
        "score_before": {
            "compliant": before,
            "enabled": enabled,
            "percent": round(100 * before / enabled),
        },
    }


def finding(fid: str, severity: str, message: str, recommendation: str) -> dict[str, Any]:
    return {
        "finding_id": fid,
        "severity": severity,
        "message": message,
        "recommendation": recommendation,
    }


STALE_ACCOUNT = finding(
    "access_review.stale_account",
    "medium",
    "Account olduser has not logged in for 180 days",
    "Lock the account or confirm it is still needed.",
)
REBOOT = finding(
    "patching.reboot_pending",
    "medium",
    "A reboot is required to finish installing updates",
    "Schedule a reboot inside the next window.",
)
DEFS_STALE = finding(
    "antivirus.definitions_stale",
    "high",
    "Antivirus definitions are 9 days old",
    "Fix the definitions update (freshclam) and check the mirror.",
)
SERVICE_DOWN = finding(
    "patching.service_down",
    "high",
    "postgresql is not running after patching",
    "Investigate the service; the update was rolled back.",
)
RESTORE_MISMATCH = finding(
    "backup_verify.restore_mismatch",
    "high",
    "Restored canary file differs from the source in restic-main",
    "Check the repository with read-data and take a fresh backup.",
)
POST_CHECK_FAILED = finding(
    "post_check.failed",
    "high",
    "post-check failed: db answers",
    "The change is rolled back; find the cause before the next window.",
)
ROLLBACK_NOTE = finding(
    "patching.rolled_back",
    "info",
    "openssl was restored to 3.0.11-1",
    "Nothing to do.",
)
SECURITY_PENDING = finding(
    "patching.security_updates_pending",
    "high",
    "Security updates are pending",
    "Apply them in the next window.",
)


class Story:
    """Writes the story; ``ids`` keeps run ids and finding row ids by name."""

    def __init__(self, url: str) -> None:
        self.clock = MovingClock(at("2026-10-01T00:00"))
        self.log = ActionLog(url, clock=self.clock)
        self.runs: dict[str, int] = {}
        self.finding_rows: dict[tuple[str, str, str], int] = {}

    def close(self) -> None:
        self.log.close()

    def occurrence(
        self,
        start: datetime,
        window: str = WINDOW,
        state: str = "planned",
        reason: str | None = None,
    ) -> int:
        self.clock.instant = start - timedelta(days=5)
        return self.log.record_occurrence(
            Slot(
                window,
                "Europe/Madrid",
                start,
                start + timedelta(hours=4),
                start + timedelta(hours=3, minutes=30),
            ),
            state=state,
            reason=reason,
        )

    def plan(
        self,
        uid: str,
        author: str,
        when: datetime,
        occurrence_id: int | None,
        hosts: dict[str, list[dict[str, Any]]],
    ) -> None:
        self.clock.instant = when
        content = {
            "window": WINDOW,
            "tasks": list(TASKS),
            "hosts": {
                host: {
                    "tasks": {
                        "patching": {
                            "status": "changed",
                            "changes": [],
                            "items": [
                                f"package {p['name']} {p['current']} -> {p['candidate']} (upgrade)"
                                for p in pkgs
                            ],
                        }
                    },
                    "findings": [],
                }
                for host, pkgs in hosts.items()
            },
            "inventory": {"hash": "0" * 64},
            "content": {"hash": "c" * 64},
        }
        raw = {
            "format": "maint-plan/1",
            "id": uid,
            "plan": content,
            "author": {"principal": author, "signed_at": when.isoformat(), "signature": "x"},
        }
        self.log.append(
            "plans",
            [
                {
                    "plan_uid": uid,
                    "occurrence_id": occurrence_id,
                    "window": WINDOW,
                    "content_hash": "c" * 64,
                    "created_by": author,
                    "summary": raw,
                }
            ],
        )
        self.decide(uid, author, "author", when)

    def decide(
        self, uid: str, who: str, decision: str, when: datetime, comment: str | None = None
    ) -> None:
        self.clock.instant = when
        signature = json.dumps({"signed_at": when.isoformat(), "signature": "-----SIG-----"})
        self.log.append(
            "approvals",
            [
                {
                    "plan_uid": uid,
                    "approver": who,
                    "decision": decision,
                    "signature": signature,
                    "comment": comment,
                }
            ],
        )

    def run(
        self,
        name: str,
        mode: str,
        when: datetime,
        occurrence_id: int | None,
        plan_uid: str | None,
        actor: str = "maint-runner",
    ) -> int:
        self.clock.instant = when
        rid = self.log.start_run(
            WINDOW,
            mode=mode,
            run_uid=name,
            occurrence_id=occurrence_id,
            plan_uid=plan_uid,
            actor=actor,
        )
        self.runs[name] = rid
        return rid

    def result(
        self,
        rid: int,
        host: str,
        task: str,
        status: str,
        when: datetime,
        data: dict[str, Any] | None = None,
        findings=(),
        seconds: float = 30.0,
        message: str | None = None,
        rollback: dict[str, Any] | None = None,
    ) -> None:
        self.clock.instant = when + timedelta(seconds=seconds)
        self.log.add_results(
            rid,
            [
                {
                    "host": host,
                    "task": task,
                    "status": status,
                    "changed": status == "changed",
                    "started_at": when,
                    "duration_s": seconds,
                    "message": message,
                    "diff_summary": None,
                }
            ],
        )
        if data is not None:
            self.log.append(
                "result_details",
                [{"host": host, "task": task, "data": data, "rollback": rollback or {}}],
                {"run_id": rid},
            )
        if findings:
            ids = self.log.append(
                "findings",
                [{"host": host, "task": task, **f} for f in findings],
                {"run_id": rid},
            )
            for f, row_id in zip(findings, ids, strict=True):
                self.finding_rows[(host, f["finding_id"], self._name(rid))] = row_id

    def _name(self, rid: int) -> str:
        return next(n for n, i in self.runs.items() if i == rid)

    def defer(self, rid: int, host: str, task: str | None, reason: str, when: datetime) -> None:
        self.clock.instant = when
        self.log.append(
            "run_events",
            [
                {
                    "host": host,
                    "task": task,
                    "event": "deferred",
                    "changed": False,
                    "message": reason,
                }
            ],
            {"run_id": rid},
        )

    def followup(
        self,
        finding_row: int,
        priority: str,
        title: str,
        created: datetime,
        due: datetime,
        responses: list[tuple[str, datetime]],
    ) -> int:
        self.clock.instant = created
        (fid,) = self.log.append(
            "followups",
            [
                {
                    "finding_id": finding_row,
                    "priority": priority,
                    "title": title,
                    "status": "open",
                    "due_at": due,
                    "assignee": None,
                }
            ],
        )
        for action, when in responses:
            self.clock.instant = when
            self.log.append(
                "followup_events",
                [{"followup_id": fid, "action": action, "actor": "ops", "note": None}],
            )
        return fid


def write_story(url: str) -> Story:
    """Write October and November into the action log at ``url``."""
    s = Story(url)
    log = s.log
    # --- October ---------------------------------------------------------------------------
    oct_occ = s.occurrence(at("2026-10-13T20:00"))
    nov_occ = s.occurrence(at("2026-11-10T21:00"))
    s.occurrence(
        at("2026-11-11T17:00"),
        window="monthly-workstations",
        state="skipped",
        reason="blackout madrid-holidays: Día de la Almudena (2026-11-09)",
    )

    check = s.run("plan-2026-10", "check", OCT_PLAN_CHECK, oct_occ, None, actor="alice")
    for host in HOSTS:
        pending = [OPENSSL, CURL] if host == "web1" else [OPENSSL]
        s.result(
            check,
            host,
            "patching",
            "changed",
            OCT_PLAN_CHECK,
            patching_data(pending, check=True),
            [SECURITY_PENDING],
        )
    log.finish_run(check, "done")
    s.plan(
        "P-OCT-" + "1" * 58,
        "alice",
        at("2026-10-10T10:00"),
        oct_occ,
        {h: ([OPENSSL, CURL] if h == "web1" else [OPENSSL]) for h in HOSTS},
    )
    s.decide("P-OCT-" + "1" * 58, "bob", "approve", at("2026-10-11T08:30"), "ok for Tuesday")
    log.set_occurrence_state(oct_occ, "approved", actor="bob")

    run = s.run("run-2026-10", "apply", OCT_RUN, oct_occ, "P-OCT-" + "1" * 58)
    log.set_occurrence_state(oct_occ, "running")
    t = OCT_RUN
    # web1: everything fine, a stale account found
    s.result(run, "web1", "access_review", "ok", t, {"phase": "before"}, [STALE_ACCOUNT])
    s.result(run, "web1", "backup_verify", "ok", t, backup_data(5.0, 2.5, t))
    s.result(run, "web1", "antivirus", "ok", t, antivirus_data(0.5))
    s.result(
        run,
        "web1",
        "patching",
        "changed",
        t,
        patching_data([OPENSSL, CURL], [OPENSSL, CURL]),
        seconds=PATCH_SECONDS,
    )
    s.result(run, "web1", "hardening", "changed", t, hardening_data(7, 9))
    # web2: reboot pending, stale definitions
    s.result(run, "web2", "access_review", "ok", t, {"phase": "before"})
    s.result(run, "web2", "backup_verify", "ok", t, backup_data(6.0, 3.5, t))
    s.result(run, "web2", "antivirus", "ok", t, antivirus_data(9.0, stale=True), [DEFS_STALE])
    s.result(
        run,
        "web2",
        "patching",
        "changed",
        t,
        patching_data([OPENSSL], [OPENSSL], reboot=True),
        [REBOOT],
        seconds=PATCH_SECONDS,
    )
    s.result(run, "web2", "hardening", "ok", t, hardening_data(9, 9))
    # db1: patching broke postgresql and was rolled back; restore mismatch; hardening deferred
    s.result(run, "db1", "access_review", "ok", t, {"phase": "before"})
    s.result(
        run,
        "db1",
        "backup_verify",
        "ok",
        t,
        backup_data(30.0, 12.0, t, mismatch=True),
        [RESTORE_MISMATCH],
    )
    s.result(run, "db1", "antivirus", "ok", t, antivirus_data(0.4))
    s.result(
        run,
        "db1",
        "patching",
        "failed",
        t,
        patching_data([OPENSSL], [OPENSSL], down=["postgresql"]),
        [SERVICE_DOWN],
        seconds=PATCH_SECONDS,
        message="post-patch check failed: postgresql down",
        rollback={"manifest_path": "/var/lib/maint/patching/manifest-1.json"},
    )
    # the window's post-check commands after the batch: db1's database check fails
    for host in HOSTS:
        checks = ["web answers", "db answers"] if host == "db1" else ["web answers"]
        bad = ["db answers"] if host == "db1" else []
        s.result(
            run,
            host,
            "post_check",
            "failed" if bad else "ok",
            t + timedelta(minutes=3),
            {"checks": checks, "failed": bad},
            [POST_CHECK_FAILED] if bad else (),
            seconds=2.0,
        )
    # the automatic rollback runs the role's rollback in the same run (data.action: rollback)
    s.result(
        run,
        "db1",
        "patching",
        "ok",
        t + timedelta(minutes=6),
        {"action": "rollback", "restored": ["openssl"]},
        [ROLLBACK_NOTE],
        seconds=40.0,
    )
    s.clock.instant = t + timedelta(minutes=10)
    log.append(
        "rollbacks",
        [
            {
                "host": "db1",
                "task": "patching",
                "status": "ok",
                "message": "openssl 3.0.11-1 restored",
                "data": {"packages": 1},
            }
        ],
        {"run_id": run},
    )
    # the run's own record of the host (its summary line counts these): db1 rolled back
    log.append(
        "run_events",
        [
            {
                "host": "db1",
                "task": None,
                "event": "rolled_back",
                "changed": False,
                "message": "post-check failed: db answers; patching: rolled back and verified",
            }
        ],
        {"run_id": run},
    )
    s.defer(
        run,
        "db1",
        "hardening",
        "cutoff reached (23:30 Europe/Madrid)",
        t + timedelta(hours=3, minutes=30),
    )
    log.finish_run(run, "done")
    log.set_occurrence_state(oct_occ, "done")

    # October follow-ups: definitions met, service down missed
    s.followup(
        s.finding_rows[("web2", "antivirus.definitions_stale", "run-2026-10")],
        "P1",
        "web2: antivirus definitions stale",
        at("2026-10-13T21:00"),
        at("2026-10-14T11:00"),
        [("ack", at("2026-10-14T09:30")), ("close", at("2026-10-20T12:00"))],
    )
    s.followup(
        s.finding_rows[("db1", "patching.service_down", "run-2026-10")],
        "P1",
        "db1: postgresql down after patching",
        at("2026-10-13T21:00"),
        at("2026-10-14T11:00"),
        [("ack", at("2026-10-15T10:00"))],
    )

    # --- November: an emergency change first -------------------------------------------------
    emerg = "P-EMERG-" + "2" * 56
    s.plan(emerg, "carol", NOV_EMERGENCY - timedelta(minutes=30), None, {"web1": [LIBXML]})
    s.decide(emerg, "carol", "emergency", NOV_EMERGENCY, "CVE-2026-0001 exploited in the wild")
    erun = s.run("run-2026-11-emergency", "apply", NOV_EMERGENCY, None, emerg, actor="carol")
    s.result(
        erun,
        "web1",
        "patching",
        "changed",
        NOV_EMERGENCY + timedelta(minutes=1),
        patching_data([LIBXML], [LIBXML]),
        seconds=PATCH_SECONDS,
    )
    s.clock.instant = NOV_EMERGENCY + timedelta(minutes=2)
    log.append(
        "run_events",
        [
            {
                "host": "web2",
                "task": None,
                "event": "runner_on_unreachable",
                "changed": False,
                "message": "Failed to connect to the host via ssh",
            }
        ],
        {"run_id": erun},
    )
    log.finish_run(erun, "failed", "1 host unreachable")
    s.decide(emerg, "bob", "approve", at("2026-11-04T10:00"), "retrospective approval")

    check = s.run("plan-2026-11", "check", NOV_PLAN_CHECK, nov_occ, None, actor="alice")
    nov_pending = {"web1": [KERNEL], "web2": [KERNEL], "db1": [OPENSSL]}
    for host in HOSTS:
        s.result(
            check,
            host,
            "patching",
            "changed",
            NOV_PLAN_CHECK,
            patching_data(nov_pending[host], check=True),
            [SECURITY_PENDING],
        )
        s.result(check, host, "access_review", "ok", NOV_PLAN_CHECK, {"phase": "before"})
    log.finish_run(check, "done")
    nov_plan = "P-NOV-" + "3" * 58
    s.plan(nov_plan, "alice", at("2026-11-07T10:00"), nov_occ, nov_pending)
    s.decide(nov_plan, "dave", "approve", at("2026-11-08T16:00"))
    log.set_occurrence_state(nov_occ, "approved", actor="dave")

    run = s.run("run-2026-11", "apply", NOV_RUN, nov_occ, nov_plan)
    t = NOV_RUN
    s.result(run, "web1", "access_review", "ok", t, {"phase": "before"})  # stale account closed
    s.result(run, "web1", "backup_verify", "ok", t, backup_data(4.0, 2.0, t))
    s.result(run, "web1", "antivirus", "ok", t, antivirus_data(0.2))
    s.result(
        run,
        "web1",
        "patching",
        "changed",
        t,
        patching_data([KERNEL], [KERNEL], reboot=True),
        [REBOOT],
        seconds=PATCH_SECONDS,
    )
    s.result(run, "web1", "hardening", "ok", t, hardening_data(9, 9))
    s.result(run, "web2", "access_review", "ok", t, {"phase": "before"})
    s.result(run, "web2", "backup_verify", "ok", t, backup_data(3.0, 2.2, t))
    s.result(run, "web2", "antivirus", "ok", t, antivirus_data(0.3))  # stale closed
    s.result(
        run,
        "web2",
        "patching",
        "changed",
        t,
        patching_data([KERNEL], [KERNEL], rebooted=True),
        seconds=PATCH_SECONDS,
    )
    s.result(run, "web2", "hardening", "ok", t, hardening_data(9, 9))
    s.result(run, "db1", "backup_verify", "ok", t, backup_data(8.0, 11.0, t))  # mismatch closed
    s.result(run, "db1", "antivirus", "skipped", t, None, message="clamav not installed here")
    s.result(
        run,
        "db1",
        "patching",
        "changed",
        t + timedelta(minutes=5),
        patching_data([OPENSSL], [OPENSSL]),
        seconds=PATCH_SECONDS,
    )
    s.result(run, "db1", "hardening", "changed", t, hardening_data(6, 8))
    s.defer(
        run,
        "db1",
        "access_review",
        "error budget spent (1 of 3 hosts failed)",
        t + timedelta(hours=1),
    )
    log.finish_run(run, "done")
    log.set_occurrence_state(nov_occ, "done")

    # November follow-ups: reboot pending missed (no response), a fresh one pending
    s.followup(
        s.finding_rows[("web1", "patching.reboot_pending", "run-2026-11")],
        "P2",
        "web1: reboot pending",
        at("2026-11-10T22:00"),
        at("2026-11-12T09:00"),
        [],
    )
    s.followup(
        s.finding_rows[("web1", "patching.reboot_pending", "run-2026-11")],
        "P2",
        "web1: reboot still pending (reminder)",
        at("2026-11-30T16:00"),
        at("2026-12-02T09:00"),
        [],
    )
    s.clock.instant = REPORT_AT
    return s
