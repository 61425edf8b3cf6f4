"""The merchant's webhook endpoints and their delivery log: register, change, delete, rotate
the signing secret, list deliveries, replay one, send a test ping.

Every function is scoped to one shop (another shop's ids raise NotFound) and never commits.
A signing secret is random (`whsec_` + 32 random bytes, urlsafe base64), stored sealed with the
`SecretBox`, and returned in plain text only by `create_endpoint` and `rotate_secret`.
Changes are recorded in the audit log (never the secret).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..crypto import SecretBox
from ..errors import Conflict, NotFound
from ..models import MerchantDeliveryStatus, MerchantWebhookDelivery, MerchantWebhookEndpoint
from . import merchant_webhooks
from .audit import record_audit
from .webhook_endpoint_input import endpoint_fields

ACTOR = "admin-api"  # the admin API's audit actor (`api.admin.API_ACTOR`)
SECRET_PREFIX = "whsec_"  # noqa: S105  (a marker, not a secret)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def create_endpoint(
    session: Session,
    shop_id: int,
    body: dict[str, Any],
    *,
    box: SecretBox,
    allow_loopback: bool,
    now: datetime,
    actor: str = ACTOR,
) -> tuple[dict[str, Any], str]:
    """Register an endpoint; returns (its view, the signing secret in plain text, shown once).
    Raises ValidationError naming the fields."""
    values = endpoint_fields(body, partial=False, allow_loopback=allow_loopback)
    secret = new_secret()
    endpoint = MerchantWebhookEndpoint(
        shop_id=shop_id,
        url=values["url"],
        description=values.get("description"),
        events=values["events"],
        active=values.get("active", True),
        secret=box.seal(secret),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    session.flush()
    merchant_webhooks.forget_subscribers(session)
    _audit(session, endpoint, "webhook_endpoint.created", {"events": endpoint.events}, now, actor)
    return endpoint_view(endpoint), secret


def list_endpoints(session: Session, shop_id: int) -> list[dict[str, Any]]:
    found = session.scalars(
        select(MerchantWebhookEndpoint)
        .where(MerchantWebhookEndpoint.shop_id == shop_id)
        .order_by(MerchantWebhookEndpoint.id)
    )
    return [endpoint_view(endpoint) for endpoint in found]


def get_endpoint(session: Session, shop_id: int, endpoint_id: int) -> dict[str, Any]:
    return endpoint_view(_endpoint(session, shop_id, endpoint_id))


def update_endpoint(
    session: Session,
    shop_id: int,
    endpoint_id: int,
    body: dict[str, Any],
    *,
    allow_loopback: bool,
    now: datetime,
    actor: str = ACTOR,
) -> dict[str, Any]:
    """Change url, events, description or active. Enabling clears the disabled reason and the
    failure streak; deliveries still pending are then sent. Raises NotFound, ValidationError."""
    values = endpoint_fields(body, partial=True, allow_loopback=allow_loopback)
    endpoint = _endpoint(session, shop_id, endpoint_id)
    for name, value in values.items():
        setattr(endpoint, name, value)
    if values.get("active") is True:
        endpoint.disabled_at = endpoint.disabled_reason = endpoint.failing_since = None
    elif values.get("active") is False and endpoint.disabled_at is None:
        endpoint.disabled_at, endpoint.disabled_reason = now, "disabled by the merchant"
    endpoint.updated_at = now
    session.flush()
    merchant_webhooks.forget_subscribers(session)
    _audit(session, endpoint, "webhook_endpoint.updated", {"fields": sorted(values)}, now, actor)
    return endpoint_view(endpoint)


def delete_endpoint(
    session: Session, shop_id: int, endpoint_id: int, *, now: datetime, actor: str = ACTOR
) -> None:
    """Delete the endpoint and its delivery log. Raises NotFound."""
    endpoint = _endpoint(session, shop_id, endpoint_id)
    session.execute(
        delete(MerchantWebhookDelivery).where(
            MerchantWebhookDelivery.shop_id == shop_id,
            MerchantWebhookDelivery.endpoint_id == endpoint.id,
        )
    )
    _audit(session, endpoint, "webhook_endpoint.deleted", {"url_host": _host(endpoint)}, now, actor)
    session.delete(endpoint)
    session.flush()
    merchant_webhooks.forget_subscribers(session)


def rotate_secret(
    session: Session,
    shop_id: int,
    endpoint_id: int,
    *,
    box: SecretBox,
    now: datetime,
    actor: str = ACTOR,
) -> tuple[dict[str, Any], str]:
    """Replace the signing secret at once (every later attempt is signed with the new one);
    returns (the view, the new secret). Raises NotFound."""
    endpoint = _endpoint(session, shop_id, endpoint_id)
    secret = new_secret()
    endpoint.secret = box.seal(secret)
    endpoint.updated_at = now
    session.flush()
    _audit(session, endpoint, "webhook_endpoint.secret_rotated", {}, now, actor)
    return endpoint_view(endpoint), secret


def list_deliveries(
    session: Session, shop_id: int, endpoint_id: int, *, limit: int, offset: int
) -> list[dict[str, Any]]:
    """The endpoint's delivery log, newest first. Raises NotFound."""
    endpoint = _endpoint(session, shop_id, endpoint_id)
    found = session.scalars(
        select(MerchantWebhookDelivery)
        .where(
            MerchantWebhookDelivery.shop_id == shop_id,
            MerchantWebhookDelivery.endpoint_id == endpoint.id,
        )
        .order_by(MerchantWebhookDelivery.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [delivery_view(delivery) for delivery in found]


def get_delivery(
    session: Session, shop_id: int, endpoint_id: int, delivery_id: int
) -> dict[str, Any]:
    return delivery_view(_delivery(session, shop_id, endpoint_id, delivery_id))


def retry_delivery(
    session: Session,
    shop_id: int,
    endpoint_id: int,
    delivery_id: int,
    *,
    now: datetime,
    actor: str = ACTOR,
) -> dict[str, Any]:
    """Make a failed (or waiting) delivery due now with a fresh attempt budget. Raises
    NotFound, or Conflict when it was delivered or the endpoint is disabled."""
    delivery = _delivery(session, shop_id, endpoint_id, delivery_id)
    endpoint = _endpoint(session, shop_id, endpoint_id)
    if delivery.status is MerchantDeliveryStatus.DELIVERED:
        raise Conflict("the delivery was delivered already; receivers dedupe on the event id")
    if not endpoint.active:
        raise Conflict("the endpoint is disabled; enable it (active: true) first")
    delivery.status = MerchantDeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.locked_until = delivery.locked_by = None
    session.flush()
    _audit(session, endpoint, "webhook_delivery.retried", {"delivery_id": delivery.id}, now, actor)
    return delivery_view(delivery)


def send_test(session: Session, shop_id: int, endpoint_id: int, *, now: datetime) -> int:
    """Queue a `ping` event for the endpoint, sent like any other; returns the delivery id.
    Raises NotFound, or Conflict when the endpoint is disabled."""
    endpoint = _endpoint(session, shop_id, endpoint_id)
    if not endpoint.active:
        raise Conflict("the endpoint is disabled; enable it (active: true) first")
    dedup_key = f"{merchant_webhooks.PING}:{uuid.uuid4()}"
    merchant_webhooks.record_event(
        session,
        shop_id,
        merchant_webhooks.PING,
        dedup_key,
        lambda: {"endpoint_id": str(endpoint.id), "message": "Test event from the referral app"},
        now=now,
        endpoint_ids=(endpoint.id,),
    )
    return session.scalars(
        select(MerchantWebhookDelivery.id).where(
            MerchantWebhookDelivery.endpoint_id == endpoint.id,
            MerchantWebhookDelivery.dedup_key == dedup_key,
        )
    ).one()


# --- views and lookups ----------------------------------------------------------------------


def endpoint_view(endpoint: MerchantWebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events),
        "active": endpoint.active,
        "failing_since": _time(endpoint.failing_since),
        "disabled_at": _time(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason,
        "created_at": _time(endpoint.created_at),
        "updated_at": _time(endpoint.updated_at),
    }


def delivery_view(delivery: MerchantWebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "endpoint_id": delivery.endpoint_id,
        "event_id": delivery.event_id,
        "event": delivery.event_type,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "last_attempt_at": _time(delivery.last_attempt_at),
        "next_attempt_at": _time(delivery.next_attempt_at),
        "delivered_at": _time(delivery.delivered_at),
        "created_at": _time(delivery.created_at),
    }


def _endpoint(session: Session, shop_id: int, endpoint_id: int) -> MerchantWebhookEndpoint:
    endpoint = session.scalars(
        select(MerchantWebhookEndpoint).where(
            MerchantWebhookEndpoint.shop_id == shop_id, MerchantWebhookEndpoint.id == endpoint_id
        )
    ).one_or_none()
    if endpoint is None:
        raise NotFound("webhook endpoint", endpoint_id)
    return endpoint


def _delivery(
    session: Session, shop_id: int, endpoint_id: int, delivery_id: int
) -> MerchantWebhookDelivery:
    delivery = session.scalars(
        select(MerchantWebhookDelivery).where(
            MerchantWebhookDelivery.shop_id == shop_id,
            MerchantWebhookDelivery.endpoint_id == endpoint_id,
            MerchantWebhookDelivery.id == delivery_id,
        )
    ).one_or_none()
    if delivery is None:
        raise NotFound("webhook delivery", delivery_id)
    return delivery


def _audit(
    session: Session,
    endpoint: MerchantWebhookEndpoint,
    action: str,
    details: dict[str, Any],
    now: datetime,
    actor: str,
) -> None:
    record_audit(
        session,
        endpoint.shop_id,
        actor=actor,
        action=action,
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        details=details,
        now=now,
    )


def _host(endpoint: MerchantWebhookEndpoint) -> str:
    return urlsplit(endpoint.url).hostname or ""


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")
