"""`referral-plugin demo`: a Shopify demo shop with two programs, advocates and sample orders.

Idempotent: the shop is found by its domain, programs by name, advocates by email, and every
sample order event carries a fixed idempotency key, so running the demo again changes nothing
except issuing a fresh admin API token. Orders are placed relative to now: the older ones are
past the 30-day return window, so their rewards mature when the demo runs `mature_held_rewards`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from referral_plugin import migrations
from referral_plugin.app import AppServices
from referral_plugin.domain.codes import normalize_code
from referral_plugin.domain.events import (
    FraudSignals,
    LineItem,
    OrderEvent,
    OrderEventKind,
    Platform,
    Refund,
)
from referral_plugin.services import advocates, merchant_sessions, orders, programs, rewards, shops

DEMO_DOMAIN = "demo-store.myshopify.com"
DEMO_CURRENCY = "USD"
DEMO_SIGN_IN_TTL = timedelta(days=1)  # the printed dashboard link: longer than a mailed one
SHIPPING = Decimal("5.00")
USER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15"

Report = Callable[[str], None]

TWO_SIDED_PROGRAM = {
    "name": "Give 15%, get $10",
    "kind": "two_sided",
    "friend_reward": {"kind": "percent_discount", "percent": "15", "expires_in_days": 60},
    "advocate_reward": {"kind": "fixed_discount", "amount": "10.00", "expires_in_days": 180},
    "conditions": {"minimum_subtotal": "25.00", "first_order_only": True},
    "hold_days": 30,
}
TIERED_PROGRAM = {
    "name": "Ambassador tiers",
    "kind": "tiered",
    "friend_reward": {"kind": "percent_discount", "percent": "10"},
    "milestones": [
        {"count": 1, "reward": {"kind": "fixed_discount", "amount": "5.00"}},
        {"count": 3, "reward": {"kind": "store_credit", "amount": "25.00"}},
        {"count": 5, "reward": {"kind": "free_shipping", "expires_in_days": 90}},
    ],
    "hold_days": 30,
}
PROGRAMS = (TWO_SIDED_PROGRAM, TIERED_PROGRAM)


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoAdvocate:
    program: int  # index into PROGRAMS
    email: str
    first_name: str
    last_name: str
    customer_id: str


ADVOCATES = (
    DemoAdvocate(program=0, email="ana.lima@example.com", first_name="Ana", last_name="Lima",
                 customer_id="7001"),
    DemoAdvocate(program=0, email="ben.okafor@example.com", first_name="Ben",
                 last_name="Okafor", customer_id="7002"),
    DemoAdvocate(program=0, email="chloe.martin@example.com", first_name="Chloé",
                 last_name="Martin", customer_id="7003"),
    DemoAdvocate(program=1, email="dana.kim@example.com", first_name="Dana", last_name="Kim",
                 customer_id="7004"),
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoOrder:
    number: int
    story: str
    days_ago: int
    email: str
    cart: Decimal  # before the friend's discount
    advocate: int | None  # index into ADVOCATES whose code is on the order
    friend_percent: Decimal = Decimal(0)
    refunded_days_ago: int | None = None


ORDERS = (
    DemoOrder(number=1001, story="friend of Ana, past the return window", days_ago=45,
              email="maria.santos@example.net", cart=Decimal("80.00"), advocate=0,
              friend_percent=Decimal(15)),
    DemoOrder(number=1002, story="friend of Ben, past the return window", days_ago=38,
              email="tom.becker@example.org", cart=Decimal("120.00"), advocate=1,
              friend_percent=Decimal(15)),
    DemoOrder(number=1003, story="friend of Ana, still in the return window", days_ago=3,
              email="lucy.chen@example.com", cart=Decimal("64.00"), advocate=0,
              friend_percent=Decimal(15)),
    DemoOrder(number=1004, story="Ana using her own code (self-referral)", days_ago=2,
              email="ana.lima@example.com", cart=Decimal("55.00"), advocate=0,
              friend_percent=Decimal(15)),
    DemoOrder(number=1005, story="friend of Chloé, refunded two days later", days_ago=6,
              email="omar.haddad@example.net", cart=Decimal("90.00"), advocate=2,
              friend_percent=Decimal(15), refunded_days_ago=4),
    DemoOrder(number=1006, story="first friend of Dana, past the return window", days_ago=40,
              email="sofia.rossi@example.com", cart=Decimal("70.00"), advocate=3,
              friend_percent=Decimal(10)),
    DemoOrder(number=1007, story="second friend of Dana", days_ago=10,
              email="jonas.berg@example.org", cart=Decimal("48.00"), advocate=3,
              friend_percent=Decimal(10)),
    DemoOrder(number=1008, story="third friend of Dana: unlocks the $25 tier", days_ago=1,
              email="priya.nair@example.com", cart=Decimal("99.00"), advocate=3,
              friend_percent=Decimal(10)),
    DemoOrder(number=1009, story="an ordinary order without a code", days_ago=5,
              email="walk.in@example.com", cart=Decimal("35.00"), advocate=None),
)  # fmt: skip


def run_demo(services: AppServices, report: Report, now: datetime | None = None) -> str:
    """Create (or find) the demo data, print each step, and return a new admin API token."""
    now = now or datetime.now(tz=UTC)
    report("1/7 Database schema")
    migrations.upgrade(services.settings.database_url)
    with services.sessions.begin() as session:
        shop_id = ensure_shop(session, services, report, now)
    with services.sessions.begin() as session:
        program_ids = ensure_programs(session, shop_id, report, now)
    with services.sessions.begin() as session:
        codes = ensure_advocates(session, shop_id, program_ids, report, now)
    for order in ORDERS:
        with services.sessions.begin() as session:
            record_order(session, shop_id, order, codes, services.code_key, report, now)
    with services.sessions.begin() as session:
        matured = rewards.mature_held_rewards(session, now=now)
    report(f"6/7 Matured rewards past their 30-day hold: {matured} approved this run")
    with services.sessions.begin() as session:
        token = shops.issue_api_token(session, shop_id)
        sign_in = merchant_sessions.create_sign_in_link(
            session, shop_id, now=now, ttl=DEMO_SIGN_IN_TTL
        ).token
        join_id = programs.public_ids(session, shop_id, program_ids[:1]).get(program_ids[0])
    base_url = services.settings.public_base_url
    report_next_steps(report, token, codes, program_ids[0], base_url)
    report("")
    report("Merchant dashboard (sign-in link, works once within a day):")
    report(f"  {base_url}/admin/login/{sign_in}")
    if join_id:
        report(f"Shopper join page:  {base_url}/p/{join_id}/join")
    return token


def ensure_shop(session: Session, services: AppServices, report: Report, now: datetime) -> int:
    shop = shops.find_shop(session, Platform.SHOPIFY, DEMO_DOMAIN)
    if shop is not None:
        report(f"2/7 Shop {DEMO_DOMAIN} exists (id {shop.id})")
        return shop.id
    shop = shops.add_shop(
        session,
        platform=Platform.SHOPIFY,
        domain=DEMO_DOMAIN,
        currency=DEMO_CURRENCY,
        credentials={},  # a demo shop: no store API access, nothing is issued to a real store
        box=services.box,
        name="Demo Store",
        email="owner@demo-store.example",
        now=now,
    )
    report(f"2/7 Shop {DEMO_DOMAIN} created (id {shop.id}, {DEMO_CURRENCY})")
    return shop.id


def ensure_programs(session: Session, shop_id: int, report: Report, now: datetime) -> list[int]:
    existing = {program.name: program.id for program in programs.list_programs(session, shop_id)}
    program_ids = []
    for data in PROGRAMS:
        program_id = existing.get(data["name"])
        if program_id is None:
            program_id = programs.create_program(session, shop_id, data, now=now).id
            report(f"3/7 Program {data['name']!r} created (id {program_id}, {data['kind']})")
        else:
            report(f"3/7 Program {data['name']!r} exists (id {program_id})")
        program_ids.append(program_id)
    return program_ids


def ensure_advocates(
    session: Session, shop_id: int, program_ids: list[int], report: Report, now: datetime
) -> list[str]:
    codes = []
    for person in ADVOCATES:
        enrolled = advocates.enroll_advocate(
            session, shop_id, program_ids[person.program], email=person.email,
            first_name=person.first_name, last_name=person.last_name,
            customer_id=person.customer_id, now=now,
        )  # fmt: skip
        state = "enrolled" if enrolled.created else "already enrolled"
        report(f"4/7 {person.first_name} {person.last_name} {state}: code {enrolled.code}")
        codes.append(enrolled.code)
    return codes


def record_order(
    session: Session,
    shop_id: int,
    order: DemoOrder,
    codes: list[str],
    code_key: bytes,
    report: Report,
    now: datetime,
) -> None:
    outcomes = [
        orders.record_order_event(session, shop_id, event, now=event.occurred_at, code_key=code_key)
        for event in order_events(order, codes, now)
    ]
    report(f"5/7 Order #{order.number} ({order.story}): {describe_outcome(outcomes[-1])}")


def order_events(order: DemoOrder, codes: list[str], now: datetime) -> list[OrderEvent]:
    """The events a store sends for the order: placed, paid a minute later, maybe refunded."""
    placed_at = now - timedelta(days=order.days_ago)
    discount = (order.cart * order.friend_percent / 100).quantize(Decimal("0.01"))
    subtotal = order.cart - discount
    total = subtotal + SHIPPING
    code = [normalize_code(codes[order.advocate])] if order.advocate is not None else []
    common = {
        "platform": Platform.SHOPIFY,
        "shop": DEMO_DOMAIN,
        "order_id": f"{5_550_000_000 + order.number}",
        "order_number": f"#{order.number}",
        "placed_at": placed_at,
        "currency": DEMO_CURRENCY,
        "subtotal": subtotal,
        "total": total,
        "discount_total": discount,
        "discount_codes": tuple(code),
        "customer_id": f"{8_000 + order.number}",
        "email": order.email,
        "customer_order_count": 1,
        "country": "US",
        "line_items": (LineItem(product_id="9001", variant_id="9101", quantity=1, total=subtotal),),
        "signals": demo_signals(order),
        "source_name": "web",
    }
    events = [
        OrderEvent(kind=OrderEventKind.PLACED, occurred_at=placed_at,
                   idempotency_key=f"demo:{order.number}:placed", **common),
        OrderEvent(kind=OrderEventKind.PAID, occurred_at=placed_at + timedelta(minutes=1),
                   idempotency_key=f"demo:{order.number}:paid", **common),
    ]  # fmt: skip
    if order.refunded_days_ago is not None:
        refunded_at = now - timedelta(days=order.refunded_days_ago)
        refund = Refund(refund_id=f"r{order.number}", amount=total, created_at=refunded_at)
        events.append(
            OrderEvent(
                platform=Platform.SHOPIFY, shop=DEMO_DOMAIN, order_id=common["order_id"],
                kind=OrderEventKind.REFUNDED, occurred_at=refunded_at,
                idempotency_key=f"demo:{order.number}:refunded", refunds=(refund,),
            )
        )  # fmt: skip
    return events


def demo_signals(order: DemoOrder) -> FraudSignals:
    """Distinct, documentation-range IPs and address hashes per buyer (RFC 5737)."""
    address = hashlib.sha256(f"demo-address:{order.email}".encode()).hexdigest()
    return FraudSignals(
        browser_ip=f"203.0.113.{order.number % 250}",
        user_agent=USER_AGENT,
        shipping_fingerprint=address,
    )


def describe_outcome(outcome: orders.OrderOutcome) -> str:
    """`accepted; referral converted; rewards: advocate held 10.00, friend held` and the like."""
    if outcome.outcome is None:
        return "recorded (no order data yet)"
    parts = [outcome.outcome.value]
    if outcome.referral_status is not None:
        parts.append(f"referral {outcome.referral_status.value}")
    if outcome.rewards:
        rewards = ", ".join(
            f"{r.rule_key} {r.status.value}" + (f" {r.value} {DEMO_CURRENCY}" if r.value else "")
            for r in outcome.rewards
        )
        parts.append(f"rewards: {rewards}")
    if outcome.duplicate:
        parts.append("already recorded")
    return "; ".join(parts)


def report_next_steps(
    report: Report, token: str, codes: list[str], program_id: int, base_url: str
) -> None:
    report("7/7 Admin API token issued (shown once; it replaces the shop's previous token)")
    report("")
    report(f"Shop:            {DEMO_DOMAIN}")
    report(f"Admin API token: {token}")
    report("Referral codes:  " + ", ".join(codes))
    report("")
    report("Try it (start the server first: referral-plugin serve):")
    auth = f'-H "Authorization: Bearer {token}"'
    report(f"  curl {auth} {base_url}/api/v1/programs")
    report(f"  curl {auth} '{base_url}/api/v1/advocates?limit=10'")
    report(
        f"  curl {auth} -H 'Content-Type: application/json' "
        f'-d \'{{"program_id": {program_id}, "email": "new.friend@example.com"}}\' '
        f"{base_url}/api/v1/advocates"
    )
    report(f"  curl {base_url}/healthz")
