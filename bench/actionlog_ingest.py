"""Action log benchmark: ingest task results in batches, then read back a month's summary.

    .venv/bin/python bench/actionlog_ingest.py                       # 1,000,000 results, SQLite
    .venv/bin/python bench/actionlog_ingest.py --floor --runs 5      # beside bare sqlite3, medians
    .venv/bin/python bench/actionlog_ingest.py --url postgresql+psycopg://postgres@127.0.0.1:55432/db

Results are spread evenly over ``--months`` monthly runs (one run per month, 5 tasks per host),
so "a month's summary" aggregates 1/months of the rows; the full-table summary is timed too.
"ingest" times the store's work per batch (validating, hashing the chain, inserting, committing);
"end_to_end" adds the time the benchmark spends building the rows. "ingest_cpu_seconds" is the
process CPU time of the store calls: on a shared machine it shows what wall time hides. The
load average at the end is printed so a busy machine is visible in the figures.

``--floor`` (SQLite) inserts the very rows the store writes (same canonical values and hashes,
prepared outside the timing) with bare sqlite3 into two more databases with the same schema
(migrated the same way, foreign keys on) and the same pragmas, one transaction per batch, right
beside each of the store's batches (the order rotates), so all three see the same machine:

- the plain floor: ``executemany`` of one-row INSERTs (the floor earlier figures quote);
- the multi-row floor: the store's own statements (100 rows per INSERT), so its difference to
  the store (``store_cost_us_per_result``) is exactly the store's Python, SQLAlchemy and chain.

``--runs N`` repeats everything N times on fresh databases and reports each run and the medians;
``--profile N`` prints the N costliest functions of the store's calls (cProfile inflates the
figures of a run it profiles: read the shares, not the rates).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from maintenance_runner.actionlog import ActionLog
from maintenance_runner.actionlog.chain import GENESIS, link_batch
from maintenance_runner.actionlog.store import SPECS, SQLITE_ROWS_PER_INSERT, _insert_sql

TASKS = ("access_review", "backup_verify", "antivirus", "patching", "hardening")
STATUSES = ("ok", "ok", "ok", "changed", "failed")
START = datetime(2026, 1, 8, 21, 0, tzinfo=UTC)
# the figures --runs reports medians of, in the order printed
HEADLINE = (
    "ingest_results_per_second",
    "sqlite_floor_results_per_second",
    "ingest_to_floor_ratio",
    "sqlite_multirow_floor_results_per_second",
    "ingest_to_multirow_floor_ratio",
    "store_cost_us_per_result",
    "ingest_cpu_seconds",
    "sqlite_floor_cpu_seconds",
    "sqlite_multirow_floor_cpu_seconds",
    "end_to_end_results_per_second",
    "month_summary_seconds",
    "all_results_summary_seconds",
    "host_query_seconds",
    "load_average_1m",
)


def month_start(index: int) -> datetime:
    year, month = divmod(START.month - 1 + index, 12)
    return START.replace(year=START.year + year, month=month + 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="action log URL (default: a new SQLite file in a temp dir)")
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--verify", action="store_true", help="also time a full chain verify")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time bare sqlite3 inserts of the same rows into the same schema, batch by "
        "batch beside the store's (no SQLAlchemy, no hashing), as executemany and as the "
        "store's multi-row statements: the ceilings to read the ingest figure against",
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="repeat on fresh databases; report the medians"
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="profile the store's calls (cProfile) and print the N costliest functions to stderr",
    )
    args = parser.parse_args(argv)
    if args.url and args.runs > 1:
        parser.error("--runs needs the default SQLite file (a --url database is not emptied)")

    runs = [measure(args) for _ in range(args.runs)]
    if args.runs == 1:
        report: dict[str, Any] = runs[0]
    else:
        medians = {
            key: statistics.median(r[key] for r in runs)
            for key in HEADLINE
            if all(key in r for r in runs)
        }
        report = {"runs": runs, "median": medians}
    if args.json:
        print(json.dumps(report, indent=2))
    elif args.runs == 1:
        for key, value in report.items():
            print(f"{key:>32}: {value}")
    else:
        keys = list(report["median"])
        print(f"{'':>32}  " + "  ".join(f"{f'run {n + 1}':>9}" for n in range(len(runs))))
        for key in keys:
            cells = "  ".join(f"{run[key]:>9}" for run in runs)
            print(f"{key:>32}  {cells}  median {report['median'][key]}")
    return 0


def measure(args: argparse.Namespace) -> dict[str, Any]:
    tmp = None
    url = args.url
    if not url:
        tmp = tempfile.TemporaryDirectory(prefix="maint-bench-")
        url = f"sqlite:///{Path(tmp.name) / 'actionlog.db'}"
    store = ActionLog(url)
    per_month = args.results // args.months
    hosts = max(1, per_month // len(TASKS))
    uids = [f"bench-{m}" for m in range(args.months)]
    runs = [store.start_run("monthly-servers", run_uid=uid) for uid in uids]
    floors = []
    if args.floor and store.dialect == "sqlite":
        floors = [Floor(uids, multirow=False), Floor(uids, multirow=True)]

    def rows(month: int, first: int, count: int) -> list[dict[str, Any]]:
        base = month_start(month)
        out = []
        for n in range(first, first + count):
            host, task = divmod(n, len(TASKS))
            status = STATUSES[(host + task) % len(STATUSES)]
            out.append(
                {
                    "host": f"srv{host % hosts:06d}.example.net",
                    "task": TASKS[task],
                    "status": status,
                    "changed": status == "changed",
                    "started_at": base + timedelta(milliseconds=n * 10),
                    "duration_s": 2.5 + (n % 97) / 10,
                    "message": "ok" if status != "failed" else "package lock held by apt",
                    "diff_summary": "2 packages upgraded" if status == "changed" else None,
                }
            )
        return out

    profile = cProfile.Profile() if args.profile else None

    def store_insert(run_id: int, batch: list[dict[str, Any]]) -> tuple[float, float]:
        if profile is None:
            return _timed(lambda: store.add_results(run_id, batch))
        profile.enable()
        try:
            return _timed(lambda: store.add_results(run_id, batch))
        finally:
            profile.disable()

    writers = [store_insert, *(floor.insert for floor in floors)]
    seconds = [0.0] * len(writers)  # wall, per writer
    cpu = [0.0] * len(writers)
    written = turn = 0
    floors_outside = 0.0  # the floors' whole time, rows prepared included
    began = time.perf_counter()
    for month in range(args.months):
        done = 0
        quota = per_month if month < args.months - 1 else args.results - written
        while done < quota:
            size = min(args.batch, quota - done)
            batch = rows(month, done, size)
            turn += 1
            for k in range(len(writers)):  # each batch, the next writer goes first
                w = (turn + k) % len(writers)
                outside = time.perf_counter()
                wall, used = writers[w](runs[month], batch)
                seconds[w], cpu[w] = seconds[w] + wall, cpu[w] + used
                if w:
                    floors_outside += time.perf_counter() - outside
            done += size
            written += size
    ingest_s = time.perf_counter() - began - floors_outside
    store_s = seconds[0]
    if profile is not None:
        pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(args.profile)

    middle = args.months // 2
    first = month_start(middle).replace(day=1, hour=0, minute=0)
    after = (first + timedelta(days=32)).replace(day=1)
    began = time.perf_counter()
    month_rows = store.summary(first, after)
    month_s = time.perf_counter() - began
    began = time.perf_counter()
    all_rows = store.summary(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    all_s = time.perf_counter() - began
    figures: dict[str, Any] = {
        "backend": store.dialect,
        "results": written,
        "batch": args.batch,
        "ingest_seconds": round(store_s, 2),
        "ingest_results_per_second": round(written / store_s),
        "ingest_cpu_seconds": round(cpu[0], 2),
        "end_to_end_seconds": round(ingest_s, 2),
        "end_to_end_results_per_second": round(written / ingest_s),
    }
    if floors:
        for floor in floors:
            floor.close()
        plain, multirow = seconds[1], seconds[2]
        figures |= {
            "sqlite_floor_seconds": round(plain, 2),
            "sqlite_floor_results_per_second": round(written / plain),
            "sqlite_floor_cpu_seconds": round(cpu[1], 2),
            "ingest_to_floor_ratio": round(plain / store_s, 3),
            "sqlite_multirow_floor_seconds": round(multirow, 2),
            "sqlite_multirow_floor_results_per_second": round(written / multirow),
            "sqlite_multirow_floor_cpu_seconds": round(cpu[2], 2),
            "ingest_to_multirow_floor_ratio": round(multirow / store_s, 3),
            "store_cost_us_per_result": round((store_s - multirow) / written * 1e6, 2),
        }
    figures |= {
        "month": f"{first:%Y-%m}",
        "month_results": sum(r["results"] for r in month_rows),
        "month_summary_seconds": round(month_s, 3),
        "all_results_summary_seconds": round(all_s, 3),
        "all_results": sum(r["results"] for r in all_rows),
    }
    began = time.perf_counter()
    host_rows = store.results(host="srv000042.example.net", limit=None)
    figures["host_query_seconds"] = round(time.perf_counter() - began, 3)
    figures["host_query_results"] = len(host_rows)
    figures["load_average_1m"] = round(os.getloadavg()[0], 2)
    if args.verify:
        began = time.perf_counter()
        report = store.verify()
        figures["verify_seconds"] = round(time.perf_counter() - began, 2)
        figures["verify_ok"] = report.ok
    store.close()
    if tmp is not None:
        tmp.cleanup()
    return figures


class Floor:
    """Bare sqlite3 inserts of the store's rows into a database with the store's schema.

    ``multirow``: the store's statements (``SQLITE_ROWS_PER_INSERT`` rows each); otherwise
    ``executemany`` of one-row statements, the plain way.
    """

    def __init__(self, run_uids: list[str], *, multirow: bool) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="maint-floor-")
        path = Path(self.tmp.name) / "floor.db"
        setup = ActionLog(f"sqlite:///{path}")  # the same migrations, the same parent runs
        for uid in run_uids:
            setup.start_run("monthly-servers", run_uid=uid)
        setup.close()
        self.db = sqlite3.connect(path, isolation_level=None)
        for pragma in (  # the store's (store.make_engine)
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "busy_timeout=120000",
            "foreign_keys=ON",
            "cache_size=-65536",
        ):
            self.db.execute(f"PRAGMA {pragma}")
        self.spec = SPECS["task_results"]
        self.multirow = multirow
        self.last_id, self.last_hash = 0, GENESIS
        self.recorded_at = self.spec.canonical_defaults({"recorded_at": datetime.now(UTC)})

    def insert(self, run_id: int, rows: list[dict[str, Any]]) -> tuple[float, float]:
        """Insert one batch in one transaction (its rows built before): wall and CPU seconds."""
        batch = self.spec.encode(rows, {**self.recorded_at, "run_id": run_id})
        self.last_id, self.last_hash = link_batch(self.spec, batch, self.last_id, self.last_hash)
        if not self.multirow:
            one_by_one = batch.rows()
            return _timed(lambda: self._write([(_insert_sql(self.spec, "qmark"), one_by_one)]))
        values, step = batch.values, SQLITE_ROWS_PER_INSERT * batch.width
        full = len(values) - len(values) % step
        chunks = [values[i : i + step] for i in range(0, full, step)]
        statements = [(_insert_sql(self.spec, "qmark", SQLITE_ROWS_PER_INSERT), chunks)]
        if full < len(values):
            statements.append((_insert_sql(self.spec, "qmark"), batch.rows(full // batch.width)))
        return _timed(lambda: self._write(statements))

    def _write(self, statements: list[tuple[str, list[list[Any]]]]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        for sql, params in statements:
            self.db.executemany(sql, params)
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()
        self.tmp.cleanup()


def _timed(work: Callable[[], None]) -> tuple[float, float]:
    began, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - began, time.process_time() - cpu


if __name__ == "__main__":
    raise SystemExit(main())
