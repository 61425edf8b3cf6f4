"""Store connections: one-time WooCommerce key-flow requests, per-shop store-job leases.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# BIGINT keys on PostgreSQL; INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "connect_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("store_url", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("shop_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_connect_requests_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_requests")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_connect_requests_token_hash")),
    )
    op.create_index("ix_connect_requests_expires_at", "connect_requests", ["expires_at"])
    op.create_table(
        "shop_job_leases",
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(length=64), nullable=True),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_shop_job_leases_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("shop_id", "job", name=op.f("pk_shop_job_leases")),
    )


def downgrade() -> None:
    op.drop_table("shop_job_leases")
    op.drop_index("ix_connect_requests_expires_at", table_name="connect_requests")
    op.drop_table("connect_requests")
