"""Mutual exclusion for ``maint tick``: between processes on one control node, and between
control nodes sharing one PostgreSQL action log.

- SQLite action log: an exclusive ``flock`` on a lock file beside the database
  (``<db>.<name>.lock``, e.g. ``.maint/actionlog.db.tick.lock``). The kernel releases it when the
  holder exits or dies. Lock files are never deleted (deleting a flock file races with the next
  holder); they hold the current holder's host, pid and start time for the busy message.
- PostgreSQL action log: a session-level advisory lock (``pg_try_advisory_lock``, or the blocking
  ``pg_advisory_lock`` with ``wait=True``) on a dedicated connection, released on exit and by
  the server when the holder's connection ends, which it does when the process dies. The keys
  use the two-int4 key space (class: ``maint.locks``, object: the name's CRC-32), which never
  overlaps the single-bigint keys the action log store serialises its writers with.

Both kinds are exclusive per open file or connection, so a second acquisition in the same
process is refused as well. File descriptors and sockets are close-on-exec: programs the holder
starts (ansible) do not inherit the lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import socket
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from maintenance_runner.actionlog.store import normalise_url, redact

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CLASS = "maint.locks"
HOLDER_WRITE_GRACE_S = 1.0  # how long a busy lock's file may lack its holder's line


class LockBusy(RuntimeError):
    """Another process (on this or another control node) holds the lock."""

    def __init__(self, name: str, where: str, holder: str | None) -> None:
        self.name = name
        self.where = where
        self.holder = holder
        by = f" by {holder}" if holder else ""
        super().__init__(f"lock {name!r} is held{by} ({where})")


@dataclass
class HeldLock:
    """A lock this process holds, for as long as the ``with`` block runs."""

    name: str
    where: str  # the lock file, or the advisory lock keys and the database (no password)
    _connection: Connection | None = field(default=None, repr=False)

    def alive(self) -> bool:
        """Still held? A file lock always is; an advisory lock as long as its connection lives
        (a long run can check this before each batch)."""
        if self._connection is None:
            return True
        try:
            self._connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True


def _check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(
            f"bad lock name {name!r}: letters, digits, '.', '_' and '-', at most 64 characters"
        )
    return name


def _signed32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def advisory_keys(name: str) -> tuple[int, int]:
    """The (int4, int4) PostgreSQL advisory lock keys for a lock name."""
    return _signed32(zlib.crc32(_CLASS.encode())), _signed32(zlib.crc32(name.encode()))


def lock_file(database: str | Path, name: str) -> Path:
    """The lock file beside a SQLite database for one lock name."""
    path = Path(database).absolute()
    return path.with_name(f"{path.name}.{name}.lock")


def _holder_line() -> str:
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"pid {os.getpid()} on {socket.gethostname()} since {started}"


def _read_holder(fd: int) -> str | None:
    """The holder's line from the lock file, or None.

    A process that has just taken the lock writes its line a moment later, so an empty or
    partial line is read again for up to HOLDER_WRITE_GRACE_S.
    """
    deadline = time.monotonic() + HOLDER_WRITE_GRACE_S
    while True:
        raw = os.pread(fd, 200, 0).decode(errors="replace")
        if raw.endswith("\n") or time.monotonic() >= deadline:
            return raw.strip() or None
        time.sleep(0.01)


@contextmanager
def _file_lock(path: Path, name: str, wait: bool) -> Iterator[HeldLock]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusy(name, str(path), _read_holder(fd)) from None
        line = (_holder_line() + "\n").encode()
        os.pwrite(fd, line, 0)
        os.ftruncate(fd, len(line))
        try:
            yield HeldLock(name, str(path))
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


_HOLDER_SQL = text(
    "SELECT a.application_name, host(a.client_addr) AS client, a.backend_start "
    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
    "AND l.classid::bigint = :c AND l.objid::bigint = :o"
)


def _pg_holder(connection: Connection, keys: tuple[int, int]) -> str | None:
    unsigned = {"c": keys[0] & 0xFFFFFFFF, "o": keys[1] & 0xFFFFFFFF}
    try:
        row = connection.execute(_HOLDER_SQL, unsigned).first()
    except SQLAlchemyError:
        return None
    if row is None:
        return None
    since = f" since {row.backend_start:%Y-%m-%dT%H:%M:%S%z}" if row.backend_start else ""
    return f"{row.application_name or 'a session'} (client {row.client or 'local'}){since}"


@contextmanager
def _advisory_lock(url: URL, name: str, shown: str, wait: bool) -> Iterator[HeldLock]:
    keys = advisory_keys(name)
    where = f"PostgreSQL advisory lock {keys[0]},{keys[1]} on {redact(url.render_as_string())}"
    # what a busy message shows of the holder (PostgreSQL keeps 63 bytes)
    application = f"maint pid {os.getpid()} on {socket.gethostname()}"[:63]
    connect_args: dict[str, Any] = {
        "application_name": application,
        "connect_timeout": 30,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }
    engine = create_engine(
        url, poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args=connect_args
    )
    try:
        with engine.connect() as connection:
            if wait:
                connection.execute(text("SELECT pg_advisory_lock(:c, :o)"), _args(keys))
            else:
                got = connection.execute(
                    text("SELECT pg_try_advisory_lock(:c, :o)"), _args(keys)
                ).scalar_one()
                if not got:
                    raise LockBusy(shown, where, _pg_holder(connection, keys))
            held = HeldLock(shown, where, connection)
            try:
                yield held
            finally:
                if held.alive():  # when the connection broke, the server released the lock
                    connection.execute(text("SELECT pg_advisory_unlock(:c, :o)"), _args(keys))
    finally:
        engine.dispose()


def _args(keys: tuple[int, int]) -> dict[str, int]:
    return {"c": keys[0], "o": keys[1]}


@contextmanager
def named_lock(
    url: str, name: str, *, wait: bool = False, label: str | None = None
) -> Iterator[HeldLock]:
    """Hold the lock ``name`` for the action log at ``url`` (an SQLAlchemy URL).

    Raises LockBusy at once when another process holds it, or waits for it with ``wait=True``.
    Raises ValueError for a bad name or a URL that cannot carry a lock (in-memory SQLite, other
    databases). ``label`` replaces the name in messages.
    """
    _check_name(name)
    parsed = make_url(normalise_url(url))
    backend = parsed.get_backend_name()
    shown = label or name
    if backend == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or database.startswith("file::memory:"):
            raise ValueError("an in-memory SQLite action log cannot be locked between processes")
        with _file_lock(lock_file(database, name), shown, wait) as held:
            yield held
    elif backend == "postgresql":
        with _advisory_lock(parsed, name, shown, wait) as held:
            yield held
    else:
        raise ValueError(f"cannot lock an action log on {backend!r} (SQLite or PostgreSQL only)")


@contextmanager
def tick_lock(url: str, name: str = "tick", *, wait: bool = False) -> Iterator[HeldLock]:
    """Only one ``maint tick`` at a time per action log, across processes and control nodes.

    ``with tick_lock(config.actionlog_url) as held: ...``; raises LockBusy when another tick
    runs (the caller exits quietly: the next tick will do the work), or waits with ``wait=True``.
    """
    with named_lock(url, name, wait=wait) as held:
        yield held


def occurrence_key_name(occurrence_key: str) -> str:
    """The lock name for one occurrence: ``occurrence-`` and a hash of the key."""
    digest = hashlib.sha256(occurrence_key.encode()).hexdigest()[:20]
    return f"occurrence-{digest}"


@contextmanager
def occurrence_lock(url: str, occurrence_key: str, *, wait: bool = False) -> Iterator[HeldLock]:
    """Exclusion per occurrence (e.g. ``monthly-servers@2026-12-10T21:00Z``), for work that
    outlives one tick, such as an apply that ``maint apply`` and a tick could both start."""
    name = occurrence_key_name(occurrence_key)
    with named_lock(url, name, wait=wait, label=f"occurrence {occurrence_key}") as held:
        yield held
