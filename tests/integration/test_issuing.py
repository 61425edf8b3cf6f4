"""Issuing approved rewards in the store and revoking reversed ones, against a FakeStoreClient:
exactly once, paced on 429, backed off on 5xx/timeouts, terminal errors visible until retried."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from referral_plugin.domain.codes import reward_code
from referral_plugin.domain.lifecycle import IllegalTransition, RewardStatus
from referral_plugin.domain.store import (
    IssuedReward,
    RewardCodeRequest,
    StoreClientError,
    StoreUnavailable,
)
from referral_plugin.models import AuditEntry, Base, RevokeState, Reward, Shop
from referral_plugin.services.issuing import (
    IssueReport,
    issue_due_rewards,
    revoke_reversed_rewards,
)
from referral_plugin.services.rewards import reverse_reward
from referral_plugin.services.store_failures import retry_store_calls
from tests.fakes import FakeStoreClient, rejected, server_error, throttled, timed_out
from tests.integration import builders as b
from tests.integration.builders import CODE_KEY
from tests.integration.reward_builders import APPROVED_AT, approved_reward

T0 = APPROVED_AT + timedelta(minutes=1)


def issue(
    session: Session,
    shop_id: int,
    client: FakeStoreClient,
    at: datetime = T0,
    **kwargs: int,
) -> IssueReport:
    report = issue_due_rewards(
        session, shop_id=shop_id, client=client, now=at, code_key=CODE_KEY, **kwargs
    )
    session.expire_all()
    return report


def test_an_approved_discount_is_issued_once_bound_to_the_advocate(session: Session) -> None:
    given = approved_reward(session)
    store = FakeStoreClient()

    first = issue(session, given.shop.id, store)
    second = issue(session, given.shop.id, store, at=T0 + timedelta(hours=1))

    reward = session.get(Reward, given.reward.id)
    code = reward_code(reward.id, CODE_KEY)
    (request,) = store.calls_to("issue_reward")
    assert isinstance(request, RewardCodeRequest)
    assert (request.code, request.amount, request.currency) == (code, Decimal("10.00"), "USD")
    assert (request.customer_id, request.email) == ("cust-7", "anna@example.com")
    assert (reward.status, reward.store_code, reward.store_ref) == (
        RewardStatus.ISSUED,
        code,
        store.refs[code],
    )
    assert (first.issued, first.handled, second.handled) == (1, 1, 0)


def test_a_crash_between_the_store_call_and_the_commit_finds_the_same_code(
    session: Session,
) -> None:
    given = approved_reward(session)
    store = FakeStoreClient()
    crashed = session.begin_nested()
    issue(session, given.shop.id, store)
    crashed.rollback()  # the worker died before its commit: the store has the code, we do not
    assert session.get(Reward, given.reward.id).status is RewardStatus.APPROVED

    issue(session, given.shop.id, store, at=T0 + timedelta(minutes=5))

    reward = session.get(Reward, given.reward.id)
    assert len(store.calls_to("issue_reward")) == 2
    assert list(store.codes) == [reward.store_code] == [reward_code(reward.id, CODE_KEY)]
    assert reward.status is RewardStatus.ISSUED


def test_a_percent_discount_carries_its_expiry_and_minimum(session: Session) -> None:
    spec = {
        "kind": "percent_discount",
        "percent": "15",
        "expires_in_days": 30,
        "minimum_subtotal": "50.00",
    }
    given = approved_reward(session, spec)
    store = FakeStoreClient()

    issue(session, given.shop.id, store)

    (request,) = store.calls_to("issue_reward")
    assert (request.percent, request.amount) == (Decimal("15"), None)
    assert request.expires_at == T0 + timedelta(days=30)
    assert request.minimum_subtotal == Decimal("50.00")
    assert session.get(Reward, given.reward.id).expires_at == T0 + timedelta(days=30)


def test_debt_lowers_the_code_and_a_fully_absorbed_reward_needs_no_store_call(
    session: Session,
) -> None:
    partly = approved_reward(session, debt="4.00")
    fully = approved_reward(
        session, shop=partly.shop, order_id="1002", email="bo@example.com", debt="10.00"
    )
    store = FakeStoreClient()

    report = issue(session, partly.shop.id, store)

    (request,) = store.calls_to("issue_reward")
    assert request.reward_id == partly.reward.id and request.amount == Decimal("6.00")
    assert session.get(Reward, fully.reward.id).status is RewardStatus.ISSUED
    assert (report.issued, report.recorded) == (1, 1)
    notes = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.shop_id == partly.shop.id,
            AuditEntry.subject_type == "reward",
            AuditEntry.subject_id == str(fully.reward.id),
        )
    )
    assert list(notes) == ["reward.absorbed_by_debt"]


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"kind": "cash", "amount": "25.00"}, id="cash payout"),
        pytest.param({"kind": "points", "points": 100}, id="points"),
        pytest.param({"kind": "custom", "description": "Concert tickets"}, id="custom"),
    ],
)
def test_kinds_the_merchant_fulfils_are_marked_issued_without_a_store_call(
    session: Session, spec: dict[str, object]
) -> None:
    given = approved_reward(session, spec)
    store = FakeStoreClient()

    report = issue(session, given.shop.id, store)

    reward = session.get(Reward, given.reward.id)
    assert store.calls == []
    assert (reward.status, reward.store_code) == (
        RewardStatus.ISSUED,
        reward_code(reward.id, CODE_KEY),
    )
    assert report.recorded == 1


def test_a_429_pauses_the_shop_for_retry_after_then_issues(session: Session) -> None:
    first = approved_reward(session)
    second = approved_reward(session, shop=first.shop, order_id="1002", email="bo@example.com")
    store = FakeStoreClient().fail_next(throttled(retry_after=120))

    report = issue(session, first.shop.id, store)
    during = issue(session, first.shop.id, store, at=T0 + timedelta(seconds=60))

    shop = session.get(Shop, first.shop.id)
    throttled_reward = session.get(Reward, first.reward.id)
    assert shop.store_paused_until == T0 + timedelta(seconds=120)
    assert report.paused_until == shop.store_paused_until and report.retrying == 1
    assert len(store.calls) == 1  # the second reward was not tried, nor anything while paused
    assert during.handled == 0
    assert throttled_reward.store_attempts == 0  # pacing is not the reward's failure
    assert "429" in throttled_reward.last_store_error

    after = issue(session, first.shop.id, store, at=T0 + timedelta(seconds=121))

    assert after.issued == 2
    both = [session.get(Reward, first.reward.id), session.get(Reward, second.reward.id)]
    assert {reward.status for reward in both} == {RewardStatus.ISSUED}
    assert len(store.codes) == 2


def test_server_errors_and_timeouts_back_off_and_succeed_later(session: Session) -> None:
    given = approved_reward(session)
    store = FakeStoreClient().fail_next(server_error(502)).fail_next(timed_out())

    issue(session, given.shop.id, store)
    reward = session.get(Reward, given.reward.id)
    assert (reward.store_attempts, reward.next_store_attempt_at) == (1, T0 + timedelta(minutes=1))
    assert issue(session, given.shop.id, store, at=T0 + timedelta(seconds=30)).handled == 0

    issue(session, given.shop.id, store, at=T0 + timedelta(minutes=1))
    reward = session.get(Reward, given.reward.id)
    assert reward.store_attempts == 2
    assert reward.next_store_attempt_at == T0 + timedelta(minutes=3)
    assert "TIMEOUT" in reward.last_store_error

    issue(session, given.shop.id, store, at=T0 + timedelta(minutes=3))
    reward = session.get(Reward, given.reward.id)
    assert reward.status is RewardStatus.ISSUED
    assert (reward.last_store_error, reward.next_store_attempt_at) == (None, None)
    assert len(store.codes) == 1 and session.get(Shop, given.shop.id).store_paused_until is None


def test_a_retryable_error_with_retry_after_waits_that_long(session: Session) -> None:
    given = approved_reward(session)
    error = StoreClientError("unavailable", retryable=True, status=503, retry_after=300)

    issue(session, given.shop.id, FakeStoreClient().fail_next(error))

    assert session.get(Reward, given.reward.id).next_store_attempt_at == T0 + timedelta(seconds=300)


def test_a_terminal_error_is_visible_and_waits_for_an_operator(session: Session) -> None:
    given = approved_reward(session)
    store = FakeStoreClient().fail_next(rejected())

    report = issue(session, given.shop.id, store)
    later_run = issue(session, given.shop.id, store, at=T0 + timedelta(days=2))

    reward = session.get(Reward, given.reward.id)
    assert (report.failed, later_run.handled, len(store.calls)) == (1, 0, 1)
    assert (reward.status, reward.next_store_attempt_at) == (RewardStatus.APPROVED, None)
    assert "status=422 code=INVALID" in reward.last_store_error

    assert retry_store_calls(session, now=T0 + timedelta(days=2), shop_id=given.shop.id) == [
        reward.id
    ]
    issue(session, given.shop.id, store, at=T0 + timedelta(days=2))

    assert session.get(Reward, given.reward.id).status is RewardStatus.ISSUED


def test_retryable_errors_become_terminal_after_max_attempts(session: Session) -> None:
    given = approved_reward(session)
    store = FakeStoreClient().fail_next(server_error(500), times=3)

    at = T0
    for _ in range(3):
        report = issue(session, given.shop.id, store, at=at, max_attempts=3)
        at += timedelta(hours=1)

    reward = session.get(Reward, given.reward.id)
    assert (report.failed, reward.store_attempts, reward.next_store_attempt_at) == (1, 3, None)
    assert issue(session, given.shop.id, store, at=at, max_attempts=3).handled == 0


def test_retry_refuses_a_reward_with_no_store_call_left(session: Session) -> None:
    given = approved_reward(session)
    issue(session, given.shop.id, FakeStoreClient())

    with pytest.raises(IllegalTransition):
        retry_store_calls(session, now=T0, reward_id=given.reward.id)


def test_an_unavailable_store_is_recorded_and_merchant_kinds_still_proceed(
    session: Session,
) -> None:
    discount = approved_reward(session)
    other = approved_reward(session, shop=discount.shop, order_id="1002", email="bo@example.com")
    cash_spec = {"kind": "cash", "amount": "5.00"}
    cash = approved_reward(
        session, cash_spec, shop=discount.shop, order_id="1003", email="cy@example.com"
    )
    store = FakeStoreClient().fail_next(StoreUnavailable("no store client for shopify yet"))

    report = issue(session, discount.shop.id, store)

    first, second = session.get(Reward, discount.reward.id), session.get(Reward, other.reward.id)
    assert len(store.calls) == 1 and report.unavailable == "no store client for shopify yet"
    assert "no store client for shopify yet" in first.last_store_error
    assert second.last_store_error.startswith("not attempted: StoreUnavailable")
    assert {first.status, second.status} == {RewardStatus.APPROVED}
    assert first.next_store_attempt_at == T0 + timedelta(hours=1)
    assert session.get(Reward, cash.reward.id).status is RewardStatus.ISSUED


def test_a_reversed_reward_is_revoked_in_the_store_once(session: Session) -> None:
    given = approved_reward(session)
    store = FakeStoreClient()
    issue(session, given.shop.id, store)
    reverse_reward(session, given.shop.id, given.reward.id, reason="order refunded", now=T0)
    store.fail_next(server_error(503))

    failed = revoke_reversed_rewards(session, shop_id=given.shop.id, client=store, now=T0)
    retried = revoke_reversed_rewards(
        session, shop_id=given.shop.id, client=store, now=T0 + timedelta(minutes=1)
    )
    again = revoke_reversed_rewards(
        session, shop_id=given.shop.id, client=store, now=T0 + timedelta(hours=1)
    )

    reward = session.get(Reward, given.reward.id)
    assert (failed, retried, again) == (1, 1, 0)
    assert store.revoked == {reward.store_ref}
    assert (reward.revoke_state, reward.revoked_at) == (RevokeState.DONE, T0 + timedelta(minutes=1))


def test_a_reversed_cash_reward_is_revoked_without_a_store_call(session: Session) -> None:
    given = approved_reward(session, {"kind": "cash", "amount": "25.00"})
    store = FakeStoreClient()
    issue(session, given.shop.id, store)
    reverse_reward(session, given.shop.id, given.reward.id, reason="fraud", now=T0)

    assert revoke_reversed_rewards(session, shop_id=given.shop.id, client=store, now=T0) == 1
    assert store.calls == []
    assert session.get(Reward, given.reward.id).revoke_state is RevokeState.DONE


class SlowStore(FakeStoreClient):
    """Signals when a call starts and holds it, so a second worker claims meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()

    def issue_reward(self, request: RewardCodeRequest) -> IssuedReward:
        self.started.set()
        time.sleep(0.2)
        return super().issue_reward(request)


def purge_shop(engine: Engine, shop_id: int) -> None:
    """Delete a committed shop and every row that carries its shop_id (children first)."""
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if "shop_id" in table.c:
                connection.execute(delete(table).where(table.c.shop_id == shop_id))
        connection.execute(delete(Shop).where(Shop.id == shop_id))


@pytest.mark.postgres
def test_two_workers_never_issue_the_same_reward_on_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks with SKIP LOCKED are a PostgreSQL feature; SQLite has one writer")
    with Session(engine) as setup, setup.begin():
        shop = b.shop(setup, f"workers-{uuid.uuid4().hex[:8]}.myshopify.com")
        for n in range(4):
            approved_reward(setup, shop=shop, order_id=f"20{n}", email=f"w{n}@example.com")
        shop_id = shop.id
    store = SlowStore()

    def worker() -> IssueReport:
        with Session(engine) as own, own.begin():
            return issue_due_rewards(
                own, shop_id=shop_id, client=store, now=T0, code_key=CODE_KEY, limit=3
            )

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            first = pool.submit(worker)
            assert store.started.wait(5)
            second = pool.submit(worker)
            reports = [first.result(timeout=30), second.result(timeout=30)]
        with Session(engine) as check:
            statuses = check.scalars(select(Reward.status).where(Reward.shop_id == shop_id))
            assert set(statuses) == {RewardStatus.ISSUED}
    finally:
        purge_shop(engine, shop_id)

    assert sorted(report.issued for report in reports) == [1, 3]
    assert len(store.calls_to("issue_reward")) == len(store.codes) == 4
