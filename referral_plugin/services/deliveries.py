"""The inbox worker's use cases: claim deliveries under a lease, process one, record failures."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import CursorResult, and_, case, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..crypto import SecretBox
from ..db import json_loads
from ..domain.events import Event, Platform
from ..models import DeliveryStatus, Shop, WebhookDelivery
from .event_handlers import EventContext, UnprocessableDelivery, handler_for
from .retries import backoff_delay

Backoff = Callable[[int], timedelta]  # attempts made so far → delay before the next one
ERROR_LIMIT = 1000
GAVE_UP = "gave up: claimed more than the max attempts without finishing (worker killed?)"


class DeliveryTranslator(Protocol):
    """What the worker needs of a platform connector (`connectors.base.Connector` fits)."""

    def identify(self, headers: Mapping[str, str]) -> Any | None: ...

    def translate(self, meta: Any, payload: Any) -> tuple[Event, ...]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryResult:
    """What processing did: `processed` is False when the delivery was not ours (skipped)."""

    delivery_id: int
    processed: bool
    status: DeliveryStatus | None = None  # None: no such delivery
    shop_id: int | None = None
    topic: str | None = None
    events: int = 0
    error: str | None = None


def exponential_backoff(base_seconds: int, max_seconds: int) -> Backoff:
    """`retries.backoff_delay` with the inbox's settings: 30 s, 60 s, 120 s, ... 1 h by default."""
    base, cap = timedelta(seconds=base_seconds), timedelta(seconds=max_seconds)
    return lambda attempts: backoff_delay(attempts, base=base, cap=cap)


def claim_deliveries(
    session: Session, *, now: datetime, limit: int, lease_seconds: int, worker: str
) -> list[int]:
    """Claim up to `limit` due deliveries for `worker`, oldest first; returns their ids.

    Due: pending or failed with `next_attempt_at <= now`, or processing with an expired lease
    (the worker holding it died). Claimed rows become processing, leased until now + lease,
    attempts + 1. PostgreSQL: rows locked by another claimer are skipped (SKIP LOCKED); SQLite
    has a single writer. The caller commits.
    """
    due = or_(
        and_(
            WebhookDelivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.FAILED]),
            WebhookDelivery.next_attempt_at <= now,
        ),
        and_(
            WebhookDelivery.status == DeliveryStatus.PROCESSING, WebhookDelivery.locked_until < now
        ),
    )
    query = select(WebhookDelivery.id).where(due).order_by(WebhookDelivery.id).limit(limit)
    ids = list(session.scalars(query.with_for_update(skip_locked=True)))
    if ids:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(
                status=DeliveryStatus.PROCESSING,
                locked_until=now + timedelta(seconds=lease_seconds),
                locked_by=worker,
                attempts=WebhookDelivery.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
    return ids


def process_delivery(
    session: Session,
    delivery_id: int,
    *,
    worker: str,
    connectors: Mapping[Platform, DeliveryTranslator],
    now: datetime,
    code_key: bytes,
    box: SecretBox | None = None,
    max_attempts: int,
    backoff: Backoff,
) -> DeliveryResult:
    """Translate one claimed delivery and apply its events; never commits.

    Skipped (processed=False) unless the delivery is still processing under `worker`'s claim.
    Outcomes: done (effects applied, lock cleared); failed without a retry time for a payload
    that cannot be processed (not JSON, untranslatable, wrong shop, no handler yet); failed
    with `next_attempt_at = now + backoff(attempts)` for any other error, or dead once
    attempts reach `max_attempts`. Effects run in a savepoint, so a failure leaves none.
    Raises only when the connection itself is lost (the caller records the failure afresh).
    Idempotent: the handlers are, and a done delivery is skipped.
    """
    return process_locked(
        session,
        delivery_id,
        _locked(session, delivery_id),
        worker=worker,
        connectors=connectors,
        now=now,
        code_key=code_key,
        box=box,
        max_attempts=max_attempts,
        backoff=backoff,
    )


def lock_deliveries(session: Session, ids: Sequence[int]) -> dict[int, WebhookDelivery]:
    """Lock and load the deliveries `ids` in one statement (a batch's rows), by id."""
    query = select(WebhookDelivery).where(WebhookDelivery.id.in_(list(ids)))
    query = query.order_by(WebhookDelivery.id).with_for_update()
    rows = session.scalars(query.execution_options(populate_existing=True))
    return {row.id: row for row in rows}


def process_locked(
    session: Session,
    delivery_id: int,
    delivery: WebhookDelivery | None,
    *,
    worker: str,
    connectors: Mapping[Platform, DeliveryTranslator],
    now: datetime,
    code_key: bytes,
    box: SecretBox | None = None,
    max_attempts: int,
    backoff: Backoff,
) -> DeliveryResult:
    """`process_delivery` for a delivery already locked in this transaction (None: gone)."""
    if delivery is None or not is_ours(delivery, worker):
        return _result(delivery_id, delivery, processed=False)
    if delivery.attempts > max_attempts:  # claimed again and again, never finished: give up
        _fail(delivery, GAVE_UP, status=DeliveryStatus.DEAD)
        return _result(delivery_id, delivery)
    try:
        with session.begin_nested():
            events = _apply(session, delivery, connectors, now=now, code_key=code_key, box=box)
    except UnprocessableDelivery as exc:
        _fail(delivery, str(exc))
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise
        _retry_later(delivery, describe_error(exc), now, max_attempts, backoff)
    except Exception as exc:  # a transient failure or a bug: retried with backoff, then dead
        _retry_later(delivery, describe_error(exc), now, max_attempts, backoff)
    else:
        _done(delivery, now)
        return _result(delivery_id, delivery, events=len(events))
    return _result(delivery_id, delivery)


def record_delivery_failure(
    session: Session,
    delivery_id: int,
    *,
    worker: str,
    error: str,
    now: datetime,
    max_attempts: int,
    backoff: Backoff,
) -> DeliveryResult:
    """Record a failure that rolled back the whole processing transaction (e.g. a lost
    connection): failed with backoff, or dead at max attempts. Skipped unless still ours."""
    delivery = _locked(session, delivery_id)
    if delivery is None or not is_ours(delivery, worker):
        return _result(delivery_id, delivery, processed=False)
    _retry_later(delivery, error, now, max_attempts, backoff)
    return _result(delivery_id, delivery)


def release_deliveries(session: Session, ids: Sequence[int], *, worker: str) -> int:
    """Give claimed, unprocessed deliveries back (pending, attempt returned), e.g. on shutdown.

    Only rows still processing under `worker` are touched; returns how many. Idempotent.
    """
    if not ids:
        return 0
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id.in_(list(ids)),
            WebhookDelivery.status == DeliveryStatus.PROCESSING,
            WebhookDelivery.locked_by == worker,
        )
        .values(
            status=DeliveryStatus.PENDING,
            locked_until=None,
            locked_by=None,
            attempts=case((WebhookDelivery.attempts > 0, WebhookDelivery.attempts - 1), else_=0),
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def describe_error(exc: BaseException) -> str:
    """A one-line error for `last_error`: class and message, never SQL parameters or bodies."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    message = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {message}"[:ERROR_LIMIT]


def _locked(session: Session, delivery_id: int) -> WebhookDelivery | None:
    query = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).one_or_none()


def is_ours(delivery: WebhookDelivery, worker: str) -> bool:
    return delivery.status == DeliveryStatus.PROCESSING and delivery.locked_by == worker


def _apply(
    session: Session,
    delivery: WebhookDelivery,
    connectors: Mapping[Platform, DeliveryTranslator],
    *,
    now: datetime,
    code_key: bytes,
    box: SecretBox | None = None,
) -> tuple[Event, ...]:
    events = translate_delivery(delivery, connectors[delivery.platform])
    handlers = [handler_for(event) for event in events]  # refuse before any effect
    shop = delivery_shop(session, delivery.shop_id)
    if shop is None:
        raise UnprocessableDelivery(f"shop {delivery.shop_id} does not exist")
    context = EventContext(
        shop_id=shop.id, shop_domain=shop.domain, now=now, code_key=code_key, box=box
    )
    for handler, event in zip(handlers, events, strict=True):
        handler(session, context, event)
    session.flush()
    return events


def delivery_shop(session: Session, shop_id: int) -> Shop | None:
    """The delivery's shop, loaded once per session: `session.info` holds it for the batch's
    other deliveries (the identity map alone holds objects only weakly)."""
    shops = session.info.setdefault("delivery_shops", {})
    if shop_id not in shops:
        shops[shop_id] = session.get(Shop, shop_id)
    return shops[shop_id]


def translate_delivery(
    delivery: WebhookDelivery, connector: DeliveryTranslator
) -> tuple[Event, ...]:
    """Common events from the stored delivery, as the edge saw it (headers + raw body).

    Connectors raise TranslationError (a ValueError) for a payload they cannot read.
    """
    meta = connector.identify(delivery.headers)
    if meta is None:
        raise UnprocessableDelivery("the stored headers do not identify a shop and topic")
    meta = dataclasses.replace(meta, received_at=delivery.received_at)
    try:
        payload = json_loads(delivery.body)
    except ValueError as exc:
        raise UnprocessableDelivery(f"the body is not JSON ({describe_error(exc)})") from exc
    try:
        return tuple(connector.translate(meta, payload))
    except ValueError as exc:
        raise UnprocessableDelivery(f"cannot translate {delivery.topic}: {exc}") from exc


def _retry_later(
    delivery: WebhookDelivery, error: str, now: datetime, max_attempts: int, backoff: Backoff
) -> None:
    """Failed, due again after the backoff; dead once the attempts are used up."""
    if delivery.attempts >= max_attempts:
        _fail(delivery, error, status=DeliveryStatus.DEAD)
    else:
        _fail(delivery, error, retry_at=now + backoff(delivery.attempts))


def _fail(
    delivery: WebhookDelivery,
    error: str,
    *,
    status: DeliveryStatus = DeliveryStatus.FAILED,
    retry_at: datetime | None = None,
) -> None:
    """Failed (or dead) with its error; without `retry_at` only a replay brings it back."""
    delivery.status = status
    delivery.next_attempt_at = retry_at
    delivery.last_error = error[:ERROR_LIMIT]
    delivery.locked_until = None
    delivery.locked_by = None


def _done(delivery: WebhookDelivery, now: datetime) -> None:
    delivery.status = DeliveryStatus.DONE
    delivery.processed_at = now
    delivery.next_attempt_at = None
    delivery.last_error = None
    delivery.locked_until = None
    delivery.locked_by = None


def _result(
    delivery_id: int,
    delivery: WebhookDelivery | None,
    *,
    processed: bool = True,
    events: int = 0,
) -> DeliveryResult:
    if delivery is None:
        return DeliveryResult(delivery_id=delivery_id, processed=False)
    return DeliveryResult(
        delivery_id=delivery_id,
        processed=processed,
        status=delivery.status,
        shop_id=delivery.shop_id,
        topic=delivery.topic,
        events=events,
        error=delivery.last_error,
    )
