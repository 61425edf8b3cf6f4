"""A chunk of locked deliveries through the bulk order path (`order_batches`), where it applies.

The inbox worker calls `process_order_deliveries` first for every chunk: deliveries that are
one order event no referral can touch are applied together (`order_batches`), then the first
events of referred orders that no other order of the chunk interferes with (`referral_batches`,
in rounds: an order held back only by orders a round applied goes in the next), and all of
them are marked done in one UPDATE; every other delivery (other topics, later
events of referred orders, failures, anything unusual) is left for the per-delivery path
(`deliveries.process_locked`), which records errors and retries. The bulk part runs in a
savepoint: if any of it fails, none of it happened and the whole chunk takes the per-delivery
path.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Executable, bindparam, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..db import IdAmong
from ..domain.events import OrderEvent, Platform
from ..models import DeliveryStatus, WebhookDelivery
from .advocate_locks import lock_chunk_advocates
from .deliveries import (
    DeliveryResult,
    DeliveryTranslator,
    delivery_shop,
    is_ours,
    translate_delivery,
)
from .event_handlers import names_shop
from .order_batches import BatchConflict, BatchItem, apply_order_batch
from .referral_batches import apply_referral_rounds

logger = logging.getLogger(__name__)


def process_order_deliveries(
    session: Session,
    locked: Mapping[int, WebhookDelivery | None],
    *,
    worker: str,
    connectors: Mapping[Platform, DeliveryTranslator],
    now: datetime,
    code_key: bytes,
    max_attempts: int,
) -> list[DeliveryResult]:
    """Apply and mark done the deliveries the bulk path can take; returns their results (the
    caller processes the others one by one). Never commits."""
    items: list[BatchItem] = []
    barrier = None  # the first delivery that is not one order event: referrals stop there
    for delivery_id, delivery in locked.items():
        item = _batch_item(session, delivery_id, delivery, worker, connectors, max_attempts)
        if item is not None:
            items.append(item)
        elif barrier is None:
            barrier = delivery_id
    if not items:
        return []
    try:
        with session.begin_nested():
            applied = apply_order_batch(session, items, now=now, code_key=code_key)
            left = [item for item in items if item.ref not in applied]
            # After the orders' locks, before any referral: see `advocate_locks`.
            lock_chunk_advocates(session, left)
            # Referred orders after a delivery the per-delivery path takes wait for it there.
            before = [item for item in left if barrier is None or item.ref < barrier]
            applied |= apply_referral_rounds(session, before, now=now, code_key=code_key)
            if applied:
                session.connection().execute(
                    _mark_done(), {"ids": sorted(applied), "now": now, "done": DeliveryStatus.DONE}
                )
    except Exception as exc:  # the savepoint rolled it all back; the transaction goes on
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            raise  # the transaction is gone: the caller goes one delivery per transaction
        # A conflict or a database refusal happens; anything else is a bug here, but the
        # per-delivery path can still do the chunk's work, in this same transaction.
        expected = isinstance(exc, BatchConflict | DBAPIError)
        log = logger.warning if expected else logger.error
        log("bulk order path skipped for this chunk", exc_info=True)
        return []
    by_id = {item.ref: item for item in items}
    return [
        DeliveryResult(
            delivery_id=ref,
            processed=True,
            status=DeliveryStatus.DONE,
            shop_id=by_id[ref].shop_id,
            topic=_topic(locked[ref]),
            events=1,
        )
        for ref in sorted(applied)
    ]


def _batch_item(
    session: Session,
    delivery_id: int,
    delivery: WebhookDelivery | None,
    worker: str,
    connectors: Mapping[Platform, DeliveryTranslator],
    max_attempts: int,
) -> BatchItem | None:
    """The delivery as a batch item when it is ours and exactly one order event of its own
    shop; None otherwise (the per-delivery path will say why, if anything is wrong)."""
    if delivery is None or not is_ours(delivery, worker) or delivery.attempts > max_attempts:
        return None
    try:
        events = translate_delivery(delivery, connectors[delivery.platform])
    except Exception:  # recorded by the per-delivery path
        return None
    if len(events) != 1 or not isinstance(events[0], OrderEvent):
        return None
    shop = delivery_shop(session, delivery.shop_id)
    if shop is None:
        return None
    if not names_shop(events[0], shop.domain):  # the per-delivery path records it
        return None
    return BatchItem(delivery_id, shop.id, events[0])


def _topic(delivery: WebhookDelivery | None) -> str | None:
    return None if delivery is None else delivery.topic


@functools.cache
def _mark_done() -> Executable:
    """Done, as `deliveries._done` marks one: lease and error cleared, processed now."""
    table = WebhookDelivery.__table__
    return (
        update(table)
        .where(IdAmong(table.c.id, "ids"))  # one statement text for any number of ids
        .values(
            status=bindparam("done"),
            processed_at=bindparam("now"),
            next_attempt_at=None,
            last_error=None,
            locked_until=None,
            locked_by=None,
        )
    )
