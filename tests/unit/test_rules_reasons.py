"""Every Reason code, the condition boundaries, and that all applicable reasons are collected."""

from __future__ import annotations

from decimal import Decimal

import pytest

from referral_plugin.domain.decisions import CapUsage, CodeKind, Outcome, Reason
from referral_plugin.domain.experiments import HOLDOUT
from referral_plugin.domain.programs import Cap, CapMetric, CapPeriod, CapScope, Experiment, Variant
from tests.unit.builders import (
    ADVOCATE_ID,
    FRIEND_CODE,
    NOW,
    PROGRAM_ID,
    Case,
    a_code,
    at,
)

FRIEND = a_code(FRIEND_CODE, CodeKind.FRIEND, friend_email="someone.else@example.com")
ADVOCATE_COUNT_CAP = Cap(scope=CapScope.ADVOCATE, metric=CapMetric.COUNT, limit=Decimal(1))
PROGRAM_COUNT_CAP = Cap(scope=CapScope.PROGRAM, metric=CapMetric.COUNT, limit=Decimal(1))
USED_ONCE = CapUsage(count=1, amount=Decimal("10"))
HOLDOUT_TEST = Experiment(
    variants=(Variant(key="a", name="A"),), holdout_percent=10, started_at=at("2024-05-01")
)

REASON_CASES = [
    pytest.param(
        Case(order={"discount_codes": ("WELCOME10",)}),
        Outcome.NOT_REFERRAL,
        Reason.NO_REFERRAL_CODE,
        id="no_referral_code: only a merchant coupon",
    ),
    pytest.param(
        Case(order={"discount_codes": (), "landing_ref": "NOSUCHCODE"}),
        Outcome.NOT_REFERRAL,
        Reason.UNKNOWN_CODE,
        id="unknown_code: a ref link whose code we do not know",
    ),
    pytest.param(
        Case(program={"active": False}),
        Outcome.REJECTED,
        Reason.PROGRAM_INACTIVE,
        id="program_inactive: paused program",
    ),
    pytest.param(
        Case(snapshot={"programs": {}}),
        Outcome.REJECTED,
        Reason.PROGRAM_INACTIVE,
        id="program_inactive: program not in the snapshot",
    ),
    pytest.param(
        Case(advocate={"active": False}),
        Outcome.REJECTED,
        Reason.ADVOCATE_INACTIVE,
        id="advocate_inactive: blocked advocate",
    ),
    pytest.param(
        Case(snapshot={"advocates": {}}),
        Outcome.REJECTED,
        Reason.ADVOCATE_INACTIVE,
        id="advocate_inactive: advocate not in the snapshot",
    ),
    pytest.param(
        Case(program={"experiment": HOLDOUT_TEST}, advocate={"variant": HOLDOUT}),
        Outcome.REJECTED,
        Reason.HOLDOUT,
        id="holdout: the advocate is in the A/B test's control group",
    ),
    pytest.param(
        Case(order={"email": "Anna+friend@Example.com"}),
        Outcome.REJECTED,
        Reason.SELF_REFERRAL,
        id="self_referral: plus-address of the advocate",
    ),
    pytest.param(
        Case(advocate={"email": "anna.b@gmail.com"}, order={"email": "annab+2@googlemail.com"}),
        Outcome.REJECTED,
        Reason.SELF_REFERRAL,
        id="self_referral: gmail dots and googlemail alias",
    ),
    pytest.param(
        Case(order={"customer_id": "c-anna"}),
        Outcome.REJECTED,
        Reason.SELF_REFERRAL,
        id="self_referral: same store customer",
    ),
    pytest.param(
        Case(order={"discount_codes": (FRIEND_CODE,)}, snapshot={"codes": (FRIEND,)}),
        Outcome.REJECTED,
        Reason.FRIEND_CODE_OTHER_EMAIL,
        id="friend_code_other_email: code bound to someone else",
    ),
    pytest.param(
        Case(order={"currency": "EUR"}),
        Outcome.REJECTED,
        Reason.CURRENCY_MISMATCH,
        id="currency_mismatch: EUR order, USD program",
    ),
    pytest.param(
        Case(conditions={"ends_at": NOW}),
        Outcome.REJECTED,
        Reason.OUTSIDE_DATES,
        id="outside_dates: placed exactly at the end (end excluded)",
    ),
    pytest.param(
        Case(conditions={"starts_at": at("2024-06-01")}),
        Outcome.REJECTED,
        Reason.OUTSIDE_DATES,
        id="outside_dates: placed before the start",
    ),
    pytest.param(
        Case(conditions={"minimum_subtotal": Decimal("100.01")}),
        Outcome.REJECTED,
        Reason.BELOW_MINIMUM,
        id="below_minimum: one cent short",
    ),
    pytest.param(
        Case(snapshot={"prior_orders": 1}),
        Outcome.REJECTED,
        Reason.NOT_FIRST_ORDER,
        id="not_first_order: we saw an earlier order",
    ),
    pytest.param(
        Case(order={"customer_order_count": 2}),
        Outcome.REJECTED,
        Reason.NOT_FIRST_ORDER,
        id="not_first_order: the platform counts two orders",
    ),
    pytest.param(
        Case(conditions={"allowed_countries": frozenset({"DE", "FR"})}),
        Outcome.REJECTED,
        Reason.COUNTRY_NOT_ALLOWED,
        id="country_not_allowed: US order, DE/FR program",
    ),
    pytest.param(
        Case(order={"country": None}, conditions={"allowed_countries": frozenset({"US"})}),
        Outcome.REJECTED,
        Reason.COUNTRY_NOT_ALLOWED,
        id="country_not_allowed: country unknown",
    ),
    pytest.param(
        Case(conditions={"product_ids": frozenset({"p9"})}),
        Outcome.REJECTED,
        Reason.PRODUCT_NOT_IN_SCOPE,
        id="product_not_in_scope: no line matches",
    ),
    pytest.param(
        Case(order={"line_items": None}, conditions={"collection_ids": frozenset({"summer"})}),
        Outcome.REJECTED,
        Reason.PRODUCT_NOT_IN_SCOPE,
        id="product_not_in_scope: line items unknown",
    ),
    pytest.param(
        Case(order={"is_test": True}),
        Outcome.REJECTED,
        Reason.TEST_ORDER,
        id="test_order: test orders refused by default",
    ),
    pytest.param(
        Case(
            program={"caps": (ADVOCATE_COUNT_CAP,)},
            snapshot={
                "cap_usage": {(CapScope.ADVOCATE, ADVOCATE_ID, CapPeriod.LIFETIME): USED_ONCE}
            },
        ),
        Outcome.ACCEPTED,
        Reason.ADVOCATE_CAP_REACHED,
        id="advocate_cap_reached: still accepted, advocate reward dropped",
    ),
    pytest.param(
        Case(
            program={"caps": (PROGRAM_COUNT_CAP,)},
            snapshot={"cap_usage": {(CapScope.PROGRAM, PROGRAM_ID, CapPeriod.LIFETIME): USED_ONCE}},
        ),
        Outcome.ACCEPTED,
        Reason.PROGRAM_CAP_REACHED,
        id="program_cap_reached: still accepted, advocate reward dropped",
    ),
    pytest.param(
        Case(advocate={"known_shipping_fingerprints": frozenset({"ship-friend"})}),
        Outcome.REJECTED,
        Reason.FRAUD,
        id="fraud: same shipping address (REJECT by default)",
    ),
]


@pytest.mark.parametrize(("case", "outcome", "reason"), REASON_CASES)
def test_each_reason_fires_alone(case: Case, outcome: Outcome, reason: Reason) -> None:
    decision = case.decide()
    assert decision.outcome is outcome
    assert decision.reasons == (reason.value,)
    if outcome is Outcome.REJECTED:
        assert decision.rewards == ()


def test_the_reason_table_covers_every_reason() -> None:
    covered = {param.values[2] for param in REASON_CASES}
    assert covered == set(Reason)


def test_cap_rejections_name_the_dropped_reward_and_keep_the_friends() -> None:
    decision = Case(
        program={"caps": (ADVOCATE_COUNT_CAP,)},
        snapshot={"cap_usage": {(CapScope.ADVOCATE, ADVOCATE_ID, CapPeriod.LIFETIME): USED_ONCE}},
    ).decide()
    assert [r.rule_key for r in decision.rejections] == ["advocate"]
    assert [r.rule_key for r in decision.rewards] == ["friend"]


@pytest.mark.parametrize(
    ("case", "allowed"),
    [
        pytest.param(
            Case(order={"is_test": True}, conditions={"accept_test_orders": True}),
            True,
            id="test order accepted when the program accepts test orders",
        ),
        pytest.param(Case(conditions={"starts_at": NOW}), True, id="placed exactly at the start"),
        pytest.param(
            Case(conditions={"minimum_subtotal": Decimal("100.00")}), True, id="exactly the minimum"
        ),
        pytest.param(
            Case(conditions={"first_order_only": False}, snapshot={"prior_orders": 3}),
            True,
            id="repeat orders allowed when not first-order-only",
        ),
        pytest.param(
            Case(order={"customer_order_count": None}),
            True,
            id="platform count unknown counts as first",
        ),
        pytest.param(
            Case(conditions={"allowed_countries": frozenset({"US"})}), True, id="allowed country"
        ),
        pytest.param(
            Case(conditions={"collection_ids": frozenset({"summer"})}),
            True,
            id="a line in a scoped collection",
        ),
        pytest.param(
            Case(
                order={"placed_at": None, "occurred_at": at("2024-05-01")},
                conditions={"starts_at": at("2024-05-01")},
            ),
            True,
            id="no placed_at: the event time is the order time",
        ),
        pytest.param(
            Case(
                order={"placed_at": at("2024-04-30T23:59"), "occurred_at": NOW},
                conditions={"starts_at": at("2024-05-01")},
            ),
            False,
            id="placed_at wins over a later event time",
        ),
    ],
)
def test_condition_boundaries(case: Case, allowed: bool) -> None:
    assert (case.decide().outcome is Outcome.ACCEPTED) is allowed


def test_all_applicable_reasons_are_collected_in_check_order() -> None:
    decision = Case(
        order={"is_test": True, "currency": "EUR", "country": "BR", "customer_id": "c-anna"},
        program={"active": False},
        advocate={"active": False},
        conditions={
            "ends_at": at("2024-01-01"),
            "minimum_subtotal": Decimal("500"),
            "allowed_countries": frozenset({"US"}),
            "product_ids": frozenset({"p9"}),
        },
        snapshot={"prior_orders": 2},
    ).decide()
    assert decision.outcome is Outcome.REJECTED
    assert decision.reasons == (
        "test_order",
        "program_inactive",
        "advocate_inactive",
        "self_referral",
        "currency_mismatch",
        "outside_dates",
        "below_minimum",
        "not_first_order",
        "country_not_allowed",
        "product_not_in_scope",
    )


@pytest.mark.parametrize(
    ("order_email", "rejected"),
    [
        pytest.param("friend@example.com", False, id="the bound friend"),
        pytest.param("Friend+shop@Example.com", False, id="the bound friend, plus-tagged"),
        pytest.param("other@example.com", True, id="someone else"),
        pytest.param(None, True, id="no email: cannot be shown to be the friend"),
    ],
)
def test_friend_codes_are_bound_to_the_friend(order_email: str | None, rejected: bool) -> None:
    code = a_code(FRIEND_CODE, CodeKind.FRIEND, friend_email="friend@example.com")
    decision = Case(
        order={"discount_codes": (FRIEND_CODE,), "email": order_email},
        snapshot={"codes": (code,)},
    ).decide()
    assert (Reason.FRIEND_CODE_OTHER_EMAIL.value in decision.reasons) is rejected


def test_minimum_uses_the_eligible_subtotal_when_scoped() -> None:
    scoped = {"product_ids": frozenset({"p2"}), "minimum_subtotal": Decimal("50")}
    assert Case(conditions=scoped).decide().reasons == ("below_minimum",)  # p2 is 40.00
