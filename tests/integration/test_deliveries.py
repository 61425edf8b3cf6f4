"""The inbox worker's services: claims and leases, processing signed deliveries into effects,
failures (parked, retried with backoff, dead-lettered), replay, release and stats."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, or_, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from connectors.registry import CONNECTORS
from referral_plugin.domain.events import Platform
from referral_plugin.models import (
    Conversion,
    DeliveryStatus,
    Reward,
    Shop,
    ShopStatus,
    WebhookDelivery,
)
from referral_plugin.services.deliveries import (
    DeliveryResult,
    claim_deliveries,
    exponential_backoff,
    process_delivery,
    record_delivery_failure,
    release_deliveries,
)
from referral_plugin.services.inbox_admin import inbox_stats, replay_deliveries
from tests.inbox_support import (
    ReferralShop,
    order_body,
    referral_shop,
    store,
    utc,
)
from tests.integration.builders import BOX, CODE_KEY
from tests.unit.connector_fixtures import raw

NOW = utc(2026, 11, 20, 12)
BACKOFF = exponential_backoff(30, 3600)
PENDING, PROCESSING, DONE = DeliveryStatus.PENDING, DeliveryStatus.PROCESSING, DeliveryStatus.DONE
FAILED, DEAD = DeliveryStatus.FAILED, DeliveryStatus.DEAD


@pytest.fixture
def inbox(session: Session) -> Session:
    """The session, with deliveries other tests committed set aside (rolled back after)."""
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.status != DONE)
        .values(status=DONE)
        .execution_options(synchronize_session=False)
    )
    return session


@pytest.fixture
def shop(inbox: Session) -> ReferralShop:
    return referral_shop(inbox, BOX, NOW)


class FailingConnector:
    """Identifies like the real Shopify connector, then fails translating with `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def identify(self, headers: Mapping[str, str]) -> Any:
        return CONNECTORS[Platform.SHOPIFY].identify(headers)

    def translate(self, meta: Any, payload: Any) -> tuple[()]:
        raise self.error


def claim(session: Session, *, at=NOW, worker="w1", limit=100, lease=60) -> list[int]:
    return claim_deliveries(session, now=at, limit=limit, lease_seconds=lease, worker=worker)


def process(
    session: Session, delivery_id: int, *, at=NOW, worker="w1", connectors=CONNECTORS, **kw
) -> DeliveryResult:
    return process_delivery(
        session,
        delivery_id,
        worker=worker,
        connectors=connectors,
        now=at,
        code_key=CODE_KEY,
        max_attempts=kw.pop("max_attempts", 8),
        backoff=BACKOFF,
    )


def row(session: Session, delivery_id: int) -> WebhookDelivery:
    return session.get(WebhookDelivery, delivery_id, populate_existing=True)


def conversions(session: Session, shop_id: int) -> list[Conversion]:
    return list(session.scalars(select(Conversion).where(Conversion.shop_id == shop_id)))


def rewards(session: Session, shop_id: int) -> list[Reward]:
    return list(session.scalars(select(Reward).where(Reward.shop_id == shop_id)))


def store_order(session: Session, shop: ReferralShop, order_id: int, **kw: Any) -> int:
    topic = kw.pop("topic", "orders/paid")
    body = order_body(order_id, code=kw.pop("code", shop.code), **kw)
    return store(session, shop.shop_id, shop.domain, body, topic=topic, now=NOW)


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (40, 3600)]
)
def test_backoff_doubles_from_the_base_up_to_the_cap(attempts: int, seconds: int) -> None:
    assert BACKOFF(attempts) == timedelta(seconds=seconds)


def test_a_claim_takes_due_deliveries_oldest_first_under_a_lease(
    inbox: Session, shop: ReferralShop
) -> None:
    first, second, third = (store_order(inbox, shop, 7000 + i) for i in range(3))
    not_due = store_order(inbox, shop, 7010)
    row(inbox, not_due).next_attempt_at = NOW + timedelta(minutes=5)
    parked = store_order(inbox, shop, 7011)
    row(inbox, parked).status, row(inbox, parked).next_attempt_at = FAILED, None
    inbox.flush()

    assert claim(inbox, limit=2) == [first, second]
    assert claim(inbox, worker="w2") == [third]
    claimed = row(inbox, first)
    assert (claimed.status, claimed.locked_by, claimed.attempts) == (PROCESSING, "w1", 1)
    assert claimed.locked_until == NOW + timedelta(seconds=60)
    assert claim(inbox, at=NOW + timedelta(seconds=59)) == []  # leases still held


def test_an_expired_lease_is_claimed_again_and_the_first_worker_then_skips_it(
    inbox: Session, shop: ReferralShop
) -> None:
    delivery_id = store_order(inbox, shop, 7100)
    assert claim(inbox, worker="killed") == [delivery_id]
    later = NOW + timedelta(seconds=61)

    assert claim(inbox, at=later, worker="w2") == [delivery_id]
    assert row(inbox, delivery_id).attempts == 2
    skipped = process(inbox, delivery_id, worker="killed", at=later)
    assert not skipped.processed and conversions(inbox, shop.shop_id) == []
    assert process(inbox, delivery_id, worker="w2", at=later).status == DONE


def test_an_authentic_order_delivery_becomes_one_conversion_with_a_held_reward(
    inbox: Session, shop: ReferralShop
) -> None:
    delivery_id = store_order(inbox, shop, 7200)
    claim(inbox)

    result = process(inbox, delivery_id)

    assert (result.processed, result.status, result.events) == (True, DONE, 1)
    delivery = row(inbox, delivery_id)
    assert (delivery.processed_at, delivery.locked_by, delivery.locked_until) == (NOW, None, None)
    (conversion,) = conversions(inbox, shop.shop_id)
    assert conversion.order_id == "7200"
    assert [(r.beneficiary, r.status) for r in rewards(inbox, shop.shop_id)] == [
        ("advocate", "held")
    ]
    assert not process(inbox, delivery_id).processed  # done: processing again is a no-op


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"{not json", "the body is not JSON", id="not-json"),
        pytest.param(b"\xff\xfe\x00", "the body is not JSON", id="not-text"),
        pytest.param(b'{"id": 1}', "subtotal_price is missing", id="translation-error"),
        pytest.param(b"[1, 2]", "cannot translate orders/paid", id="not-an-object"),
    ],
)
def test_a_malformed_authentic_payload_is_parked_with_its_reason_and_not_retried(
    inbox: Session, shop: ReferralShop, body: bytes, reason: str
) -> None:
    delivery_id = store(inbox, shop.shop_id, shop.domain, body, now=NOW)
    claim(inbox)

    result = process(inbox, delivery_id)

    delivery = row(inbox, delivery_id)
    assert (result.status, delivery.next_attempt_at, delivery.locked_by) == (FAILED, None, None)
    assert reason in delivery.last_error
    assert claim(inbox, at=NOW + timedelta(days=30)) == []


def test_a_transient_error_is_retried_with_backoff_then_dead_lettered(
    inbox: Session, shop: ReferralShop
) -> None:
    delivery_id = store_order(inbox, shop, 7300)
    flaky = {Platform.SHOPIFY: FailingConnector(RuntimeError("store API down"))}
    at, delays = NOW, []
    for _ in range(3):
        assert claim(inbox, at=at) == [delivery_id]
        result = process(inbox, delivery_id, at=at, connectors=flaky, max_attempts=3)
        delivery = row(inbox, delivery_id)
        if delivery.next_attempt_at is not None:
            delays.append(delivery.next_attempt_at - at)
            assert claim(inbox, at=delivery.next_attempt_at - timedelta(seconds=1)) == []
            at = delivery.next_attempt_at

    assert delays == [timedelta(seconds=30), timedelta(seconds=60)]
    assert (result.status, delivery.attempts, delivery.next_attempt_at) == (DEAD, 3, None)
    assert delivery.last_error == "RuntimeError: store API down"
    assert conversions(inbox, shop.shop_id) == []


def test_a_database_error_rolls_back_the_effects_and_is_retried(
    inbox: Session, shop: ReferralShop
) -> None:
    delivery_id = store_order(inbox, shop, 7350)
    claim(inbox)
    lost = OperationalError("SELECT 1", {"secret": "x"}, Exception("server closed"))
    result = process(inbox, delivery_id, connectors={Platform.SHOPIFY: FailingConnector(lost)})

    assert result.status == FAILED
    assert row(inbox, delivery_id).last_error == "Exception: server closed"  # no SQL, no params
    assert row(inbox, delivery_id).next_attempt_at == NOW + timedelta(seconds=30)


def test_a_lost_transaction_is_recorded_afresh_and_dead_at_max_attempts(
    inbox: Session, shop: ReferralShop
) -> None:
    delivery_id = store_order(inbox, shop, 7360)
    claim(inbox)
    kw = {"worker": "w1", "now": NOW, "max_attempts": 2, "backoff": BACKOFF}

    first = record_delivery_failure(inbox, delivery_id, error="OperationalError: gone", **kw)
    assert (first.status, row(inbox, delivery_id).next_attempt_at) == (FAILED, NOW + BACKOFF(1))
    claim(inbox, at=NOW + timedelta(minutes=1))
    again = record_delivery_failure(inbox, delivery_id, error="OperationalError: gone", **kw)
    assert again.status == DEAD
    assert not record_delivery_failure(inbox, delivery_id, error="x", **kw).processed


def test_a_delivery_claimed_past_max_attempts_is_dead_lettered_unprocessed(
    inbox: Session, shop: ReferralShop
) -> None:
    delivery_id = store_order(inbox, shop, 7370)
    for minute in range(3):  # a worker killed by this delivery every time: leases expire
        claim(inbox, at=NOW + timedelta(minutes=minute), lease=10)

    result = process(inbox, delivery_id, at=NOW + timedelta(minutes=3), max_attempts=2)

    assert result.status == DEAD and "gave up" in result.error
    assert conversions(inbox, shop.shop_id) == []


def test_replay_queues_failed_and_dead_deliveries_and_done_ones_by_id(
    inbox: Session, shop: ReferralShop
) -> None:
    dead, failed, done = (store_order(inbox, shop, 7400 + i) for i in range(3))
    claim(inbox)
    process(inbox, dead, connectors={Platform.SHOPIFY: FailingConnector(RuntimeError("x"))})
    row(inbox, dead).status = DEAD
    process(inbox, failed, connectors={Platform.SHOPIFY: FailingConnector(ValueError("bad"))})
    process(inbox, done)
    inbox.flush()
    later = NOW + timedelta(hours=1)

    assert replay_deliveries(inbox, failed=True, now=later) == 2
    replayed = row(inbox, failed)
    assert (replayed.status, replayed.attempts, replayed.next_attempt_at) == (PENDING, 0, later)
    assert replayed.last_error  # kept until the next run
    assert row(inbox, done).status == DONE
    assert replay_deliveries(inbox, ids=[done, 999_999_999], now=later) == 1

    assert sorted(claim(inbox, at=later)) == [dead, failed, done]
    for delivery_id in (dead, failed, done):
        assert process(inbox, delivery_id, at=later).status == DONE
    assert row(inbox, failed).last_error is None
    assert len(conversions(inbox, shop.shop_id)) == 3  # the replayed done one: no new effect


def test_release_gives_unprocessed_claims_back_with_their_attempt(
    inbox: Session, shop: ReferralShop
) -> None:
    ids = [store_order(inbox, shop, 7500 + i) for i in range(3)]
    claim(inbox)

    assert release_deliveries(inbox, ids[1:], worker="other") == 0
    assert release_deliveries(inbox, ids[1:], worker="w1") == 2

    assert [(row(inbox, i).status, row(inbox, i).attempts) for i in ids] == [
        (PROCESSING, 1),
        (PENDING, 0),
        (PENDING, 0),
    ]
    assert row(inbox, ids[1]).locked_by is None


def test_app_uninstalled_drops_the_credentials(inbox: Session, shop: ReferralShop) -> None:
    body = raw("shopify", "app_uninstalled__docs_sample")
    delivery_id = store(inbox, shop.shop_id, shop.domain, body, topic="app/uninstalled", now=NOW)
    claim(inbox)

    assert process(inbox, delivery_id).status == DONE
    uninstalled = inbox.get(Shop, shop.shop_id, populate_existing=True)
    assert (uninstalled.status, uninstalled.credentials) == (ShopStatus.UNINSTALLED, None)
    assert uninstalled.uninstalled_at == utc(2026, 11, 20, 12)  # X-Shopify-Triggered-At


def test_a_delivery_naming_another_shop_is_parked_with_a_clear_error(
    inbox: Session, shop: ReferralShop
) -> None:
    body = order_body(7600, code=shop.code)
    delivery_id = store(inbox, shop.shop_id, "someone-else.myshopify.com", body, now=NOW)
    claim(inbox)

    result = process(inbox, delivery_id)

    assert result.status == FAILED and row(inbox, delivery_id).next_attempt_at is None
    assert "names shop 'someone-else.myshopify.com'" in result.error
    assert conversions(inbox, shop.shop_id) == []


def test_inbox_stats_count_every_state(inbox: Session, shop: ReferralShop) -> None:
    ids = [store_order(inbox, shop, 7700 + i) for i in range(4)]
    claim(inbox, limit=3)
    process(inbox, ids[0])
    process(inbox, ids[1], connectors={Platform.SHOPIFY: FailingConnector(RuntimeError("x"))})

    stats = inbox_stats(inbox, now=NOW + timedelta(minutes=2))

    counts = stats.by_status
    assert (counts[PENDING], counts[PROCESSING], counts[FAILED], counts[DEAD]) == (1, 1, 1, 0)
    assert counts[DONE] >= 1
    assert stats.oldest_pending_age == timedelta(minutes=2)
    assert (stats.dead_letters, stats.parked) == (0, 0)


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="SKIP LOCKED is PostgreSQL's")
def test_two_claimers_at_once_never_share_a_delivery_nor_wait(engine: Engine) -> None:
    with Session(engine) as setup, setup.begin():
        shop = referral_shop(setup, BOX, NOW)
        ids = [store_order(setup, shop, 7800 + i) for i in range(6)]
    first, second = Session(engine), Session(engine)
    try:
        with first.begin(), second.begin():
            due = first.scalar(
                select(func.count()).where(
                    or_(
                        WebhookDelivery.status.in_([PENDING, FAILED])
                        & (WebhookDelivery.next_attempt_at <= NOW),
                        (WebhookDelivery.status == PROCESSING)
                        & (WebhookDelivery.locked_until < NOW),
                    )
                )
            )
            mine = claim(first, worker="a", limit=due - 2)  # all but our two newest, locked
            second.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting would fail
            theirs = claim(second, worker="b", limit=1000)
            assert theirs == ids[-2:] and not set(mine) & set(theirs)
            first.rollback()
            second.rollback()
    finally:
        first.close()
        second.close()
        with Session(engine) as cleanup, cleanup.begin():
            cleanup.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
