"""Merchant dashboard access: magic-link sign-in and sessions (issue 7).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# BIGINT keys on PostgreSQL; INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "merchant_sign_in_links",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("used_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_merchant_sign_in_links_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_sign_in_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_merchant_sign_in_links_token_hash")),
    )
    op.create_index(
        "ix_merchant_sign_in_links_shop_id_expires_at",
        "merchant_sign_in_links",
        ["shop_id", "expires_at"],
    )
    op.create_table(
        "merchant_sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_seen_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("ended_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_merchant_sessions_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_merchant_sessions_token_hash")),
    )
    op.create_index(
        "ix_merchant_sessions_shop_id_expires_at", "merchant_sessions", ["shop_id", "expires_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_merchant_sessions_shop_id_expires_at", table_name="merchant_sessions")
    op.drop_table("merchant_sessions")
    op.drop_index(
        "ix_merchant_sign_in_links_shop_id_expires_at", table_name="merchant_sign_in_links"
    )
    op.drop_table("merchant_sign_in_links")
