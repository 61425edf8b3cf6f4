"""A hand-built shop for the segment tests: Bella Ceramics with its program and advocate Anna,
and customers whose orders (paid, refunded, cancelled, test, unpaid, in two currencies, under
two spellings of one Gmail inbox) put each in known segments; one customer unsubscribed and
one redacted.

Every expectation of the tests follows from this table (NOW = 2 March 2026; net = total less
refunds, in USD unless said):

| customer | counted orders (days before NOW: amount)          | net  | last |
| ben      | -100: 100, -70: 50 (20 refunded), -40: 80          | 210  | -40  |
| cara     | -200: 300, -10: 200                                | 500  | -10  |
| dan      | -5: 1000                                           | 1000 | -5   |
| eve      | -60: 100 (and -3: cancelled)                        | 100  | -60  |
| fay      | -90: 100 (and -2: a test order)                     | 100  | -90  |
| gus      | none (-1: placed, never paid)                       | -    | -    |
| jo       | -50: 100 as Jo.Smith+shop@gmail.com, -20: 100 as josmith@gmail.com | 200 | -20 |
| kim      | -300: 40 EUR, -45: 10                               | 10 (+40 EUR) | -45 |
| anna     | -2: 120, -1: 80 (the program's advocate)            | 200  | -1   |
| hal      | -30.5: 150, -1: 50 (unsubscribed)                   | 200  | -1   |
| ivy      | -3: 700, -1: 100 (redacted)                         | -    | -    |
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from referral_plugin.domain.events import OrderEventKind
from referral_plugin.services.compliance import redact_customer_data
from referral_plugin.services.customer_data import CustomerRef
from referral_plugin.services.email_unsubscribes import recipient_hash, unsubscribe
from referral_plugin.services.orders import record_order_event
from tests.integration import builders as b
from tests.integration.builders import CODE_KEY, NOW
from tests.integration.email_builders import Store, a_store

EMAIL_KEY = b"segment-test-email-key"

# (email, days before NOW, total, how): how is paid / refund:<amount> / cancelled / test /
# placed / eur
ORDERS: tuple[tuple[str, float, str, str], ...] = (
    ("ben@example.com", 100, "100.00", "paid"),
    ("ben@example.com", 70, "50.00", "refund:20.00"),
    ("Ben@Example.com", 40, "80.00", "paid"),
    ("cara@example.com", 200, "300.00", "paid"),
    ("cara@example.com", 10, "200.00", "paid"),
    ("dan@example.com", 5, "1000.00", "paid"),
    ("eve@example.com", 60, "100.00", "paid"),
    ("eve@example.com", 3, "400.00", "cancelled"),
    ("fay@example.com", 90, "100.00", "paid"),
    ("fay@example.com", 2, "900.00", "test"),
    ("gus@example.com", 1, "500.00", "placed"),
    ("Jo.Smith+shop@gmail.com", 50, "100.00", "paid"),
    ("josmith@gmail.com", 20, "100.00", "paid"),
    ("kim@example.com", 300, "40.00", "eur"),
    ("kim@example.com", 45, "10.00", "paid"),
    ("anna@example.com", 2, "120.00", "paid"),
    ("anna@example.com", 1, "80.00", "paid"),
    ("hal@example.com", 30.5, "150.00", "paid"),
    ("hal@example.com", 1, "50.00", "paid"),
    ("ivy@example.com", 3, "700.00", "paid"),
    ("ivy@example.com", 1, "100.00", "paid"),
)


def segment_store(
    session: Session, domain: str | None = None, email_key: bytes = EMAIL_KEY
) -> Store:
    """The store with every order of ORDERS recorded, hal unsubscribed (his address hashed
    with `email_key`, the app's `email_hash_key` for tests through the app) and ivy
    redacted."""
    store = a_store(session, domain=domain)
    prefix = store.shop.id
    for number, (email, days, total, how) in enumerate(ORDERS, start=1):
        record(session, store, f"{prefix}-{number}", email, NOW - timedelta(days=days), total, how)
    hal = recipient_hash(email_key, store.shop.id, "hal@example.com")
    unsubscribe(session, store.shop.id, hal, now=NOW)
    ivy = CustomerRef.of(None, "ivy@example.com")
    redact_customer_data(session, store.shop.id, ivy, now=NOW, key=b"redaction-key")
    session.flush()
    return store


def record(
    session: Session, store: Store, order_id: str, email: str, at, total: str, how: str
) -> None:
    """One order of `email` placed at `at`, then (as `how` says) paid, refunded, cancelled."""
    kind = OrderEventKind.PLACED if how == "placed" else OrderEventKind.PAID
    event = b.order_event(kind, order_id, email=email, subtotal=total, at=at)
    event = dataclasses.replace(
        event, placed_at=at, is_test=how == "test", currency="EUR" if how == "eur" else "USD"
    )
    record_order_event(session, store.shop.id, event, now=at, code_key=CODE_KEY)
    later = at + timedelta(hours=1)
    if how == "cancelled":
        cancelled = b.order_event(OrderEventKind.CANCELLED, order_id, at=later, with_data=False)
        record_order_event(session, store.shop.id, cancelled, now=later, code_key=CODE_KEY)
    if how.startswith("refund:"):
        amount = how.removeprefix("refund:")
        refund = b.order_event(
            OrderEventKind.REFUNDED, order_id, at=later, with_data=False,
            refunds=(("r-" + order_id, amount),),
        )  # fmt: skip
        record_order_event(session, store.shop.id, refund, now=later, code_key=CODE_KEY)


def usd(amount: str) -> tuple[str, str]:
    return (str(Decimal(amount)), "USD")
