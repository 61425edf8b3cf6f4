"""record_order_event: decisions persisted once, and every arrival order converging."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from referral_plugin.domain.decisions import Beneficiary, Outcome
from referral_plugin.domain.events import OrderEvent, OrderEventKind
from referral_plugin.domain.lifecycle import ReferralStatus, RewardStatus
from referral_plugin.models import (
    Advocate,
    Conversion,
    LedgerEntry,
    LedgerKind,
    RevokeState,
    Reward,
)
from referral_plugin.services.orders import OrderOutcome, record_order_event
from referral_plugin.services.rewards import (
    advocate_balance,
    mark_reward_issued,
    mature_held_rewards,
)
from tests.integration import builders as b
from tests.integration.builders import NOW, later

PLACED, PAID = OrderEventKind.PLACED, OrderEventKind.PAID
CANCELLED, REFUNDED = OrderEventKind.CANCELLED, OrderEventKind.REFUNDED


def record(session: Session, shop_id: int, event: OrderEvent, at=NOW) -> OrderOutcome:
    return record_order_event(session, shop_id, event, now=at, code_key=b.CODE_KEY)


def setup(session: Session, config: dict, **changes):
    shop = b.shop(session)
    program = b.program(session, shop.id, config, **changes)
    anna = b.advocate(session, shop.id, program.id)
    return shop, program, anna


def advocate_row(session: Session, advocate_id: int) -> Advocate:
    session.expire_all()
    return session.get(Advocate, advocate_id)


def rewards_of(session: Session, outcome: OrderOutcome) -> dict[str, Reward]:
    return {r.rule_key: session.get(Reward, r.id) for r in outcome.rewards}


def assert_ledger_matches(session: Session, shop_id: int, advocate_id: int) -> None:
    sums = advocate_balance(session, shop_id, advocate_id)
    assert sums["ledger_balance"] == sums["balance"]
    assert sums["ledger_points"] == sums["points"]


def test_one_sided_referral_is_held_when_paid(session: Session) -> None:
    shop, _, anna = setup(session, b.ONE_SIDED)
    placed = record(session, shop.id, b.order_event(PLACED, codes=(anna.code,)))
    assert placed.outcome is Outcome.ACCEPTED
    assert placed.referral_status is ReferralStatus.PENDING
    assert [(r.rule_key, r.status, r.value) for r in placed.rewards] == [
        ("advocate", RewardStatus.PENDING, Decimal("10.00"))
    ]
    paid = record(session, shop.id, b.order_event(PAID, codes=(anna.code,), at=later(hours=1)))
    assert paid.referral_status is ReferralStatus.CONVERTED
    reward = rewards_of(session, paid)["advocate"]
    assert reward.status is RewardStatus.HELD
    assert reward.hold_until == later(hours=1) + timedelta(days=30)
    row = advocate_row(session, anna.id)
    assert (row.balance, row.successful_referrals) == (Decimal("10.00"), 1)
    assert_ledger_matches(session, shop.id, anna.id)


def test_two_sided_friend_discount_is_redeemed_at_checkout(session: Session) -> None:
    shop, _, anna = setup(session, b.TWO_SIDED)
    outcome = record(session, shop.id, b.order_event(PAID, codes=(anna.code.lower(),)))
    by_beneficiary = {r.beneficiary: r for r in outcome.rewards}
    assert by_beneficiary[Beneficiary.ADVOCATE].status is RewardStatus.HELD
    assert by_beneficiary[Beneficiary.ADVOCATE].value == Decimal("20.00")
    assert by_beneficiary[Beneficiary.FRIEND].status is RewardStatus.REDEEMED
    assert advocate_row(session, anna.id).balance == Decimal("20.00")


def test_tiered_third_referral_unlocks_the_milestone(session: Session) -> None:
    shop, _, anna = setup(session, b.TIERED)
    keys = []
    for n in range(1, 4):
        event = b.order_event(PAID, str(2000 + n), codes=(anna.code,), email=f"f{n}@example.com")
        keys.append(sorted(r.rule_key for r in record(session, shop.id, event).rewards))
    assert keys == [["advocate"], ["advocate"], ["advocate", "milestone:3"]]
    row = advocate_row(session, anna.id)
    assert (row.balance, row.successful_referrals) == (Decimal("65.00"), 3)
    assert_ledger_matches(session, shop.id, anna.id)


def test_no_code_is_an_ordinary_order(session: Session) -> None:
    shop, _, _ = setup(session, b.ONE_SIDED)
    outcome = record(session, shop.id, b.order_event(PAID))
    assert outcome.outcome is Outcome.NOT_REFERRAL
    assert outcome.referral_status is None and outcome.rewards == ()
    assert session.scalars(select(Conversion.paid).where(Conversion.shop_id == shop.id)).one()


def test_refund_notice_before_the_order_data_then_placed(session: Session) -> None:
    shop, _, anna = setup(session, b.ONE_SIDED)
    refund = b.order_event(REFUNDED, refunds=(("r1", "100.00"),), with_data=False)
    early = record(session, shop.id, refund)
    assert early.conversion_id is None
    outcome = record(session, shop.id, b.order_event(PLACED, codes=(anna.code,)))
    assert outcome.referral_status is ReferralStatus.REVERSED
    assert outcome.reward_statuses == (RewardStatus.REVERSED,)
    row = advocate_row(session, anna.id)
    assert (row.balance, row.successful_referrals) == (Decimal("0.00"), 0)
    assert_ledger_matches(session, shop.id, anna.id)


def test_paid_twice_holds_once_from_the_first_payment(session: Session) -> None:
    shop, _, anna = setup(session, b.ONE_SIDED)
    record(session, shop.id, b.order_event(PAID, codes=(anna.code,), at=later(hours=5)))
    outcome = record(session, shop.id, b.order_event(PAID, codes=(anna.code,), at=later(hours=2)))
    reward = rewards_of(session, outcome)["advocate"]
    assert reward.hold_until == later(hours=2) + timedelta(days=30)
    earned = session.scalars(
        select(func.count())
        .select_from(LedgerEntry)
        .where(LedgerEntry.shop_id == shop.id, LedgerEntry.kind == LedgerKind.EARNED)
    ).one()
    assert earned == 1


def test_cancelled_then_paid_stays_reversed(session: Session) -> None:
    shop, _, anna = setup(session, b.ONE_SIDED)
    record(session, shop.id, b.order_event(CANCELLED, codes=(anna.code,)))
    outcome = record(session, shop.id, b.order_event(PAID, codes=(anna.code,), at=later(1)))
    assert outcome.referral_status is ReferralStatus.REVERSED
    assert outcome.reward_statuses == (RewardStatus.REVERSED,)
    assert session.scalars(select(Conversion.cancelled).where(Conversion.shop_id == shop.id)).one()


def test_duplicate_event_has_no_effect(session: Session) -> None:
    shop, _, anna = setup(session, b.ONE_SIDED)
    event = b.order_event(PAID, codes=(anna.code,))
    first = record(session, shop.id, event)
    again = record(session, shop.id, event)
    assert again.duplicate and not first.duplicate
    assert again.conversion_id == first.conversion_id
    assert again.reward_ids == first.reward_ids
    assert advocate_row(session, anna.id).balance == Decimal("10.00")


def test_partial_refunds_shrink_percent_rewards_proportionally(session: Session) -> None:
    shop, _, anna = setup(session, b.TWO_SIDED)
    record(session, shop.id, b.order_event(PAID, codes=(anna.code,)))
    half = record(session, shop.id, b.order_event(REFUNDED, refunds=(("r1", "50.00"),)))
    assert rewards_of(session, half)["advocate"].value == Decimal("10.00")
    more = record(
        session,
        shop.id,
        b.order_event(REFUNDED, refunds=(("r1", "50.00"), ("r2", "25.00")), at=later(1)),
    )
    advocate_reward = rewards_of(session, more)["advocate"]
    assert (advocate_reward.value, advocate_reward.nominal_value) == (
        Decimal("5.00"),
        Decimal("20.00"),
    )
    assert advocate_reward.status is RewardStatus.HELD
    assert advocate_row(session, anna.id).balance == Decimal("5.00")
    assert_ledger_matches(session, shop.id, anna.id)


@pytest.mark.parametrize(
    ("policy", "refund", "status", "value"),
    [
        pytest.param("reverse_below_minimum", "30.00", RewardStatus.HELD, "20.00", id="keep"),
        pytest.param(
            "reverse_below_minimum", "50.00", RewardStatus.REVERSED, "20.00", id="below-minimum"
        ),
        pytest.param("proportional", "30.00", RewardStatus.HELD, "14.00", id="proportional"),
        pytest.param(
            "proportional", "50.00", RewardStatus.REVERSED, "10.00", id="proportional-below-minimum"
        ),
    ],
)
def test_partial_refund_policies(session: Session, policy, refund, status, value) -> None:
    shop, _, anna = setup(
        session, b.TWO_SIDED, partial_refund_policy=policy, conditions={"minimum_subtotal": "60.00"}
    )
    record(session, shop.id, b.order_event(PAID, codes=(anna.code,)))
    outcome = record(session, shop.id, b.order_event(REFUNDED, refunds=(("r1", refund),)))
    reward = rewards_of(session, outcome)["advocate"]
    assert (reward.status, reward.value) == (status, Decimal(value))
    assert_ledger_matches(session, shop.id, anna.id)


def issue(session: Session, shop_id: int, reward_id: int) -> str:
    assert mature_held_rewards(session, now=later(40)) >= 1
    code = f"RW-TEST-{reward_id}"
    mark_reward_issued(session, shop_id, reward_id, store_code=code, now=later(40))
    return code


def test_refund_after_issue_queues_revocation(session: Session) -> None:
    shop, _, anna = setup(session, b.ONE_SIDED)
    outcome = record(session, shop.id, b.order_event(PAID, codes=(anna.code,)))
    issue(session, shop.id, outcome.reward_ids[0])
    refund = b.order_event(REFUNDED, refunds=(("r1", "100.00"),), at=later(41))
    record(session, shop.id, refund, at=later(41))
    reward = session.get(Reward, outcome.reward_ids[0])
    assert (reward.status, reward.revoke_state) == (RewardStatus.REVERSED, RevokeState.PENDING)
    assert advocate_row(session, anna.id).balance == Decimal("0.00")
    assert_ledger_matches(session, shop.id, anna.id)


def test_redeemed_then_refunded_becomes_debt_the_next_reward_absorbs(session: Session) -> None:
    shop, _, anna = setup(session, b.ONE_SIDED)
    first = record(session, shop.id, b.order_event(PAID, "3001", codes=(anna.code,)))
    code = issue(session, shop.id, first.reward_ids[0])
    # Anna uses her reward code on her own later order: the reward is redeemed.
    own = b.order_event(PAID, "3002", codes=(code.lower(),), email="anna@example.com")
    record(session, shop.id, own, at=later(42))
    assert session.get(Reward, first.reward_ids[0]).status is RewardStatus.REDEEMED
    assert advocate_row(session, anna.id).balance == Decimal("0.00")
    refund = b.order_event(REFUNDED, "3001", refunds=(("r1", "100.00"),), at=later(43))
    record(session, shop.id, refund, at=later(43))
    notice = b.order_event(REFUNDED, "3001", refunds=(("r1", "100.00"),), at=later(44))
    record(session, shop.id, notice, at=later(44))  # a second notice claws back nothing more
    row = advocate_row(session, anna.id)
    assert (row.balance, row.debt) == (Decimal("-10.00"), Decimal("10.00"))
    second = record(
        session,
        shop.id,
        b.order_event(PAID, "3003", codes=(anna.code,), email="bob@example.com", at=later(45)),
        at=later(45),
    )
    assert mature_held_rewards(session, now=later(80)) == 1
    absorbed = session.get(Reward, second.reward_ids[0])
    assert (absorbed.status, absorbed.debt_offset) == (RewardStatus.APPROVED, Decimal("10.00"))
    row = advocate_row(session, anna.id)
    assert (row.balance, row.debt) == (Decimal("0.00"), Decimal("0.00"))
    assert_ledger_matches(session, shop.id, anna.id)
