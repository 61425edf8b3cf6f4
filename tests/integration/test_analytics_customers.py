"""`analytics_customer_orders` always equals what the raw orders and referrals say.

The rows are kept by database triggers (migration 0010). Here random changes of every kind
an order or a referral goes through (new orders, payment, cancellation, refunds arriving
later, test flags, a new paid time, another currency, a customer redacted, deletions, a
referral created, approved, reversed, moved, deleted) are made through the ORM, and after each
one the table is compared with the rows recomputed in Python from `conversions` and
`referrals`. On PostgreSQL also: a statement touching over 1,000 customers (the shop lock),
and two transactions adding orders of one customer at once (the customer lock).
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, text
from sqlalchemy.orm import Session

from referral_plugin.domain.decisions import AttributionMethod, Outcome
from referral_plugin.domain.lifecycle import ReferralStatus
from referral_plugin.models import Conversion, Referral
from referral_plugin.models.analytics import CustomerOrder
from referral_plugin.services.shop_erasure import erase_shop
from tests.integration import builders as b

START = datetime(2026, 1, 1, tzinfo=UTC)
EMAILS = ("ann@example.com", "bo@example.com", "cy@example.com", "di@example.com", None, None)
CUSTOMER_IDS = ("c-1", "c-2", None)
ACQUIRING = (ReferralStatus.CONVERTED, ReferralStatus.REVERSED)
RACER = "race@example.com"
FactRow = tuple[Any, ...]


def expected_rows(session: Session, shop_id: int) -> set[FactRow]:
    """The fact rows recomputed in Python from the shop's conversions and referrals."""
    orders = session.scalars(select(Conversion).where(Conversion.shop_id == shop_id)).all()
    referrals = {
        r.conversion_id: r
        for r in session.scalars(select(Referral).where(Referral.shop_id == shop_id))
        if r.status in ACQUIRING
    }
    customers: dict[object, list[Conversion]] = defaultdict(list)
    for o in orders:
        if o.paid and o.paid_at is not None and not o.cancelled and not o.is_test:
            key = o.identity_email or (o.customer_id and ("id", o.customer_id)) or ("order", o.id)
            customers[key].append(o)
    rows = set()
    for placed in customers.values():
        placed.sort(key=lambda o: (o.paid_at, o.id))
        first = placed[0]
        acquired_by = referrals.get(first.id)
        for previous, o in zip([None, *placed], placed, strict=False):
            referral = referrals.get(o.id)
            rows.add((
                o.id, o.paid_at, o.total, o.total - o.refunded_total, o.currency,
                referral and referral.program_id, referral and referral.advocate_id,
                first.paid_at, previous and previous.paid_at,
                acquired_by and acquired_by.program_id,
            ))  # fmt: skip
    return rows


def stored_rows(session: Session, shop_id: int) -> set[FactRow]:
    f = CustomerOrder
    return {
        tuple(row)  # type: ignore[misc]
        for row in session.execute(
            select(
                f.conversion_id, f.paid_at, f.total, f.net, f.currency, f.referral_program_id,
                f.referral_advocate_id, f.first_paid_at, f.previous_paid_at,
                f.acquired_by_program_id,
            ).where(f.shop_id == shop_id)
        )
    }  # fmt: skip


class Changes:
    """Random changes to one shop's orders and referrals, made through the ORM."""

    def __init__(self, session: Session, shop_id: int, programs: list[tuple[int, int]]) -> None:
        self.session, self.shop_id, self.programs = session, shop_id, programs
        self.rng = random.Random(20261123)
        self.made = 0

    def moment(self) -> datetime:  # few distinct times, so customers' orders tie
        return START + timedelta(days=self.rng.randrange(6))

    def orders(self) -> list[Conversion]:
        query = select(Conversion).where(Conversion.shop_id == self.shop_id).order_by(Conversion.id)
        return list(self.session.scalars(query))

    def referral_of(self, order: Conversion) -> Referral | None:
        query = select(Referral).where(Referral.conversion_id == order.id)
        return self.session.scalars(query).one_or_none()

    def add_order(self) -> None:
        self.made += 1
        email, paid = self.rng.choice(EMAILS), self.rng.random() < 0.8
        total = Decimal(self.rng.randrange(1000, 20000)) / 100
        self.session.add(
            Conversion(
                shop_id=self.shop_id, order_id=f"rand-{self.made}",
                customer_id=self.rng.choice(CUSTOMER_IDS), email=email, identity_email=email,
                currency="USD", subtotal=total, total=total, refunded_total=Decimal(0),
                paid=paid, paid_at=self.moment() if paid else None, cancelled=False,
                is_test=self.rng.random() < 0.1, outcome=Outcome.NOT_REFERRAL, reasons=[],
                fraud=[], signals={}, decided_at=START, updated_at=START,
            )
        )  # fmt: skip

    def change_order(self, o: Conversion) -> None:
        change = self.rng.randrange(7)
        if change == 0:
            o.paid, o.paid_at = True, self.moment()
        elif change == 1:
            o.cancelled = not o.cancelled
        elif change == 2:  # a refund arrives later
            o.refunded_total = min(o.total, o.refunded_total + Decimal("12.50"))
        elif change == 3:
            o.is_test = not o.is_test
        elif change == 4:
            o.paid_at = self.moment() if o.paid else None
        elif change == 5:  # redacted, or another email
            o.identity_email = o.email = self.rng.choice(EMAILS)
            o.customer_id = None if o.identity_email is None else o.customer_id
        else:
            o.currency = "EUR" if o.currency == "USD" else "USD"

    def change_referral(self, o: Conversion) -> None:
        referral = self.referral_of(o)
        program, advocate = self.rng.choice(self.programs)
        if referral is None:
            self.session.add(
                Referral(
                    shop_id=self.shop_id, program_id=program, advocate_id=advocate,
                    conversion_id=o.id, status=self.rng.choice(list(ReferralStatus)),
                    method=AttributionMethod.CODE, code="CODE", reasons=[], created_at=START,
                    updated_at=START,
                )
            )  # fmt: skip
        elif self.rng.random() < 0.2:
            self.session.delete(referral)
        elif self.rng.random() < 0.5:
            referral.program_id, referral.advocate_id = program, advocate
        else:
            referral.status = self.rng.choice(list(ReferralStatus))

    def delete_order(self, o: Conversion) -> None:
        self.session.execute(delete(Referral).where(Referral.conversion_id == o.id))
        self.session.delete(o)

    def make_one(self) -> None:
        orders = self.orders()
        roll = self.rng.random()
        if not orders or roll < 0.3:
            self.add_order()
        elif roll < 0.7:
            self.change_order(self.rng.choice(orders))
        elif roll < 0.95:
            self.change_referral(self.rng.choice(orders))
        else:
            self.delete_order(self.rng.choice(orders))
        self.session.flush()


@pytest.fixture
def shop_with_programs(session: Session) -> tuple[int, list[tuple[int, int]]]:
    shop = b.shop(session)
    programs = []
    for config, email in ((b.ONE_SIDED, "p1@example.com"), (b.TWO_SIDED, "p2@example.com")):
        program = b.program(session, shop.id, config)
        programs.append((program.id, b.advocate(session, shop.id, program.id, email=email).id))
    return shop.id, programs


def test_the_rows_follow_every_kind_of_change(
    session: Session, shop_with_programs: tuple[int, list[tuple[int, int]]]
) -> None:
    shop_id, programs = shop_with_programs
    changes = Changes(session, shop_id, programs)

    for step in range(160):
        changes.make_one()
        assert stored_rows(session, shop_id) == expected_rows(session, shop_id), step
    assert len(stored_rows(session, shop_id)) > 10  # the changes left counted orders


@pytest.fixture
def postgres_engine(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("advisory locks and statement triggers are PostgreSQL's")
    return engine


def test_a_statement_touching_many_customers_takes_the_shop_lock(
    postgres_engine: Engine, session: Session
) -> None:
    shop = b.shop(session)
    rows = [
        order_row(shop.id, f"bulk-{n}", f"bulk-{n % 1100}@example.com", START + timedelta(hours=n))
        for n in range(1500)
    ]
    session.execute(insert(Conversion).values(rows))  # one statement, 1,100 customers

    assert stored_rows(session, shop.id) == expected_rows(session, shop.id)
    firsts = [r for r in stored_rows(session, shop.id) if r[8] is None]
    assert len(firsts) == 1100


@pytest.fixture
def committed_shop(postgres_engine: Engine) -> Iterator[int]:
    """A shop committed for real (two connections must see it), erased afterwards."""
    with Session(postgres_engine) as setup, setup.begin():
        shop_id = b.shop(setup, domain="analytics-locks.myshopify.com").id
    yield shop_id
    with Session(postgres_engine) as cleanup, cleanup.begin():
        erase_shop(cleanup, shop_id)


def order_row(shop_id: int, order_id: str, email: str, paid_at: datetime) -> dict[str, Any]:
    """A paid order of 10.00 as an INSERT's values."""
    return {
        "shop_id": shop_id, "order_id": order_id, "customer_id": None, "email": email,
        "identity_email": email, "currency": "USD", "subtotal": Decimal(10),
        "total": Decimal(10), "refunded_total": Decimal(0), "paid": True, "paid_at": paid_at,
        "cancelled": False, "is_test": False, "outcome": Outcome.NOT_REFERRAL, "reasons": [],
        "fraud": [], "signals": {}, "decided_at": START, "updated_at": START,
    }  # fmt: skip


def waiting_on_an_advisory_lock(engine: Engine) -> bool:
    """Whether some session comes to wait for an advisory lock (polled for up to 10 s)."""
    waiting = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    for _ in range(100):
        with engine.connect() as conn:
            if conn.scalar(waiting):
                return True
        threading.Event().wait(0.1)
    return False


def test_two_transactions_adding_one_customers_orders_wait_for_each_other(
    postgres_engine: Engine, committed_shop: int
) -> None:
    first = Session(postgres_engine)
    first.begin()
    later = START + timedelta(days=2)
    first.execute(insert(Conversion).values(order_row(committed_shop, "race-1", RACER, later)))
    done = threading.Event()

    def second_order() -> None:  # waits on the customer's lock until `first` commits
        with Session(postgres_engine) as second, second.begin():
            second.execute(
                insert(Conversion).values(order_row(committed_shop, "race-2", RACER, START))
            )
        done.set()

    worker = threading.Thread(target=second_order)
    worker.start()
    assert waiting_on_an_advisory_lock(postgres_engine)
    assert not done.is_set()
    first.commit()
    first.close()
    worker.join(timeout=30)
    assert done.is_set()

    with Session(postgres_engine) as check:
        rows = stored_rows(check, committed_shop)
        assert rows == expected_rows(check, committed_shop)
        assert sorted(r[8] is None for r in rows) == [False, True]  # one first order, not two
