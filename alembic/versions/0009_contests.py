"""Contests: recorded winner draws, and the index the live leaderboard reads through.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# BIGINT keys on PostgreSQL; INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DRAWS = "contest_draws"
TIME = sa.DateTime(timezone=True)
# A contest's entries are its program's converted referrals: the leaderboard's one aggregate
# reads just those rows instead of every converted referral of the shop.
REFERRALS_INDEX = "ix_referrals_shop_id_program_id_status"


def upgrade() -> None:
    op.create_table(
        DRAWS,
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("program_id", ID, nullable=False),
        sa.Column("seed", sa.String(length=256), nullable=False),
        sa.Column("seed_source", sa.String(length=16), nullable=False),
        sa.Column("weighting", sa.String(length=16), nullable=False),
        sa.Column("algorithm", sa.String(length=64), nullable=False),
        sa.Column("starts_at", TIME, nullable=True),
        sa.Column("ends_at", TIME, nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("advocates", sa.Integer(), nullable=False),
        sa.Column("entries_digest", sa.String(length=64), nullable=False),
        sa.Column("winners", sa.JSON(), nullable=False),
        sa.Column("drawn_by", sa.String(length=255), nullable=False),
        sa.Column("drawn_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f(f"fk_{DRAWS}_shop_id_shops")),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f(f"fk_{DRAWS}_program_id_programs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{DRAWS}")),
    )
    op.create_index(f"ix_{DRAWS}_shop_id_program_id_id", DRAWS, ["shop_id", "program_id", "id"])
    op.create_index(REFERRALS_INDEX, "referrals", ["shop_id", "program_id", "status"])


def downgrade() -> None:
    op.drop_index(REFERRALS_INDEX, table_name="referrals")
    op.drop_index(f"ix_{DRAWS}_shop_id_program_id_id", table_name=DRAWS)
    op.drop_table(DRAWS)
