"""The pure pieces behind the shopper pages: a program's offer in terms, a referral's timeline,
language tags, and colours with their WCAG contrast (including merchants' store colours)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from referral_plugin.domain.colors import (
    DEFAULT_STORE_COLOR,
    contrast_ratio,
    normalize_hex_color,
    readable_text_on,
)
from referral_plugin.domain.decisions import AttributionMethod
from referral_plugin.domain.languages import supported_language, text_direction
from referral_plugin.domain.lifecycle import ReferralStatus
from referral_plugin.domain.money import Money
from referral_plugin.domain.offers import RewardTerms, describe_offer
from referral_plugin.domain.program_codec import parse_program
from referral_plugin.domain.programs import RewardKind
from referral_plugin.domain.timeline import ReferralFacts, Step, referral_timeline

FIFTEEN_OFF = {"kind": "percent_discount", "percent": "15"}
TEN_OFF = {"kind": "fixed_discount", "amount": "10.00"}


def program(**fields: object):
    parsed, errors = parse_program(
        {"name": "P", "kind": "two_sided", "friend_reward": FIFTEEN_OFF,
         "advocate_reward": TEN_OFF, **fields},
        shop_id=1, program_id=1, currency="USD",
    )  # fmt: skip
    assert parsed is not None, errors
    return parsed


@pytest.mark.parametrize(
    ("fields", "friend", "advocate"),
    [
        pytest.param(
            {}, RewardTerms(kind=RewardKind.PERCENT_DISCOUNT, percent=Decimal(15)),
            RewardTerms(kind=RewardKind.FIXED_DISCOUNT, money=Money(Decimal("10.00"), "USD")),
            id="give 15% get $10",
        ),
        pytest.param(
            {"kind": "one_sided", "friend_reward": None,
             "advocate_reward": {"kind": "store_credit", "basis": "percent_of_order",
                                 "percent": "5"}},
            None, RewardTerms(kind=RewardKind.STORE_CREDIT, percent=Decimal(5), of_order=True),
            id="one-sided percent of order credit",
        ),
        pytest.param(
            {"kind": "points", "friend_reward": None,
             "advocate_reward": {"kind": "points", "points": 100}},
            None, RewardTerms(kind=RewardKind.POINTS, points=100), id="points",
        ),
        pytest.param(
            {"friend_reward": {"kind": "free_product", "product_id": "9", "amount": "4.00"}},
            RewardTerms(kind=RewardKind.FREE_PRODUCT),
            RewardTerms(kind=RewardKind.FIXED_DISCOUNT, money=Money(Decimal("10.00"), "USD")),
            id="a gift's cost is not shown",
        ),
    ],
)  # fmt: skip
def test_describe_offer_says_what_each_side_gets(
    fields: dict, friend: RewardTerms | None, advocate: RewardTerms | None
) -> None:
    offer = describe_offer(program(**fields))
    assert offer.friend == friend
    assert offer.advocate == advocate


def test_describe_offer_names_the_minimum_and_a_tiered_program_s_first_milestone() -> None:
    tiered = program(
        kind="tiered", friend_reward=None, advocate_reward=None,
        milestones=[{"count": 3, "reward": TEN_OFF}], conditions={"minimum_subtotal": "25.00"},
    )  # fmt: skip
    offer = describe_offer(tiered)
    assert offer.milestone_count == 3
    assert offer.advocate is not None and offer.advocate.money == Money(Decimal("10.00"), "USD")
    assert offer.minimum_subtotal == Money(Decimal("25.00"), "USD")
    assert offer.friend is None


ORDERED = datetime(2026, 11, 20, 12, tzinfo=UTC)
HOLD = datetime(2026, 12, 20, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("facts", "steps"),
    [
        pytest.param(ReferralFacts(status=ReferralStatus.PENDING, method=AttributionMethod.CODE,
                                   ordered_at=ORDERED),
                     [Step.ORDERED, Step.AWAITING_PAYMENT], id="ordered, unpaid"),
        pytest.param(ReferralFacts(status=ReferralStatus.CONVERTED, method=AttributionMethod.CODE,
                                   ordered_at=ORDERED, hold_until=HOLD),
                     [Step.ORDERED, Step.PENDING], id="paid, held"),
        pytest.param(ReferralFacts(status=ReferralStatus.CONVERTED,
                                   method=AttributionMethod.CLAIM_EMAIL, ordered_at=ORDERED,
                                   claimed_at=ORDERED, hold_until=HOLD, approved_at=HOLD),
                     [Step.CLICKED, Step.CLAIMED, Step.ORDERED, Step.PENDING, Step.APPROVED],
                     id="claimed, approved"),
        pytest.param(ReferralFacts(status=ReferralStatus.REVERSED, method=AttributionMethod.CODE,
                                   ordered_at=ORDERED, hold_until=HOLD, reason="order_refunded"),
                     [Step.ORDERED, Step.DECLINED], id="refunded"),
        pytest.param(ReferralFacts(status=ReferralStatus.REVIEW,
                                   method=AttributionMethod.LANDING_LINK, ordered_at=ORDERED),
                     [Step.CLICKED, Step.ORDERED, Step.IN_REVIEW], id="in review"),
    ],
)  # fmt: skip
def test_referral_timeline(facts: ReferralFacts, steps: list[Step]) -> None:
    timeline = referral_timeline(facts)
    assert [step.step for step in timeline] == steps
    if Step.PENDING in steps:
        assert next(s for s in timeline if s.step is Step.PENDING).until == HOLD
    if Step.DECLINED in steps:
        assert timeline[-1].reason == "order_refunded"


@pytest.mark.parametrize(
    ("tag", "language"),
    [("fa", "fa"), ("pl-PL", "pl"), ("it_IT", "it"), ("RO", "ro"), ("de", None), ("", None),
     (None, None)],
)  # fmt: skip
def test_supported_language(tag: object, language: str | None) -> None:
    assert supported_language(tag) == language


def test_only_persian_is_right_to_left() -> None:
    assert text_direction("fa") == "rtl"
    assert {text_direction(tag) for tag in ("en", "ro", "pl", "it")} == {"ltr"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("#1F5F8B", "#1f5f8b"), (" #abcdef ", "#abcdef"), ("#abc", None), ("red", None),
     ("#12345g", None), (12, None), ("#1f5f8b; color: red", None)],
)  # fmt: skip
def test_normalize_hex_color(value: object, expected: str | None) -> None:
    assert normalize_hex_color(value) == expected


def test_contrast_ratio_matches_wcag_reference_values() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)


def test_text_on_any_store_colour_contrasts_at_least_4_5_to_1() -> None:
    """Whatever colour a merchant picks (a grid over the whole RGB cube), the text we put on it
    passes WCAG AA for normal text."""
    steps = range(0, 256, 15)
    worst = min(
        contrast_ratio(color, readable_text_on(color))
        for color in (f"#{r:02x}{g:02x}{b:02x}" for r, g, b in itertools.product(steps, repeat=3))
    )
    assert worst >= 4.5
    assert readable_text_on(DEFAULT_STORE_COLOR) == "#ffffff"
    assert readable_text_on("#ffeb3b") == "#000000"  # a light yellow gets black text
