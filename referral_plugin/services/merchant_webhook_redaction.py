"""Erasing a customer from the merchant's outbound webhook log (part of `customers/redact`).

A delivery's body names an advocate by email and customer id, and a referral or reward by the
order id: every delivery of the shop whose body contains the customer's email, their customer
id or one of their order ids (as the exact JSON fields our payloads write) gets a redaction
stub as its body. One still waiting is failed instead of sent: the merchant never receives
the customer's data after the redaction. Idempotent.
"""

from __future__ import annotations

import json

from sqlalchemy import ColumnElement, Text, cast, func, or_, select
from sqlalchemy.orm import Session

from ..models import MerchantDeliveryStatus, MerchantWebhookDelivery
from .customer_data import CustomerRef, CustomerRows

REDACTED_BODY = '{"redacted":true}'


def redact_merchant_webhooks(
    session: Session, shop_id: int, ref: CustomerRef, rows: CustomerRows
) -> int:
    """Replace the bodies naming the customer; returns how many deliveries were redacted."""
    needles = [email for email in dict.fromkeys((ref.email, ref.identity)) if email]
    if ref.customer_id:
        needles.append(f'"customer_id":{json.dumps(ref.customer_id)}')
    for order_id in sorted(rows.order_ids | set(ref.order_ids)):
        needles.append(f'"order_id":{json.dumps(order_id)}')
    if not needles:
        return 0
    body = func.lower(cast(MerchantWebhookDelivery.body, Text))
    matches: list[ColumnElement[bool]] = [
        body.contains(needle.lower(), autoescape=True) for needle in needles
    ]
    found = session.scalars(
        select(MerchantWebhookDelivery)
        .where(
            MerchantWebhookDelivery.shop_id == shop_id,
            MerchantWebhookDelivery.body != REDACTED_BODY,
            or_(*matches),
        )
        .order_by(MerchantWebhookDelivery.id)
    ).all()
    for delivery in found:
        delivery.body = REDACTED_BODY
        if delivery.status is MerchantDeliveryStatus.PENDING:
            delivery.status, delivery.next_attempt_at = MerchantDeliveryStatus.FAILED, None
            delivery.last_error = "redacted before it was sent (customers/redact)"
    return len(found)
