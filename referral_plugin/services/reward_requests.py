"""The store request for one reward: what to create, for whom, worth what after debt."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.decisions import Beneficiary
from ..domain.programs import RewardKind
from ..domain.store import RewardCodeRequest
from ..models import Advocate, Conversion, Reward


def build_request(session: Session, reward: Reward, code: str, now: datetime) -> RewardCodeRequest:
    """The store request for one reward: bound to its beneficiary, valued after debt."""
    spec = reward.spec
    customer_id, email = _beneficiary(session, reward)
    days = spec.get("expires_in_days")
    minimum = spec.get("minimum_subtotal")
    amount = None
    if reward.value is not None and reward.kind is not RewardKind.PERCENT_DISCOUNT:
        amount = reward.value - reward.debt_offset
    percent = spec.get("percent") if reward.kind is RewardKind.PERCENT_DISCOUNT else None
    return RewardCodeRequest(
        reward_id=reward.id,
        code=code,
        kind=reward.kind,
        title=f"Referral reward {code}",
        currency=reward.currency,
        amount=amount,
        percent=Decimal(str(percent)) if percent is not None else None,
        product_id=spec.get("product_id"),
        tag=spec.get("tag"),
        customer_id=customer_id,
        email=email,
        starts_at=now,
        expires_at=now + timedelta(days=int(days)) if days else None,
        minimum_subtotal=Decimal(str(minimum)) if minimum is not None else None,
    )


def _beneficiary(session: Session, reward: Reward) -> tuple[str | None, str | None]:
    """(customer id, email) of who gets the reward: the advocate, or the referred friend."""
    if reward.beneficiary is Beneficiary.FRIEND:
        row = session.execute(
            select(Conversion.customer_id, Conversion.email).where(
                Conversion.id == reward.conversion_id, Conversion.shop_id == reward.shop_id
            )
        ).one_or_none()
    else:
        row = session.execute(
            select(Advocate.customer_id, Advocate.email).where(
                Advocate.id == reward.advocate_id, Advocate.shop_id == reward.shop_id
            )
        ).one_or_none()
    return (row[0], row[1]) if row else (None, None)
