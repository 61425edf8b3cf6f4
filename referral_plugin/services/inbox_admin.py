"""Looking after the inbox by hand: replay failed deliveries, list them, count them by state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.orm import Session

from ..models import DeliveryStatus, Shop, WebhookDelivery

REPLAYABLE = (DeliveryStatus.FAILED, DeliveryStatus.DEAD)


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxStats:
    """The inbox at a glance: every status counted (zeros included)."""

    by_status: Mapping[DeliveryStatus, int]
    oldest_pending_age: timedelta | None  # the oldest delivery still waiting to be processed
    dead_letters: int
    parked: int  # failed with no retry time: waiting for a replay (`deliveries replay`)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryRow:
    id: int
    shop_id: int
    shop: str
    topic: str
    status: DeliveryStatus
    attempts: int
    received_at: datetime
    last_error: str | None


def replay_deliveries(
    session: Session, *, ids: Sequence[int] | None = None, failed: bool = False, now: datetime
) -> int:
    """Queue deliveries again: pending, due now, attempts reset; returns how many.

    `ids`: those deliveries when failed, dead or done (effects are idempotent, so a done one
    may be replayed). `failed`: every failed and dead delivery. Claimed (processing) and pending
    ones are left alone. `last_error` stays until the next run. Idempotent.
    """
    conditions = []
    if ids:
        replayable_by_id = (*REPLAYABLE, DeliveryStatus.DONE)
        conditions.append(
            and_(WebhookDelivery.id.in_(list(ids)), WebhookDelivery.status.in_(replayable_by_id))
        )
    if failed:
        conditions.append(WebhookDelivery.status.in_(REPLAYABLE))
    if not conditions:
        return 0
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(WebhookDelivery)
        .where(or_(*conditions))
        .values(
            status=DeliveryStatus.PENDING,
            next_attempt_at=now,
            attempts=0,
            locked_until=None,
            locked_by=None,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def list_deliveries(
    session: Session, *, status: DeliveryStatus | None = None, limit: int = 50
) -> list[DeliveryRow]:
    """The newest deliveries (optionally of one status), newest first."""
    query = select(WebhookDelivery, Shop.domain).join(Shop, Shop.id == WebhookDelivery.shop_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    rows = session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit))
    return [
        DeliveryRow(
            id=delivery.id,
            shop_id=delivery.shop_id,
            shop=domain,
            topic=delivery.topic,
            status=delivery.status,
            attempts=delivery.attempts,
            received_at=delivery.received_at,
            last_error=delivery.last_error,
        )
        for delivery, domain in rows
    ]


def inbox_stats(session: Session, *, now: datetime) -> InboxStats:
    """Counts by status, the age of the oldest delivery still waiting, dead and parked ones."""
    counts = dict.fromkeys(DeliveryStatus, 0)
    for status, count in session.execute(
        select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    ):
        counts[DeliveryStatus(status)] = count
    waiting = or_(
        WebhookDelivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.PROCESSING]),
        and_(
            WebhookDelivery.status == DeliveryStatus.FAILED,
            WebhookDelivery.next_attempt_at.is_not(None),
        ),
    )
    oldest = session.scalar(select(func.min(WebhookDelivery.received_at)).where(waiting))
    parked = session.scalar(
        select(func.count()).where(
            WebhookDelivery.status == DeliveryStatus.FAILED,
            WebhookDelivery.next_attempt_at.is_(None),
        )
    )
    return InboxStats(
        by_status=counts,
        oldest_pending_age=None if oldest is None else max(now - oldest, timedelta(0)),
        dead_letters=counts[DeliveryStatus.DEAD],
        parked=parked or 0,
    )
