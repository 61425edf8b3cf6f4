"""Privacy compliance use cases: answer a customer data request, redact a customer, erase a
shop, and uninstall a shop without letting an old uninstall undo a newer install.

These back Shopify's mandatory compliance topics (`customers/data_request`, `customers/redact`,
`shop/redact`) and `app/uninstalled`, but know nothing of Shopify: they take ids, emails and
times. Each is idempotent (a redelivery or a replay has one effect) and scoped to one shop;
none commits.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..crypto import SecretBox
from ..domain.clock import parse_timestamp
from ..errors import Conflict, NotFound
from ..models import DataRequest, DataRequestStatus, Redaction, Shop, ShopStatus
from . import shops
from .compliance_export import build_export
from .customer_data import CustomerRef, find_customer_rows
from .outbox import enqueue_message
from .redaction import redact_customer
from .shop_erasure import erase_shop

logger = logging.getLogger(__name__)

INSTALLED_AT_KEY = "installed_at"  # set in the sealed credentials on every (re)install
REDACTION_KEY_PURPOSE = b"referral-plugin/compliance/redaction/v1"
DATA_REQUEST_READY = "data_request_ready"


def answer_data_request(
    session: Session, shop_id: int, *, request_id: str, ref: CustomerRef, now: datetime
) -> tuple[DataRequest, bool]:
    """Store the export of everything the shop holds about `ref` under the platform's
    `request_id` and tell the merchant (the shop's email, through the outbox) it is ready.

    Returns (request, created); the same request id again returns the first export unchanged
    (created=False). The email names no customer: the export is fetched through the admin API.
    """
    existing = _data_request_by_platform_id(session, shop_id, request_id)
    if existing is not None:
        return existing, False
    rows = find_customer_rows(session, shop_id, ref)
    request = DataRequest(
        shop_id=shop_id,
        request_id=request_id,
        status=DataRequestStatus.READY,
        customer_id=ref.customer_id,
        email=ref.email,
        order_ids=list(ref.order_ids),
        export=build_export(ref, rows, now=now),
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(request)
    except IntegrityError:  # answered concurrently: the other export stands
        existing = _data_request_by_platform_id(session, shop_id, request_id)
        if existing is None:
            raise
        return existing, False
    _notify_merchant(session, shop_id, request, now)
    return request, True


def _notify_merchant(session: Session, shop_id: int, request: DataRequest, now: datetime) -> None:
    shop = shops.get_shop(session, shop_id)
    if not shop.email:
        logger.warning(
            "data request answered, but the shop has no email to tell",
            extra={"shop_id": shop_id, "data_request_id": request.id},
        )
        return
    enqueue_message(
        session,
        shop_id=shop_id,
        kind=DATA_REQUEST_READY,
        recipient=shop.email,
        dedup_key=f"data-request:{request.id}",
        subject="A customer data request has been answered",
        text=(
            f"Your store sent us a customer data request (request {request.request_id}). "
            "The export of everything we hold about that customer is ready: fetch it from "
            f"the admin API with GET /api/v1/data-requests/{request.id}, then send it to the "
            "customer."
        ),
        now=now,
    )


def redact_customer_data(
    session: Session, shop_id: int, ref: CustomerRef, *, now: datetime, key: bytes
) -> Redaction | None:
    """Erase the customer's personal data in the shop (`redaction.redact_customer`) and record
    it once per request (`key` derives the request's digest). Returns the record, or None for
    a request that names nobody. Running it again erases what arrived since, records nothing."""
    if ref.is_empty:
        return None
    counts = redact_customer(session, shop_id, ref, now=now)
    request_key = redaction_key(ref, key)
    record = session.scalars(
        select(Redaction).where(Redaction.shop_id == shop_id, Redaction.request_key == request_key)
    ).one_or_none()
    if record is None:
        record = Redaction(shop_id=shop_id, request_key=request_key, counts=counts, created_at=now)
        session.add(record)
        session.flush()
    logger.info("customer redacted", extra={"shop_id": shop_id, "redaction_id": record.id})
    return record


def redaction_key(ref: CustomerRef, key: bytes) -> str:
    """A keyed digest of the request (customer id, email, orders): stable across deliveries,
    and no email or id in clear."""
    purpose_key = hmac.new(key, REDACTION_KEY_PURPOSE, hashlib.sha256).digest()
    text = "\n".join([ref.customer_id or "", ref.email or "", ",".join(sorted(ref.order_ids))])
    return hmac.new(purpose_key, text.encode(), hashlib.sha256).hexdigest()[:40]


def erase_shop_data(session: Session, shop_id: int) -> dict[str, int] | None:
    """Erase the shop and everything it owns; None when it is gone already (idempotent).

    Raises Conflict while the shop is installed: the store asks for erasure 48 hours after an
    uninstall, so an active shop was installed again since, and its data is in use.
    """
    shop = session.get(Shop, shop_id)
    if shop is None:
        return None
    if shop.status is ShopStatus.ACTIVE:
        raise Conflict(
            f"shop {shop_id} is installed (active): its data is kept; after it uninstalls, "
            "replay this delivery (`referral-plugin deliveries replay`) to erase it"
        )
    counts = erase_shop(session, shop_id)
    logger.info("shop erased", extra={"shop_id": shop_id, "rows": sum((counts or {}).values())})
    return counts


def uninstall_shop(
    session: Session, shop_id: int, *, occurred_at: datetime, box: SecretBox | None
) -> bool:
    """The store says the app was uninstalled at `occurred_at`: mark the shop uninstalled and
    drop its credentials at once (`shops.mark_uninstalled`). An uninstall older than the
    shop's current install (a replay, a late retry) is ignored: returns False. Without `box`
    the install time cannot be read and every uninstall counts. Idempotent."""
    shop = shops.get_shop(session, shop_id)
    installed = installed_at(shop, box)
    if installed is not None and occurred_at < installed:
        logger.info(
            "uninstall older than the current install: ignored",
            extra={"shop_id": shop_id, "occurred_at": occurred_at.isoformat()},
        )
        return False
    shops.mark_uninstalled(session, shop_id, now=occurred_at)
    return True


def installed_at(shop: Shop, box: SecretBox | None) -> datetime | None:
    """When the shop was last (re)installed, from its sealed credentials; None if unknown."""
    if box is None or not shop.credentials:
        return None
    try:
        raw = shops.shop_credentials(shop, box).get(INSTALLED_AT_KEY)
        return parse_timestamp(raw) if raw else None
    except ValueError:
        logger.error("shop credentials unreadable: install time unknown", extra={"shop": shop.id})
        return None


def list_data_requests(
    session: Session, shop_id: int, *, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """The shop's data requests, newest first, without their exports; and the total count."""
    query = select(DataRequest).where(DataRequest.shop_id == shop_id)
    rows = session.scalars(
        query.order_by(DataRequest.created_at.desc(), DataRequest.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = session.scalar(
        select(func.count()).select_from(DataRequest).where(DataRequest.shop_id == shop_id)
    )
    return [data_request_to_dict(row) for row in rows], int(total or 0)


def get_data_request(session: Session, shop_id: int, data_request_id: int) -> dict[str, Any]:
    """One data request of the shop with its export; raises NotFound (also for another
    shop's id)."""
    row = session.scalars(
        select(DataRequest).where(DataRequest.shop_id == shop_id, DataRequest.id == data_request_id)
    ).one_or_none()
    if row is None:
        raise NotFound("data request", data_request_id)
    return {**data_request_to_dict(row), "export": row.export}


def data_request_to_dict(row: DataRequest) -> dict[str, Any]:
    return {
        "id": row.id,
        "request_id": row.request_id,
        "status": row.status.value,
        "customer_id": row.customer_id,
        "email": row.email,
        "order_ids": row.order_ids or [],
        "created_at": row.created_at.isoformat(),
        "erased_at": None if row.erased_at is None else row.erased_at.isoformat(),
    }


def _data_request_by_platform_id(
    session: Session, shop_id: int, request_id: str
) -> DataRequest | None:
    return session.scalars(
        select(DataRequest).where(
            DataRequest.shop_id == shop_id, DataRequest.request_id == request_id
        )
    ).one_or_none()
