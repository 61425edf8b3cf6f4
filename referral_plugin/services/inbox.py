"""The webhook inbox: store one verified raw delivery, once per dedup key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain.events import Platform
from ..models import DeliveryStatus, WebhookDelivery


def store_delivery(
    session: Session,
    *,
    platform: Platform,
    shop_id: int | None,
    topic: str,
    dedup_key: str,
    webhook_id: str | None,
    headers: dict[str, str],
    body: bytes,
    now: datetime,
) -> tuple[int, bool]:
    """Insert the delivery unless (platform, shop_id, dedup_key) exists: returns (id, created).

    Idempotent (insert-or-ignore via a savepoint). Deduplication needs a shop_id: NULLs are
    distinct in a unique constraint, so deliveries without a shop are never deduplicated.
    """
    delivery = WebhookDelivery(
        platform=platform,
        shop_id=shop_id,
        topic=topic,
        dedup_key=dedup_key,
        webhook_id=webhook_id,
        headers=dict(headers),
        body=body,
        received_at=now,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
    )
    try:
        with session.begin_nested():
            session.add(delivery)
    except IntegrityError:
        existing = session.scalars(
            select(WebhookDelivery.id).where(
                WebhookDelivery.platform == platform,
                WebhookDelivery.shop_id == shop_id,
                WebhookDelivery.dedup_key == dedup_key,
            )
        ).one()
        return existing, False
    return delivery.id, True
