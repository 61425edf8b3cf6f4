"""What each common event does when the worker processes its delivery: a literal table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..crypto import SecretBox
from ..domain.events import (
    CustomerCreated,
    CustomerDataRequest,
    CustomerRedact,
    OrderEvent,
    ShopRedact,
    ShopUninstalled,
)
from ..errors import Conflict
from . import compliance, orders
from .customer_data import CustomerRef


class UnprocessableDelivery(Exception):
    """An authentic delivery that retrying cannot fix (malformed payload, wrong shop, an event
    with no handler, a request the shop's state refuses). The worker parks it as failed without
    a retry time; it stays replayable."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventContext:
    """The delivery's shop (as stored) and what every handler needs.

    `box` opens the shop's sealed credentials (the uninstall handler reads the install time);
    without it every uninstall counts, however old.
    """

    shop_id: int
    shop_domain: str
    now: datetime
    code_key: bytes = field(repr=False)
    box: SecretBox | None = field(default=None, repr=False)


Handler = Callable[[Session, EventContext, Any], None]


def handle_order_event(session: Session, context: EventContext, event: OrderEvent) -> None:
    """Apply the order event (`orders.apply_order_event`: idempotent, converging; the outcome
    is not read back, nothing here needs it)."""
    check_shop(context, event)
    orders.apply_order_event(
        session, context.shop_id, event, now=context.now, code_key=context.code_key
    )


def handle_shop_uninstalled(
    session: Session, context: EventContext, event: ShopUninstalled
) -> None:
    """The shop removed the app: mark it uninstalled and drop its credentials, unless the
    uninstall happened before the shop's current install (`compliance.uninstall_shop`)."""
    check_shop(context, event)
    compliance.uninstall_shop(
        session, context.shop_id, occurred_at=event.occurred_at, box=context.box
    )


def acknowledge_customer_created(
    session: Session, context: EventContext, event: CustomerCreated
) -> None:
    """Acknowledged with no effect for now: enrolling new customers as advocates automatically
    (auto-enroll) is a separate issue and will hook in here."""
    check_shop(context, event)


def handle_data_request(
    session: Session, context: EventContext, event: CustomerDataRequest
) -> None:
    """Export what the shop holds about the customer, once per request id, and tell the
    merchant (`compliance.answer_data_request`)."""
    check_shop(context, event)
    compliance.answer_data_request(
        session,
        context.shop_id,
        request_id=event.request_id,
        ref=CustomerRef.of(event.customer_id, event.email, event.order_ids),
        now=context.now,
    )


def handle_customer_redact(session: Session, context: EventContext, event: CustomerRedact) -> None:
    """Erase the customer's personal data in the shop (`compliance.redact_customer_data`)."""
    check_shop(context, event)
    compliance.redact_customer_data(
        session,
        context.shop_id,
        CustomerRef.of(event.customer_id, event.email, event.order_ids),
        now=context.now,
        key=context.code_key,
    )


def handle_shop_redact(session: Session, context: EventContext, event: ShopRedact) -> None:
    """Erase the shop and all it owns (`compliance.erase_shop_data`); an installed shop is
    refused (parked, replayable)."""
    check_shop(context, event)
    try:
        compliance.erase_shop_data(session, context.shop_id)
    except Conflict as exc:
        raise UnprocessableDelivery(str(exc)) from exc


HANDLERS: dict[type, Handler] = {
    OrderEvent: handle_order_event,
    ShopUninstalled: handle_shop_uninstalled,
    CustomerCreated: acknowledge_customer_created,
    CustomerDataRequest: handle_data_request,
    CustomerRedact: handle_customer_redact,
    ShopRedact: handle_shop_redact,
}


def handler_for(event: object) -> Handler:
    """The handler of `event`; raises UnprocessableDelivery when there is none."""
    handler = HANDLERS.get(type(event))
    if handler is None:
        raise UnprocessableDelivery(
            f"no handler for {type(event).__name__}: add one to services.event_handlers.HANDLERS"
        )
    return handler


def names_shop(event: Any, shop_domain: str) -> bool:
    """True when the event names the shop `shop_domain` (as stored)."""
    return _named_shop(event) == shop_domain


def _named_shop(event: Any) -> str:
    return str(event.shop).strip().lower().rstrip("/")


def check_shop(context: EventContext, event: Any) -> None:
    """Raise UnprocessableDelivery unless the event names the delivery's own shop."""
    named = _named_shop(event)
    if named != context.shop_domain:
        raise UnprocessableDelivery(
            f"{type(event).__name__} names shop {named!r}, but the delivery belongs to "
            f"shop {context.shop_id} ({context.shop_domain!r})"
        )
