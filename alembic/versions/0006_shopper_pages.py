"""Shopper pages: rate-limit counters and the programs' public ids.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# BIGINT keys on PostgreSQL; INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rate_limit_counters",
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_rate_limit_counters_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint(
            "shop_id", "scope", "key_hash", "window_start", name=op.f("pk_rate_limit_counters")
        ),
    )
    op.add_column("programs", sa.Column("public_id", sa.String(length=24), nullable=True))
    programs = sa.table("programs", sa.column("id", ID), sa.column("public_id", sa.String))
    connection = op.get_bind()
    for (program_id,) in connection.execute(sa.select(programs.c.id)).all():
        connection.execute(
            programs.update()
            .where(programs.c.id == program_id)
            .values(public_id=secrets.token_urlsafe(12))
        )
    op.create_index("ix_programs_public_id", "programs", ["public_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_programs_public_id", table_name="programs")
    with op.batch_alter_table("programs") as batch:
        batch.drop_column("public_id")
    op.drop_table("rate_limit_counters")
