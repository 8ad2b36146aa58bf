"""sightings: what a host was first seen with

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

``sightings`` records, once per kind, host and subject, the first time a plan or an audit saw an
update available on a host (approve_after counts from it) or a vulnerability the host is exposed
to (its exposure and time to remediate count from it). Chained like the rest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "sightings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("plan_uid", sa.String(length=80), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_sightings_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings")),
        sa.UniqueConstraint("kind", "host", "subject", name="uq_sightings_kind_host_subject"),
    )
    chain_heads = sa.table(
        "chain_heads",
        sa.column("table_name", sa.String),
        sa.column("last_id", sa.Integer),
        sa.column("last_hash", sa.String),
    )
    op.bulk_insert(chain_heads, [{"table_name": "sightings", "last_id": 0, "last_hash": GENESIS}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM chain_heads WHERE table_name = 'sightings'"))
    op.drop_table("sightings")
