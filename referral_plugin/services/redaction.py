"""Erasing one customer's personal data from one shop, keeping the anonymous aggregates.

Identity columns are nulled, or replaced by a marker address under `redacted.invalid` where the
column is required (a marker matches no real address, so a redacted advocate or claim is never
matched by email again). Counts, amounts and statuses stay, so the merchant's numbers do not
change. Besides the rows `customer_data` finds, the raw inbox (`webhook_deliveries`: whole
store payloads), the audit log, the outbox and the merchant's outbound webhook log
(`merchant_webhook_redaction`) are searched for the customer; payloads are read
generically (strings, top-level ids), never by a platform's schema. Idempotent: a second run
finds nothing left to erase.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from ..domain.events import FraudSignals
from ..models import (
    AdvocateStatus,
    AuditEntry,
    DataRequestStatus,
    OutboxMessage,
    OutboxStatus,
    WebhookDelivery,
)
from .customer_data import CustomerRef, CustomerRows, find_customer_rows
from .merchant_webhook_redaction import redact_merchant_webhooks
from .order_event_codec import order_event_from_json, order_event_to_json

MARKER_DOMAIN = "redacted.invalid"
REDACTED = {"redacted": True}
REDACTED_BODY = b'{"redacted":true}'
REDACTED_ERROR = "redacted"


def marker_email(kind: str, row_id: int) -> str:
    """A unique placeholder for a required email column; it reaches no inbox."""
    return f"redacted-{kind}-{row_id}@{MARKER_DOMAIN}"


def redact_customer(
    session: Session, shop_id: int, ref: CustomerRef, *, now: datetime
) -> dict[str, int]:
    """Erase the customer's personal data in the shop; returns rows redacted per table."""
    rows = find_customer_rows(session, shop_id, ref)
    counts = {
        "advocates": _advocates(rows),
        "codes": _friend_codes(rows),
        "claims": _claims(rows),
        "clicks": _clicks(rows),
        "conversions": _conversions(rows),
        "rewards": _rewards(rows, ref),
        "order_events": _order_events(rows),
        "data_requests": _data_requests(rows, now),
        "outbox_messages": _messages(session, shop_id, rows, ref),
        "audit_log": _audit(session, shop_id, rows, ref),
        "webhook_deliveries": _deliveries(session, shop_id, ref, rows.order_ids),
        "merchant_webhook_deliveries": redact_merchant_webhooks(session, shop_id, ref, rows),
    }
    session.flush()
    return {table: count for table, count in counts.items() if count}


def _advocates(rows: CustomerRows) -> int:
    for advocate in rows.advocates:
        advocate.email = advocate.identity_email = marker_email("advocate", advocate.id)
        advocate.customer_id = advocate.first_name = advocate.last_name = None
        advocate.status = AdvocateStatus.BLOCKED  # their code earns nobody anything any more
    return len(rows.advocates)


def _friend_codes(rows: CustomerRows) -> int:
    bound = [code for code in rows.codes if code.friend_email is not None]
    for code in bound:  # still bound, to nobody: the code is honoured for no order
        code.friend_email = marker_email("code", code.id)
    return len(bound)


def _claims(rows: CustomerRows) -> int:
    for claim in rows.claims:
        claim.identity_email = marker_email("claim", claim.id)
    return len(rows.claims)


def _clicks(rows: CustomerRows) -> int:
    for click in rows.clicks:
        click.ip_hash = click.user_agent = None
    return len(rows.clicks)


def _conversions(rows: CustomerRows) -> int:
    for conversion in rows.conversions:
        conversion.customer_id = conversion.email = conversion.identity_email = None
        conversion.signals = {}  # keyed hashes of IP, device, address, payment
    return len(rows.conversions)


def _rewards(rows: CustomerRows, ref: CustomerRef) -> int:
    mentioning = [r for r in rows.rewards if mentions(r.last_store_error, ref)]
    for reward in mentioning:  # a store error may quote the customer (GID, email)
        reward.last_store_error = REDACTED_ERROR
    return len(mentioning)


def _order_events(rows: CustomerRows) -> int:
    for record in rows.order_events:
        event = order_event_from_json(record.payload)
        scrubbed = dataclasses.replace(event, customer_id=None, email=None, signals=FraudSignals())
        record.payload = order_event_to_json(scrubbed)
    return len(rows.order_events)


def _data_requests(rows: CustomerRows, now: datetime) -> int:
    for request in rows.data_requests:
        request.status = DataRequestStatus.ERASED
        request.customer_id = request.email = None
        request.order_ids = request.export = None
        request.erased_at = request.erased_at or now
    return len(rows.data_requests)


def _messages(session: Session, shop_id: int, rows: CustomerRows, ref: CustomerRef) -> int:
    """Messages to the customer lose their address (and are not sent any more); messages to
    others that quote the customer lose their text."""
    to_them = {m.id for m in rows.messages}
    found = _mentioning(session, OutboxMessage, OutboxMessage.payload, shop_id, ref)
    touched = {m.id: m for m in [*rows.messages, *found]}
    for message in touched.values():
        message.payload = dict(REDACTED)
        if message.id in to_them:
            message.recipient = marker_email("message", message.id)
            if message.status in (OutboxStatus.PENDING, OutboxStatus.FAILED):
                message.status, message.next_attempt_at = OutboxStatus.DEAD, None
                message.last_error = "recipient redacted"
    return len(touched)


def _audit(session: Session, shop_id: int, rows: CustomerRows, ref: CustomerRef) -> int:
    advocate_ids = [str(a.id) for a in rows.advocates]
    about = (AuditEntry.subject_type == "advocate") & AuditEntry.subject_id.in_(advocate_ids)
    found = _mentioning(session, AuditEntry, AuditEntry.details, shop_id, ref, also=about)
    for entry in found:
        entry.details = dict(REDACTED)
    return len(found)


def _deliveries(session: Session, shop_id: int, ref: CustomerRef, order_ids: set[str]) -> int:
    """Inbox rows whose payload names the customer or one of their orders: the body becomes a
    redaction stub (a replay then parks it as untranslatable), headers naming them go."""
    orders = order_ids | set(ref.order_ids)
    needles = _needles(ref) + sorted(orders)
    if not needles:
        return 0
    body_text = _lowered_bytes(session, WebhookDelivery.body)
    candidates = session.scalars(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.shop_id == shop_id,
            or_(*(body_text.contains(n, autoescape=True) for n in needles)),
        )
        .order_by(WebhookDelivery.id)
    ).all()
    redacted = 0
    for delivery in candidates:
        if delivery.body == REDACTED_BODY or not _names(delivery, ref, orders):
            continue
        delivery.body = REDACTED_BODY
        delivery.headers = {
            k: v for k, v in delivery.headers.items() if not _names_value(v, ref, orders)
        }
        if mentions(delivery.last_error, ref):
            delivery.last_error = REDACTED_ERROR
        redacted += 1
    return redacted


def _names(delivery: WebhookDelivery, ref: CustomerRef, orders: set[str]) -> bool:
    """The payload names the customer: their email anywhere, or at the top level an order id
    (`id`, `order_id`) of theirs, or their customer id (`customer_id`, `customer.id`, or the
    `id` of a customer topic's payload)."""
    if mentions(delivery.body.decode("utf-8", "replace"), ref, ids=False):
        return True
    try:
        document = json.loads(delivery.body)
    except ValueError:
        return False
    if not isinstance(document, dict):
        return False
    if {_text(document.get("id")), _text(document.get("order_id"))} & orders:
        return True
    if ref.customer_id is None:
        return False
    customer = document.get("customer")
    customer_ids = {
        _text(document.get("customer_id")),
        _text(customer.get("id")) if isinstance(customer, dict) else None,
        _text(document.get("id")) if "customer" in delivery.topic else None,
    }
    return ref.customer_id in customer_ids


def _names_value(value: Any, ref: CustomerRef, orders: set[str]) -> bool:
    text = str(value).strip()
    return text in orders or text == ref.customer_id or mentions(text, ref, ids=False)


def mentions(text: str | None, ref: CustomerRef, *, ids: bool = True) -> bool:
    """`text` contains the customer's email (either form), or with `ids` their customer id."""
    if not text:
        return False
    lowered = text.lower()
    if any(needle in lowered for needle in _needles(ref, ids=False)):
        return True
    return ids and ref.customer_id is not None and ref.customer_id in lowered


def _needles(ref: CustomerRef, *, ids: bool = True) -> list[str]:
    found = [e for e in dict.fromkeys((ref.email, ref.identity)) if e]
    return found + ([ref.customer_id] if ids and ref.customer_id else [])


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list) else str(value)


def _mentioning(
    session: Session,
    model: type,
    column: Any,
    shop_id: int,
    ref: CustomerRef,
    also: ColumnElement[bool] | None = None,
) -> list[Any]:
    """Rows of `model` whose JSON `column` contains the customer's email, or matching `also`."""
    text = func.lower(cast(column, Text))
    matches = [text.contains(n, autoescape=True) for n in _needles(ref, ids=False)]
    if also is not None:
        matches.append(also)
    if not matches:
        return []
    query = select(model).where(model.shop_id == shop_id, or_(*matches))  # type: ignore[attr-defined]
    return list(session.scalars(query.order_by(model.id)))  # type: ignore[attr-defined]


def _lowered_bytes(session: Session, column: Any) -> ColumnElement[str]:
    """A binary column as lower-case text inside the database (PostgreSQL: bytea escaped, so
    invalid UTF-8 cannot fail the query; SQLite compares blob bytes as text)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.lower(func.encode(column, literal("escape")))
    return func.lower(cast(column, Text))
