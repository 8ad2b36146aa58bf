"""The tick lock between real processes: a file lock for SQLite, an advisory lock on a real
PostgreSQL server (the ``store_url`` fixture runs every test against both)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from maintenance_runner.actionlog.locks import (
    LockBusy,
    advisory_keys,
    lock_file,
    occurrence_lock,
    tick_lock,
)

from .lock_workers import ROUNDS, hold_forever, serialised_worker, try_worker

SPAWN = multiprocessing.get_context("spawn")
WORKERS = 10
TIMEOUT = 120  # seconds a test waits for its processes before calling it a hang


# --- helpers -----------------------------------------------------------------------------------


def _start(target, *args) -> multiprocessing.Process:
    process = SPAWN.Process(target=target, args=args, daemon=True)
    process.start()
    return process


def _join_all(processes) -> None:
    for process in processes:
        process.join(TIMEOUT)
    alive = [p for p in processes if p.is_alive()]
    for process in alive:
        process.kill()
    assert not alive, f"{len(alive)} process(es) hung"
    assert [p.exitcode for p in processes] == [0] * len(processes)


# --- tests ---------------------------------------------------------------------------------------


def test_ten_processes_hold_the_lock_one_at_a_time(store_url, tmp_path):
    journal = str(tmp_path / "journal")
    go = SPAWN.Event()
    processes = [_start(serialised_worker, store_url, journal, n, go) for n in range(WORKERS)]
    go.set()
    _join_all(processes)
    lines = Path(journal).read_text().splitlines()
    assert len(lines) == 2 * WORKERS * ROUNDS
    for enter, leave in zip(lines[::2], lines[1::2], strict=True):
        assert enter.startswith("enter "), lines
        assert leave == enter.replace("enter", "leave", 1), f"interleaved: {enter!r} {leave!r}"
    held = sorted(line.split(maxsplit=1)[1] for line in lines[::2])
    assert held == sorted(f"{n} {r}" for n in range(WORKERS) for r in range(ROUNDS))


def test_ten_processes_trying_at_once_exactly_one_wins(store_url):
    tried = SPAWN.Barrier(WORKERS)
    results = SPAWN.Queue()
    processes = [_start(try_worker, store_url, n, tried, results) for n in range(WORKERS)]
    outcomes = [results.get(timeout=TIMEOUT) for _ in range(WORKERS)]
    _join_all(processes)
    held = [o for o in outcomes if o[1] == "held"]
    busy = [o for o in outcomes if o[1] == "busy"]
    assert len(held) == 1
    assert len(busy) == WORKERS - 1
    winner = processes[held[0][0]].pid
    for _, _, message in busy:
        assert message.startswith("lock 'tick' is held by ")
        assert f"pid {winner} on " in message


def test_a_sigkilled_holder_releases_the_lock(store_url):
    ready = SPAWN.Event()
    holder = _start(hold_forever, store_url, ready)
    try:
        assert ready.wait(TIMEOUT), "the holder never got the lock"
        with pytest.raises(LockBusy, match=f"pid {holder.pid} on "), tick_lock(store_url):
            pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(TIMEOUT)
        assert holder.exitcode == -signal.SIGKILL
    finally:
        if holder.is_alive():
            holder.kill()
    # The kernel (flock) or the server (a closed session) releases it; the server may take a
    # moment to notice the closed connection.
    deadline = time.monotonic() + 30
    while True:
        try:
            with tick_lock(store_url) as held:
                assert held.name == "tick"
            break
        except LockBusy:
            assert time.monotonic() < deadline, "the lock outlived its SIGKILLed holder"
            time.sleep(0.2)


def test_second_acquisition_in_one_process_is_busy_names_are_independent(store_url):
    with tick_lock(store_url) as held:
        assert held.alive()
        with pytest.raises(LockBusy, match="lock 'tick' is held"), tick_lock(store_url):
            pass
        with tick_lock(store_url, "report"), occurrence_lock(store_url, "w@2026-12-10T21:00Z"):
            with (
                pytest.raises(LockBusy, match="lock 'occurrence w@2026-12-10T21:00Z' is held"),
                occurrence_lock(store_url, "w@2026-12-10T21:00Z"),
            ):
                pass
            with occurrence_lock(store_url, "w@2027-01-14T21:00Z"):
                pass
    with tick_lock(store_url):  # released on exit
        pass


def test_lock_file_sits_beside_the_sqlite_database(tmp_path):
    db = tmp_path / "sub" / "actionlog.db"
    with tick_lock(f"sqlite:///{db}") as held:
        assert held.where == str(tmp_path / "sub" / "actionlog.db.tick.lock")
        assert lock_file(db, "tick").read_text().startswith(f"pid {os.getpid()} on ")
    assert lock_file(db, "tick").read_text() == ""  # no stale holder once released


def test_urls_that_cannot_carry_a_lock():
    with pytest.raises(ValueError, match="in-memory"), tick_lock("sqlite://"):
        pass
    with pytest.raises(ValueError, match="in-memory"), tick_lock("sqlite:///:memory:"):
        pass
    with pytest.raises(ValueError, match="'mysql'"), tick_lock("mysql://u@h/db"):
        pass
    with pytest.raises(ValueError, match="bad lock name"), tick_lock("sqlite:////tmp/x", "a/b"):
        pass


@pytest.fixture
def pg_url():
    from pg_server import fresh_database, server_url

    url, reason = server_url()
    if url is None:
        pytest.skip(reason)
    with fresh_database(url) as db_url:
        yield db_url


def test_advisory_lock_lost_with_its_connection(pg_url):
    store_url = pg_url
    engine = create_engine(store_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with tick_lock(store_url) as held:
            classid, objid = (k & 0xFFFFFFFF for k in advisory_keys("tick"))
            with engine.connect() as admin:
                ended = admin.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = "
                        "'advisory' AND classid::bigint = :c AND objid::bigint = :o"
                    ),
                    {"c": classid, "o": objid},
                ).scalar_one()
            assert ended is True
            deadline = time.monotonic() + 30
            while held.alive():
                assert time.monotonic() < deadline, "the terminated session still answers"
                time.sleep(0.1)
        with tick_lock(store_url):  # the server released it with the session
            pass
    finally:
        engine.dispose()
