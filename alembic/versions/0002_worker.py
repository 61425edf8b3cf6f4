"""Worker bookkeeping: inbox leases, job runs, store-call retries, reconciliation watermarks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.alter_column("shop_id", existing_type=sa.BigInteger(), nullable=False)
        batch.add_column(sa.Column("locked_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("rewards") as batch:
        batch.add_column(
            sa.Column("store_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("next_store_attempt_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("last_store_error", sa.Text(), nullable=True))
    with op.batch_alter_table("shops") as batch:
        batch.add_column(
            sa.Column("reconcile_watermark", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("store_paused_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "job_runs",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_count", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("runs", sa.Integer(), server_default="0", nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index(
        "ix_rewards_status_next_store_attempt_at", "rewards", ["status", "next_store_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_rewards_status_next_store_attempt_at", table_name="rewards")
    op.drop_table("job_runs")
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("locked_until")
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("store_paused_until")
        batch.drop_column("reconcile_watermark")
    with op.batch_alter_table("rewards") as batch:
        batch.drop_column("last_store_error")
        batch.drop_column("next_store_attempt_at")
        batch.drop_column("store_attempts")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("processed_at")
        batch.drop_column("locked_by")
        batch.alter_column("shop_id", existing_type=sa.BigInteger(), nullable=True)
