"""Properties of order processing, checked with hypothesis on a real database.

(a) any permutation and duplication of an order's events ends in the same state;
(b) after any sequence over several orders, each advocate's ledger sums to their balance;
(c) a full refund inside the hold leaves no advocate reward alive.
Each example runs inside its own savepoint, rolled back afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from referral_plugin.domain.events import OrderEvent, OrderEventKind
from referral_plugin.domain.lifecycle import RewardStatus
from referral_plugin.models import Advocate, Conversion, LedgerEntry, Referral, Reward
from referral_plugin.services.orders import record_order_event
from referral_plugin.services.rewards import (
    mark_reward_issued,
    mark_reward_redeemed,
    mature_held_rewards,
)
from tests.integration import builders as b
from tests.integration.builders import NOW, later

PROPERTY_SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
PLACED, PAID = OrderEventKind.PLACED, OrderEventKind.PAID
CANCELLED, REFUNDED = OrderEventKind.CANCELLED, OrderEventKind.REFUNDED
PERCENT_ONE_SIDED = {
    "name": "10% back",
    "kind": "one_sided",
    "advocate_reward": {"kind": "store_credit", "basis": "percent_of_order", "percent": "10"},
}


@contextmanager
def example(session: Session) -> Iterator[None]:
    nested = session.begin_nested()
    try:
        yield
    finally:
        nested.rollback()
        session.expire_all()


def order_events(order_id: str, code: str) -> list[OrderEvent]:
    """Placed, paid, two partial refunds, the refund that completes it, and a cancel."""

    def refund(rid: str, amount: str, hours: int) -> OrderEvent:
        return b.order_event(
            REFUNDED,
            order_id,
            key=f"refund-{rid}",
            refunds=((rid, amount),),
            with_data=False,
            at=later(hours=hours),
        )

    return [
        b.order_event(PLACED, order_id, key="placed", codes=(code,)),
        b.order_event(PAID, order_id, key="paid", codes=(code,), at=later(hours=1)),
        refund("r1", "20.00", 2),
        refund("r2", "30.00", 3),
        refund("r3", "50.00", 4),
        b.order_event(CANCELLED, order_id, key="cancel", with_data=False, at=later(hours=5)),
    ]


def event_sequences(count: int) -> st.SearchStrategy[list[int]]:
    """Indices into the event list: any subset, any order, with duplicates."""
    return st.lists(st.integers(0, count - 1), min_size=1, max_size=10)


def projection(session: Session, shop_id: int) -> dict[str, Any]:
    session.expire_all()
    conversions = session.execute(
        select(
            Conversion.order_id,
            Conversion.paid,
            Conversion.cancelled,
            Conversion.refunded_total,
            Conversion.outcome,
        ).where(Conversion.shop_id == shop_id)
    ).all()
    referrals = session.scalars(select(Referral.status).where(Referral.shop_id == shop_id)).all()
    rewards = session.execute(
        select(Reward.beneficiary, Reward.rule_key, Reward.status, Reward.value)
        .where(Reward.shop_id == shop_id)
        .order_by(Reward.beneficiary, Reward.rule_key)
    ).all()
    advocates = session.execute(
        select(
            Advocate.balance, Advocate.points, Advocate.debt, Advocate.successful_referrals
        ).where(Advocate.shop_id == shop_id)
    ).all()
    return {
        "conversions": sorted(map(tuple, conversions)),
        "referrals": sorted(referrals),
        "rewards": sorted(map(tuple, rewards)),
        "advocates": sorted(map(tuple, advocates)),
    }


def run_order(
    session: Session, config: dict[str, Any], picks: list[int], check: Callable[[Session, int], Any]
) -> Any:
    with example(session):
        shop = b.shop(session)
        program = b.program(session, shop.id, config)
        anna = b.advocate(session, shop.id, program.id)
        events = order_events("5001", anna.code)
        for index in picks:
            record_order_event(session, shop.id, events[index], now=NOW, code_key=b.CODE_KEY)
        return check(session, shop.id)


@PROPERTY_SETTINGS
@given(
    picks=event_sequences(6),
    config=st.sampled_from([b.TWO_SIDED, PERCENT_ONE_SIDED]),
    data=st.data(),
)
def test_any_arrival_order_of_an_orders_events_converges(
    session: Session, picks, config, data
) -> None:
    shuffled = data.draw(st.permutations(picks + data.draw(st.lists(st.sampled_from(picks)))))
    canonical = run_order(session, config, sorted(set(picks)), projection)
    assert run_order(session, config, list(shuffled), projection) == canonical


def ledger_mismatches(session: Session, shop_id: int) -> list[int]:
    session.expire_all()
    bad = []
    for advocate in session.scalars(select(Advocate).where(Advocate.shop_id == shop_id)):
        sums = dict(
            session.execute(
                select(LedgerEntry.unit, func.sum(LedgerEntry.amount))
                .where(LedgerEntry.advocate_id == advocate.id)
                .group_by(LedgerEntry.unit)
            ).all()
        )
        if sums.get(advocate.currency, 0) != advocate.balance or advocate.debt < 0:
            bad.append(advocate.id)
    return bad


STEPS = st.one_of(
    st.tuples(st.just("event"), st.integers(0, 2), st.integers(0, 5)),
    st.tuples(st.just("mature"), st.just(0), st.just(0)),
    st.tuples(st.just("issue"), st.just(0), st.just(0)),
    st.tuples(st.just("redeem"), st.just(0), st.just(0)),
)


def apply_step(
    session: Session, shop_id: int, step: tuple[str, int, int], events: list[list[OrderEvent]]
) -> None:
    action, order, index = step
    if action == "event":
        record_order_event(session, shop_id, events[order][index], now=NOW, code_key=b.CODE_KEY)
    elif action == "mature":
        mature_held_rewards(session, now=later(60))
    else:
        wanted = RewardStatus.APPROVED if action == "issue" else RewardStatus.ISSUED
        reward = session.scalars(
            select(Reward)
            .where(Reward.shop_id == shop_id, Reward.status == wanted)
            .order_by(Reward.id)
        ).first()
        if reward is not None and action == "issue":
            mark_reward_issued(
                session, shop_id, reward.id, store_code=f"RW-{reward.id}", now=later(61)
            )
        elif reward is not None:
            mark_reward_redeemed(session, shop_id, reward.id, now=later(62))


@PROPERTY_SETTINGS
@given(steps=st.lists(STEPS, min_size=1, max_size=25))
def test_ledger_sums_to_the_balance_after_any_sequence(session: Session, steps) -> None:
    with example(session):
        shop = b.shop(session)
        program = b.program(
            session,
            shop.id,
            b.TIERED,
            milestones=[{"count": 2, "reward": {"kind": "store_credit", "amount": "7.50"}}],
        )
        anna = b.advocate(session, shop.id, program.id)
        bob = b.advocate(session, shop.id, program.id, "bob@example.com", first_name="Bob")
        events = [
            order_events("6001", anna.code),
            order_events("6002", bob.code),
            order_events("6003", anna.code),
        ]
        for step in steps:
            apply_step(session, shop.id, step, events)
        assert ledger_mismatches(session, shop.id) == []


def full_refund(order_id: str) -> OrderEvent:
    return b.order_event(
        REFUNDED,
        order_id,
        key="refund-all",
        refunds=(("all", "100.00"),),
        with_data=False,
        at=later(hours=6),
    )


@PROPERTY_SETTINGS
@given(picks=event_sequences(4), data=st.data())
def test_full_refund_inside_the_hold_reverses_every_reward(session: Session, picks, data) -> None:
    # Placed, paid and partial refunds in any order and number, plus the full refund.
    sequence = data.draw(st.permutations([*picks, 0, 4]))

    def statuses(session: Session, shop_id: int) -> set[RewardStatus]:
        session.expire_all()
        return set(session.scalars(select(Reward.status).where(Reward.shop_id == shop_id)))

    with example(session):
        shop = b.shop(session)
        program = b.program(session, shop.id, PERCENT_ONE_SIDED)
        anna = b.advocate(session, shop.id, program.id)
        events = [*order_events("7001", anna.code)[:4], full_refund("7001")]
        for index in sequence:
            record_order_event(session, shop.id, events[index], now=later(3), code_key=b.CODE_KEY)
        assert statuses(session, shop.id) == {RewardStatus.REVERSED}
        assert session.get(Advocate, anna.id).balance == 0
