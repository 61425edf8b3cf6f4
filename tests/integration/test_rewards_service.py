"""Reward jobs and the review queue: maturation, issue, redemption, illegal moves."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from referral_plugin.domain.events import OrderEventKind
from referral_plugin.domain.lifecycle import IllegalTransition, ReferralStatus, RewardStatus
from referral_plugin.errors import Conflict, NotFound
from referral_plugin.models import Advocate, Referral, RevokeState, Reward
from referral_plugin.services import rewards as rewards_service
from referral_plugin.services.orders import record_order_event
from referral_plugin.services.rewards import (
    approve_referral,
    mark_reward_issued,
    mark_reward_redeemed,
    mark_reward_revoked,
    mature_held_rewards,
    reject_referral,
    reverse_reward,
    rewards_due_for_issue,
    rewards_due_for_revoke,
)
from tests.integration import builders as b
from tests.integration.builders import NOW, later

PAID = OrderEventKind.PAID


def paid_referral(session: Session, email: str = "friend@example.com"):
    shop = b.shop(session)
    program = b.program(session, shop.id, b.ONE_SIDED)
    anna = b.advocate(session, shop.id, program.id)
    event = b.order_event(PAID, codes=(anna.code,), email=email)
    outcome = record_order_event(session, shop.id, event, now=NOW, code_key=b.CODE_KEY)
    return shop, anna, outcome


def test_held_rewards_mature_only_after_the_hold(session: Session) -> None:
    shop, _, outcome = paid_referral(session)
    assert mature_held_rewards(session, now=later(29)) == 0
    assert mature_held_rewards(session, now=later(30)) == 1
    assert mature_held_rewards(session, now=later(31)) == 0
    reward = session.get(Reward, outcome.reward_ids[0])
    assert (reward.status, reward.approved_at) == (RewardStatus.APPROVED, later(30))
    assert [r.id for r in rewards_due_for_issue(session, shop_id=shop.id)] == [reward.id]


def test_maturing_locks_the_rewards_advocates_first(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Approving moves balances: the advocates are locked up front, in id order, like a
    worker's chunk (`advocate_locks`), so the job and a worker cannot deadlock."""
    _, anna, _ = paid_referral(session)
    asked: list[list[int]] = []
    original = rewards_service.lock_advocates

    def spy(session_: Session, ids) -> int:  # type: ignore[no-untyped-def]
        asked.append(sorted(i for i in ids if i is not None))
        return original(session_, asked[-1])

    monkeypatch.setattr(rewards_service, "lock_advocates", spy)

    assert mature_held_rewards(session, now=later(30)) == 1
    assert asked == [[anna.id]]


def test_review_holds_rewards_until_the_merchant_approves(session: Session) -> None:
    shop, _, outcome = paid_referral(session, email="someone@mailinator.com")
    assert outcome.referral_status is ReferralStatus.REVIEW
    assert mature_held_rewards(session, now=later(60)) == 0
    referral = approve_referral(session, shop.id, _referral_id(session, outcome), now=later(60))
    assert referral.status is ReferralStatus.CONVERTED
    assert mature_held_rewards(session, now=later(60)) == 1


def test_rejecting_a_reviewed_referral_reverses_its_rewards(session: Session) -> None:
    shop, anna, outcome = paid_referral(session, email="someone@mailinator.com")
    reject_referral(session, shop.id, _referral_id(session, outcome), now=later(1))
    session.expire_all()
    assert session.get(Reward, outcome.reward_ids[0]).status is RewardStatus.REVERSED
    advocate = session.get(Advocate, anna.id)
    assert (advocate.balance, advocate.successful_referrals) == (Decimal("0.00"), 0)
    with pytest.raises(IllegalTransition):
        approve_referral(session, shop.id, _referral_id(session, outcome), now=later(2))


def _referral_id(session: Session, outcome) -> int:
    return session.get(Reward, outcome.reward_ids[0]).referral_id


def test_issue_redeem_and_their_illegal_moves(session: Session) -> None:
    shop, anna, outcome = paid_referral(session)
    reward_id = outcome.reward_ids[0]
    with pytest.raises(IllegalTransition):
        mark_reward_issued(session, shop.id, reward_id, store_code="RW-1", now=later(1))
    with pytest.raises(IllegalTransition):
        mark_reward_redeemed(session, shop.id, reward_id, now=later(1))
    mature_held_rewards(session, now=later(31))
    issued = mark_reward_issued(session, shop.id, reward_id, store_code="RW-1", now=later(31))
    again = mark_reward_issued(session, shop.id, reward_id, store_code="RW-1", now=later(32))
    assert issued is again and issued.status is RewardStatus.ISSUED
    mark_reward_redeemed(session, shop.id, reward_id, now=later(33))
    mark_reward_redeemed(session, shop.id, reward_id, now=later(34))  # idempotent
    assert session.get(Advocate, anna.id).balance == Decimal("0.00")
    with pytest.raises(IllegalTransition):
        reverse_reward(session, shop.id, reward_id, reason="merchant", now=later(35))


def test_reversing_an_issued_reward_queues_its_revocation(session: Session) -> None:
    shop, _, outcome = paid_referral(session)
    reward_id = outcome.reward_ids[0]
    mature_held_rewards(session, now=later(31))
    mark_reward_issued(session, shop.id, reward_id, store_code="RW-2", now=later(31))
    reversed_reward = reverse_reward(session, shop.id, reward_id, reason="fraud", now=later(32))
    assert reversed_reward.revoke_state is RevokeState.PENDING
    assert [r.id for r in rewards_due_for_revoke(session, shop_id=shop.id)] == [reward_id]
    mark_reward_revoked(session, shop.id, reward_id, now=later(33))
    assert rewards_due_for_revoke(session, shop_id=shop.id) == []
    with pytest.raises(IllegalTransition):
        reverse_reward(session, shop.id, reward_id, reason="twice", now=later(34))


def test_rewards_are_scoped_to_their_shop(session: Session) -> None:
    _, _, outcome = paid_referral(session)
    other = b.shop(session, "other.myshopify.com")
    with pytest.raises(NotFound):
        reverse_reward(session, other.id, outcome.reward_ids[0], reason="x", now=later(1))
    with pytest.raises(NotFound):
        approve_referral(
            session, other.id, session.get(Reward, outcome.reward_ids[0]).referral_id, now=later(1)
        )


def test_a_store_code_already_taken_is_a_conflict(session: Session) -> None:
    shop, anna, outcome = paid_referral(session)
    mature_held_rewards(session, now=later(31))
    with pytest.raises(Conflict):
        mark_reward_issued(
            session, shop.id, outcome.reward_ids[0], store_code=anna.code, now=later(31)
        )
    assert session.get(Referral, _referral_id(session, outcome)) is not None
