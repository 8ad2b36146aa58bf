"""The onboarding audit recorded in a real action log (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from maintenance_runner.actionlog import ActionLog
from maintenance_runner.actionlog import models as m
from maintenance_runner.audit import model as am
from maintenance_runner.audit.events import gathered_facts, unreachable_hosts
from maintenance_runner.core.clock import FixedClock
from maintenance_runner.core.results import collect_results
from maintenance_runner.cycle.audit import record_audit

SAMPLE = Path(__file__).parent.parent / "unit" / "samples" / "audit" / "lab-check-run.json"
TASKS = ("access_review", "antivirus", "backup_verify", "hardening", "patching")
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_the_audit_is_a_check_mode_run_with_results_findings_and_the_register(store_url):
    events = json.loads(SAMPLE.read_text())
    audit = am.build_audit(
        gathered_facts(events),
        collect_results(events),
        unreachable_hosts(events),
        TASKS,
        FixedClock(T0),
    )
    with ActionLog(store_url, clock=FixedClock(T0)) as store:
        run_id = store.start_run(None, mode="check", actor="auditor")
        record_audit(store, run_id, audit, events)
        store.finish_run(run_id, "done", "1/2 hosts audited")

        rows = store.results(limit=None)
        assert {(r["host"], r["task"], r["status"]) for r in rows} == {
            ("db-old", "audit", "unreachable"),
            ("maint-audit-dev-1", "access_review", "ok"),
            ("maint-audit-dev-1", "antivirus", "ok"),
            ("maint-audit-dev-1", "backup_verify", "ok"),
            ("maint-audit-dev-1", "hardening", "changed"),
            ("maint-audit-dev-1", "patching", "changed"),
        }
        assert not any(r["changed"] for r in rows)
        assert all(r["window"] is None for r in rows)
        with store.engine.connect() as conn:
            run = conn.execute(select(m.runs).where(m.runs.c.id == run_id)).one()
            states = conn.execute(
                select(m.run_states.c.state).where(m.run_states.c.run_id == run_id)
            ).scalars()
            findings = conn.execute(
                select(m.findings.c.finding_id, m.findings.c.severity).where(
                    m.findings.c.run_id == run_id
                )
            ).all()
            details = conn.execute(
                select(m.result_details.c.host, m.result_details.c.data).where(
                    m.result_details.c.run_id == run_id
                )
            ).all()
        assert (run.mode, run.window, run.actor) == ("check", None, "auditor")
        assert list(states) == ["running", "done"]
        assert len(findings) == len(audit.findings)
        assert ("audit.unreachable", "high") in findings
        register = {host: data for host, data in details}
        assert register["maint-audit-dev-1"]["os"] == "Debian 12.15 (bookworm)"
        assert register["db-old"]["reachable"] is False
        assert store.verify().ok
