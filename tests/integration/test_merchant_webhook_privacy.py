"""The merchant's webhook tables under the compliance topics: `shop/redact` erases the shop's
endpoints and delivery log (found from the metadata), `customers/redact` replaces every body
naming the customer (email, customer id, order id) and stops what was still waiting."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from referral_plugin.models import (
    MerchantDeliveryStatus,
    MerchantWebhookDelivery,
    MerchantWebhookEndpoint,
)
from referral_plugin.services import merchant_webhooks, webhook_endpoints
from referral_plugin.services.customer_data import CustomerRef
from referral_plugin.services.merchant_webhook_redaction import REDACTED_BODY
from referral_plugin.services.redaction import redact_customer
from referral_plugin.services.shop_erasure import erase_shop, shop_owned_columns
from tests.integration import builders as b
from tests.integration.builders import BOX, NOW

EVERYTHING = {"url": "https://crm.example.com/hooks", "events": ["advocate.joined"]}


def shop_listening(session: Session, domain: str) -> tuple[int, int]:
    shop = b.shop(session, domain=domain)
    view, _ = webhook_endpoints.create_endpoint(
        session, shop.id, EVERYTHING, box=BOX, allow_loopback=False, now=NOW
    )
    return shop.id, view["id"]


def bodies(session: Session, shop_id: int) -> list[tuple[str, MerchantDeliveryStatus]]:
    session.expire_all()
    rows = session.scalars(
        select(MerchantWebhookDelivery)
        .where(MerchantWebhookDelivery.shop_id == shop_id)
        .order_by(MerchantWebhookDelivery.id)
    )
    return [(row.body, row.status) for row in rows]


def test_shop_erasure_finds_and_erases_the_webhook_tables(session: Session) -> None:
    owned = {table.name for table, _ in shop_owned_columns()}
    assert {"merchant_webhook_endpoints", "merchant_webhook_deliveries"} <= owned
    shop_id, _ = shop_listening(session, "erased.myshopify.com")
    other_id, _ = shop_listening(session, "kept.myshopify.com")
    for shop in (shop_id, other_id):
        program = b.program(session, shop, b.ONE_SIDED)
        b.advocate(session, shop, program.id)

    counts = erase_shop(session, shop_id)

    assert counts is not None
    assert counts["merchant_webhook_endpoints"] == 1
    assert counts["merchant_webhook_deliveries"] == 1
    for model in (MerchantWebhookEndpoint, MerchantWebhookDelivery):
        left = select(func.count()).select_from(model).where(model.shop_id == shop_id)
        kept = select(func.count()).select_from(model).where(model.shop_id == other_id)
        assert (session.scalar(left), session.scalar(kept)) == (0, 1)


def test_customer_redaction_replaces_the_bodies_naming_them(session: Session) -> None:
    shop_id, endpoint_id = shop_listening(session, "redact.myshopify.com")
    program = b.program(session, shop_id, b.ONE_SIDED)
    b.advocate(session, shop_id, program.id, email="Anna@Example.com", customer_id="901")
    b.advocate(session, shop_id, program.id, email="ben@example.com")
    merchant_webhooks.record_event(
        session,
        shop_id,
        "referral.created",
        "referral.created:1",
        lambda: {"referral": {"order_id": "5001", "advocate_email": "ben@example.com"}},
        now=NOW,
        endpoint_ids=(endpoint_id,),
    )
    session.flush()
    anna, ben, order = bodies(session, shop_id)
    assert "anna@example.com" in anna[0] and '"order_id":"5001"' in order[0]

    counts = redact_customer(session, shop_id, CustomerRef.of("901", "anna@example.com"), now=NOW)

    assert counts["merchant_webhook_deliveries"] == 1
    after = bodies(session, shop_id)
    assert after[0] == (REDACTED_BODY, MerchantDeliveryStatus.FAILED)  # never sent now
    assert after[1:] == [ben, order]
    again = redact_customer(session, shop_id, CustomerRef.of("901", "anna@example.com"), now=NOW)
    assert "merchant_webhook_deliveries" not in again  # idempotent

    by_order = CustomerRef.of(None, "friend@example.com", ["5001"])
    assert redact_customer(session, shop_id, by_order, now=NOW)["merchant_webhook_deliveries"] == 1
    assert bodies(session, shop_id)[2][0] == REDACTED_BODY
    assert bodies(session, shop_id)[1] == ben
