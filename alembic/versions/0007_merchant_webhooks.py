"""Merchant webhooks: endpoints the merchant registers and the delivery log.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# BIGINT keys on PostgreSQL; INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ENDPOINTS = "merchant_webhook_endpoints"
DELIVERIES = "merchant_webhook_deliveries"
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        ENDPOINTS,
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("failing_since", TIME, nullable=True),
        sa.Column("disabled_at", TIME, nullable=True),
        sa.Column("disabled_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f(f"fk_{ENDPOINTS}_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{ENDPOINTS}")),
    )
    op.create_index(f"ix_{ENDPOINTS}_shop_id_active", ENDPOINTS, ["shop_id", "active"])
    op.create_table(
        DELIVERIES,
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("endpoint_id", ID, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=True),
        sa.Column("locked_until", TIME, nullable=True),
        sa.Column("locked_by", sa.String(length=64), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", TIME, nullable=True),
        sa.Column("delivered_at", TIME, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f(f"fk_{DELIVERIES}_shop_id_shops")
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], [f"{ENDPOINTS}.id"], name=op.f(f"fk_{DELIVERIES}_endpoint_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{DELIVERIES}")),
        sa.UniqueConstraint(
            "endpoint_id", "dedup_key", name=op.f(f"uq_{DELIVERIES}_endpoint_id_dedup_key")
        ),
    )
    op.create_index(
        f"ix_{DELIVERIES}_shop_id_endpoint_id_id", DELIVERIES, ["shop_id", "endpoint_id", "id"]
    )
    op.create_index(
        f"ix_{DELIVERIES}_status_next_attempt_at", DELIVERIES, ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index(f"ix_{DELIVERIES}_status_next_attempt_at", table_name=DELIVERIES)
    op.drop_index(f"ix_{DELIVERIES}_shop_id_endpoint_id_id", table_name=DELIVERIES)
    op.drop_table(DELIVERIES)
    op.drop_index(f"ix_{ENDPOINTS}_shop_id_active", table_name=ENDPOINTS)
    op.drop_table(ENDPOINTS)
