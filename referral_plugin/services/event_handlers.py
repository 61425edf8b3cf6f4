"""What each common event does when the worker processes its delivery: a literal table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..domain.events import CustomerCreated, OrderEvent, ShopUninstalled
from . import orders, shops


class UnprocessableDelivery(Exception):
    """An authentic delivery that retrying cannot fix (malformed payload, wrong shop, no handler
    yet). The worker parks it as failed without a retry time; it stays replayable."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventContext:
    """The delivery's shop (as stored) and what every handler needs."""

    shop_id: int
    shop_domain: str
    now: datetime
    code_key: bytes = field(repr=False)


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
    """The shop removed the app: mark it uninstalled and drop its credentials. Idempotent."""
    check_shop(context, event)
    shops.mark_uninstalled(session, context.shop_id, now=event.occurred_at)


def acknowledge_customer_created(
    session: Session, context: EventContext, event: CustomerCreated
) -> None:
    """Acknowledged with no effect for now: enrolling new customers as advocates automatically
    (auto-enroll) is a separate issue and will hook in here."""
    check_shop(context, event)


# Compliance events (CustomerRedact, CustomerDataRequest, ShopRedact) have no handler yet: the
# Shopify connector issue builds them. Their deliveries are parked as failed, never marked done.
HANDLERS: dict[type, Handler] = {
    OrderEvent: handle_order_event,
    ShopUninstalled: handle_shop_uninstalled,
    CustomerCreated: acknowledge_customer_created,
}


def handler_for(event: object) -> Handler:
    """The handler of `event`; raises UnprocessableDelivery when there is none yet."""
    handler = HANDLERS.get(type(event))
    if handler is None:
        raise UnprocessableDelivery(
            f"no handler for {type(event).__name__} yet: replay once compliance handling ships"
        )
    return handler


def check_shop(context: EventContext, event: Any) -> None:
    """Raise UnprocessableDelivery unless the event names the delivery's own shop."""
    named = str(event.shop).strip().lower().rstrip("/")
    if named != context.shop_domain:
        raise UnprocessableDelivery(
            f"{type(event).__name__} names shop {named!r}, but the delivery belongs to "
            f"shop {context.shop_id} ({context.shop_domain!r})"
        )
