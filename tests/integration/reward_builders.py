"""Builders for the store-facing tests: approved rewards of any kind, and store orders."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from referral_plugin.domain.events import OrderEventKind
from referral_plugin.domain.store import StoreOrder
from referral_plugin.models import Advocate, Reward, Shop
from referral_plugin.services.orders import record_order_event
from referral_plugin.services.rewards import mature_held_rewards
from tests.integration import builders as b
from tests.integration.builders import NOW, later

APPROVED_AT = later(30)


@dataclass(frozen=True, slots=True)
class Approved:
    shop: Shop
    advocate_id: int
    reward: Reward


def approved_reward(
    session: Session,
    reward: dict[str, Any] | None = None,
    *,
    shop: Shop | None = None,
    order_id: str = "1001",
    email: str = "anna@example.com",
    customer_id: str | None = "cust-7",
    debt: str | None = None,
) -> Approved:
    """A one-sided program paying `reward` (default $10 off), an advocate, a paid referred
    order, and the reward matured to APPROVED at APPROVED_AT (after `debt` was set)."""
    shop = shop or b.shop(session)
    config = {**b.ONE_SIDED, "advocate_reward": reward or b.ONE_SIDED["advocate_reward"]}
    program = b.program(session, shop.id, config, name=f"Program {order_id}")
    anna = b.advocate(session, shop.id, program.id, email=email, customer_id=customer_id)
    event = b.order_event(
        OrderEventKind.PAID, order_id, codes=(anna.code,), email=f"friend{order_id}@example.com"
    )
    outcome = record_order_event(session, shop.id, event, now=NOW, code_key=b.CODE_KEY)
    if debt is not None:
        session.execute(update(Advocate).where(Advocate.id == anna.id).values(debt=Decimal(debt)))
    mature_held_rewards(session, now=APPROVED_AT)
    row = session.get(Reward, outcome.reward_ids[0])
    assert row is not None
    session.refresh(row)
    return Approved(shop=shop, advocate_id=anna.id, reward=row)


def store_order(
    order_id: str,
    updated_at: datetime,
    status: str = "paid",
    shop: str = "referral-tests.myshopify.com",
) -> StoreOrder:
    """A Shopify order as a store client returns it, with the headers its webhook carries."""
    body = json.dumps({"id": order_id, "financial_status": status}).encode()
    headers = {"X-Shopify-Shop-Domain": shop, "X-Shopify-Topic": "orders/updated"}
    return StoreOrder(
        order_id=order_id,
        topic="orders/updated",
        body=body,
        updated_at=updated_at,
        headers=headers,
    )
