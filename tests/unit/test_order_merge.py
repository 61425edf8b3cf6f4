"""merge_order_events is a join: order-free, duplicate-free, refunds counted once per id."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referral_plugin.domain.events import OrderEvent, OrderEventKind, Refund
from referral_plugin.domain.orders import OrderState, merge_order_events
from tests.unit.builders import NOW, an_order

# A refund id always names the same refund, as it does on the platforms.
REFUNDS = {
    f"r{i}": Refund(refund_id=f"r{i}", amount=Decimal(amount), created_at=NOW)
    for i, amount in enumerate(("5.00", "12.50", "30.00", "110.00"))
}

REFUND_IDS = st.sampled_from(sorted(REFUNDS))


@st.composite
def order_events(draw: st.DrawFn) -> list[OrderEvent]:
    """Distinct events of one order: each idempotency key names one event."""
    count = draw(st.integers(min_value=1, max_value=8))
    events = []
    for index in range(count):
        with_data = draw(st.booleans())
        events.append(
            an_order(
                idempotency_key=f"event-{index}",
                kind=draw(st.sampled_from(OrderEventKind)),
                occurred_at=NOW + timedelta(minutes=draw(st.integers(0, 3))),
                subtotal=Decimal(draw(st.sampled_from(("100.00", "90.00")))) if with_data else None,
                discount_codes=("ANNA7Q2K9XPA",) if with_data else None,
                refunds=tuple(REFUNDS[r] for r in draw(st.lists(REFUND_IDS, max_size=3))),
                is_test=draw(st.booleans()),
            )
        )
    return events


def merged(events: list[OrderEvent]) -> OrderState:
    return merge_order_events(events)


@given(events=order_events(), data=st.data())
def test_any_permutation_gives_the_same_state(
    events: list[OrderEvent], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(events))
    assert merged(shuffled) == merged(events)


@given(events=order_events(), data=st.data())
def test_any_duplication_gives_the_same_state(
    events: list[OrderEvent], data: st.DataObject
) -> None:
    extra = data.draw(st.lists(st.sampled_from(events), max_size=10))
    with_repeats = data.draw(st.permutations(events + extra))
    assert merged(with_repeats) == merged(events)


@given(first=order_events(), second=order_events())
def test_merging_in_two_batches_is_merging_the_union(
    first: list[OrderEvent], second: list[OrderEvent]
) -> None:
    renamed = [_rename(e, "second") for e in second]
    assert merged(first + renamed) == merged(renamed + first) == merged(first + renamed + first)


@given(events=order_events())
def test_each_refund_id_counts_once(events: list[OrderEvent]) -> None:
    ids = {r.refund_id for e in events for r in e.refunds}
    state = merged(events + events)
    assert state.refunded_total == sum((REFUNDS[i].amount for i in ids), Decimal(0))
    assert [r.refund_id for r in state.refunds] == sorted(ids)


@given(events=order_events())
def test_the_state_keeps_the_latest_event_with_order_data(events: list[OrderEvent]) -> None:
    state = merged(events)
    with_data = [e for e in events if e.has_order_data]
    if with_data:
        assert state.order is not None
        assert state.order.has_order_data
        assert state.order.occurred_at == max(e.occurred_at for e in with_data)


def _rename(event: OrderEvent, prefix: str) -> OrderEvent:
    return replace(event, idempotency_key=f"{prefix}-{event.idempotency_key}")


@pytest.mark.parametrize(
    ("kinds", "paid", "cancelled"),
    [
        pytest.param((OrderEventKind.PLACED,), False, False, id="placed only"),
        pytest.param((OrderEventKind.PAID, OrderEventKind.PAID), True, False, id="paid twice"),
        pytest.param(
            (OrderEventKind.CANCELLED, OrderEventKind.PAID),
            True,
            True,
            id="cancelled then paid: still void",
        ),
    ],
)
def test_lifecycle_flags(kinds: tuple[OrderEventKind, ...], paid: bool, cancelled: bool) -> None:
    events = [an_order(kind=k, idempotency_key=str(i)) for i, k in enumerate(kinds)]
    state = merged(events)
    assert (state.paid, state.cancelled, state.fully_refunded) == (paid, cancelled, False)


def test_a_refund_before_payment_still_marks_the_order_paid() -> None:
    refund = an_order(kind=OrderEventKind.REFUNDED, refunds=(REFUNDS["r0"],))
    state = merged([refund])
    assert state.paid
    assert state.paid_at == NOW


def test_a_full_refund_voids_the_order() -> None:
    refund = an_order(kind=OrderEventKind.REFUNDED, refunds=(REFUNDS["r3"],))
    assert merged([an_order(idempotency_key="paid"), refund]).fully_refunded  # 110.00 of 110.00


def test_a_refund_seen_with_and_without_its_time_merges_either_way() -> None:
    bare = Refund(refund_id="r1", amount=Decimal("5"))
    timed = Refund(refund_id="r1", amount=Decimal("5"), created_at=NOW)
    one = an_order(kind=OrderEventKind.REFUNDED, idempotency_key="a", refunds=(bare,))
    other = an_order(kind=OrderEventKind.REFUNDED, idempotency_key="b", refunds=(timed,))
    assert merged([one, other]) == merged([other, one])
