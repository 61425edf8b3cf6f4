"""Manual balance adjustments: the merchant adds to or takes from an advocate's balance, with
a reason. The change is one ledger entry of kind `manual` (through `services.ledger`, the only
code that moves a balance, so balance == sum(ledger) holds) and one audit entry naming the
merchant. An adjustment never takes the balance below zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.money import minor_unit
from ..errors import FieldError, NotFound, ValidationError
from ..models import Advocate, LedgerEntry, LedgerKind
from .audit import record_audit
from .ledger import post_entry

MAX_ADJUSTMENT = Decimal("1000000")
MAX_REASON = 255  # the ledger note's length


@dataclass(frozen=True, slots=True, kw_only=True)
class Adjustment:
    entry_id: int
    advocate_id: int
    amount: Decimal
    currency: str
    reason: str
    balance: Decimal  # after the adjustment
    created_at: datetime


def parse_amount(raw: object) -> Decimal:
    """A signed, non-zero amount from a string or whole number; raises ValidationError
    ("amount") saying what to send."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValidationError.single("amount", 'must be a decimal string such as "5.00"')
    try:
        amount = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValidationError.single(
            "amount", 'must be a number such as "5.00" or "-5.00"'
        ) from None
    if not amount.is_finite() or amount == 0 or abs(amount) > MAX_ADJUSTMENT:
        raise ValidationError.single(
            "amount", f"must be a number other than 0, at most {MAX_ADJUSTMENT} either way"
        )
    return amount


def adjust_balance(
    session: Session,
    shop_id: int,
    advocate_id: int,
    *,
    amount: Decimal,
    reason: str,
    actor: str,
    now: datetime,
) -> Adjustment:
    """Add `amount` (negative to take away) to the advocate's balance with `reason`.

    Raises NotFound (advocate), ValidationError naming `amount` (more decimals than the
    currency has, or a balance that would go below zero) or `reason` (empty or too long).
    Not idempotent: every call is a new entry.
    """
    text = reason.strip()
    advocate = session.scalars(
        select(Advocate)
        .where(Advocate.shop_id == shop_id, Advocate.id == advocate_id)
        .with_for_update()
    ).one_or_none()
    if advocate is None:
        raise NotFound("advocate", advocate_id)
    _check(amount, text, advocate)
    post_entry(
        session, shop_id=shop_id, advocate_id=advocate_id, reward_id=None, kind=LedgerKind.MANUAL,
        amount=amount, unit=advocate.currency, now=now, note=text,
    )  # fmt: skip
    session.flush()
    entry = session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.shop_id == shop_id, LedgerEntry.advocate_id == advocate_id)
        .order_by(LedgerEntry.id.desc())
        .limit(1)
    ).one()
    session.refresh(advocate)
    record_audit(
        session, shop_id, actor=actor, action="advocate.balance_adjusted",
        subject_type="advocate", subject_id=advocate_id,
        details={"amount": str(amount), "currency": advocate.currency, "reason": text,
                 "ledger_entry_id": entry.id, "balance": str(advocate.balance)},
        now=now,
    )  # fmt: skip
    return Adjustment(
        entry_id=entry.id, advocate_id=advocate_id, amount=amount, currency=advocate.currency,
        reason=text, balance=advocate.balance, created_at=now,
    )  # fmt: skip


def _check(amount: Decimal, reason: str, advocate: Advocate) -> None:
    problems = []
    if amount != amount.quantize(minor_unit(advocate.currency)):
        places = -minor_unit(advocate.currency).as_tuple().exponent  # type: ignore[operator]
        problems.append(
            FieldError("amount", f"has more decimals than {advocate.currency} allows ({places})")
        )
    elif advocate.balance + amount < 0:
        problems.append(
            FieldError(
                "amount",
                f"would take the balance below zero (it is {advocate.balance} {advocate.currency})",
            )
        )
    if not reason:
        problems.append(FieldError("reason", "is required: say why the balance changes"))
    elif len(reason) > MAX_REASON:
        problems.append(FieldError("reason", f"must be at most {MAX_REASON} characters"))
    if problems:
        raise ValidationError(problems)
