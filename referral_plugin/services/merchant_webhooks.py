"""Recording the merchant's outbound webhook events, in the transaction of the change itself.

A transactional outbox: each hook below (one line at the place where the change happens) writes
one `merchant_webhook_deliveries` row per active endpoint of the shop subscribed to the event,
in the caller's transaction, so an event exists exactly when its change committed. The worker
(`services.webhook_sending`) sends the rows later. Rows are written per endpoint at record time
(not fanned out at send time) because each endpoint has its own attempts, backoff, lease and
log line, and a merchant has a handful of endpoints at most; the payload is small.

Idempotent: each row is unique per (endpoint, dedup key) such as `reward.issued:42`, inserted
with ON CONFLICT DO NOTHING, so a hook that runs twice records once.

Cheap on the order path: the shop's subscriptions are read once per transaction and kept in
`session.info` (keyed by the root transaction); a shop without endpoints costs that one indexed
query per transaction and nothing else, and the payload is built only when someone listens.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..domain.lifecycle import ReferralStatus
from ..domain.money import minor_unit
from ..models import (
    Advocate,
    Conversion,
    MerchantDeliveryStatus,
    MerchantWebhookDelivery,
    MerchantWebhookEndpoint,
    Referral,
    Reward,
    Shop,
)

ADVOCATE_JOINED = "advocate.joined"
REFERRAL_CREATED = "referral.created"
REFERRAL_APPROVED = "referral.approved"
REWARD_ISSUED = "reward.issued"
REWARD_REVERSED = "reward.reversed"
PING = "ping"
EVENT_TYPES = (ADVOCATE_JOINED, REFERRAL_CREATED, REFERRAL_APPROVED, REWARD_ISSUED, REWARD_REVERSED)

_CACHE_KEY = "merchant_webhook_subscribers"
Subscribers = dict[str, tuple[int, ...]]  # event type -> endpoint ids


# --- the hooks ------------------------------------------------------------------------------


def record_advocate_joined(session: Session, advocate: Advocate, code: str, now: datetime) -> int:
    """A new advocate enrolled (not a repeated enrollment). Returns rows recorded."""
    return record_event(
        session,
        advocate.shop_id,
        ADVOCATE_JOINED,
        f"{ADVOCATE_JOINED}:{advocate.id}",
        lambda: {"advocate": _advocate(advocate, code)},
        now=now,
    )


def record_referral_created(session: Session, referral: Referral, now: datetime) -> int:
    """A referral was decided for an order (any status: pending, review or rejected)."""
    return record_event(
        session,
        referral.shop_id,
        REFERRAL_CREATED,
        f"{REFERRAL_CREATED}:{referral.id}",
        lambda: {"referral": _referral(session, referral)},
        now=now,
    )


def record_referral_approved(session: Session, reward: Reward, now: datetime) -> int:
    """The referral of an approved reward survived its hold (return window): recorded once per
    referral, at the first of its rewards to be approved. Rewards without a referral: none."""
    if reward.referral_id is None:
        return 0
    referral_id = reward.referral_id

    def data() -> dict[str, Any]:
        referral = session.get(Referral, referral_id)
        assert referral is not None and referral.shop_id == reward.shop_id
        return {"referral": {**_referral(session, referral), "approved_at": _time(now)}}

    dedup_key = f"{REFERRAL_APPROVED}:{referral_id}"
    return record_event(session, reward.shop_id, REFERRAL_APPROVED, dedup_key, data, now=now)


def record_reward_issued(session: Session, reward: Reward, now: datetime) -> int:
    """A reward was issued (its code exists in the store, or it was recorded as issued)."""
    return record_event(
        session,
        reward.shop_id,
        REWARD_ISSUED,
        f"{REWARD_ISSUED}:{reward.id}",
        lambda: {"reward": _reward(session, reward)},
        now=now,
    )


def record_reward_reversed(session: Session, reward: Reward, now: datetime) -> int:
    """A reward was reversed (refund, cancellation, merchant decision)."""
    return record_event(
        session,
        reward.shop_id,
        REWARD_REVERSED,
        f"{REWARD_REVERSED}:{reward.id}",
        lambda: {"reward": _reward(session, reward)},
        now=now,
    )


# --- recording ------------------------------------------------------------------------------


def record_event(
    session: Session,
    shop_id: int,
    event_type: str,
    dedup_key: str,
    data: Callable[[], dict[str, Any]],
    *,
    now: datetime,
    endpoint_ids: tuple[int, ...] | None = None,
) -> int:
    """One delivery row per subscribed active endpoint (or per `endpoint_ids`); `data` is only
    called when there is one. Returns how many rows were new. Idempotent per dedup key."""
    targets = endpoint_ids
    if targets is None:
        targets = subscribers(session, shop_id).get(event_type, ())
    if not targets:
        return 0
    body = event_body(session, shop_id, event_type, data(), now)
    rows = [
        {
            "shop_id": shop_id,
            "endpoint_id": endpoint_id,
            "event_id": body["id"],
            "event_type": event_type,
            "dedup_key": dedup_key,
            "body": json.dumps(body, separators=(",", ":")),
            "status": MerchantDeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for endpoint_id in targets
    ]
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(MerchantWebhookDelivery.__table__).on_conflict_do_nothing(
        index_elements=["endpoint_id", "dedup_key"]
    )
    result = session.execute(statement, rows)
    return max(result.rowcount, 0)  # type: ignore[attr-defined]


def event_body(
    session: Session, shop_id: int, event_type: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The JSON document an endpoint receives (the same `id` for every endpoint)."""
    domain = session.scalars(select(Shop.domain).where(Shop.id == shop_id)).one()
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "created_at": _time(now),
        "shop": domain,
        "data": data,
    }


def subscribers(session: Session, shop_id: int) -> Subscribers:
    """Event type -> ids of the shop's active endpoints wanting it; read once per transaction."""
    transaction = session.get_transaction()
    cached = session.info.get(_CACHE_KEY)
    if cached is None or cached[0] is not transaction:
        cached = (transaction, {})
        session.info[_CACHE_KEY] = cached
    found: dict[int, Subscribers] = cached[1]
    if shop_id not in found:
        rows = session.execute(
            select(MerchantWebhookEndpoint.id, MerchantWebhookEndpoint.events)
            .where(MerchantWebhookEndpoint.shop_id == shop_id, MerchantWebhookEndpoint.active)
            .order_by(MerchantWebhookEndpoint.id)
        ).all()
        by_type: dict[str, list[int]] = {}
        for endpoint_id, events in rows:
            for event_type in events:
                by_type.setdefault(event_type, []).append(endpoint_id)
        found[shop_id] = {name: tuple(ids) for name, ids in by_type.items()}
    return found[shop_id]


def forget_subscribers(session: Session) -> None:
    """Drop the cached subscriptions (an endpoint was created, changed or deleted)."""
    session.info.pop(_CACHE_KEY, None)


# --- payload parts: ids and amounts as strings, no more personal data than needed ------------


def _advocate(advocate: Advocate, code: str) -> dict[str, Any]:
    return {
        "id": str(advocate.id),
        "program_id": str(advocate.program_id),
        "email": advocate.email,
        "customer_id": advocate.customer_id,
        "code": code,
        "joined_at": _time(advocate.created_at),
    }


def _referral(session: Session, referral: Referral) -> dict[str, Any]:
    conversion = session.get(Conversion, referral.conversion_id)
    assert conversion is not None
    return referral_data(
        referral_id=referral.id,
        program_id=referral.program_id,
        status=referral.status,
        advocate_id=referral.advocate_id,
        advocate_email=_advocate_email(session, referral.advocate_id),
        code=referral.code,
        conversion={
            name: getattr(conversion, name)
            for name in ("order_id", "order_number", "subtotal", "currency")
        },
        created_at=referral.created_at,
    )


def referral_data(
    *,
    referral_id: int,
    program_id: int,
    status: ReferralStatus,
    advocate_id: int,
    advocate_email: str | None,
    code: str,
    conversion: Mapping[str, Any],
    created_at: datetime,
) -> dict[str, Any]:
    """A referral as endpoints receive it; `conversion` holds its order's `order_id`,
    `order_number`, `subtotal` and `currency` (a row, or the values about to be inserted)."""
    return {
        "id": str(referral_id),
        "program_id": str(program_id),
        "status": status.value,
        "advocate_id": str(advocate_id),
        "advocate_email": advocate_email,
        "code": code,
        "order_id": conversion["order_id"],
        "order_number": conversion["order_number"],
        "order_subtotal": money(conversion["subtotal"], conversion["currency"]),
        "created_at": _time(created_at),
    }


def _reward(session: Session, reward: Reward) -> dict[str, Any]:
    conversion = session.get(Conversion, reward.conversion_id)
    return {
        "id": str(reward.id),
        "referral_id": None if reward.referral_id is None else str(reward.referral_id),
        "program_id": str(reward.program_id),
        "beneficiary": reward.beneficiary.value,
        "kind": reward.kind.value,
        "status": reward.status.value,
        "value": None if reward.value is None else money(reward.value, reward.currency),
        "points": None if reward.points is None else str(reward.points),
        "code": reward.store_code,
        "advocate_id": None if reward.advocate_id is None else str(reward.advocate_id),
        "advocate_email": _advocate_email(session, reward.advocate_id),
        "order_id": None if conversion is None else conversion.order_id,
        "issued_at": _time(reward.issued_at),
        "expires_at": _time(reward.expires_at),
        "reversed_at": _time(reward.reversed_at),
        "reversal_reason": reward.reversal_reason,
    }


def _advocate_email(session: Session, advocate_id: int | None) -> str | None:
    advocate = None if advocate_id is None else session.get(Advocate, advocate_id)
    return None if advocate is None else advocate.email


def money(amount: Decimal, currency: str) -> dict[str, str]:
    """`{"amount": "10.00", "currency": "USD"}`: a plain decimal string in minor units."""
    return {"amount": format(amount.quantize(minor_unit(currency)), "f"), "currency": currency}


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")
