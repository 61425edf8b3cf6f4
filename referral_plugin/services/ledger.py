"""The reward ledger: the one place that appends an entry and moves the advocate's balance."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..models import POINTS_UNIT, Advocate, LedgerEntry, LedgerKind


def post_entry(
    session: Session,
    *,
    shop_id: int,
    advocate_id: int,
    reward_id: int | None,
    kind: LedgerKind,
    amount: Decimal | int,
    unit: str,
    now: datetime,
    note: str | None = None,
) -> None:
    """Append one ledger entry and add `amount` to the advocate's balance (or points).

    Both happen in the caller's transaction, which keeps the invariant
    sum(ledger amount in the advocate's currency) == balance, and likewise for points.
    Zero amounts write nothing. Raises ValueError when a money unit is not the advocate's
    currency. Not idempotent: callers guard with the reward's state.
    """
    if amount == 0:
        return
    points = unit == POINTS_UNIT
    column = Advocate.points if points else Advocate.balance
    statement = (
        update(Advocate)
        .where(Advocate.id == advocate_id, Advocate.shop_id == shop_id)
        .values({column: column + amount})
        .execution_options(synchronize_session="fetch")
    )
    if not points:
        statement = statement.where(Advocate.currency == unit)
    if session.execute(statement).rowcount != 1:  # type: ignore[attr-defined]
        raise ValueError(f"advocate {advocate_id} has no {unit} balance in shop {shop_id}")
    session.add(
        LedgerEntry(
            shop_id=shop_id,
            advocate_id=advocate_id,
            reward_id=reward_id,
            kind=kind,
            amount=Decimal(amount),
            unit=unit,
            note=note,
            created_at=now,
        )
    )


def add_debt(session: Session, *, shop_id: int, advocate_id: int, amount: Decimal) -> None:
    """Add (or, negative, subtract) clawed-back value the advocate's next reward absorbs."""
    if amount == 0:
        return
    session.execute(
        update(Advocate)
        .where(Advocate.id == advocate_id, Advocate.shop_id == shop_id)
        .values(debt=Advocate.debt + amount)
        .execution_options(synchronize_session="fetch")
    )


def bump_successful_referrals(session: Session, *, shop_id: int, advocate_id: int, by: int) -> None:
    """Move the advocate's successful-referral counter by `by` (+1 counted, -1 uncounted)."""
    session.execute(
        update(Advocate)
        .where(Advocate.id == advocate_id, Advocate.shop_id == shop_id)
        .values(successful_referrals=Advocate.successful_referrals + by)
        .execution_options(synchronize_session="fetch")
    )
