"""Sending the merchant's webhook deliveries: claim with a lease, sign, POST, record the answer.

Sending is `claim (commit) -> POST -> record (commit)`, like the email outbox: no transaction is
open while the merchant's server answers, and the lease (`locked_until`, `locked_by`) keeps
other workers away from a claimed delivery (PostgreSQL claims with FOR UPDATE SKIP LOCKED;
SQLite has one writer). A batch is small enough that its lease outlives every POST in it.

Answers: 2xx delivered (marked once: the UPDATE only touches an undelivered row); 410 Gone
fails the delivery and disables the endpoint; anything else (other statuses, timeouts,
connection errors) is retried after `retries.backoff_delay(attempts)` until `max_attempts`,
then failed (replayable through the API). An endpoint whose deliveries keep failing for
`disable_after` is disabled with the reason recorded. A worker that dies between the POST and
the record leaves a lease that expires, so that one delivery may be sent again: receivers
dedupe on the event id (`X-Referral-Event-Id`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..crypto import SecretBox
from ..models import MerchantDeliveryStatus, MerchantWebhookDelivery, MerchantWebhookEndpoint
from .retries import backoff_delay

logger = logging.getLogger(__name__)

BATCH_SIZE = 10
DEFAULT_LEASE = timedelta(minutes=5)  # > BATCH_SIZE x (3 s connect + 10 s read)
MAX_BATCHES_PER_RUN = 20
GONE = 410
Transaction = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True, slots=True, kw_only=True)
class PostResult:
    """What the endpoint answered: a status code, or an error (timeout, connection)."""

    status_code: int | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookPoster(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> PostResult:
        """POST `body`; never raises for network trouble (returns it as `error`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimedDelivery:
    id: int
    shop_id: int
    endpoint_id: int
    url: str
    secret: str
    event_id: str
    event_type: str
    body: str

    def __repr__(self) -> str:  # never show the secret or the body in logs
        return f"ClaimedDelivery(id={self.id}, event={self.event_type})"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def request_headers(delivery: ClaimedDelivery, now: datetime) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json",
        "User-Agent": "referral-plugin-webhooks/1",
        "X-Referral-Event-Id": delivery.event_id,
        "X-Referral-Event": delivery.event_type,
        "X-Referral-Timestamp": str(timestamp),
        "X-Referral-Signature": signature_header(
            delivery.secret, timestamp, delivery.body.encode()
        ),
    }


def claim_deliveries(
    session: Session,
    *,
    now: datetime,
    worker: str,
    box: SecretBox,
    limit: int = BATCH_SIZE,
    lease: timedelta = DEFAULT_LEASE,
) -> list[ClaimedDelivery]:
    """Lease up to `limit` due deliveries of active endpoints; the caller commits, then sends."""
    query = (
        select(MerchantWebhookDelivery, MerchantWebhookEndpoint)
        .join(
            MerchantWebhookEndpoint,
            MerchantWebhookEndpoint.id == MerchantWebhookDelivery.endpoint_id,
        )
        .where(
            MerchantWebhookDelivery.status == MerchantDeliveryStatus.PENDING,
            MerchantWebhookDelivery.next_attempt_at <= now,
            or_(
                MerchantWebhookDelivery.locked_until.is_(None),
                MerchantWebhookDelivery.locked_until <= now,
            ),
            MerchantWebhookEndpoint.active,
        )
        .order_by(MerchantWebhookDelivery.next_attempt_at, MerchantWebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=MerchantWebhookDelivery)
    )
    claimed = []
    for delivery, endpoint in session.execute(query).all():
        delivery.locked_until, delivery.locked_by = now + lease, worker
        claimed.append(
            ClaimedDelivery(
                id=delivery.id,
                shop_id=delivery.shop_id,
                endpoint_id=endpoint.id,
                url=endpoint.url,
                secret=box.open(endpoint.secret),
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                body=delivery.body,
            )
        )
    session.flush()
    return claimed


def mark_delivered(
    session: Session, delivery: ClaimedDelivery, status_code: int, *, now: datetime
) -> bool:
    """Record a 2xx; True unless it was recorded already (idempotent). Ends the endpoint's
    failure streak."""
    result = session.execute(
        update(MerchantWebhookDelivery)
        .where(
            MerchantWebhookDelivery.id == delivery.id,
            MerchantWebhookDelivery.status != MerchantDeliveryStatus.DELIVERED,
        )
        .values(
            status=MerchantDeliveryStatus.DELIVERED,
            attempts=MerchantWebhookDelivery.attempts + 1,
            last_status_code=status_code,
            last_error=None,
            last_attempt_at=now,
            delivered_at=now,
            next_attempt_at=None,
            locked_until=None,
            locked_by=None,
        )
    )
    session.execute(
        update(MerchantWebhookEndpoint)
        .where(MerchantWebhookEndpoint.id == delivery.endpoint_id)
        .values(failing_since=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def record_failure(
    session: Session,
    delivery: ClaimedDelivery,
    result: PostResult,
    *,
    worker: str,
    now: datetime,
    max_attempts: int,
    disable_after: timedelta,
) -> MerchantDeliveryStatus | None:
    """One failed attempt: retry later, or FAILED (410, max attempts). Returns the new status,
    or None when the delivery is no longer ours (lease lost, delivered meanwhile)."""
    row = session.scalars(
        select(MerchantWebhookDelivery)
        .where(
            MerchantWebhookDelivery.id == delivery.id,
            MerchantWebhookDelivery.status == MerchantDeliveryStatus.PENDING,
            MerchantWebhookDelivery.locked_by == worker,
        )
        .with_for_update()
    ).one_or_none()
    if row is None:
        return None
    row.attempts += 1
    row.last_status_code, row.last_attempt_at = result.status_code, now
    row.last_error = describe(result)
    row.locked_until = row.locked_by = None
    if result.status_code == GONE or row.attempts >= max_attempts:
        row.status, row.next_attempt_at = MerchantDeliveryStatus.FAILED, None
    else:
        row.next_attempt_at = now + backoff_delay(row.attempts)
    endpoint = session.get(MerchantWebhookEndpoint, delivery.endpoint_id)
    if endpoint is not None:
        _note_endpoint_failure(endpoint, result, now, disable_after)
    session.flush()
    return row.status


def _note_endpoint_failure(
    endpoint: MerchantWebhookEndpoint, result: PostResult, now: datetime, disable_after: timedelta
) -> None:
    endpoint.failing_since = endpoint.failing_since or now
    if not endpoint.active:
        return
    reason = None
    if result.status_code == GONE:
        reason = "the endpoint answered 410 Gone"
    elif now - endpoint.failing_since >= disable_after:
        since = endpoint.failing_since.isoformat().replace("+00:00", "Z")
        reason = f"failing since {since}; last error: {describe(result)}"
    if reason is not None:
        endpoint.active = False
        endpoint.disabled_at, endpoint.disabled_reason, endpoint.updated_at = now, reason, now
        logger.warning(
            "webhook endpoint disabled",
            extra={"shop_id": endpoint.shop_id, "endpoint_id": endpoint.id},
        )


def release(session: Session, delivery_ids: list[int], *, worker: str) -> None:
    """Give claimed deliveries back (the worker is stopping) without counting an attempt."""
    session.execute(
        update(MerchantWebhookDelivery)
        .where(
            MerchantWebhookDelivery.id.in_(delivery_ids),
            MerchantWebhookDelivery.locked_by == worker,
        )
        .values(locked_until=None, locked_by=None)
    )


def describe(result: PostResult) -> str:
    if result.error:
        return result.error[:500]
    return f"HTTP {result.status_code}"


def send_due_deliveries(
    transaction: Transaction,
    *,
    poster: WebhookPoster,
    box: SecretBox,
    now: datetime,
    worker: str,
    max_attempts: int,
    disable_after: timedelta,
    clock: Callable[[], datetime] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> SendReport:
    """Claim, send and record due deliveries, batch after batch, each step in its own
    transaction (`transaction()` opens one and commits it). `clock` stamps the requests
    (default: `now`). Returns a SendReport."""
    delivered = retrying = failed = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        with transaction() as session:
            claimed = claim_deliveries(session, now=now, worker=worker, box=box)
        for index, delivery in enumerate(claimed):
            if should_stop():
                with transaction() as session:
                    release(session, [d.id for d in claimed[index:]], worker=worker)
                break
            stamp = clock() if clock is not None else now
            result = poster.post(
                delivery.url, delivery.body.encode(), request_headers(delivery, stamp)
            )
            with transaction() as session:
                if result.delivered:
                    assert result.status_code is not None
                    delivered += mark_delivered(session, delivery, result.status_code, now=now)
                    continue
                status = record_failure(
                    session,
                    delivery,
                    result,
                    worker=worker,
                    now=now,
                    max_attempts=max_attempts,
                    disable_after=disable_after,
                )
            failed += status is MerchantDeliveryStatus.FAILED
            retrying += status is MerchantDeliveryStatus.PENDING
            logger.info(
                "webhook delivery failed",
                extra={"delivery_id": delivery.id, "shop_id": delivery.shop_id, "status": status},
            )
        if len(claimed) < BATCH_SIZE or should_stop():
            break
    return SendReport(delivered=delivered, retrying=retrying, failed=failed)
