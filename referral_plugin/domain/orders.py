"""The state of one order, merged from every event we have seen for it.

`merge_order_events` is commutative, associative and idempotent (a join): the same set of
events gives the same `OrderState` whatever order they arrived in and however often each came.
Everything that follows (decisions, reward transitions) is a function of that state, which is
how "refund before paid, paid twice, cancelled then paid" all end the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .events import OrderEvent, OrderEventKind, Refund


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderState:
    order: OrderEvent | None  # the latest event that carries the order data, if any
    paid: bool = False
    paid_at: datetime | None = None
    cancelled: bool = False
    cancelled_at: datetime | None = None
    refunds: tuple[Refund, ...] = ()
    is_test: bool = False

    @property
    def refunded_total(self) -> Decimal:
        return sum((r.amount for r in self.refunds), Decimal(0))

    @property
    def fully_refunded(self) -> bool:
        if self.order is None or self.order.total is None:
            return False
        return self.order.total > 0 and self.refunded_total >= self.order.total

    @property
    def remaining_fraction(self) -> Decimal:
        """Share of the order still kept after refunds, between 0 and 1."""
        if self.order is None or not self.order.total or self.order.total <= 0:
            return Decimal(1)
        kept = (self.order.total - self.refunded_total) / self.order.total
        return max(Decimal(0), min(Decimal(1), kept))

    @property
    def remaining_subtotal(self) -> Decimal | None:
        if self.order is None or self.order.subtotal is None:
            return None
        return self.order.subtotal * self.remaining_fraction


def _data_rank(event: OrderEvent) -> tuple[bool, datetime, str]:
    return (event.has_order_data, event.occurred_at, event.idempotency_key)


def _refund_rank(refund: Refund) -> tuple[Decimal, bool, datetime | str]:
    return (refund.amount, refund.created_at is not None, refund.created_at or "")


def merge_order_events(events: Iterable[OrderEvent]) -> OrderState:
    """Join all events of one order into its state; see the module docstring for the laws."""
    order: OrderEvent | None = None
    paid_times: list[datetime] = []
    refund_paid_times: list[datetime] = []
    cancel_times: list[datetime] = []
    refunds: dict[str, Refund] = {}
    is_test = False
    for event in events:
        if order is None or _data_rank(event) > _data_rank(order):
            order = event
        if event.kind is OrderEventKind.PAID:
            paid_times.append(event.occurred_at)
        elif event.kind is OrderEventKind.REFUNDED and event.refunds:
            refund_paid_times.append(event.occurred_at)
        if event.kind is OrderEventKind.CANCELLED:
            cancel_times.append(event.occurred_at)
        for refund in event.refunds:
            known = refunds.get(refund.refund_id)
            # A refund id seen twice keeps the greatest copy, so the join stays order-free.
            if known is None or _refund_rank(refund) > _refund_rank(known):
                refunds[refund.refund_id] = refund
        is_test = is_test or event.is_test
    payment_times = paid_times or refund_paid_times
    paid_at = min(payment_times) if payment_times else None
    return OrderState(
        order=order,
        paid=paid_at is not None,
        paid_at=paid_at,
        cancelled=bool(cancel_times),
        cancelled_at=min(cancel_times) if cancel_times else None,
        refunds=tuple(sorted(refunds.values(), key=lambda r: r.refund_id)),
        is_test=is_test,
    )
