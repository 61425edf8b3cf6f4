"""Attribution precedence: code beats claim beats landing link; reward codes are redemptions."""

from __future__ import annotations

from typing import Any

import pytest

from referral_plugin.domain.attribution import attribute, redeemed_reward_ids
from referral_plugin.domain.decisions import AttributionMethod, CodeKind, Outcome, Reason
from referral_plugin.domain.rules import decide
from tests.unit.builders import (
    ADVOCATE_CODE,
    NOW,
    a_claim,
    a_code,
    a_snapshot,
    an_order,
    at,
)

BOB_CODE = "BOB23456789"
LINK_CODE = "LINK2345678"
CLAIM = a_claim(code="CLAIMED", advocate_id=8)
CODES = (
    a_code(ADVOCATE_CODE),
    a_code(BOB_CODE, advocate_id=9),
    a_code(LINK_CODE, advocate_id=10),
    a_code("RWAAAA", CodeKind.REWARD, reward_id=41),
    a_code("RWBBBB", CodeKind.REWARD, reward_id=42),
)


@pytest.mark.parametrize(
    ("order", "claims", "expected"),
    [
        pytest.param(
            {"discount_codes": (ADVOCATE_CODE,), "landing_ref": LINK_CODE},
            (CLAIM,),
            (AttributionMethod.CODE, 7, ADVOCATE_CODE),
            id="code beats claim and landing link",
        ),
        pytest.param(
            {"discount_codes": (), "landing_ref": LINK_CODE},
            (CLAIM,),
            (AttributionMethod.CLAIM_EMAIL, 8, "CLAIMED"),
            id="claim beats landing link",
        ),
        pytest.param(
            {"discount_codes": (), "landing_ref": LINK_CODE},
            (),
            (AttributionMethod.LANDING_LINK, 10, LINK_CODE),
            id="landing link alone",
        ),
        pytest.param(
            {"discount_codes": (BOB_CODE, ADVOCATE_CODE)},
            (),
            (AttributionMethod.CODE, 9, BOB_CODE),
            id="first matching code wins",
        ),
        pytest.param(
            {"discount_codes": ("WELCOME10", "RWAAAA", ADVOCATE_CODE)},
            (),
            (AttributionMethod.CODE, 7, ADVOCATE_CODE),
            id="merchant coupons and reward codes are skipped",
        ),
        pytest.param(
            {"discount_codes": ("anna-7q2k 9xpa",)},
            (),
            (AttributionMethod.CODE, 7, ADVOCATE_CODE),
            id="codes are matched normalized",
        ),
        pytest.param(
            {"discount_codes": None, "email": "Friend+promo@Example.com"},
            (CLAIM,),
            (AttributionMethod.CLAIM_EMAIL, 8, "CLAIMED"),
            id="claim matched by identity email",
        ),
        pytest.param(
            {"discount_codes": ("RWAAAA",), "landing_ref": "RWBBBB"},
            (a_claim(email="other@example.com"),),
            None,
            id="reward codes and other people's claims attribute nothing",
        ),
    ],
)
def test_attribution_precedence(
    order: dict[str, Any], claims: tuple[Any, ...], expected: tuple[Any, ...] | None
) -> None:
    found = attribute(an_order(**order), a_snapshot(codes=CODES, claims=claims))
    got = None if found is None else (found.method, found.advocate_id, found.code)
    assert got == expected


def test_the_latest_claim_wins_whatever_the_listing_order() -> None:
    older = a_claim(code="OLD", advocate_id=1, claimed_at=at("2024-05-01"))
    newer = a_claim(code="NEW", advocate_id=2, claimed_at=at("2024-05-10"))
    order = an_order(discount_codes=())
    for claims in ((older, newer), (newer, older)):
        found = attribute(order, a_snapshot(claims=claims))
        assert found is not None
        assert (found.code, found.advocate_id) == ("NEW", 2)


def test_claims_at_the_same_instant_break_ties_by_code() -> None:
    one, other = a_claim(code="AAA", advocate_id=1), a_claim(code="ZZZ", advocate_id=2)
    for claims in ((one, other), (other, one)):
        found = attribute(an_order(discount_codes=()), a_snapshot(claims=claims))
        assert found is not None
        assert found.code == "ZZZ"


def test_no_claim_without_an_order_email() -> None:
    assert attribute(an_order(discount_codes=(), email=None), a_snapshot(claims=(CLAIM,))) is None


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        pytest.param(("RWBBBB", "RWAAAA"), (42, 41), id="in the order's code order"),
        pytest.param(("RWAAAA", "rw-aaaa"), (41,), id="each reward once"),
        pytest.param((ADVOCATE_CODE, "WELCOME10"), (), id="no reward codes"),
        pytest.param(None, (), id="codes unknown"),
    ],
)
def test_reward_codes_are_redemptions(codes: tuple[str, ...] | None, expected: tuple[int]) -> None:
    order = an_order(discount_codes=codes)
    assert redeemed_reward_ids(order, a_snapshot(codes=CODES)) == expected


def test_a_reward_code_alone_is_not_a_referral_but_is_redeemed() -> None:
    decision = decide(an_order(discount_codes=("RWAAAA",)), a_snapshot(codes=CODES), NOW)
    assert decision.outcome is Outcome.NOT_REFERRAL
    assert decision.reasons == (Reason.NO_REFERRAL_CODE.value,)
    assert decision.redeemed_reward_ids == (41,)
    assert decision.attribution is None


@pytest.mark.parametrize(
    "landing_ref",
    [
        pytest.param("NOSUCHCODE", id="a code we never issued"),
        pytest.param("RWAAAA", id="a reward code in a ref link"),
    ],
)
def test_an_unusable_ref_link_is_an_unknown_code(landing_ref: str) -> None:
    order = an_order(discount_codes=(), landing_ref=landing_ref)
    decision = decide(order, a_snapshot(codes=CODES), NOW)
    assert decision.outcome is Outcome.NOT_REFERRAL
    assert decision.reasons == (Reason.UNKNOWN_CODE.value,)


def test_an_unknown_ref_does_not_hide_a_code_attribution() -> None:
    order = an_order(landing_ref="NOSUCHCODE")
    decision = decide(order, a_snapshot(codes=CODES), NOW)
    assert decision.outcome is Outcome.ACCEPTED
    assert decision.attribution is not None
    assert decision.attribution.method is AttributionMethod.CODE


@pytest.mark.parametrize(
    ("order", "method"),
    [
        pytest.param({}, AttributionMethod.CODE, id="code"),
        pytest.param({"discount_codes": ()}, AttributionMethod.CLAIM_EMAIL, id="claim"),
        pytest.param(
            {"discount_codes": (), "email": "x@example.org", "landing_ref": ADVOCATE_CODE},
            AttributionMethod.LANDING_LINK,
            id="landing link",
        ),
    ],
)
def test_each_decision_records_its_method(order: dict[str, Any], method: AttributionMethod) -> None:
    snapshot = a_snapshot(claims=(a_claim(code=ADVOCATE_CODE),))
    decision = decide(an_order(**order), snapshot, NOW)
    assert decision.outcome is Outcome.ACCEPTED
    assert decision.attribution is not None
    assert decision.attribution.method is method
