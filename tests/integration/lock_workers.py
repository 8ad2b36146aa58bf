"""What the processes of test_locks.py run: kept apart so that spawned processes import little."""

from __future__ import annotations

import os
import time

from maintenance_runner.actionlog.locks import LockBusy, tick_lock

ROUNDS = 3


def _append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def serialised_worker(url: str, journal: str, number: int, go) -> None:
    go.wait()
    for round_ in range(ROUNDS):
        with tick_lock(url, wait=True):
            _append(journal, f"enter {number} {round_}\n")
            time.sleep(0.02)  # widen the window a broken lock would let another writer into
            _append(journal, f"leave {number} {round_}\n")


def try_worker(url: str, number: int, tried, results) -> None:
    tried.wait()  # every process tries at once
    try:
        with tick_lock(url):
            results.put((number, "held", ""))
            tried.wait()  # hold it until every other process has tried
    except LockBusy as exc:
        results.put((number, "busy", str(exc)))
        tried.wait()


def hold_forever(url: str, ready) -> None:
    with tick_lock(url):
        ready.set()
        time.sleep(600)
