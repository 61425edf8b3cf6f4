"""Pure test builders: one valid default per domain value, overridden by keyword."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from referral_plugin.domain.decisions import (
    AdvocateView,
    ClaimView,
    CodeKind,
    CodeView,
    Decision,
    Snapshot,
)
from referral_plugin.domain.events import (
    FraudSignals,
    LineItem,
    OrderEvent,
    OrderEventKind,
    Platform,
)
from referral_plugin.domain.programs import Program, ProgramKind, RewardKind, RewardSpec
from referral_plugin.domain.rules import decide

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)
ADVOCATE_CODE = "ANNA7Q2K9XPA"
FRIEND_CODE = "FRIENDC0DE01"
REWARD_CODE = "RW7Q2K9XPAMN4D"
ADVOCATE_ID = 7
PROGRAM_ID = 1


def at(text: str) -> datetime:
    """An aware UTC datetime from 'YYYY-MM-DD[THH:MM[:SS]]'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def a_spec(kind: RewardKind = RewardKind.FIXED_DISCOUNT, **overrides: Any) -> RewardSpec:
    """A reward spec; FIXED_DISCOUNT defaults to 10 off."""
    if kind is RewardKind.FIXED_DISCOUNT and "amount" not in overrides:
        overrides["amount"] = Decimal("10")
    return RewardSpec(kind=kind, **overrides)


def a_line(product_id: str = "p1", total: str = "100.00", **overrides: Any) -> LineItem:
    values: dict[str, Any] = {"product_id": product_id, "quantity": 1, "total": Decimal(total)}
    return LineItem(**(values | overrides))


_ORDER = OrderEvent(
    platform=Platform.SHOPIFY,
    shop="demo.myshopify.com",
    order_id="1001",
    kind=OrderEventKind.PAID,
    occurred_at=NOW,
    idempotency_key="delivery-1",
    placed_at=NOW,
    currency="USD",
    subtotal=Decimal("100.00"),
    total=Decimal("110.00"),
    discount_total=Decimal("15.00"),
    discount_codes=(ADVOCATE_CODE,),
    customer_id="c-friend",
    email="friend@example.com",
    customer_order_count=1,
    country="US",
    line_items=(a_line("p1", "60.00", collection_ids=("summer",)), a_line("p2", "40.00")),
    signals=FraudSignals(
        browser_ip="203.0.113.7",
        user_agent="Mozilla/5.0 (friend)",
        shipping_fingerprint="ship-friend",
        payment_fingerprint="pay-friend",
    ),
)


def an_order(**overrides: Any) -> OrderEvent:
    """A paid, first USD order of 100.00 by a friend using Anna's advocate code."""
    return replace(_ORDER, **overrides)


_PROGRAM = Program(
    id=PROGRAM_ID,
    shop_id=1,
    name="Give 15%, get 10",
    kind=ProgramKind.TWO_SIDED,
    currency="USD",
    advocate_reward=RewardSpec(kind=RewardKind.FIXED_DISCOUNT, amount=Decimal("10")),
    friend_reward=RewardSpec(kind=RewardKind.PERCENT_DISCOUNT, percent=Decimal("15")),
)


def a_program(**overrides: Any) -> Program:
    """An active two-sided USD program: the friend gets 15% off, the advocate 10.00 off."""
    return replace(_PROGRAM, **overrides)


def an_advocate(**overrides: Any) -> AdvocateView:
    """Anna: active, has ordered before, no referrals yet, no known fraud signals."""
    values: dict[str, Any] = {
        "id": ADVOCATE_ID,
        "program_id": PROGRAM_ID,
        "email": "anna@example.com",
        "customer_id": "c-anna",
        "has_ordered": True,
    }
    return AdvocateView(**(values | overrides))


def a_code(
    code: str = ADVOCATE_CODE, kind: CodeKind = CodeKind.ADVOCATE, **overrides: Any
) -> CodeView:
    """A known code; advocate and friend codes belong to Anna."""
    values: dict[str, Any] = {"code": code, "kind": kind, "program_id": PROGRAM_ID}
    if kind is not CodeKind.REWARD:
        values["advocate_id"] = ADVOCATE_ID
    return CodeView(**(values | overrides))


def a_claim(**overrides: Any) -> ClaimView:
    """The friend's claim of Anna's offer, a day before the order."""
    values: dict[str, Any] = {
        "email": "friend@example.com",
        "advocate_id": ADVOCATE_ID,
        "program_id": PROGRAM_ID,
        "code": FRIEND_CODE,
        "claimed_at": at("2024-05-14T12:00"),
    }
    return ClaimView(**(values | overrides))


def a_snapshot(
    *,
    program: Program | None = None,
    advocate: AdvocateView | None = None,
    codes: tuple[CodeView, ...] = (a_code(),),
    **overrides: Any,
) -> Snapshot:
    """What the service loads: the program, the advocate and the known codes (by default the
    two-sided program, Anna and her advocate code); other Snapshot fields by keyword."""
    chosen_program = program or a_program()
    chosen_advocate = advocate or an_advocate()
    values: dict[str, Any] = {
        "programs": {chosen_program.id: chosen_program},
        "codes": {c.code: c for c in codes},
        "advocates": {chosen_advocate.id: chosen_advocate},
    }
    return Snapshot(**(values | overrides))


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One order decided against a snapshot; each field overrides the matching builder's defaults
    (`conditions` those of the program's conditions)."""

    order: dict[str, Any] = field(default_factory=dict)
    program: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)
    advocate: dict[str, Any] = field(default_factory=dict)
    snapshot: dict[str, Any] = field(default_factory=dict)

    def decide(self) -> Decision:
        program = a_program(**self.program)
        program = replace(program, conditions=replace(program.conditions, **self.conditions))
        advocate = an_advocate(**self.advocate)
        snapshot = a_snapshot(program=program, advocate=advocate, **self.snapshot)
        return decide(an_order(**self.order), snapshot, NOW)
