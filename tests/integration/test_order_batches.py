"""The bulk order path gives exactly what `apply_order_event` gives one event at a time, and
leaves to it every event a referral could touch."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from referral_plugin.domain.events import OrderEvent, OrderEventKind
from referral_plugin.models import Claim, Code, Conversion, OrderEventRecord, Referral, Reward
from referral_plugin.services.order_batches import BatchItem, apply_order_batch
from referral_plugin.services.orders import apply_order_event
from referral_plugin.services.referral_batches import apply_referral_batch
from tests.integration import builders
from tests.integration.builders import CODE_KEY, NOW, TWO_SIDED, later, order_event

PAID, REFUNDED, CANCELLED = OrderEventKind.PAID, OrderEventKind.REFUNDED, OrderEventKind.CANCELLED
CLAIMED_EMAIL = "claimed.friend@example.com"


def referral_setup(session: Session, domain: str) -> tuple[int, str]:
    """A shop with a two-sided program, an advocate and a friend's claim; (shop id, code)."""
    shop = builders.shop(session, domain)
    program = builders.program(session, shop.id, TWO_SIDED)
    enrolled = builders.advocate(session, shop.id, program.id)
    code = session.scalars(
        select(Code).where(Code.shop_id == shop.id, Code.advocate_id == enrolled.id)
    ).one()
    session.add(
        Claim(
            shop_id=shop.id,
            program_id=program.id,
            advocate_id=enrolled.id,
            identity_email=CLAIMED_EMAIL,
            code_id=code.id,
            claimed_at=NOW,
        )
    )
    session.flush()
    return shop.id, enrolled.code


def events_of(code: str, seed: int) -> list[OrderEvent]:
    """A shuffled mix: plain orders, referred ones (code, claim), refunds before and after the
    order data, cancellations, duplicates, unknown codes, test orders."""
    rng = random.Random(seed)
    events: list[OrderEvent] = []
    for n in range(40):
        order = str(9000 + n)
        kind = rng.choice(["plain", "plain", "plain", "code", "claim", "unknown", "refund-first"])
        codes = {"code": (code,), "unknown": ("NOT-OURS-1",)}.get(kind, ())
        email = CLAIMED_EMAIL if kind == "claim" else f"buyer{n}@example.com"
        paid = order_event(PAID, order, codes=codes, email=email, subtotal="120.00")
        if kind == "refund-first":
            events.append(order_event(REFUNDED, order, refunds=(("r1", "20.00"),), with_data=False))
        events.append(paid)
        if rng.random() < 0.3:
            events.append(paid)  # the same delivery again
        if rng.random() < 0.25:
            events.append(
                order_event(
                    REFUNDED, order, refunds=(("r2", "120.00"),), at=later(hours=2), codes=codes
                )
            )
        if rng.random() < 0.15:
            events.append(order_event(CANCELLED, order, at=later(hours=3), codes=codes))
    # Shuffle while keeping each order's own event order roughly natural for half the orders.
    rng.shuffle(events)
    return events


def apply_in_chunks(session: Session, shop_id: int, events: Sequence[OrderEvent], size: int) -> int:
    """As the worker does: the bulk path first, then the referral batch, `apply_order_event`
    for what they leave."""
    bulk = 0
    for start in range(0, len(events), size):
        chunk = events[start : start + size]
        items = [BatchItem(n, shop_id, event) for n, event in enumerate(chunk)]
        now = NOW + timedelta(minutes=1)
        applied = apply_order_batch(session, items, now=now, code_key=CODE_KEY)
        left = [item for item in items if item.ref not in applied]
        applied |= apply_referral_batch(session, left, now=now, code_key=CODE_KEY)
        bulk += len(applied)
        for n, event in enumerate(chunk):
            if n not in applied:
                apply_order_event(
                    session, shop_id, event, now=NOW + timedelta(minutes=1), code_key=CODE_KEY
                )
    return bulk


def outcome(session: Session, shop_id: int) -> dict[str, tuple]:
    conversions = session.scalars(select(Conversion).where(Conversion.shop_id == shop_id)).all()
    result = {}
    for c in conversions:
        referral = session.scalars(
            select(Referral.status).where(Referral.conversion_id == c.id)
        ).one_or_none()
        rewards = session.execute(
            select(Reward.beneficiary, Reward.status, Reward.value)
            .where(Reward.conversion_id == c.id)
            .order_by(Reward.beneficiary)
        ).all()
        logged = session.scalar(
            select(func.count()).where(
                OrderEventRecord.shop_id == shop_id, OrderEventRecord.order_id == c.order_id
            )
        )
        result[c.order_id] = (
            c.outcome,
            c.method,
            c.code is not None,  # the advocate's code (each shop's own)
            c.paid,
            c.paid_at,
            c.cancelled,
            c.refunded_total,
            c.is_test,
            tuple(c.reasons),
            tuple(sorted(c.signals)),
            c.email,
            referral,
            tuple(rewards),
            logged,
        )
    return result


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bulk_path_ends_exactly_where_one_event_at_a_time_ends(session: Session, seed: int) -> None:
    one_shop, one_code = referral_setup(session, "one-at-a-time.myshopify.com")
    bulk_shop, bulk_code = referral_setup(session, "bulk.myshopify.com")
    for event in events_of(one_code, seed):
        apply_order_event(
            session, one_shop, event, now=NOW + timedelta(minutes=1), code_key=CODE_KEY
        )
    bulk = apply_in_chunks(session, bulk_shop, events_of(bulk_code, seed), size=12)

    expected = outcome(session, one_shop)
    assert outcome(session, bulk_shop) == expected
    assert bulk > len(expected) // 2  # most events took the bulk path
    assert any(row[11] is not None for row in expected.values())  # referrals were in the mix


def test_events_a_referral_can_touch_are_left_to_the_per_order_path(session: Session) -> None:
    shop_id, code = referral_setup(session, "left-alone.myshopify.com")
    chunk = [
        order_event(PAID, "1", codes=(code,)),  # our code
        order_event(PAID, "2", email=CLAIMED_EMAIL),  # a claimed email
        order_event(PAID, "3", codes=("SOMEONE-ELSES",)),  # not our code: no referral
        order_event(PAID, "4"),  # the order twice in one chunk
        order_event(REFUNDED, "4", refunds=(("r", "5.00"),), at=later(hours=1)),
        order_event(PAID, "5"),
    ]
    items = [BatchItem(n, shop_id, event) for n, event in enumerate(chunk)]

    applied = apply_order_batch(session, items, now=NOW, code_key=CODE_KEY)

    assert applied == {2, 5}
    decided = session.scalars(
        select(Conversion.order_id)
        .where(Conversion.shop_id == shop_id)
        .order_by(Conversion.order_id)
    ).all()
    assert decided == ["3", "5"]


def test_a_referred_order_keeps_going_through_the_per_order_path(session: Session) -> None:
    shop_id, code = referral_setup(session, "referred.myshopify.com")
    apply_order_event(
        session, shop_id, order_event(PAID, "7", codes=(code,)), now=NOW, code_key=CODE_KEY
    )
    refund = order_event(REFUNDED, "7", refunds=(("r", "100.00"),), at=later(hours=1))

    applied = apply_order_batch(
        session, [BatchItem(1, shop_id, refund)], now=NOW, code_key=CODE_KEY
    )

    assert applied == set()  # its conversion is attributed: rewards must be reversed there


def test_the_same_event_again_is_taken_without_effect(session: Session) -> None:
    shop_id, _code = referral_setup(session, "again.myshopify.com")
    paid = order_event(PAID, "8")
    apply_order_batch(session, [BatchItem(1, shop_id, paid)], now=NOW, code_key=CODE_KEY)
    before = outcome(session, shop_id)

    applied = apply_order_batch(
        session, [BatchItem(2, shop_id, paid)], now=NOW + timedelta(hours=1), code_key=CODE_KEY
    )

    assert applied == {2}
    assert outcome(session, shop_id) == before


def test_a_chunk_inserts_its_conversions_in_one_statement(session: Session) -> None:
    """One INSERT for the chunk, so the analytics triggers on `conversions` (statement-level on
    PostgreSQL) run once per chunk, not once per order."""
    shop_id, _code = referral_setup(session, "one-insert.myshopify.com")
    chunk = [order_event(PAID, str(500 + n), email=f"buyer{n}@example.com") for n in range(6)]
    parameter_sets: list[int] = []  # per INSERT sent to the driver: how many rows' parameters

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO CONVERSIONS"):
            parameter_sets.append(len(parameters) if isinstance(parameters, list) else 1)

    engine = session.get_bind().engine
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        applied = apply_order_batch(
            session,
            [BatchItem(n, shop_id, e) for n, e in enumerate(chunk)],
            now=NOW,
            code_key=CODE_KEY,
        )
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)

    assert applied == set(range(6))
    assert parameter_sets == [1]  # one statement with six rows, not six of one row
    assert session.scalar(select(func.count()).where(Conversion.shop_id == shop_id)) == 6
