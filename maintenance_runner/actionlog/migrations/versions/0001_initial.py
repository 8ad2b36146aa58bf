"""initial action log schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Every table but chain_heads is append-only and hash-chained (see actionlog/chain.py);
chain_heads starts with one row per chained table at id 0 and the genesis hash.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64
CHAINED = (
    "occurrences",
    "occurrence_states",
    "plans",
    "approvals",
    "runs",
    "run_states",
    "task_results",
    "findings",
    "rollbacks",
    "followups",
)


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("plan_uid", sa.String(length=80), nullable=False),
        sa.Column("approver", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
    )
    op.create_index(op.f("ix_approvals_plan_uid"), "approvals", ["plan_uid"], unique=False)

    op.create_table(
        "chain_heads",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_chain_heads")),
    )
    op.create_table(
        "occurrences",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("window", sa.String(length=200), nullable=False),
        sa.Column("start_utc", sa.DateTime(), nullable=False),
        sa.Column("end_utc", sa.DateTime(), nullable=False),
        sa.Column("cutoff_utc", sa.DateTime(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("wall_start", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_occurrences")),
        sa.UniqueConstraint("window", "start_utc", name="uq_occurrences_window_start"),
    )
    op.create_table(
        "occurrence_states",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["occurrence_id"],
            ["occurrences.id"],
            name=op.f("fk_occurrence_states_occurrence_id_occurrences"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_occurrence_states")),
    )
    op.create_index(
        op.f("ix_occurrence_states_occurrence_id"),
        "occurrence_states",
        ["occurrence_id"],
        unique=False,
    )

    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("plan_uid", sa.String(length=80), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=True),
        sa.Column("window", sa.String(length=200), nullable=True),
        sa.Column("content_hash", sa.String(length=128), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["occurrence_id"], ["occurrences.id"], name=op.f("fk_plans_occurrence_id_occurrences")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("plan_uid", name=op.f("uq_plans_plan_uid")),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_uid", sa.String(length=80), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=True),
        sa.Column("plan_uid", sa.String(length=80), nullable=True),
        sa.Column("window", sa.String(length=200), nullable=True),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["occurrence_id"], ["occurrences.id"], name=op.f("fk_runs_occurrence_id_occurrences")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("run_uid", name=op.f("uq_runs_run_uid")),
    )
    op.create_index(op.f("ix_runs_window"), "runs", ["window"], unique=False)

    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("finding_id", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("recommendation", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_findings_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    op.create_index(op.f("ix_findings_run_id"), "findings", ["run_id"], unique=False)

    op.create_table(
        "rollbacks",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_rollbacks_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollbacks")),
    )
    op.create_index(op.f("ix_rollbacks_run_id"), "rollbacks", ["run_id"], unique=False)

    op.create_table(
        "run_states",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_states_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_states")),
    )
    op.create_index(op.f("ix_run_states_run_id"), "run_states", ["run_id"], unique=False)

    op.create_table(
        "task_results",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("diff_summary", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_task_results_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_results")),
    )
    op.create_index("ix_task_results_run_id", "task_results", ["run_id"], unique=False)
    op.create_index("ix_task_results_started_at", "task_results", ["started_at"], unique=False)

    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["findings.id"], name=op.f("fk_followups_finding_id_findings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followups")),
    )
    op.create_index(op.f("ix_followups_finding_id"), "followups", ["finding_id"], unique=False)
    chain_heads = sa.table(
        "chain_heads",
        sa.column("table_name", sa.String),
        sa.column("last_id", sa.Integer),
        sa.column("last_hash", sa.String),
    )
    op.bulk_insert(
        chain_heads,
        [{"table_name": name, "last_id": 0, "last_hash": GENESIS} for name in CHAINED],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_followups_finding_id"), table_name="followups")

    op.drop_table("followups")
    op.drop_index("ix_task_results_started_at", table_name="task_results")
    op.drop_index("ix_task_results_run_id", table_name="task_results")

    op.drop_table("task_results")
    op.drop_index(op.f("ix_run_states_run_id"), table_name="run_states")

    op.drop_table("run_states")
    op.drop_index(op.f("ix_rollbacks_run_id"), table_name="rollbacks")

    op.drop_table("rollbacks")
    op.drop_index(op.f("ix_findings_run_id"), table_name="findings")

    op.drop_table("findings")
    op.drop_index(op.f("ix_runs_window"), table_name="runs")

    op.drop_table("runs")
    op.drop_table("plans")
    op.drop_index(op.f("ix_occurrence_states_occurrence_id"), table_name="occurrence_states")

    op.drop_table("occurrence_states")
    op.drop_table("occurrences")
    op.drop_table("chain_heads")
    op.drop_index(op.f("ix_approvals_plan_uid"), table_name="approvals")

    op.drop_table("approvals")
