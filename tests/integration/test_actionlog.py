"""The action log store, the same suite on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta

import click
import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import select, text, update

from maintenance_runner.actionlog import ActionLog
from maintenance_runner.actionlog import models as m
from maintenance_runner.actionlog.chain import row_hash
from maintenance_runner.actionlog.store import (
    COPY_THRESHOLD,
    MIGRATIONS,
    SCHEMA_HEAD,
    SPECS,
    at_head,
)
from maintenance_runner.cli.log import log_group
from maintenance_runner.core.clock import FixedClock
from maintenance_runner.core.schedule import Slot

T0 = datetime(2026, 11, 12, 21, 0, tzinfo=UTC)


def _results(n, start=0, host_prefix="web", task="patching"):
    return [
        {
            "host": f"{host_prefix}{i:03d}",
            "task": task,
            "status": "changed" if i % 3 == 0 else "ok",
            "changed": i % 3 == 0,
            "started_at": T0 + timedelta(seconds=i),
            "duration_s": 1.5 + i,
            "message": f"result {i}",
            "diff_summary": "3 packages upgraded" if i % 3 == 0 else None,
        }
        for i in range(start, start + n)
    ]


@pytest.fixture
def store(store_url):
    log = ActionLog(store_url, clock=FixedClock(T0))
    yield log
    log.close()


def test_migrations_build_exactly_the_models(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), m.metadata)
        heads = conn.execute(select(m.chain_heads.c.table_name)).scalars().all()
    assert diff == []
    assert sorted(heads) == sorted(m.CHAINED_TABLES)


def test_schema_head_is_alembics_head_and_is_read_without_it(store, store_url):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD
    assert at_head(store.engine)
    with store.engine.begin() as conn:  # a database one migration behind is not at head
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert not at_head(store.engine)


def test_migrating_again_is_harmless(store_url):
    first = ActionLog(store_url)
    run = first.start_run("w")
    first.close()
    second = ActionLog(store_url)
    assert second.count("runs") == 1
    assert second.start_run("w") == run + 1
    assert second.verify().ok
    second.close()


def test_results_round_trip_and_chain_verifies(store):
    run = store.start_run("monthly-servers", run_uid="r1")
    ids = store.add_results(run, _results(10))
    assert ids == list(range(1, 11))
    rows = store.results()
    assert [r["host"] for r in rows] == [f"web{i:03d}" for i in range(10)]
    assert rows[3]["changed"] is True
    assert rows[3]["started_at"] == T0 + timedelta(seconds=3)
    assert rows[4]["duration_s"] == pytest.approx(5.5)
    assert rows[0]["window"] == "monthly-servers"
    report = store.verify()
    assert report.ok, report.problems
    assert report.rows["task_results"] == 10
    assert report.rows["run_states"] == 1


def test_queries_filter_by_window_host_and_since(store):
    a = store.start_run("monthly-servers", run_uid="a")
    b = store.start_run("weekly-workstations", run_uid="b")
    store.add_results(a, _results(5))
    store.add_results(b, _results(5, host_prefix="pc"))
    assert {r["host"][:2] for r in store.results(window="weekly-workstations")} == {"pc"}
    assert [r["task"] for r in store.results(host="web002")] == ["patching"]
    since = store.results(since=T0 + timedelta(seconds=3))
    assert sorted(r["host"] for r in since) == ["pc003", "pc004", "web003", "web004"]
    assert len(store.results(limit=3)) == 3


def test_month_summary_groups_by_task_and_status(store):
    run = store.start_run("monthly-servers")
    store.add_results(run, _results(9))
    outside = _results(4, start=100)
    for row in outside:
        row["started_at"] = T0 + timedelta(days=40)
    store.add_results(run, outside)
    rows = store.summary(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    by_status = {r["status"]: r for r in rows}
    assert by_status["changed"]["results"] == 3
    assert by_status["changed"]["changed"] == 3
    assert by_status["ok"]["results"] == 6
    assert by_status["ok"]["hosts"] == 6


def test_occurrence_is_recorded_once_and_moves_through_states(store):
    args = (T0, T0 + timedelta(hours=4), T0 + timedelta(hours=3, minutes=30))
    first = store.record_occurrence(Slot("monthly-servers", "Europe/Madrid", *args))
    again = store.record_occurrence(Slot("monthly-servers", "Europe/Madrid", *args))
    assert first == again
    assert store.occurrence_state(first) == ("planned", None)
    store.set_occurrence_state(first, "approved", actor="alice")
    store.set_occurrence_state(first, "running")
    assert store.occurrence_state(first) == ("running", None)
    skipped = store.record_occurrence(
        Slot(
            "monthly-servers",
            "Europe/Madrid",
            T0 + timedelta(days=28),
            T0 + timedelta(days=28, hours=4),
            T0 + timedelta(days=28, hours=3),
        ),
        state="skipped",
        reason="blackout madrid-holidays",
    )
    assert store.occurrence_state(skipped) == ("skipped", "blackout madrid-holidays")
    with pytest.raises(ValueError):
        store.set_occurrence_state(first, "bogus")
    assert store.verify().ok


def test_other_tables_take_rows(store):
    run = store.start_run("w")
    store.append("plans", [{"plan_uid": "p1", "content_hash": "abc", "summary": {"hosts": 3}}])
    store.append("approvals", [{"plan_uid": "p1", "approver": "bob", "decision": "approved"}])
    (finding,) = store.append(
        "findings",
        [
            {
                "run_id": run,
                "host": "h",
                "task": "patching",
                "finding_id": "patching.reboot",
                "severity": "info",
                "message": "reboot",
            }
        ],
    )
    store.append(
        "rollbacks",
        [
            {
                "run_id": run,
                "host": "h",
                "task": "patching",
                "status": "done",
                "data": {"manifest": "/x", "n": 1.5},
            }
        ],
    )
    store.append(
        "followups",
        [
            {
                "finding_id": finding,
                "priority": "P2",
                "title": "reboot h",
                "status": "open",
                "due_at": T0 + timedelta(hours=8),
            }
        ],
    )
    store.finish_run(run, "done")
    report = store.verify()
    assert report.ok, report.problems
    assert report.rows["rollbacks"] == 1
    with pytest.raises(KeyError):
        store.append("plans", [{"plan_uid": "p2", "content_hash": "x", "colour": "red"}])


def _tamper(store, sql, **params):
    with store.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_verify_names_an_edited_row(store):
    run = store.start_run("w")
    store.add_results(run, _results(6))
    _tamper(store, "UPDATE task_results SET status = 'ok', changed = :f WHERE id = 4", f=False)
    report = store.verify()
    assert [str(p) for p in report.problems] == [
        "task_results id 4: content edited (row hash does not match)"
    ]


def test_verify_names_a_deleted_row(store):
    run = store.start_run("w")
    store.add_results(run, _results(6))
    _tamper(store, "DELETE FROM task_results WHERE id = 3")
    problems = [str(p) for p in store.verify().problems]
    assert problems == ["task_results id 4: row(s) deleted before it (id 3 missing)"]


def test_verify_notices_the_newest_rows_deleted(store):
    run = store.start_run("w")
    store.add_results(run, _results(6))
    _tamper(store, "DELETE FROM task_results WHERE id >= 5")
    problems = [str(p) for p in store.verify().problems]
    assert problems == ["task_results: newest row(s) deleted (ids 5-6 missing)"]


def test_verify_catches_an_edit_with_a_recomputed_hash(store):
    """A forger who recomputes the edited row's own hash still breaks the next link."""
    run = store.start_run("w")
    store.add_results(run, _results(6))
    t = m.task_results
    with store.engine.begin() as conn:
        row = dict(conn.execute(select(t).where(t.c.id == 2)).one()._mapping)
        row["message"] = "nothing to see"
        forged = row_hash(row["prev_hash"], "task_results", SPECS["task_results"].values(row))
        conn.execute(update(t).where(t.c.id == 2).values(message=row["message"], row_hash=forged))
    problems = [str(p) for p in store.verify().problems]
    assert problems == ["task_results id 3: prev_hash does not match row 2: it was replaced"]


def _writer(url, label, batches, size):
    log = ActionLog(url)
    try:
        run = log.start_run(label, run_uid=f"run-{label}")
        for b in range(batches):
            log.add_results(run, _results(size, start=b * size, host_prefix=label))
        log.finish_run(run)
    finally:
        log.close()


def test_two_concurrent_writer_processes_lose_nothing(store_url):
    ActionLog(store_url).close()  # migrate first, so the writers race on appends only
    ctx = multiprocessing.get_context("fork")
    batches, size = 25, 40
    workers = [
        ctx.Process(target=_writer, args=(store_url, label, batches, size)) for label in "ab"
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    log = ActionLog(store_url)
    try:
        assert log.count("task_results") == 2 * batches * size
        assert log.count("runs") == 2
        assert log.count("run_states") == 4
        report = log.verify()
        assert report.ok, report.problems
        hosts = {r["host"] for r in log.results(limit=None)}
        assert len(hosts) == 2 * batches * size
    finally:
        log.close()


def test_concurrent_first_open_migrates_once(store_url):
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_writer, args=(store_url, label, 2, 5)) for label in "xy"]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    log = ActionLog(store_url)
    assert log.count("task_results") == 20
    assert log.verify().ok
    log.close()


def _cli(tmp_path, url, *args):
    config = tmp_path / "maint.yml"
    config.write_text(f"actionlog: {url}\n")
    group = click.Group("maint", commands={"log": log_group})
    return CliRunner().invoke(group, ["log", "--config", str(config), *args])


def test_cli_log_and_verify(store, store_url, tmp_path):
    run = store.start_run("monthly-servers")
    store.add_results(run, _results(4))
    listed = _cli(tmp_path, store_url, "--host", "web001", "--json")
    assert listed.exit_code == 0, listed.output
    (line,) = listed.output.splitlines()
    assert json.loads(line)["host"] == "web001"
    ok = _cli(tmp_path, store_url, "verify")
    assert ok.exit_code == 0
    assert "OK" in ok.output
    _tamper(store, "UPDATE task_results SET host = 'evil' WHERE id = 2")
    bad = _cli(tmp_path, store_url, "verify")
    assert bad.exit_code == 1
    assert "task_results id 2: content edited" in bad.output
    summary = _cli(tmp_path, store_url, "summary", "--month", "2026-11", "--json")
    assert json.loads(summary.output)["rows"][0]["results"] >= 1


def test_a_large_batch_round_trips_and_verifies(store):
    """Big batches take the bulk path (COPY on PostgreSQL): what is stored must still verify."""
    run = store.start_run("w")
    batch = _results(COPY_THRESHOLD + 50)
    batch[7]["message"] = "tab\there, newline\nhere, backslash \\ and ñ"
    batch[8]["diff_summary"] = None
    ids = store.add_results(run, batch)
    assert len(ids) == COPY_THRESHOLD + 50
    rows = store.results(limit=None)
    assert rows[7]["message"] == "tab\there, newline\nhere, backslash \\ and ñ"
    assert rows[8]["diff_summary"] is None
    assert rows[9]["changed"] is True
    assert store.verify().ok


def test_windows_next_record_stores_occurrences_once_with_skip_reasons(store_url, tmp_path):
    from maintenance_runner.cli.windows import windows_group

    config = tmp_path / "maint.yml"
    config.write_text(
        f"""
actionlog: {store_url}
calendars:
  madrid: {{holidays: {{country: ES, subdiv: MD}}}}
windows:
  - name: daily
    schedule: "RRULE:FREQ=DAILY"
    start: "10:00"
    timezone: Europe/Madrid
    duration: 2h
    tasks: [patching]
    blackout: [madrid]
"""
    )
    group = click.Group("maint", commands={"windows": windows_group})
    args = ["windows", "next", "daily", "-n", "4", "--record", "--at", "2026-04-30T00:00Z"]
    for _ in range(2):  # recording twice changes nothing
        result = CliRunner().invoke(group, [*args, "--config", str(config)])
        assert result.exit_code == 0, result.output
    log = ActionLog(store_url)
    try:
        with log.engine.connect() as conn:
            rows = conn.execute(
                select(
                    m.occurrences.c.start_utc,
                    m.occurrence_states.c.state,
                    m.occurrence_states.c.reason,
                )
                .join(
                    m.occurrence_states, m.occurrence_states.c.occurrence_id == m.occurrences.c.id
                )
                .order_by(m.occurrences.c.id)
            ).all()
        assert [(r.start_utc, r.state) for r in rows] == [
            (datetime(2026, 4, 30, 8, 0, tzinfo=UTC), "planned"),
            (datetime(2026, 5, 1, 8, 0, tzinfo=UTC), "skipped"),
            (datetime(2026, 5, 2, 8, 0, tzinfo=UTC), "skipped"),
            (datetime(2026, 5, 3, 8, 0, tzinfo=UTC), "planned"),
        ]
        assert rows[1].reason == "blackout madrid: Labor Day (2026-05-01)"
        assert log.verify().ok
    finally:
        log.close()


def _planner(url):
    log = ActionLog(url)
    try:
        for day in range(10):
            start = T0 + timedelta(days=day)
            log.record_occurrence(
                Slot("daily", "UTC", start, start + timedelta(hours=2), start + timedelta(hours=1))
            )
    finally:
        log.close()


def test_two_planners_record_each_occurrence_once(store_url):
    ActionLog(store_url).close()
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_planner, args=(store_url,)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    log = ActionLog(store_url)
    try:
        assert log.count("occurrences") == 10
        assert log.count("occurrence_states") == 10
        assert log.verify().ok
    finally:
        log.close()
