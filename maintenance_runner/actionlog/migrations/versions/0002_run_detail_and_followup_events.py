"""run events, result details and follow-up events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

``run_events`` keeps the event stream of a run as it happens (short messages only),
``result_details`` the data and rollback record each role published, ``followup_events``
acknowledgements, notes and closures of follow-ups. All three are chained like the rest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
CHAINED = ("run_events", "result_details", "followup_events")


def _chain() -> list[sa.Column]:
    return [
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "run_events",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("task", sa.String(length=64), nullable=True),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        *_chain(),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_events_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_events")),
    )
    op.create_index(op.f("ix_run_events_run_id"), "run_events", ["run_id"], unique=False)
    op.create_table(
        "result_details",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("rollback", sa.JSON(), nullable=True),
        *_chain(),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_result_details_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result_details")),
    )
    op.create_index(op.f("ix_result_details_run_id"), "result_details", ["run_id"], unique=False)
    op.create_table(
        "followup_events",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("followup_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        *_chain(),
        sa.ForeignKeyConstraint(
            ["followup_id"],
            ["followups.id"],
            name=op.f("fk_followup_events_followup_id_followups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_events")),
    )
    op.create_index(
        op.f("ix_followup_events_followup_id"), "followup_events", ["followup_id"], unique=False
    )
    chain_heads = sa.table(
        "chain_heads",
        sa.column("table_name", sa.String),
        sa.column("last_id", sa.Integer),
        sa.column("last_hash", sa.String),
    )
    op.bulk_insert(
        chain_heads, [{"table_name": t, "last_id": 0, "last_hash": GENESIS} for t in CHAINED]
    )


def downgrade() -> None:
    op.execute(
        sa.text(
            "DELETE FROM chain_heads WHERE table_name IN ({})".format(
                ", ".join(f"'{t}'" for t in CHAINED)
            )
        )
    )
    for table in reversed(CHAINED):
        op.drop_index(
            op.f(f"ix_{table}_{'followup_id' if table == 'followup_events' else 'run_id'}"),
            table_name=table,
        )
        op.drop_table(table)
