"""The review queue on a real database: flagged referrals listed with their fraud findings;
approving lets the held rewards mature, rejecting reverses them; bulk decisions report per id,
are idempotent, never touch another shop, and are written to the audit log."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from referral_plugin.domain.lifecycle import ReferralStatus, RewardStatus
from referral_plugin.errors import ValidationError
from referral_plugin.models import Advocate, AuditEntry, Referral, Reward
from referral_plugin.services.review_queue import (
    MAX_IDS,
    ReviewDecision,
    ReviewOutcome,
    decide_referrals,
    list_flagged,
)
from referral_plugin.services.rewards import mature_held_rewards
from tests.dashboard_support import flagged_referral, referral_id_of
from tests.integration import builders as b
from tests.integration.builders import later

APPROVE, REJECT = ReviewDecision.APPROVE, ReviewDecision.REJECT


def flagged(session: Session, shop_id: int, order_id: str) -> tuple[int, int]:
    """(referral id, advocate reward id) of a new flagged referral."""
    outcome = flagged_referral(
        session, shop_id, order_id=order_id, email=f"advocate{order_id}@example.com"
    )
    assert outcome.referral_status is ReferralStatus.REVIEW
    return referral_id_of(session, outcome), outcome.reward_ids[0]


def decide(session: Session, shop_id: int, ids: list[int], decision: ReviewDecision, **kw):
    return decide_referrals(
        session, shop_id, ids, decision, note=kw.get("note"), actor="merchant:owner@example.com",
        now=later(1),
    )  # fmt: skip


def test_the_queue_lists_flagged_referrals_with_their_fraud_findings(session: Session) -> None:
    shop = b.shop(session)
    first, _ = flagged(session, shop.id, "501")
    second, _ = flagged(session, shop.id, "502")

    page = list_flagged(session, shop.id, limit=1)
    rest = list_flagged(session, shop.id, limit=1, offset=1)

    assert page.has_more and not rest.has_more
    assert {page.items[0].id, rest.items[0].id} == {first, second}
    [finding] = page.items[0].fraud
    assert (finding.check, finding.action) == ("disposable_email", "review")
    assert "mailinator.com" in finding.detail
    assert page.items[0].total == Decimal("100.00") and page.items[0].currency == "USD"


def test_approving_lets_the_held_reward_mature_after_its_hold(session: Session) -> None:
    shop = b.shop(session)
    referral_id, reward_id = flagged(session, shop.id, "601")
    assert mature_held_rewards(session, now=later(31)) == 0  # held while in review

    [result] = decide(session, shop.id, [referral_id], APPROVE)

    assert (result.outcome, result.status) == (ReviewOutcome.APPROVED, "converted")
    assert mature_held_rewards(session, now=later(31)) == 1
    assert session.get(Reward, reward_id).status is RewardStatus.APPROVED
    assert list_flagged(session, shop.id).items == []


def test_rejecting_reverses_the_rewards_and_the_balance(session: Session) -> None:
    shop = b.shop(session)
    referral_id, reward_id = flagged(session, shop.id, "701")
    reward = session.get(Reward, reward_id)
    advocate = session.get(Advocate, reward.advocate_id)
    assert advocate.balance == Decimal("10.00")

    [result] = decide(session, shop.id, [referral_id], REJECT, note="same household")

    session.expire_all()
    assert (result.outcome, result.status) == (ReviewOutcome.REJECTED, "rejected")
    assert session.get(Reward, reward_id).status is RewardStatus.REVERSED
    assert session.get(Advocate, reward.advocate_id).balance == Decimal("0.00")
    referral = session.get(Referral, referral_id)
    assert referral.status_reason == "rejected_by_merchant"
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.shop_id == shop.id, AuditEntry.subject_id == str(referral_id)
        )
    ).one()
    assert (entry.actor, entry.action, entry.subject_type) == (
        "merchant:owner@example.com", "referral.reject", "referral",
    )  # fmt: skip
    assert entry.details == {"note": "same household"}


def test_bulk_reports_each_id_and_deciding_again_changes_nothing(session: Session) -> None:
    shop = b.shop(session)
    other = b.shop(session, "other-shop.myshopify.com")
    one, _ = flagged(session, shop.id, "801")
    two, _ = flagged(session, shop.id, "802")
    theirs, _ = flagged(session, other.id, "803")

    first = decide(session, shop.id, [one, two, one, theirs, 999_999], APPROVE)
    second = decide(session, shop.id, [one, two], REJECT)

    assert [(r.id, r.outcome, r.status) for r in first] == [
        (one, ReviewOutcome.APPROVED, "converted"),
        (two, ReviewOutcome.APPROVED, "converted"),
        (theirs, ReviewOutcome.NOT_FOUND, None),
        (999_999, ReviewOutcome.NOT_FOUND, None),
    ]
    assert [(r.outcome, r.status) for r in second] == [
        (ReviewOutcome.ALREADY_DECIDED, "converted"),
        (ReviewOutcome.ALREADY_DECIDED, "converted"),
    ]
    assert session.get(Referral, theirs).status is ReferralStatus.REVIEW
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.shop_id == shop.id).order_by(AuditEntry.id)
    ).all()
    assert actions == ["referral.approve", "referral.approve"]


@pytest.mark.parametrize(
    ("case", "ids", "note", "field"),
    [
        ("no ids", [], None, "ids"),
        ("too many ids", list(range(1, MAX_IDS + 2)), None, "ids"),
        ("note too long", [1], "x" * 501, "note"),
    ],
)
def test_a_decision_that_cannot_be_read_names_the_field(
    session: Session, case: str, ids: list[int], note: str | None, field: str
) -> None:
    shop = b.shop(session)

    with pytest.raises(ValidationError) as raised:
        decide(session, shop.id, ids, APPROVE, note=note)

    assert [error.field for error in raised.value.errors] == [field], case
