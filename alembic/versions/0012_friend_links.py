"""Referral links and per-friend claims (issue 6): the friend's typed email on a claimed code
until it is in the store, and the referral link's count of unknown codes per keyed IP.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("codes") as batch:
        batch.add_column(sa.Column("store_email", sa.String(320)))
    op.create_table(
        "referral_link_misses",
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", "window_start", name=op.f("pk_referral_link_misses")),
    )


def downgrade() -> None:
    op.drop_table("referral_link_misses")
    with op.batch_alter_table("codes") as batch:
        batch.drop_column("store_email")
