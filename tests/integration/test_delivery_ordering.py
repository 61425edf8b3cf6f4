"""Deliveries of one order arriving out of order or twice end in one conversion, one effect,
and the same state as the natural order."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.registry import CONNECTORS
from referral_plugin.models import Conversion, DeliveryStatus, Referral, Reward, WebhookDelivery
from referral_plugin.services.deliveries import (
    claim_deliveries,
    exponential_backoff,
    process_delivery,
)
from tests.inbox_support import ReferralShop, order_body, referral_shop, refund_body, store, utc
from tests.integration.builders import BOX, CODE_KEY

NOW = utc(2026, 11, 20, 13)
ORDER = 8100
PAID = ("orders/paid", lambda code: order_body(ORDER, code=code))
PAID_AGAIN = ("orders/paid", lambda code: order_body(ORDER, code=code))  # a new event id
REFUND = ("refunds/create", lambda code: refund_body(ORDER, 91, "404.95"))
CANCELLED = (
    "orders/cancelled",
    lambda code: order_body(ORDER, code=code, cancelled=True, updated_at="2026-11-20T12:30:00Z"),
)

SCENARIOS = [
    pytest.param([PAID, REFUND], [REFUND, PAID], id="refund-before-paid"),
    pytest.param([PAID], [PAID, PAID_AGAIN], id="paid-twice"),
    pytest.param([PAID, CANCELLED], [CANCELLED, PAID], id="cancelled-then-paid"),
]


@pytest.fixture
def inbox(session: Session) -> Session:
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.status != DeliveryStatus.DONE)
        .values(status=DeliveryStatus.DONE)
        .execution_options(synchronize_session=False)
    )
    return session


def deliver(session: Session, shop: ReferralShop, arrivals: list) -> None:
    """Store the deliveries in arrival order, then claim and process them in that order."""
    for topic, body in arrivals:
        store(session, shop.shop_id, shop.domain, body(shop.code), topic=topic, now=NOW)
    ids = claim_deliveries(session, now=NOW, limit=100, lease_seconds=60, worker="w")
    for delivery_id in ids:
        result = process_delivery(
            session,
            delivery_id,
            worker="w",
            connectors=CONNECTORS,
            now=NOW,
            code_key=CODE_KEY,
            max_attempts=8,
            backoff=exponential_backoff(30, 3600),
        )
        assert result.status == DeliveryStatus.DONE, result.error


def final_state(session: Session, shop_id: int) -> tuple:
    conversions = session.scalars(select(Conversion).where(Conversion.shop_id == shop_id)).all()
    referrals = session.scalars(select(Referral.status).where(Referral.shop_id == shop_id)).all()
    rewards = session.execute(
        select(Reward.beneficiary, Reward.rule_key, Reward.status).where(Reward.shop_id == shop_id)
    ).all()
    return (
        [(c.order_id, c.outcome, c.paid, c.cancelled, c.refunded_total) for c in conversions],
        sorted(referrals),
        sorted(rewards),
    )


@pytest.mark.parametrize(("natural", "arrivals"), SCENARIOS)
def test_any_arrival_order_ends_in_one_effect_and_the_natural_state(
    inbox: Session, natural: list, arrivals: list
) -> None:
    expected_shop = referral_shop(inbox, BOX, NOW)
    deliver(inbox, expected_shop, natural)
    shop = referral_shop(inbox, BOX, NOW)

    deliver(inbox, shop, arrivals)

    state = final_state(inbox, shop.shop_id)
    assert state == final_state(inbox, expected_shop.shop_id)
    conversions, referrals, rewards = state
    assert len(conversions) == 1 and len(referrals) == 1 and len(rewards) == 1
