"""Shopper emails: advocates' language, email unsubscribes, friend invites, the automatic
enrollment cursor, and an index to read conversions by update time (issue 6).

The outbox's new statuses (`draft`, `skipped`) need no change: the status column is text.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# BIGINT keys on PostgreSQL; INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
UNSUBSCRIBES = "email_unsubscribes"
INVITES = "friend_invites"
CURSORS = "auto_enroll_cursors"
CONVERSIONS_INDEX = "ix_conversions_shop_id_updated_at_id"


def upgrade() -> None:
    op.add_column("advocates", sa.Column("language", sa.String(length=8), nullable=True))
    op.create_table(
        UNSUBSCRIBES,
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f(f"fk_{UNSUBSCRIBES}_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{UNSUBSCRIBES}")),
        sa.UniqueConstraint(
            "shop_id", "email_hash", name=op.f(f"uq_{UNSUBSCRIBES}_shop_id_email_hash")
        ),
    )
    op.create_table(
        INVITES,
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("advocate_id", ID, nullable=False),
        sa.Column("friend_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f(f"fk_{INVITES}_shop_id_shops")
        ),
        sa.ForeignKeyConstraint(
            ["advocate_id"], ["advocates.id"], name=op.f(f"fk_{INVITES}_advocate_id_advocates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{INVITES}")),
        sa.UniqueConstraint(
            "shop_id",
            "advocate_id",
            "friend_hash",
            name=op.f(f"uq_{INVITES}_shop_id_advocate_id_friend_hash"),
        ),
    )
    op.create_table(
        CURSORS,
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("program_id", ID, nullable=False),
        sa.Column("after_updated_at", TIME, nullable=False),
        sa.Column("after_conversion_id", ID, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f(f"fk_{CURSORS}_shop_id_shops")
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f(f"fk_{CURSORS}_program_id_programs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{CURSORS}")),
        sa.UniqueConstraint("shop_id", "program_id", name=op.f(f"uq_{CURSORS}_shop_id_program_id")),
    )
    op.create_index(CONVERSIONS_INDEX, "conversions", ["shop_id", "updated_at", "id"])


def downgrade() -> None:
    op.drop_index(CONVERSIONS_INDEX, table_name="conversions")
    op.drop_table(CURSORS)
    op.drop_table(INVITES)
    op.drop_table(UNSUBSCRIBES)
    with op.batch_alter_table("advocates") as batch:
        batch.drop_column("language")
