"""Tables for analytics (issue 7): each counted order with its customer's history beside it.

`analytics_customer_orders` holds one row per counted order (paid, with a paid time, neither
cancelled nor a test): its paid time and amounts; for a referred order, its referral's program
and advocate; when its customer's first and previous counted orders were paid; the program
that brought the customer, if a referral did. A customer is an identity email, else a
customer id, else (an order we cannot match to anyone, such as one whose customer was
redacted) the order itself. Distinct customers, new customers and what a cohort spent then
need no grouping by customer at read time: a customer's first order in a period is the row
whose previous order falls before the period.

The rows are derived, never written by the application: database triggers on `conversions`
and `referrals` (migration 0010, on SQLite and PostgreSQL) recompute the rows of every customer
a change touches, in the transaction of the change, so they always equal what the raw rows say
(`tests/integration/test_analytics_customers.py` recomputes them from the raw rows after
random changes and compares). No personal data is stored: a customer is only its orders.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .types import Amount, BigId, UTCDateTime

REFERRED = "referral_program_id IS NOT NULL"


class CustomerOrder(Base):
    __tablename__ = "analytics_customer_orders"
    __table_args__ = (
        Index(
            "ix_analytics_customer_orders_shop_id_paid_at",
            "shop_id",
            "paid_at",
            postgresql_include=[
                "previous_paid_at",
                "first_paid_at",
                "acquired_by_program_id",
                "net",
                "currency",
            ],
        ),
        Index(
            "ix_analytics_customer_orders_shop_id_paid_at_referred",
            "shop_id",
            "paid_at",
            postgresql_where=text(REFERRED),
            sqlite_where=text(REFERRED),
            postgresql_include=[
                "referral_program_id",
                "referral_advocate_id",
                "total",
                "net",
                "currency",
            ],
        ),
    )

    conversion_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversions.id", ondelete="CASCADE"), primary_key=True
    )
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shops.id"))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    total: Mapped[Decimal] = mapped_column(Amount)
    net: Mapped[Decimal] = mapped_column(Amount)  # total - refunded_total
    currency: Mapped[str] = mapped_column(String(3))
    # A referred order: the program and advocate of its referral, when that referral counts
    # (converted, or reversed by a refund).
    referral_program_id: Mapped[int | None] = mapped_column(BigId)
    referral_advocate_id: Mapped[int | None] = mapped_column(BigId)
    # The customer's counted orders in (paid_at, conversion id) order: when the first one and
    # the one before this order were paid (None: this is the customer's first order).
    first_paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    previous_paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The program whose referral (converted, or reversed by a refund) is on the customer's
    # first order: the customer came through it. None: they came through another channel.
    acquired_by_program_id: Mapped[int | None] = mapped_column(BigId)
