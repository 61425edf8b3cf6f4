"""The shopper pages' services on a real database: the rate limiter, the program by public id,
the advocate by code, and the advocate's status (timelines, rewards, balance) after real orders
went through `record_order_event`."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from referral_plugin.domain.events import OrderEventKind
from referral_plugin.domain.lifecycle import RewardStatus
from referral_plugin.domain.timeline import Step
from referral_plugin.errors import NotFound
from referral_plugin.models import Program as ProgramRow
from referral_plugin.models import RateLimitCounter
from referral_plugin.services.advocate_status import advocate_status
from referral_plugin.services.orders import record_order_event
from referral_plugin.services.programs import update_program
from referral_plugin.services.rate_limits import Limit, count_hits
from referral_plugin.services.rewards import mature_held_rewards
from referral_plugin.services.shopper_pages import find_advocate_code, find_program_page
from tests.integration.builders import (
    CODE_KEY,
    NOW,
    ONE_SIDED,
    advocate,
    later,
    order_event,
    program,
    shop,
)

KEY = b"rate-limit-test-key"
JOIN_IP = Limit(scope="join:ip", hits=2, window=timedelta(hours=1))
JOIN_EMAIL = Limit(scope="join:email", hits=3, window=timedelta(hours=1))


def test_rate_limit_allows_up_to_the_limit_then_says_when_to_retry(session: Session) -> None:
    shop_id = shop(session).id
    checks = [(JOIN_IP, "203.0.113.9"), (JOIN_EMAIL, "ana@example.com")]
    answers = [count_hits(session, shop_id, checks, key=KEY, now=NOW) for _ in range(3)]
    assert [a.allowed for a in answers] == [True, True, False]
    window_end = NOW.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assert answers[2].retry_at == window_end
    # another IP with the same email is still within the email's limit (3), then not
    other = [(JOIN_IP, "203.0.113.10"), (JOIN_EMAIL, "ana@example.com")]
    assert not count_hits(session, shop_id, other, key=KEY, now=NOW).allowed
    # the next window starts afresh, and the old window's rows are gone
    assert count_hits(session, shop_id, checks, key=KEY, now=window_end).allowed
    stored = session.scalars(select(RateLimitCounter).where(RateLimitCounter.shop_id == shop_id))
    rows = stored.all()
    assert {row.window_start for row in rows if row.scope == "join:ip"} >= {window_end}
    assert all(re.fullmatch(r"[0-9a-f]{64}", row.key_hash) for row in rows)
    assert not any("203.0.113" in row.key_hash or "@" in row.key_hash for row in rows)


def test_rate_limits_are_per_shop(session: Session) -> None:
    first, second = shop(session).id, shop(session, "other-store.myshopify.com").id
    checks = [(JOIN_IP, "203.0.113.9")]
    for _ in range(3):
        count_hits(session, first, checks, key=KEY, now=NOW)
    assert count_hits(session, second, checks, key=KEY, now=NOW).allowed


def test_a_program_is_found_by_its_public_id_only_while_active(session: Session) -> None:
    shop_id = shop(session).id
    created = program(session, shop_id, ONE_SIDED)
    public_id = session.scalars(
        select(ProgramRow.public_id).where(ProgramRow.id == created.id)
    ).one()
    assert public_id and len(public_id) == 16 and str(created.id) != public_id
    page = find_program_page(session, public_id)
    assert (page.shop_id, page.program.id) == (shop_id, created.id)
    assert page.store_name == "referral-tests.myshopify.com"  # no name: the domain
    with pytest.raises(NotFound):
        find_program_page(session, str(created.id))
    update_program(session, shop_id, created.id, {"active": False}, now=NOW)
    with pytest.raises(NotFound):
        find_program_page(session, public_id)


def test_an_advocate_is_found_by_code_within_their_shop_and_program(session: Session) -> None:
    shop_id = shop(session).id
    created = program(session, shop_id, ONE_SIDED)
    anna = advocate(session, shop_id, created.id)
    found = find_advocate_code(session, shop_id, created.id, anna.code.lower().replace("-", ""))
    assert (found.advocate_id, found.code) == (anna.id, anna.code)
    other_shop = shop(session, "other-store.myshopify.com").id
    with pytest.raises(NotFound):
        find_advocate_code(session, other_shop, created.id, anna.code)


def test_status_shows_each_referral_s_timeline_and_each_reward(session: Session) -> None:
    shop_id = shop(session).id
    created = program(session, shop_id, ONE_SIDED)
    anna = advocate(session, shop_id, created.id)
    for order_id, email in (("2001", "bea@example.com"), ("2002", "cid@example.com")):
        event = order_event(OrderEventKind.PAID, order_id, codes=(anna.code,), email=email)
        record_order_event(session, shop_id, event, now=NOW, code_key=CODE_KEY)
    refund = order_event(OrderEventKind.CANCELLED, "2002", email="cid@example.com", at=later(1))
    record_order_event(session, shop_id, refund, now=later(1), code_key=CODE_KEY)

    status = advocate_status(session, shop_id, anna.id)

    assert status.code == anna.code and status.clicks == 0
    first, second = status.referrals
    assert [s.step for s in first.steps] == [Step.ORDERED, Step.PENDING]
    assert first.steps[-1].until == NOW + timedelta(days=30)
    assert [s.step for s in second.steps] == [Step.ORDERED, Step.DECLINED]
    assert second.steps[-1].reason == "order_cancelled"
    by_status = {reward.status: reward for reward in status.rewards}
    assert set(by_status) == {RewardStatus.HELD, RewardStatus.REVERSED}
    assert str(by_status[RewardStatus.HELD].value) == "10.00 USD"
    assert by_status[RewardStatus.REVERSED].reason == "order_cancelled"

    mature_held_rewards(session, now=later(31))
    approved = advocate_status(session, shop_id, anna.id)
    assert [s.step for s in approved.referrals[0].steps][-1] is Step.APPROVED
    assert str(approved.balance) == "10.00 USD"


def test_status_of_another_shop_s_advocate_is_not_found(session: Session) -> None:
    shop_id = shop(session).id
    anna = advocate(session, shop_id, program(session, shop_id, ONE_SIDED).id)
    with pytest.raises(NotFound):
        advocate_status(session, shop(session, "other-store.myshopify.com").id, anna.id)
