"""A/B tests of program offers: the advocate's group, and one assignment row per advocate.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# BIGINT keys on PostgreSQL; INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE = "experiment_assignments"
INDEX = f"ix_{TABLE}_shop_id_program_id_variant"


def upgrade() -> None:
    with op.batch_alter_table("advocates") as batch:
        batch.add_column(sa.Column("variant", sa.String(16)))
    op.create_table(
        TABLE,
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("program_id", ID, nullable=False),
        sa.Column("advocate_id", ID, nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f(f"fk_{TABLE}_shop_id_shops")),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f(f"fk_{TABLE}_program_id_programs")
        ),
        sa.ForeignKeyConstraint(
            ["advocate_id"], ["advocates.id"], name=op.f(f"fk_{TABLE}_advocate_id_advocates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
        sa.UniqueConstraint("advocate_id", name=op.f(f"uq_{TABLE}_advocate_id")),
    )
    op.create_index(INDEX, TABLE, ["shop_id", "program_id", "variant"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    op.drop_table(TABLE)
    with op.batch_alter_table("advocates") as batch:
        batch.drop_column("variant")
