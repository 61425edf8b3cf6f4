"""Compliance: customer data requests and redactions (Shopify's mandatory topics).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# BIGINT keys on PostgreSQL; INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "data_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("order_ids", sa.JSON(), nullable=True),
        sa.Column("export", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_data_requests_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_requests")),
        sa.UniqueConstraint(
            "shop_id", "request_id", name=op.f("uq_data_requests_shop_id_request_id")
        ),
    )
    op.create_index(
        "ix_data_requests_shop_id_created_at", "data_requests", ["shop_id", "created_at"]
    )
    op.create_table(
        "redactions",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_redactions_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redactions")),
        sa.UniqueConstraint(
            "shop_id", "request_key", name=op.f("uq_redactions_shop_id_request_key")
        ),
    )
    op.create_index("ix_redactions_shop_id_created_at", "redactions", ["shop_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_redactions_shop_id_created_at", table_name="redactions")
    op.drop_table("redactions")
    op.drop_index("ix_data_requests_shop_id_created_at", table_name="data_requests")
    op.drop_table("data_requests")
