"""The action log store: SQLite by default, PostgreSQL by URL, one hash chain per table.

Appends are serialised per database so that two writers never fork a chain: SQLite takes the
write lock up front (``BEGIN IMMEDIATE``, WAL, a generous busy timeout), PostgreSQL takes a
transaction-level advisory lock per table (``pg_advisory_xact_lock``). Inside the lock a writer
reads the chain head, links its rows, inserts them and moves the head, all in one transaction.
"""

from __future__ import annotations

import os
import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    and_,
    create_engine,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, OperationalError, SQLAlchemyError

from maintenance_runner.actionlog import models as m
from maintenance_runner.actionlog.chain import Batch, Problem, TableSpec, check_chain, link_batch
from maintenance_runner.core.clock import Clock, SystemClock
from maintenance_runner.core.schedule import Slot
from maintenance_runner.errors import InputError

MIGRATIONS = Path(__file__).parent / "migrations"
OCCURRENCE_STATES = ("planned", "awaiting_approval", "approved", "running", "done", "skipped")


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 (the driver this package installs)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redact(url: str) -> str:
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


def sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL, as written; None for a server database or SQLite in
    memory."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 120})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, emit BEGIN, so it can be BEGIN IMMEDIATE.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=120000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: keeps the indexes hot
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def _lock_key(name: str) -> int:
    return zlib.crc32(f"maint.actionlog.{name}".encode()) & 0x7FFFFFFF


SPECS = {name: TableSpec.of(table) for name, table in m.CHAINED_TABLES.items()}


def _insert_sql(spec: TableSpec, paramstyle: str, rows: int = 1) -> str:
    """``INSERT INTO table (...) VALUES (...)``, with ``rows`` parenthesised groups."""
    mark = "?" if paramstyle == "qmark" else "%s"
    names = ", ".join(f'"{c}"' for c in spec.columns)
    marks = "(" + ", ".join(mark for _ in spec.columns) + ")"
    return f'INSERT INTO "{spec.name}" ({names}) VALUES {", ".join([marks] * rows)}'


SQLITE_ROWS_PER_INSERT = 100  # rows per multi-row INSERT statement on SQLite


def _insert_rows(conn: Connection, spec: TableSpec, batch: Batch) -> None:
    """INSERT a linked batch with the DB-API cursor, in the open transaction.

    On SQLite, statements of many rows each: per row, a statement of 100 rows costs SQLite and
    the sqlite3 module about a microsecond less than ``executemany`` of one-row statements.
    """
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor()
    try:
        done = 0
        if conn.dialect.name == "sqlite":
            limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            per = min(SQLITE_ROWS_PER_INSERT, limit // batch.width)
            if per > 1 and len(batch) >= per:
                done = len(batch) - len(batch) % per
                sql, step, values = _insert_sql(spec, "qmark", per), per * batch.width, batch.values
                for first in range(0, done * batch.width, step):
                    cursor.execute(sql, values[first : first + step])
        if done < len(batch):
            cursor.executemany(_insert_sql(spec, conn.dialect.paramstyle), batch.rows(done))
    finally:
        cursor.close()


def lock_table(conn: Connection, name: str) -> None:
    """Serialise writers of one chain: an advisory lock held until the transaction ends.

    (SQLite needs nothing here: ``BEGIN IMMEDIATE`` already holds the database's write lock.)
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(name)})


COPY_THRESHOLD = 200  # rows; from here on PostgreSQL gets COPY instead of INSERTs


def _copy_rows(conn: Connection, spec: TableSpec, batch: Batch) -> None:
    """Send a large linked batch to PostgreSQL with COPY (psycopg 3), in the open transaction."""
    names = ", ".join(f'"{c}"' for c in spec.columns)
    raw: Any = conn.connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy(f'COPY "{spec.name}" ({names}) FROM STDIN') as copy:
        for values in batch.rows():
            copy.write_row(values)


# The newest migration in migrations/versions; tests/integration/test_actionlog.py checks that
# it is alembic's head.
SCHEMA_HEAD = "0003"


def at_head(engine: Engine) -> bool:
    """Whether the schema is at SCHEMA_HEAD already, read without alembic (every command opens
    the action log; importing alembic to find nothing to do cost each one about 0.15 s)."""
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError:  # no such table yet: a new database
        return False
    return list(found) == [SCHEMA_HEAD]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (safe when several processes do it at once)."""
    if at_head(engine):
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key("migrate")})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


@dataclass
class VerifyReport:
    rows: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    heads: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


class ActionLogError(InputError):
    """The action log cannot be opened: a file that is not one, a server that does not answer."""


def unusable(url: str, exc: BaseException) -> str:
    """One line: which log (password hidden) and why it cannot be used."""
    shown = redact(url) if "://" in url else url
    original = getattr(exc, "orig", None) or exc
    detail = " ".join(str(original).split())[:200]
    if isinstance(exc, OperationalError) and not shown.startswith("sqlite"):
        return f"action log {shown}: cannot connect: {detail}"
    if "not a database" in detail or isinstance(exc, DatabaseError | sqlite3.DatabaseError):
        return f"action log {shown}: not an action log database ({detail})"
    return f"action log {shown}: cannot be opened ({detail})"


class RunId(int):
    """A run's row id, carrying the run's uid (``run-<pid>-<time>``) that people see."""

    uid: str

    def __new__(cls, value: int, uid: str) -> RunId:
        run = super().__new__(cls, value)
        run.uid = uid
        return run


class ActionLog:
    """One action log database."""

    def __init__(
        self, url: str, clock: Clock | None = None, *, migrate_schema: bool = True
    ) -> None:
        self.url = normalise_url(url)
        self.clock = clock or SystemClock()
        try:
            self.engine = make_engine(self.url)
            if migrate_schema:
                migrate(self.engine)
        except (SQLAlchemyError, sqlite3.Error, OSError, ValueError) as exc:
            raise ActionLogError(unusable(self.url, exc)) from None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ActionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ------------------------------------------------------------------------------

    def append(
        self,
        table: str,
        rows: Sequence[Mapping[str, Any]],
        defaults: Mapping[str, Any] | None = None,
    ) -> list[int]:
        """Append ``rows`` to ``table``'s chain in one transaction; return their ids.

        ``defaults`` give values for the columns a row leaves out (e.g. a batch's run_id).
        """
        if table not in m.CHAINED_TABLES:
            raise KeyError(f"not an action log table: {table}")
        if not rows:
            return []
        with self.engine.begin() as conn:
            return self.append_in(conn, table, rows, defaults)

    def append_in(
        self,
        conn: Connection,
        table: str,
        rows: Sequence[Mapping[str, Any]],
        defaults: Mapping[str, Any] | None = None,
    ) -> list[int]:
        spec = SPECS[table]
        fill = spec.canonical_defaults({"recorded_at": self.clock.now(), **(defaults or {})})
        batch = spec.encode(rows, fill)  # canonical values and their JSON text, unlinked
        lock_table(conn, table)
        head = conn.execute(
            select(m.chain_heads.c.last_id, m.chain_heads.c.last_hash).where(
                m.chain_heads.c.table_name == table
            )
        ).one()
        last_id, last_hash = link_batch(spec, batch, head.last_id, head.last_hash)
        # The canonical values are the storage values: send them as they are (no per-value
        # type processing), so what is hashed is exactly what is stored.
        if conn.dialect.name == "postgresql" and len(batch) >= COPY_THRESHOLD:
            _copy_rows(conn, spec, batch)
        else:
            _insert_rows(conn, spec, batch)
        conn.execute(
            update(m.chain_heads)
            .where(m.chain_heads.c.table_name == table)
            .values(last_id=last_id, last_hash=last_hash)
        )
        return list(range(head.last_id + 1, last_id + 1))

    def record_occurrence(
        self, slot: Slot, state: str = "planned", reason: str | None = None
    ) -> int:
        """Record an occurrence once (idempotent on window and start) with its first state."""
        if state not in OCCURRENCE_STATES:
            raise ValueError(f"unknown occurrence state {state!r}")
        with self.engine.begin() as conn:
            lock_table(conn, "occurrences")  # two planners must not both insert the same one
            found = conn.execute(
                select(m.occurrences.c.id).where(
                    and_(
                        m.occurrences.c.window == slot.window,
                        m.occurrences.c.start_utc == slot.start,
                    )
                )
            ).scalar()
            if found is not None:
                return int(found)
            (oid,) = self.append_in(
                conn,
                "occurrences",
                [
                    {
                        "window": slot.window,
                        "start_utc": slot.start,
                        "end_utc": slot.end,
                        "cutoff_utc": slot.cutoff,
                        "timezone": slot.timezone,
                        "wall_start": slot.local_start,
                    }
                ],
            )
            self.append_in(
                conn,
                "occurrence_states",
                [{"occurrence_id": oid, "state": state, "reason": reason}],
            )
            return oid

    def set_occurrence_state(
        self, occurrence_id: int, state: str, reason: str | None = None, actor: str | None = None
    ) -> int:
        if state not in OCCURRENCE_STATES:
            raise ValueError(f"unknown occurrence state {state!r}")
        row = {"occurrence_id": occurrence_id, "state": state, "reason": reason, "actor": actor}
        return self.append("occurrence_states", [row])[0]

    def occurrence_state(self, occurrence_id: int) -> tuple[str, str | None]:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(m.occurrence_states.c.state, m.occurrence_states.c.reason)
                .where(m.occurrence_states.c.occurrence_id == occurrence_id)
                .order_by(m.occurrence_states.c.id.desc())
                .limit(1)
            ).one()
            return row.state, row.reason

    def start_run(
        self,
        window: str | None,
        mode: str = "apply",
        run_uid: str | None = None,
        occurrence_id: int | None = None,
        plan_uid: str | None = None,
        actor: str | None = None,
    ) -> RunId:
        """Record a run as running; its id (an int) carries its uid."""
        uid = run_uid or f"run-{os.getpid()}-{self.clock.now().strftime('%Y%m%dT%H%M%S%f')}"
        with self.engine.begin() as conn:
            (rid,) = self.append_in(
                conn,
                "runs",
                [
                    {
                        "run_uid": uid,
                        "occurrence_id": occurrence_id,
                        "plan_uid": plan_uid,
                        "window": window,
                        "mode": mode,
                        "actor": actor,
                        "started_at": self.clock.now(),
                    }
                ],
            )
            self.append_in(conn, "run_states", [{"run_id": rid, "state": "running"}])
            return RunId(rid, uid)

    def finish_run(self, run_id: int, state: str = "done", message: str | None = None) -> None:
        self.append("run_states", [{"run_id": run_id, "state": state, "message": message}])

    def add_results(self, run_id: int, results: Sequence[Mapping[str, Any]]) -> list[int]:
        """Per-host per-task results: host, task, status, changed, started_at, duration_s, ..."""
        return self.append("task_results", results, {"run_id": run_id})

    # --- reading ------------------------------------------------------------------------------

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            query = select(func.count()).select_from(m.CHAINED_TABLES[table])
            return int(conn.execute(query).scalar_one())

    def results(
        self,
        window: str | None = None,
        host: str | None = None,
        since: datetime | None = None,
        limit: int | None = 200,
    ) -> list[dict[str, Any]]:
        """Task results, newest last, with the run's window (for ``maint log``)."""
        r, t = m.runs, m.task_results
        query = select(
            t.c.id,
            t.c.started_at,
            r.c.window,
            r.c.run_uid,
            t.c.host,
            t.c.task,
            t.c.status,
            t.c.changed,
            t.c.duration_s,
            t.c.message,
            t.c.diff_summary,
        ).join(r, r.c.id == t.c.run_id)
        if window:
            query = query.where(r.c.window == window)
        if host:
            query = query.where(t.c.host == host)
        if since:
            query = query.where(t.c.started_at >= since)
        query = query.order_by(t.c.id.desc())
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
        rows.reverse()
        return rows

    def summary(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Results between ``start`` and ``end`` grouped by task and status."""
        t = m.task_results
        query = (
            select(
                t.c.task,
                t.c.status,
                func.count().label("results"),
                func.sum(func.cast(t.c.changed, Integer)).label("changed"),
                func.count(func.distinct(t.c.host)).label("hosts"),
                func.avg(t.c.duration_s).label("avg_duration_s"),
            )
            .where(and_(t.c.started_at >= start, t.c.started_at < end))
            .group_by(t.c.task, t.c.status)
            .order_by(t.c.task, t.c.status)
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def _rows(self, conn: Connection, table: str, batch: int = 5000) -> Iterator[Mapping[str, Any]]:
        target = m.CHAINED_TABLES[table]
        last = 0
        while True:
            chunk = conn.execute(
                select(target).where(target.c.id > last).order_by(target.c.id).limit(batch)
            ).all()
            if not chunk:
                return
            for row in chunk:
                yield row._mapping
            last = chunk[-1].id

    def heads(self) -> dict[str, tuple[int, str]]:
        """Each chain's head as the database says: table -> (last id, last hash)."""
        with self.engine.connect() as conn:
            return {
                row.table_name: (int(row.last_id), str(row.last_hash))
                for row in conn.execute(select(m.chain_heads))
            }

    def row_hash(self, table: str, row_id: int) -> str | None:
        """The stored hash of one row (None when the row is not there)."""
        target = m.CHAINED_TABLES[table]
        with self.engine.connect() as conn:
            found = conn.execute(select(target.c.row_hash).where(target.c.id == row_id)).scalar()
        return str(found) if found is not None else None

    def verify(self, tables: Iterable[str] | None = None) -> VerifyReport:
        """Recompute every chain (or those of ``tables``); report edited, deleted and inserted
        rows."""
        wanted = list(m.CHAINED_TABLES) if tables is None else list(tables)
        report = VerifyReport()
        with self.engine.connect() as conn:
            heads = {
                row.table_name: (row.last_id, row.last_hash)
                for row in conn.execute(select(m.chain_heads))
            }
            for name in wanted:
                if name not in heads:
                    report.problems.append(Problem(name, None, "chain head missing"))
                    continue
                head_id, head_hash = heads[name]
                count, problems = check_chain(
                    SPECS[name], self._rows(conn, name), head_id, head_hash
                )
                report.rows[name] = count
                report.heads[name] = head_hash
                report.problems.extend(problems)
        return report
