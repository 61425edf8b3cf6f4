"""Friend codes in the store: per-code push state for advocates' codes, and its index.

Existing advocate codes become due at once (`store_next_attempt_at` = their creation time), so
the worker's `sync_friend_codes` job puts them into their stores after the upgrade.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

IN_STORE_WORK = "store_next_attempt_at IS NOT NULL OR store_error IS NOT NULL"
INDEX = "ix_codes_shop_id_store_next_attempt_at"


def upgrade() -> None:
    with op.batch_alter_table("codes") as batch:
        batch.add_column(sa.Column("store_next_attempt_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("store_synced_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("store_error", sa.Text()))
        batch.add_column(
            sa.Column("store_attempts", sa.Integer(), server_default="0", nullable=False)
        )
    op.execute("UPDATE codes SET store_next_attempt_at = created_at WHERE kind = 'advocate'")
    op.create_index(
        INDEX,
        "codes",
        ["shop_id", "store_next_attempt_at"],
        postgresql_where=sa.text(IN_STORE_WORK),
        sqlite_where=sa.text(IN_STORE_WORK),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="codes")
    with op.batch_alter_table("codes") as batch:
        batch.drop_column("store_attempts")
        batch.drop_column("store_error")
        batch.drop_column("store_synced_at")
        batch.drop_column("store_next_attempt_at")
