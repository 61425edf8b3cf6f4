"""Segments (issue 7): the index of a shop's orders by customer covers what the segments sum
(paid, cancelled, test, paid time, amounts, currency), so PostgreSQL reads a customer's orders
from the index alone. SQLite has no covering indexes: the index stays as it was there.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

INDEX = "ix_conversions_shop_id_identity_email"
COLUMNS = ["shop_id", "identity_email"]
INCLUDED = ["paid", "paid_at", "cancelled", "is_test", "total", "refunded_total", "currency"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(INDEX, table_name="conversions")
        op.create_index(INDEX, "conversions", COLUMNS, postgresql_include=INCLUDED)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(INDEX, table_name="conversions")
        op.create_index(INDEX, "conversions", COLUMNS)
