"""The bulk order path's set-based statements store exactly what the plain statements store:
same values (NULLs, Decimals, aware times, booleans, JSON), same analytics rows, one statement
per chunk. On PostgreSQL they are fixed-text `unnest` forms with binary arrays; elsewhere the
plain ones."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from referral_plugin.db import among
from referral_plugin.domain.decisions import AttributionMethod, Outcome
from referral_plugin.domain.events import OrderEventKind
from referral_plugin.models import Conversion, DeliveryStatus, OrderEventRecord, WebhookDelivery
from referral_plugin.models.analytics import CustomerOrder
from referral_plugin.services.delivery_batches import _mark_done
from referral_plugin.services.order_batches import (
    BatchItem,
    append_events,
    insert_conversions,
    update_flags,
)
from referral_plugin.services.order_event_codec import (
    event_insert,
    event_row,
    order_event_from_json,
)
from referral_plugin.services.orders import conversion_insert
from tests.inbox_support import store
from tests.integration import builders
from tests.integration.builders import NOW, order_event

PLUS_TWO = timezone(timedelta(hours=2))
FRAUD = [{"check": "self_referral", "action": "flag", "detail": "même adresse ✓"}]


def conversion_rows(shop_id: int) -> list[dict[str, Any]]:
    """Rows as the bulk path builds them, with every awkward value it can meet."""
    base: dict[str, Any] = {
        "shop_id": shop_id,
        "order_number": None,
        "customer_id": None,
        "email": None,
        "identity_email": None,
        "currency": "USD",
        "subtotal": Decimal(0),
        "total": Decimal(0),
        "refunded_total": Decimal(0),
        "paid": False,
        "paid_at": None,
        "cancelled": False,
        "is_test": False,
        "method": None,
        "advocate_id": None,
        "program_id": None,
        "code": None,
        "outcome": Outcome.NOT_REFERRAL,
        "reasons": [],
        "fraud": [],
        "signals": {},
        "decided_at": NOW,
        "updated_at": NOW,
    }
    paid_customer = {
        "email": "Buyer@Example.com",
        "identity_email": "buyer@example.com",
        "customer_id": "cust-1",
        "paid": True,
    }
    return [
        base | {"order_id": "nulls"},
        base
        | paid_customer
        | {
            "order_id": "first",
            "order_number": "#1001",
            "subtotal": Decimal("1234.5"),
            "total": Decimal("1111.10"),
            "refunded_total": Decimal("0.01"),
            "paid_at": datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC),
            "reasons": ["no_referral_code", "guest_checkout"],
            "fraud": FRAUD,
            "signals": {"browser_ip": "ab" * 32, "user_agent": None},
            "decided_at": datetime(2026, 3, 2, 14, 0, tzinfo=PLUS_TWO),  # stored as 12:00 UTC
        },
        base
        | paid_customer
        | {
            "order_id": "second",
            "currency": "EUR",
            "subtotal": Decimal("99999999999.99"),
            "total": Decimal("-5.00"),
            "paid_at": datetime(2026, 3, 2, 1, 0, tzinfo=PLUS_TWO),
            "cancelled": True,
            "is_test": True,
            "method": AttributionMethod.LANDING_LINK,
            "code": "LINK-ÄÖ",
            "outcome": Outcome.REJECTED,
            "reasons": [{"nested": [1, 2.5, None, True]}],
        },
        base
        | paid_customer
        | {
            "order_id": "third",
            "total": Decimal("10.006"),  # rounded by NUMERIC(14, 2) either way
            "paid_at": datetime(2026, 3, 2, 2, 0, tzinfo=UTC),
            "signals": {"payment_fingerprint": "x'; DROP TABLE conversions; --"},
        },
    ]


def stored(session: Session, shop_id: int) -> dict[str, tuple[Any, ...]]:
    """Each conversion's columns but its keys, by order id, plus the JSON columns' text."""
    table = Conversion.__table__
    columns = [c for c in table.c if c.name not in ("id", "shop_id")]
    json_text = [text(f"CAST({name} AS TEXT)") for name in ("reasons", "fraud", "signals")]
    query = select(*columns, *json_text).where(table.c.shop_id == shop_id)
    return {row.order_id: tuple(row) for row in session.execute(query)}


def customer_orders(session: Session, shop_id: int) -> dict[str, tuple[Any, ...]]:
    """The trigger-maintained analytics rows, by order id."""
    facts = CustomerOrder.__table__
    columns = [c for c in facts.c if c.name not in ("conversion_id", "shop_id")]
    query = (
        select(Conversion.order_id, *columns)
        .join(Conversion, Conversion.id == facts.c.conversion_id)
        .where(facts.c.shop_id == shop_id)
    )
    return {row[0]: tuple(row[1:]) for row in session.execute(query)}


@contextmanager
def sent_statements(session: Session, start: str) -> Iterator[list[str]]:
    """The statements starting with `start` (upper case) sent to the driver meanwhile."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith(start):
            statements.append(statement)

    engine = session.get_bind().engine
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)


def test_the_chunk_insert_stores_what_the_plain_insert_stores(session: Session) -> None:
    plain_shop = builders.shop(session, "plain-insert.myshopify.com").id
    bulk_shop = builders.shop(session, "bulk-insert.myshopify.com").id
    conn = session.connection()
    conn.execute(conversion_insert(conn.dialect.name), conversion_rows(plain_shop)).all()

    with sent_statements(session, "INSERT INTO CONVERSIONS") as statements:
        insert_conversions(conn, conversion_rows(bulk_shop))

    expected = stored(session, plain_shop)
    assert stored(session, bulk_shop) == expected
    assert len(expected) == 4
    assert expected["third"][7] == Decimal("10.01")  # total, as NUMERIC(14, 2) keeps it
    assert customer_orders(session, bulk_shop) == customer_orders(session, plain_shop)
    assert len(customer_orders(session, plain_shop)) == 2  # paid, not cancelled, not a test
    assert len(statements) == 1  # one statement for the chunk: the triggers run once


@pytest.mark.parametrize("rows", [1, 7, 50], ids=lambda n: f"{n}-rows")
def test_the_chunk_insert_has_one_text_whatever_the_row_count(session: Session, rows: int) -> None:
    shop_id = builders.shop(session, f"rows-{rows}.myshopify.com").id
    conn = session.connection()
    chunk = [conversion_rows(shop_id)[1] | {"order_id": f"o-{n}"} for n in range(rows)]
    with sent_statements(session, "INSERT INTO CONVERSIONS") as statements:
        insert_conversions(conn, chunk)
        insert_conversions(conn, chunk)  # all conflict: nothing more, no error

    assert len(stored(session, shop_id)) == rows
    if conn.dialect.name == "postgresql":
        assert "unnest" in statements[0] and statements[0] == statements[1]
        assert len(statements[0]) < 2000  # short enough for psycopg's statement cache


def test_the_flags_update_sets_what_the_plain_update_sets_in_one_statement(
    session: Session,
) -> None:
    """A chunk's changed flags (refunds, cancellations, payments) in one UPDATE on PostgreSQL:
    the analytics triggers then run once for the chunk. The values and analytics rows are those
    of one plain UPDATE per conversion."""
    shops = [builders.shop(session, f"flags-{name}.myshopify.com").id for name in ("a", "b")]
    conn = session.connection()
    for shop_id in shops:
        insert_conversions(conn, conversion_rows(shop_id))
    later_at = datetime(2026, 3, 3, 9, 30, tzinfo=PLUS_TWO)
    changes = {  # by order id: the new flags
        "first": {"refunded_total": Decimal("12.34"), "paid": True, "paid_at": later_at,
                  "cancelled": False, "is_test": False},
        "second": {"refunded_total": Decimal(0), "paid": False, "paid_at": None,
                   "cancelled": True, "is_test": False},
        "third": {"refunded_total": Decimal("10.01"), "paid": True, "paid_at": later_at,
                  "cancelled": False, "is_test": True},
    }  # fmt: skip
    now = NOW + timedelta(hours=1)
    for shop_id, batched in zip(shops, (False, True), strict=True):
        ids = dict(
            session.execute(
                select(Conversion.order_id, Conversion.id).where(Conversion.shop_id == shop_id)
            ).all()
        )
        rows = [
            {"conversion_id": ids[order_id], "new_updated_at": now}
            | {f"new_{name}": value for name, value in flags.items()}
            for order_id, flags in changes.items()
        ]
        if not batched:
            for row in rows:
                values = {k.removeprefix("new_"): v for k, v in row.items()}
                conversions = Conversion.__table__
                conn.execute(
                    update(conversions)
                    .where(conversions.c.id == values.pop("conversion_id"))
                    .values(values)
                )
            continue
        with sent_statements(session, "UPDATE CONVERSIONS") as statements:
            update_flags(conn, rows)

    assert stored(session, shops[1]) == stored(session, shops[0])
    assert customer_orders(session, shops[1]) == customer_orders(session, shops[0])
    cancelled = select(Conversion.cancelled).where(
        Conversion.shop_id == shops[1], Conversion.order_id == "second"
    )
    assert session.scalar(cancelled) is True
    assert len(statements) == 1  # SQLite: an executemany (row triggers there anyway)
    if conn.dialect.name == "postgresql":  # one statement, not one per row: triggers once
        assert "unnest" in statements[0]


def test_the_chunk_insert_refuses_a_naive_time(session: Session) -> None:
    shop_id = builders.shop(session, "naive.myshopify.com").id
    row = conversion_rows(shop_id)[0] | {"decided_at": datetime(2026, 3, 2, 12, 0)}
    with pytest.raises(Exception, match="naive datetime"):
        insert_conversions(session.connection(), [row])


def logged_rows(session: Session, shop_id: int) -> set[tuple[Any, ...]]:
    table = OrderEventRecord.__table__
    columns = [c for c in table.c if c.name not in ("id", "shop_id")]
    return {
        tuple(row) for row in session.execute(select(*columns).where(table.c.shop_id == shop_id))
    }


def test_the_chunk_append_logs_what_the_plain_insert_logs(session: Session) -> None:
    plain_shop = builders.shop(session, "plain-append.myshopify.com").id
    bulk_shop = builders.shop(session, "bulk-append.myshopify.com").id
    events = [
        order_event(OrderEventKind.PAID, "a", email=None, subtotal=None, with_data=False),
        order_event(OrderEventKind.PAID, "b", codes=('Q"uote\\d',), email="ünï@example.com"),
        order_event(
            OrderEventKind.REFUNDED,
            "b",
            refunds=(("r-1", "0.01"), ("r-2", "12345678.90")),
            at=datetime(2026, 3, 2, 16, 30, 0, 1, tzinfo=PLUS_TWO),
        ),
    ]
    conn = session.connection()
    now = datetime(2026, 3, 2, 15, 0, tzinfo=PLUS_TWO)
    plain = [event_row(plain_shop, event, now) for event in events]
    conn.execute(event_insert(conn.dialect.name, returning=False), plain)

    append_events(conn, [BatchItem(n, bulk_shop, e) for n, e in enumerate(events)], now)
    append_events(conn, [BatchItem(9, bulk_shop, events[1])], now)  # logged already: no-op

    expected = logged_rows(session, plain_shop)
    assert logged_rows(session, bulk_shop) == expected
    assert len(expected) == 3
    payloads = session.scalars(
        select(OrderEventRecord.payload).where(OrderEventRecord.shop_id == bulk_shop)
    )
    assert {order_event_from_json(p) for p in payloads} == set(events)


@pytest.mark.parametrize("marked", [[1], [0, 2, 3]], ids=["one id", "three ids"])
def test_mark_done_marks_exactly_the_ids_given_with_one_text(
    session: Session, marked: list[int]
) -> None:
    shop = builders.shop(session, f"mark-{len(marked)}.myshopify.com")
    ids = [store(session, shop.id, shop.domain, b"{}", event_id=f"e{n}", now=NOW) for n in range(5)]
    session.execute(update(WebhookDelivery).values(status=DeliveryStatus.PROCESSING))
    chosen = [ids[n] for n in marked]
    later_now = NOW + timedelta(minutes=5)
    with sent_statements(session, "UPDATE WEBHOOK_DELIVERIES") as statements:
        session.connection().execute(
            _mark_done(), {"ids": chosen, "now": later_now, "done": DeliveryStatus.DONE}
        )

    rows = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.status, WebhookDelivery.processed_at)
        .where(WebhookDelivery.id.in_(ids))
        .execution_options(populate_existing=True)
    ).all()
    assert {row.id for row in rows if row.status == DeliveryStatus.DONE} == set(chosen)
    assert {row.processed_at for row in rows if row.id in chosen} == {later_now}
    if session.get_bind().dialect.name == "postgresql":
        assert statements[0].endswith("= ANY (%(ids)s::BIGINT[])")  # the same for any count


@pytest.mark.parametrize("count", [1, 3], ids=["one value", "three values"])
def test_among_selects_exactly_the_values_given_with_one_text_for_any_count(
    session: Session, count: int
) -> None:
    shop_id = builders.shop(session, f"among-{count}.myshopify.com").id
    conn = session.connection()
    rows = [conversion_rows(shop_id)[1] | {"order_id": f"o-{n}"} for n in range(5)]
    insert_conversions(conn, rows)
    table = Conversion.__table__
    query = select(table.c.order_id, table.c.id).where(table.c.shop_id == shop_id)
    ids = {row.order_id: row.id for row in conn.execute(query)}
    wanted = [f"o-{n}" for n in range(count)] + ["not-an-order"]
    dialect = conn.dialect.name

    with sent_statements(session, "SELECT") as statements:
        by_order_id = conn.execute(
            select(table.c.id).where(
                table.c.shop_id == shop_id, among(table.c.order_id, wanted, dialect)
            )
        ).scalars()
        by_id = conn.execute(
            select(table.c.order_id).where(among(table.c.id, [ids["o-4"], ids["o-0"]], dialect))
        ).scalars()
        assert set(by_order_id) == {ids[order_id] for order_id in wanted[:count]}
        assert set(by_id) == {"o-0", "o-4"}

    if dialect == "postgresql":
        assert statements[0].endswith("= ANY (%(param_1)s::VARCHAR[])")
        assert statements[1].endswith("= ANY (%(param_1)s::BIGINT[])")


def test_among_refuses_a_column_it_has_no_array_type_for(session: Session) -> None:
    with pytest.raises(TypeError, match="no array element type"):
        among(Conversion.__table__.c.paid, [True], "postgresql")
