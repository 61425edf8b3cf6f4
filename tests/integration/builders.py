"""Builders for integration tests: a shop, programs, advocates and order events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from referral_plugin.crypto import SecretBox
from referral_plugin.domain.events import (
    FraudSignals,
    OrderEvent,
    OrderEventKind,
    Platform,
    Refund,
)
from referral_plugin.domain.programs import Program
from referral_plugin.models import Shop
from referral_plugin.services.advocates import EnrolledAdvocate, enroll_advocate
from referral_plugin.services.programs import create_program
from referral_plugin.services.shops import add_shop
from tests.conftest import TEST_ENCRYPTION_KEY

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CODE_KEY = b"test-code-key"
BOX = SecretBox(TEST_ENCRYPTION_KEY)

ONE_SIDED: dict[str, Any] = {
    "name": "Give 10",
    "kind": "one_sided",
    "advocate_reward": {"kind": "fixed_discount", "amount": "10.00"},
    "hold_days": 30,
}
TWO_SIDED: dict[str, Any] = {
    "name": "Give 15%, get 20%",
    "kind": "two_sided",
    "advocate_reward": {"kind": "store_credit", "basis": "percent_of_order", "percent": "20"},
    "friend_reward": {"kind": "percent_discount", "percent": "15"},
    "hold_days": 14,
}
TIERED: dict[str, Any] = {
    "name": "Milestones",
    "kind": "tiered",
    "advocate_reward": {"kind": "fixed_discount", "amount": "5.00"},
    "milestones": [{"count": 3, "reward": {"kind": "cash", "amount": "50.00"}}],
}


def shop(session: Session, domain: str = "referral-tests.myshopify.com") -> Shop:
    return add_shop(
        session,
        platform=Platform.SHOPIFY,
        domain=domain,
        currency="USD",
        credentials={"access_token": "shpat_test"},
        box=BOX,
        now=NOW,
    )


def program(session: Session, shop_id: int, config: dict[str, Any], **changes: Any) -> Program:
    return create_program(session, shop_id, {**config, **changes}, now=NOW)


def advocate(
    session: Session,
    shop_id: int,
    program_id: int,
    email: str = "anna@example.com",
    **kwargs: Any,
) -> EnrolledAdvocate:
    return enroll_advocate(
        session,
        shop_id,
        program_id,
        email=email,
        first_name=kwargs.pop("first_name", "Anna"),
        now=NOW,
        **kwargs,
    )


def order_event(
    kind: OrderEventKind,
    order_id: str = "1001",
    *,
    key: str | None = None,
    codes: tuple[str, ...] | None = (),
    subtotal: str | None = "100.00",
    total: str | None = None,
    email: str | None = "friend@example.com",
    refunds: tuple[tuple[str, str], ...] = (),
    at: datetime | None = None,
    ip: str | None = None,
    customer_id: str | None = None,
    with_data: bool = True,
) -> OrderEvent:
    """An event; `with_data=False` builds a delta (e.g. a refund notice without the order)."""
    occurred = at or NOW
    data: dict[str, Any] = {
        "order_number": f"#{order_id}",
        "placed_at": NOW,
        "currency": "USD",
        "subtotal": Decimal(subtotal) if subtotal else None,
        "total": Decimal(total or subtotal) if subtotal else None,
        "discount_total": Decimal("15.00"),
        "discount_codes": codes,
        "email": email,
        "customer_id": customer_id,
        "customer_order_count": 1,
        "country": "US",
    }
    return OrderEvent(
        platform=Platform.SHOPIFY,
        shop="referral-tests.myshopify.com",
        order_id=order_id,
        kind=kind,
        occurred_at=occurred,
        idempotency_key=key or f"{kind}-{order_id}-{occurred.isoformat()}",
        refunds=tuple(
            Refund(refund_id=rid, amount=Decimal(amount), created_at=occurred)
            for rid, amount in refunds
        ),
        signals=FraudSignals(browser_ip=ip or _ip_for(order_id), user_agent="Mozilla/5.0"),
        **(data if with_data else {}),
    )


def _ip_for(order_id: str) -> str:
    """A distinct documentation-range IP per order, so orders never share a device by accident."""
    return f"198.51.{sum(map(ord, order_id)) % 250}.{len(order_id) % 250 + 1}"


def later(days: float = 0, hours: float = 0) -> datetime:
    return NOW + timedelta(days=days, hours=hours)
