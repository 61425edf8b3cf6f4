"""Automatic enrollment on a real database: customers with a paid, real, uncancelled order
become advocates of programs that ask for it, once, with a welcome email (code, referral link,
status link); incrementally from a cursor, and safely with two workers on PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from referral_plugin.app import AppServices
from referral_plugin.domain.events import OrderEventKind
from referral_plugin.models import Advocate, ExperimentAssignment, OutboxMessage
from referral_plugin.models.shopper_emails import AutoEnrollCursor
from referral_plugin.services.auto_enroll import SETTLE, enroll_new_customers
from referral_plugin.services.orders import record_order_event
from referral_plugin.services.programs import update_program
from referral_plugin.services.shop_erasure import erase_shop
from tests.integration import builders as b
from tests.integration.builders import CODE_KEY, NOW
from tests.integration.email_builders import (  # noqa: F401 (services_fixture)
    Store,
    a_store,
    outbox,
    prepare,
    services_fixture,
)

AUTO = {"auto_enroll": True}
LATER = NOW + timedelta(hours=1)
SETTLED = LATER + SETTLE


def order(
    session: Session,
    store: Store,
    order_id: str,
    email: str | None,
    *,
    kind: OrderEventKind = OrderEventKind.PAID,
    customer_id: str | None = None,
    at: datetime = LATER,
    is_test: bool = False,
) -> None:
    """An order of a customer (no referral code), processed at `at`."""
    event = b.order_event(kind, order_id, email=email, customer_id=customer_id, at=at)
    event = dataclasses.replace(event, is_test=is_test)
    record_order_event(session, store.shop.id, event, now=at, code_key=CODE_KEY)


def advocates(session: Session, store: Store) -> dict[str, Advocate]:
    session.expire_all()
    rows = session.scalars(
        select(Advocate).where(
            Advocate.shop_id == store.shop.id, Advocate.program_id == store.program_id
        )
    )
    return {a.email: a for a in rows}


def test_a_paying_customer_becomes_an_advocate_with_a_welcome_email(
    session: Session, services: AppServices
) -> None:
    store = a_store(session, **AUTO)
    order(session, store, "5001", "Marco@Example.com", customer_id="cust-9")

    enroll_new_customers(session, now=SETTLED - timedelta(seconds=1))  # still settling
    assert set(advocates(session, store)) == {"anna@example.com"}
    enroll_new_customers(session, now=SETTLED)
    enroll_new_customers(session, now=SETTLED + timedelta(hours=1))
    assert set(advocates(session, store)) == {"anna@example.com", "marco@example.com"}

    marco = advocates(session, store)["marco@example.com"]
    assert (marco.customer_id, marco.language) == ("cust-9", None)
    prepare(session, services, SETTLED)
    (welcome,) = outbox(session, store.shop.id, "welcome")
    assert (welcome.recipient, welcome.dedup_key) == ("marco@example.com", f"welcome:{marco.id}")
    assert welcome.payload["subject"] == "Your referral code for Bella Ceramics"
    text = welcome.payload["text"]
    code = text.split("Your code: ", 1)[1].split()[0]
    assert f"Your link: https://referrals.example.test/r/{code}" in text
    assert "Your referrals and rewards: https://referrals.example.test/p/" in text


def test_only_paid_real_uncancelled_orders_enroll_and_a_later_payment_counts(
    session: Session,
) -> None:
    store = a_store(session, **AUTO)
    order(session, store, "5001", "placed@example.com", kind=OrderEventKind.PLACED)
    order(session, store, "5002", "test@example.com", is_test=True)
    order(session, store, "5003", "cancelled@example.com")
    order(session, store, "5003", None, kind=OrderEventKind.CANCELLED, at=LATER)
    order(session, store, "5004", None)  # no email: nobody to enroll
    enroll_new_customers(session, now=SETTLED)
    assert set(advocates(session, store)) == {"anna@example.com"}

    paid_at = LATER + timedelta(days=2)
    order(session, store, "5001", "placed@example.com", at=paid_at)
    enroll_new_customers(session, now=paid_at + SETTLE)
    assert set(advocates(session, store)) == {"anna@example.com", "placed@example.com"}


def test_an_advocate_already_is_not_enrolled_again_by_email_or_customer_id(
    session: Session,
) -> None:
    store = a_store(session, **AUTO)
    b.advocate(session, store.shop.id, store.program_id, email="ola@example.com", customer_id="c1")
    order(session, store, "5001", "anna+shop@example.com")  # Anna's inbox, another spelling
    order(session, store, "5002", "ola.new@example.com", customer_id="c1")

    enroll_new_customers(session, now=SETTLED)
    assert set(advocates(session, store)) == {"anna@example.com", "ola@example.com"}
    assert outbox(session, store.shop.id, "welcome") == []


def test_orders_before_switching_on_or_while_off_are_not_enrolled(session: Session) -> None:
    store = a_store(session, **AUTO)  # switched on at NOW
    order(session, store, "5001", "before@example.com", at=NOW - timedelta(minutes=1))
    order(session, store, "5002", "during@example.com")
    enroll_new_customers(session, now=SETTLED)
    assert set(advocates(session, store)) == {"anna@example.com", "during@example.com"}

    off_at, on_at = SETTLED + timedelta(hours=1), SETTLED + timedelta(hours=3)
    update_program(session, store.shop.id, store.program_id, {"auto_enroll": False}, now=off_at)
    enroll_new_customers(session, now=off_at + timedelta(minutes=1))
    assert cursor_of(session, store) is None  # dropped while off
    order(session, store, "5003", "while-off@example.com", at=off_at + timedelta(hours=1))
    update_program(session, store.shop.id, store.program_id, AUTO, now=on_at)
    order(session, store, "5004", "after@example.com", at=on_at + timedelta(hours=1))
    enroll_new_customers(session, now=on_at + timedelta(hours=2))

    assert set(advocates(session, store)) == {
        "anna@example.com",
        "during@example.com",
        "after@example.com",
    }


def test_a_program_without_auto_enrollment_or_welcome_emails(session: Session) -> None:
    manual = a_store(session)
    order(session, manual, "5001", "marco@example.com")
    quiet = a_store(
        session, domain="quiet.myshopify.com", auto_enroll=True,
        emails={"enabled": ["invite", "reward_pending", "reward_issued"]},
    )  # fmt: skip
    order(session, quiet, "6001", "ola@example.com")

    enroll_new_customers(session, now=SETTLED)
    assert set(advocates(session, manual)) == {"anna@example.com"}
    assert "ola@example.com" in advocates(session, quiet)
    assert outbox(session, quiet.shop.id, "welcome") == []


def test_the_cursor_reads_a_bounded_batch_per_run(session: Session) -> None:
    store = a_store(session, **AUTO)
    for number in range(3):
        order(session, store, f"500{number}", f"c{number}@example.com")

    enroll_new_customers(session, now=SETTLED, limit=2)
    assert len(advocates(session, store)) == 1 + 2
    enroll_new_customers(session, now=SETTLED, limit=2)
    assert len(advocates(session, store)) == 1 + 3
    cursor = cursor_of(session, store)
    assert cursor is not None and cursor.after_updated_at == LATER


def cursor_of(session: Session, store: Store) -> AutoEnrollCursor | None:
    return session.scalars(
        select(AutoEnrollCursor).where(
            AutoEnrollCursor.shop_id == store.shop.id,
            AutoEnrollCursor.program_id == store.program_id,
        )
    ).one_or_none()


@pytest.fixture
def committed_store(engine: Engine) -> Iterator[Store]:
    """A store committed to the database (two workers need their own connections), erased
    afterwards."""
    if engine.dialect.name != "postgresql":
        pytest.skip("two concurrent writers need PostgreSQL (SQLite has one writer)")
    with Session(engine, expire_on_commit=False) as session, session.begin():
        store = a_store(session, domain=f"two-{uuid.uuid4().hex[:8]}.myshopify.com", **AUTO)
        enroll_new_customers(session, now=NOW)  # the cursor exists before the workers read it
        for number in range(5):
            order(session, store, f"700{number}", f"c{number}@example.com")
    shop_id = store.shop.id
    yield store
    with Session(engine) as session, session.begin():
        erase_shop(session, shop_id)


def test_two_workers_enroll_each_customer_once_with_one_welcome(
    engine: Engine, committed_store: Store
) -> None:
    store = committed_store
    first, second = Session(engine), Session(engine)
    first.begin()
    enroll_new_customers(first, now=SETTLED)  # not committed yet
    assert len(advocates(first, store)) == 6
    outcome: list[int] = []
    # The second worker read the same cursor; its inserts wait on the first one's rows.
    worker = threading.Thread(
        target=lambda: outcome.append(_run_and_commit(second)), name="second-worker"
    )
    worker.start()
    worker.join(timeout=1)
    assert worker.is_alive()  # blocked on the unique (program, identity email) rows
    first.commit()
    worker.join(timeout=30)
    first.close()

    assert len(outcome) == 1  # the second worker finished after the first one's commit
    with Session(engine) as session:
        assert len(advocates(session, store)) == 6
        welcomes = session.scalars(
            select(OutboxMessage.recipient).where(
                OutboxMessage.shop_id == store.shop.id, OutboxMessage.kind == "welcome"
            )
        ).all()
        assert sorted(welcomes) == [f"c{number}@example.com" for number in range(5)]


def _run_and_commit(session: Session) -> int:
    with session, session.begin():
        return enroll_new_customers(session, now=SETTLED)


def test_a_customer_held_out_by_an_ab_test_is_enrolled_without_code_or_welcome(
    session: Session, services: AppServices
) -> None:
    """10% holdout: the draw 0.05 holds Hana out, 0.5 puts Marco in variant a. The test
    starts after Anna joined, so she has no group."""
    experiment = {
        "variants": [{"key": "a", "name": "A"}],
        "holdout_percent": 10,
        "started_at": (NOW + timedelta(minutes=30)).isoformat(),
    }
    store = a_store(session, **AUTO, experiment=experiment)
    order(session, store, "5001", "hana@example.com")
    order(session, store, "5002", "marco@example.com")
    draws = iter([0.05, 0.5])
    created = enroll_new_customers(session, now=SETTLED, random_value=lambda: next(draws))
    assert created == 2
    found = advocates(session, store)
    assert {email: a.variant for email, a in found.items()} == {
        "anna@example.com": None,
        "hana@example.com": "holdout",
        "marco@example.com": "a",
    }
    sources = session.scalars(
        select(ExperimentAssignment.source).where(ExperimentAssignment.shop_id == store.shop.id)
    ).all()
    assert [source.value for source in sources] == ["auto_enroll", "auto_enroll"]
    prepare(session, services, SETTLED)
    assert [m.recipient for m in outbox(session, store.shop.id, "welcome")] == ["marco@example.com"]


def test_the_welcome_email_tells_the_offer_of_the_advocates_variant(
    session: Session, services: AppServices
) -> None:
    """Variant b gives the friend $8 in credit and the advocate $25 off; Marco draws b."""
    experiment = {
        "variants": [
            {"key": "a", "name": "A"},
            {"key": "b", "name": "B",
             "advocate_reward": {"kind": "fixed_discount", "amount": "25.00"},
             "friend_reward": {"kind": "store_credit", "amount": "8.00"}},
        ],
        "started_at": (NOW + timedelta(minutes=30)).isoformat(),
    }  # fmt: skip
    store = a_store(session, **AUTO, experiment=experiment)
    order(session, store, "5001", "marco@example.com")
    enroll_new_customers(session, now=SETTLED, random_value=lambda: 0.75)
    prepare(session, services, SETTLED)
    (welcome,) = outbox(session, store.shop.id, "welcome")
    assert welcome.recipient == "marco@example.com"
    assert "Give $8 in store credit, get $25 off" in welcome.payload["text"]
