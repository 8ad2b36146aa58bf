"""Action log benchmark: ingest task results in batches, then read back a month's summary.

    .venv/bin/python bench/actionlog_ingest.py                       # 1,000,000 results, SQLite
    .venv/bin/python bench/actionlog_ingest.py --url postgresql+psycopg://postgres@127.0.0.1:55432/db

Results are spread evenly over ``--months`` monthly runs (one run per month, 5 tasks per host),
so "a month's summary" aggregates 1/months of the rows; the full-table summary is timed too.
"ingest" times the store's work per batch (validating, hashing the chain, inserting, committing);
"end_to_end" adds the time the benchmark spends building the rows. "ingest_cpu_seconds" is the
process CPU time of the store calls: on a shared machine it shows what wall time hides. The
load average at the end is printed so a busy machine is visible in the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from maintenance_runner.actionlog import ActionLog

TASKS = ("access_review", "backup_verify", "antivirus", "patching", "hardening")
STATUSES = ("ok", "ok", "ok", "changed", "failed")
START = datetime(2026, 1, 8, 21, 0, tzinfo=UTC)


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
        help="also time bare sqlite3 inserts of the same rows (no SQLAlchemy, no hashing): "
        "the machine's ceiling, to read the other figures against",
    )
    args = parser.parse_args(argv)

    tmp = None
    url = args.url
    if not url:
        tmp = tempfile.TemporaryDirectory(prefix="maint-bench-")
        url = f"sqlite:///{Path(tmp.name) / 'actionlog.db'}"
    store = ActionLog(url)
    per_month = args.results // args.months
    hosts = max(1, per_month // len(TASKS))
    runs = [store.start_run("monthly-servers", run_uid=f"bench-{m}") for m in range(args.months)]

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

    written = 0
    store_s = store_cpu = 0.0
    began = time.perf_counter()
    for month in range(args.months):
        done = 0
        quota = per_month if month < args.months - 1 else args.results - written
        while done < quota:
            size = min(args.batch, quota - done)
            batch = rows(month, done, size)
            call, cpu = time.perf_counter(), time.process_time()
            store.add_results(runs[month], batch)
            store_s += time.perf_counter() - call
            store_cpu += time.process_time() - cpu
            done += size
            written += size
    ingest_s = time.perf_counter() - began

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
        "ingest_cpu_seconds": round(store_cpu, 2),
        "end_to_end_seconds": round(ingest_s, 2),
        "end_to_end_results_per_second": round(written / ingest_s),
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
    if args.floor and store.dialect == "sqlite":
        figures["sqlite_floor_results_per_second"] = sqlite_floor(args.results, args.batch)
    if tmp is not None:
        tmp.cleanup()
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:>28}: {value}")
    return 0


def sqlite_floor(count: int, batch: int) -> int:
    """Insert ``count`` rows shaped like task results with bare sqlite3, same schema and pragmas."""
    import sqlite3

    from maintenance_runner.actionlog.models import task_results
    from maintenance_runner.actionlog.store import SPECS, _insert_sql

    with tempfile.TemporaryDirectory(prefix="maint-floor-") as tmp:
        db = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536"):
            db.execute(f"PRAGMA {pragma}")
        columns = ", ".join(f'"{c.name}"' for c in task_results.columns)
        db.execute(f'CREATE TABLE task_results ({columns}, PRIMARY KEY ("id"))')
        db.execute("CREATE INDEX ix_s ON task_results (started_at)")
        db.execute("CREATE INDEX ix_r ON task_results (run_id)")
        sql = _insert_sql(SPECS["task_results"], "qmark")
        stamp = "2026-01-01 00:00:00.000000"
        rows = [
            [
                n,
                1,
                f"srv{n // 5 % 16666:06d}.example.net",
                TASKS[n % 5],
                "ok",
                False,
                stamp,
                2.5,
                "ok",
                None,
                stamp,
                "0" * 64,
                "f" * 64,
            ]
            for n in range(1, count + 1)
        ]
        began = time.perf_counter()
        for first in range(0, count, batch):
            db.execute("BEGIN IMMEDIATE")
            db.executemany(sql, rows[first : first + batch])
            db.execute("COMMIT")
        elapsed = time.perf_counter() - began
        db.close()
    return round(count / elapsed)


if __name__ == "__main__":
    raise SystemExit(main())
