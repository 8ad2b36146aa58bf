"""The action log schema (SQLAlchemy Core tables).

Every table except ``chain_heads`` is append-only and hash-chained: its rows carry ``prev_hash``
(the ``row_hash`` of the row before, in ``id`` order) and ``row_hash`` (see ``chain.py``).
States change by appending a row (``occurrence_states``, ``run_states``), never by UPDATE, so the
chain proves the whole history. ``chain_heads`` holds the last id and hash of each chain, so that
deleting the newest rows is detected too.

The Alembic migrations in ``migrations/versions`` create exactly this schema; a test compares
them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

GENESIS = "0" * 64

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant stored as naive UTC (same bytes in SQLite and PostgreSQL), read back aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the action log stores aware instants")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


def _chain_columns() -> list[Column[Any]]:
    return [
        Column("recorded_at", UTCDateTime(), nullable=False),
        Column("prev_hash", String(64), nullable=False),
        Column("row_hash", String(64), nullable=False),
    ]


occurrences = Table(
    "occurrences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("window", String(200), nullable=False),
    Column("start_utc", UTCDateTime(), nullable=False),
    Column("end_utc", UTCDateTime(), nullable=False),
    Column("cutoff_utc", UTCDateTime(), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("wall_start", String(32), nullable=False),
    *_chain_columns(),
    UniqueConstraint("window", "start_utc", name="uq_occurrences_window_start"),
)

occurrence_states = Table(
    "occurrence_states",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("occurrence_id", Integer, ForeignKey("occurrences.id"), nullable=False, index=True),
    Column("state", String(20), nullable=False),  # planned approved running done skipped
    Column("reason", Text, nullable=True),
    Column("actor", String(200), nullable=True),
    *_chain_columns(),
)

plans = Table(
    "plans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("plan_uid", String(80), nullable=False, unique=True),
    Column("occurrence_id", Integer, ForeignKey("occurrences.id"), nullable=True),
    Column("window", String(200), nullable=True),
    Column("content_hash", String(128), nullable=False),
    Column("created_by", String(200), nullable=True),
    Column("summary", JSON, nullable=True),
    *_chain_columns(),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("plan_uid", String(80), nullable=False, index=True),
    Column("approver", String(200), nullable=False),
    Column("decision", String(20), nullable=False),  # approved rejected
    Column("signature", Text, nullable=True),
    Column("comment", Text, nullable=True),
    *_chain_columns(),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("run_uid", String(80), nullable=False, unique=True),
    Column("occurrence_id", Integer, ForeignKey("occurrences.id"), nullable=True),
    Column("plan_uid", String(80), nullable=True),
    Column("window", String(200), nullable=True, index=True),
    Column("mode", String(20), nullable=False),  # check apply rollback
    Column("actor", String(200), nullable=True),
    Column("started_at", UTCDateTime(), nullable=False),
    *_chain_columns(),
)

run_states = Table(
    "run_states",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True),
    Column("state", String(20), nullable=False),  # running done failed aborted
    Column("message", Text, nullable=True),
    *_chain_columns(),
)

task_results = Table(
    "task_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("host", String(255), nullable=False),
    Column("task", String(64), nullable=False),
    Column("status", String(20), nullable=False),  # ok changed failed skipped unreachable
    Column("changed", Boolean, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("message", Text, nullable=True),
    Column("diff_summary", Text, nullable=True),
    *_chain_columns(),
    # No index on host: it costs a fifth of the ingest speed on SQLite; `maint log --host`
    # scans (docs/performance.md has the figure).
    Index("ix_task_results_started_at", "started_at"),
    Index("ix_task_results_run_id", "run_id"),
)

findings = Table(
    "findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=True, index=True),
    Column("host", String(255), nullable=False),
    Column("task", String(64), nullable=False),
    Column("finding_id", String(200), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("message", Text, nullable=False),
    Column("recommendation", Text, nullable=True),
    *_chain_columns(),
)

rollbacks = Table(
    "rollbacks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=True, index=True),
    Column("host", String(255), nullable=False),
    Column("task", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("message", Text, nullable=True),
    Column("data", JSON, nullable=True),
    *_chain_columns(),
)

followups = Table(
    "followups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("finding_id", Integer, ForeignKey("findings.id"), nullable=True, index=True),
    Column("priority", String(8), nullable=False),  # P1..P4
    Column("title", Text, nullable=False),
    Column("status", String(20), nullable=False),  # open done wontfix
    Column("due_at", UTCDateTime(), nullable=True),
    Column("assignee", String(200), nullable=True),
    *_chain_columns(),
)

run_events = Table(
    "run_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True),
    Column("host", String(255), nullable=True),
    Column("task", String(64), nullable=True),  # the preventive task (role) when inside one
    Column("event", String(40), nullable=False),  # runner_on_ok, batch_start, rollback, ...
    Column("name", Text, nullable=True),  # the Ansible task name
    Column("changed", Boolean, nullable=False),
    Column("message", Text, nullable=True),  # short, never a whole result (secrets)
    *_chain_columns(),
)

result_details = Table(
    "result_details",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True),
    Column("host", String(255), nullable=False),
    Column("task", String(64), nullable=False),
    Column("data", JSON, nullable=True),  # maint_result.data
    Column("rollback", JSON, nullable=True),  # maint_result.rollback
    *_chain_columns(),
)

followup_events = Table(
    "followup_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("followup_id", Integer, ForeignKey("followups.id"), nullable=False, index=True),
    Column("action", String(20), nullable=False),  # ack note close reopen
    Column("actor", String(200), nullable=True),
    Column("note", Text, nullable=True),
    *_chain_columns(),
)

# What a host was first seen with: an update available ("update", subject "package=version")
# or a vulnerability it was exposed to ("cve", subject "CVE-2026-1234 package"). One row per
# kind, host and subject: its recorded_at is the first sighting (approve_after counts from it,
# and a CVE's exposure and time to remediate).
sightings = Table(
    "sightings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(20), nullable=False),
    Column("host", String(255), nullable=False),
    Column("subject", String(400), nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=True),
    Column("plan_uid", String(80), nullable=True),
    Column("detail", JSON, nullable=True),
    *_chain_columns(),
    UniqueConstraint("kind", "host", "subject", name="uq_sightings_kind_host_subject"),
)

chain_heads = Table(
    "chain_heads",
    metadata,
    Column("table_name", String(64), primary_key=True),
    Column("last_id", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

CHAINED_TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        occurrences,
        occurrence_states,
        plans,
        approvals,
        runs,
        run_states,
        task_results,
        findings,
        rollbacks,
        followups,
        run_events,
        result_details,
        followup_events,
        sightings,
    )
}
