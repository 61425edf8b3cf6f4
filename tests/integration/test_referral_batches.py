"""The referral batch writes exactly the rows `apply_order_event` writes one event at a time:
conversions, referrals, rewards, ledger entries, advocates' counters, email drafts and merchant
webhook events, for referred orders of several programs, advocates and friends in one chunk."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from referral_plugin.domain.events import OrderEvent, OrderEventKind
from referral_plugin.models import (
    Advocate,
    Claim,
    Code,
    Conversion,
    LedgerEntry,
    MerchantWebhookDelivery,
    OutboxMessage,
    Referral,
    Reward,
)
from referral_plugin.models import Program as ProgramRow
from referral_plugin.models.analytics import CustomerOrder
from referral_plugin.services import webhook_endpoints
from referral_plugin.services.advocate_locks import lock_chunk_advocates
from referral_plugin.services.advocates import update_advocate
from referral_plugin.services.order_batches import BatchItem, apply_order_batch
from referral_plugin.services.orders import apply_order_event
from referral_plugin.services.referral_batches import apply_referral_batch, apply_referral_rounds
from tests.integration import builders
from tests.integration.builders import BOX, CODE_KEY, NOW, TIERED, TWO_SIDED, later, order_event

PLACED, PAID = OrderEventKind.PLACED, OrderEventKind.PAID
REFUNDED, CANCELLED = OrderEventKind.REFUNDED, OrderEventKind.CANCELLED
DECIDED_AT = NOW + timedelta(minutes=1)
CAPPED_POINTS = {
    "name": "Points, two a month",
    "kind": "one_sided",
    "advocate_reward": {"kind": "points", "points": 50},
    "caps": [{"scope": "program", "metric": "count", "limit": 2, "period": "month"}],
}
CLAIMED = "claimed.friend@example.com"
OWN_IP = "203.0.113.7"
ADVOCATE_ID = re.compile(r"advocate (\d+)")


def setup_shop(session: Session, domain: str) -> dict[str, str]:
    """Three programs (two-sided, milestones, capped points), six advocates (one blocked), a
    claim, a merchant endpoint for every event, and one advocate's own earlier order from the
    IP a friend will use. Returns the advocates' codes by name."""
    shop = builders.shop(session, domain)
    two_sided = builders.program(session, shop.id, TWO_SIDED)
    tiered = builders.program(session, shop.id, TIERED)
    capped = builders.program(session, shop.id, CAPPED_POINTS)
    codes, ids = {}, {}
    for name, program in [
        ("ann", two_sided), ("bob", two_sided), ("cat", tiered), ("dan", capped),
        ("eve", capped), ("fay", two_sided),
    ]:  # fmt: skip
        enrolled = builders.advocate(session, shop.id, program.id, email=f"{name}@example.org")
        codes[name], ids[name] = enrolled.code, enrolled.id
        if name == "fay":
            update_advocate(session, shop.id, enrolled.id, {"status": "blocked"})
    ann = session.scalars(
        select(Code).where(Code.shop_id == shop.id, Code.advocate_id == ids["ann"])
    ).one()
    session.add(
        Claim(
            shop_id=shop.id, program_id=two_sided.id, advocate_id=ann.advocate_id,
            identity_email=CLAIMED, code_id=ann.id, claimed_at=NOW,
        )
    )  # fmt: skip
    webhook_endpoints.create_endpoint(
        session,
        shop.id,
        {"url": "https://crm.example.com/hooks", "events": ["referral.created"]},
        box=BOX,
        allow_loopback=False,
        now=NOW,
    )
    apply_order_event(
        session,
        shop.id,
        order_event(PAID, "ann-own", email="ann@example.org", ip=OWN_IP),
        now=NOW,
        code_key=CODE_KEY,
    )
    session.flush()
    return {"shop_id": str(shop.id), **codes}


def events_of(codes: dict[str, str], seed: int) -> list[OrderEvent]:
    """Referred orders of every kind, plain orders, and later events, shuffled by `seed`."""
    rng = random.Random(seed)
    events: list[OrderEvent] = []
    n = 0

    def order(kind: OrderEventKind = PAID, **kwargs: Any) -> OrderEvent:
        nonlocal n
        n += 1
        kwargs.setdefault("email", f"buyer{n}@example.com")
        event = order_event(kind, str(7000 + n), subtotal="120.00", **kwargs)
        events.append(event)
        return event

    for name in ("ann", "bob", "cat", "cat", "cat", "cat", "dan", "dan", "eve", "eve", "fay"):
        order(codes=(codes[name].lower(),))  # the code as typed, in any case
    order(email=CLAIMED)  # a claim, no code
    order(codes=(codes["bob"],), email="bob@example.org")  # self-referral
    order(codes=(codes["ann"],), ip=OWN_IP)  # from the advocate's own IP: review
    order(PLACED, codes=(codes["bob"],))  # not paid yet
    order(codes=("NOT-OURS",))
    order(email="cat@example.org")  # an advocate buying for themselves
    for _ in range(6):
        order()
    referred = [e for e in events if e.discount_codes]
    for event in rng.sample(referred, 3):
        refund = (("r", "120.00"),)
        events.append(
            order_event(
                REFUNDED, event.order_id, refunds=refund, at=later(hours=2), with_data=False
            )
        )
    events.append(events[0])  # the same delivery again
    rng.shuffle(events)
    return events


def one_at_a_time(session: Session, shop_id: int, events: Sequence[OrderEvent]) -> None:
    for event in events:
        apply_order_event(session, shop_id, event, now=DECIDED_AT, code_key=CODE_KEY)


def as_the_worker(session: Session, shop_id: int, events: Sequence[OrderEvent], size: int) -> int:
    """The bulk path, the advocates' locks, the referral batch's rounds, then one at a time."""
    batched = 0
    for start in range(0, len(events), size):
        items = [BatchItem(n, shop_id, e) for n, e in enumerate(events[start : start + size])]
        applied = apply_order_batch(session, items, now=DECIDED_AT, code_key=CODE_KEY)
        left = [item for item in items if item.ref not in applied]
        lock_chunk_advocates(session, left)
        referred = apply_referral_rounds(session, left, now=DECIDED_AT, code_key=CODE_KEY)
        batched += len(referred)
        for item in left:
            if item.ref not in referred:
                apply_order_event(session, shop_id, item.event, now=DECIDED_AT, code_key=CODE_KEY)
    return batched


def rows(session: Session, shop_id: int) -> dict[str, Any]:
    """Every row the order paths write for the shop, with ids replaced by what they name."""

    def of_shop(model: Any, *where: Any) -> Sequence[Any]:
        return session.scalars(select(model).where(model.shop_id == shop_id, *where)).all()

    order_of = {c.id: c.order_id for c in of_shop(Conversion)}
    email_of = {a.id: a.email for a in of_shop(Advocate)}
    program_of = {p.id: p.name for p in of_shop(ProgramRow)}
    referral_of = {r.id: order_of[r.conversion_id] for r in of_shop(Referral)}
    # Each shop's codes differ: name them by their advocate.
    code_of = {c.normalized: email_of[c.advocate_id] for c in of_shop(Code) if c.advocate_id}
    rewards = of_shop(Reward)
    reward_of = {r.id: (order_of[r.conversion_id], r.beneficiary, r.rule_key) for r in rewards}

    def plain(row: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        values = {c.key: getattr(row, c.key) for c in row.__table__.columns}
        values = {k: v for k, v in values.items() if k not in ("id", "shop_id", *skip)}
        for name, names in (
            ("conversion_id", order_of), ("advocate_id", email_of), ("program_id", program_of),
            ("referral_id", referral_of), ("reward_id", reward_of),
            ("referral_advocate_id", email_of), ("referral_program_id", program_of),
            ("acquired_by_program_id", program_of),
        ):  # fmt: skip
            if name in values and values[name] is not None:
                values[name] = names[values[name]]
        if values.get("code") is not None:
            values["code"] = code_of[values["code"]]
        if values.get("reasons") and isinstance(values["reasons"][0], dict):  # a referral's
            values["reasons"] = [
                {**r, "detail": ADVOCATE_ID.sub(lambda m: email_of[int(m[1])], r["detail"])}
                for r in values["reasons"]
            ]
        return values

    def webhook(delivery: MerchantWebhookDelivery) -> dict[str, Any]:
        body = json.loads(delivery.body)
        assert "referral" in body["data"], body
        data = body["data"]["referral"]
        data["id"] = referral_of[int(data["id"])]
        data["program_id"] = program_of[int(data["program_id"])]
        data["advocate_id"] = email_of[int(data["advocate_id"])]
        data["code"] = code_of[data["code"]]
        return {"type": body["type"], "created_at": body["created_at"], "data": data}

    def draft(message: OutboxMessage) -> tuple:
        payload = message.payload["draft"]
        return (message.kind, message.recipient, payload["kind"], reward_of[payload["reward_id"]])

    return {
        "conversions": sorted(
            (plain(c, ("decided_at",)) for c in of_shop(Conversion)), key=lambda v: v["order_id"]
        ),
        "referrals": sorted(map(plain, of_shop(Referral)), key=lambda v: v["conversion_id"]),
        "rewards": sorted(map(plain, rewards), key=lambda v: (v["conversion_id"], v["rule_key"])),
        "ledger": sorted((tuple(plain(e).items()) for e in of_shop(LedgerEntry)), key=repr),
        "analytics": sorted(map(plain, of_shop(CustomerOrder)), key=lambda v: v["conversion_id"]),
        "advocates": sorted(
            (a.email, a.balance, a.points, a.debt, a.successful_referrals)
            for a in of_shop(Advocate)
        ),
        "emails": sorted(
            map(draft, of_shop(OutboxMessage, OutboxMessage.kind == "reward_pending")), key=repr
        ),
        "webhooks": sorted(
            map(webhook, of_shop(MerchantWebhookDelivery)), key=lambda w: w["data"]["id"]
        ),
    }


@pytest.mark.parametrize(("seed", "size"), [(1, 50), (2, 50), (3, 7), (4, 12)])
def test_the_batch_writes_what_one_event_at_a_time_writes(
    session: Session, seed: int, size: int
) -> None:
    one = setup_shop(session, "one-at-a-time.myshopify.com")
    batch = setup_shop(session, "batched.myshopify.com")
    one_at_a_time(session, int(one["shop_id"]), events_of(one, seed))
    batched = as_the_worker(session, int(batch["shop_id"]), events_of(batch, seed), size)
    session.flush()

    expected = rows(session, int(one["shop_id"]))
    got = rows(session, int(batch["shop_id"]))
    for table in expected:
        assert got[table] == expected[table], table
    assert batched >= 3  # the batch took part of the referred orders
    outcomes = {c["outcome"] for c in expected["conversions"]}
    assert {"accepted", "review", "rejected", "not_referral"} <= outcomes  # the mix covers them
    assert {"converted", "rejected"} <= {r["status"] for r in expected["referrals"]}
    assert expected["emails"] and expected["webhooks"] and expected["ledger"]


def shared_chunk(codes: dict[str, str]) -> list[OrderEvent]:
    """Orders of one chunk that read what an earlier one of them writes."""
    return [
        order_event(PAID, "1", codes=(codes["cat"],), email="x1@example.com"),
        order_event(PAID, "2", codes=(codes["cat"],), email="x2@example.com"),  # cat again
        order_event(PAID, "3", codes=(codes["dan"],), email="x3@example.com"),
        order_event(PAID, "4", codes=(codes["eve"],), email="x4@example.com"),  # dan's cap
        order_event(PAID, "5", email="ann@example.org"),  # ann buying: not referred
        order_event(PAID, "6", codes=(codes["bob"],), email="x6@example.com"),
        order_event(PAID, "7", codes=(codes["bob"],), email="x6@example.com"),  # bob again
    ]


def test_orders_sharing_an_advocate_or_a_capped_program_wait_for_the_per_order_path(
    session: Session,
) -> None:
    codes = setup_shop(session, "shared.myshopify.com")
    shop_id = int(codes["shop_id"])
    items = [BatchItem(n, shop_id, event) for n, event in enumerate(shared_chunk(codes))]

    assert apply_order_batch(session, items, now=DECIDED_AT, code_key=CODE_KEY) == {4}
    left = [item for item in items if item.ref != 4]
    referred = apply_referral_batch(session, left, now=DECIDED_AT, code_key=CODE_KEY)

    assert referred == {0, 2, 5}


def test_later_rounds_take_what_an_applied_order_held_back_as_one_at_a_time_would(
    session: Session,
) -> None:
    one = setup_shop(session, "shared-one.myshopify.com")
    rounds = setup_shop(session, "shared-rounds.myshopify.com")
    one_at_a_time(session, int(one["shop_id"]), shared_chunk(one))
    batched = as_the_worker(session, int(rounds["shop_id"]), shared_chunk(rounds), size=7)
    session.flush()

    assert batched > 3  # the first round takes 3 (see the test above), later rounds more
    expected = rows(session, int(one["shop_id"]))
    got = rows(session, int(rounds["shop_id"]))
    for table in expected:
        assert got[table] == expected[table], table


def test_a_chunk_writes_each_table_once(session: Session) -> None:
    """Referrals, rewards, ledger entries and drafts: one INSERT each for the chunk, and the
    referrals are inserted converted (no UPDATE after the INSERT fires the triggers twice)."""
    codes = setup_shop(session, "statements.myshopify.com")
    shop_id = int(codes["shop_id"])
    chunk = [
        order_event(PAID, str(n), codes=(codes[name],), email=f"f{n}@example.com")
        for n, name in enumerate(["ann", "bob", "cat", "dan"])
    ]
    items = [BatchItem(n, shop_id, event) for n, event in enumerate(chunk)]
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(" ".join(statement.split()[:3]).upper())

    engine = session.get_bind().engine
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        referred = apply_referral_batch(session, items, now=DECIDED_AT, code_key=CODE_KEY)
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)

    assert referred == {0, 1, 2, 3}
    if engine.dialect.name == "postgresql":  # SQLite sends one row per INSERT to keep the order
        for table in ("CONVERSIONS", "REFERRALS", "REWARDS", "REWARD_LEDGER", "OUTBOX_MESSAGES"):
            assert statements.count(f"INSERT INTO {table}") == 1, table
    assert not [s for s in statements if s.startswith(("UPDATE REFERRALS", "UPDATE REWARDS"))]
    assert (
        session.scalars(select(Referral.status).where(Referral.shop_id == shop_id)).all()
        == ["converted"] * 4
    )
