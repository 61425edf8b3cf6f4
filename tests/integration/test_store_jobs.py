"""The worker's store and mail jobs: per-shop transactions, installed and unpaused shops only,
no fake success without a store client, and mail left queued until SMTP is configured."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.registry import STORE_CLIENT_FACTORIES
from referral_plugin import store_jobs
from referral_plugin.app import AppServices, build_services
from referral_plugin.domain.events import Platform
from referral_plugin.domain.lifecycle import RewardStatus
from referral_plugin.domain.store import StoreClient, StoreUnavailable
from referral_plugin.jobs import ScheduledJob, run_job
from referral_plugin.models import (
    OutboxMessage,
    OutboxStatus,
    Reward,
    Shop,
    ShopStatus,
    WebhookDelivery,
)
from referral_plugin.services.outbox import enqueue_message
from referral_plugin.services.rewards import reverse_reward
from referral_plugin.settings import Settings
from referral_plugin.store_clients import store_client_for
from tests.fakes import FakeStoreClient, throttled
from tests.integration import builders as b
from tests.integration.builders import NOW
from tests.integration.reward_builders import APPROVED_AT, approved_reward, store_order
from tests.integration.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401

T0 = APPROVED_AT + timedelta(minutes=1)


@pytest.fixture
def services(settings: Settings, session: Session) -> Iterator[AppServices]:
    """Services whose sessions share the test's connection (savepoints, rolled back after)."""
    built = build_services(settings)
    sessions = sessionmaker(
        bind=session.bind, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield dataclasses.replace(built, sessions=sessions)
    built.engine.dispose()


class Stores:
    """One FakeStoreClient per shop, handed out like `store_client_for`."""

    def __init__(self) -> None:
        self.by_shop: dict[int, FakeStoreClient] = {}

    def __call__(self, shop: Shop, services: AppServices) -> StoreClient:
        return self.by_shop.setdefault(shop.id, FakeStoreClient())


def run(job, session: Session, services: AppServices, at=T0, **kwargs) -> int:
    handled = job(session, now=at, services=services, **kwargs)
    session.expire_all()
    return handled


def test_issue_runs_per_installed_unpaused_shop_and_issues_once(
    session: Session, services: AppServices
) -> None:
    active = approved_reward(session)
    paused = approved_reward(session, shop=b.shop(session, "paused.myshopify.com"))
    gone = approved_reward(session, shop=b.shop(session, "gone.myshopify.com"))
    paused.shop.store_paused_until = T0 + timedelta(minutes=5)
    gone.shop.status = ShopStatus.UNINSTALLED
    session.flush()
    stores = Stores()

    first = run(store_jobs.issue_rewards, session, services, client_for=stores)
    run(store_jobs.issue_rewards, session, services, client_for=stores)  # a second run

    # Other tests may have committed shops of their own: look only at this test's shops.
    assert first >= 1 and stores.by_shop[active.shop.id].codes
    mine = {active.shop.id, paused.shop.id, gone.shop.id}
    assert set(stores.by_shop) & mine == {active.shop.id}
    assert len(stores.by_shop[active.shop.id].calls) == 1  # issued once over both runs
    assert session.get(Reward, paused.reward.id).status is RewardStatus.APPROVED
    assert session.get(Reward, gone.reward.id).status is RewardStatus.APPROVED


def test_without_a_store_client_rewards_stay_approved_with_the_reason(
    session: Session, services: AppServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(STORE_CLIENT_FACTORIES, Platform.SHOPIFY)  # a platform with no client
    discount = approved_reward(session)
    cash = approved_reward(
        session, {"kind": "cash", "amount": "5.00"}, shop=discount.shop, order_id="1002",
        email="bo@example.com",
    )  # fmt: skip

    assert run(store_jobs.issue_rewards, session, services) >= 2

    waiting = session.get(Reward, discount.reward.id)
    assert waiting.status is RewardStatus.APPROVED
    assert "no store client for shopify yet" in waiting.last_store_error
    assert session.get(Reward, cash.reward.id).status is RewardStatus.ISSUED


def test_a_registered_factory_gets_the_shop_domain_and_decrypted_credentials(
    session: Session, services: AppServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = b.shop(session)
    seen: list[tuple[str, dict[str, str]]] = []
    fake = FakeStoreClient()

    def factory(domain: str, credentials: dict[str, str], settings: Settings) -> StoreClient:
        seen.append((domain, credentials))
        return fake

    monkeypatch.setitem(STORE_CLIENT_FACTORIES, shop.platform, factory)

    assert store_client_for(shop, services) is fake
    assert seen == [(shop.domain, {"access_token": "shpat_test"})]
    shop.status = ShopStatus.UNINSTALLED
    with pytest.raises(StoreUnavailable, match="uninstalled"):
        store_client_for(shop, services)


def test_one_failing_shop_does_not_stop_the_others(session: Session, services: AppServices) -> None:
    broken = approved_reward(session, shop=b.shop(session, "broken.myshopify.com"))
    healthy = approved_reward(session)
    stores = Stores()
    stores.by_shop[broken.shop.id] = FakeStoreClient().fail_next(RuntimeError("bug"))

    with pytest.raises(store_jobs.ShopsFailed, match="1 shop"):
        run(store_jobs.issue_rewards, session, services, client_for=stores)

    session.expire_all()
    assert session.get(Reward, healthy.reward.id).status is RewardStatus.ISSUED
    assert session.get(Reward, broken.reward.id).status is RewardStatus.APPROVED


def test_revoke_job_disables_reversed_rewards(session: Session, services: AppServices) -> None:
    given = approved_reward(session)
    stores = Stores()
    run(store_jobs.issue_rewards, session, services, client_for=stores)
    reverse_reward(session, given.shop.id, given.reward.id, reason="refunded", now=T0)
    session.flush()

    assert run(store_jobs.revoke_rewards, session, services, client_for=stores) == 1
    assert stores.by_shop[given.shop.id].revoked == {session.get(Reward, given.reward.id).store_ref}


def test_reconcile_job_feeds_the_inbox_and_a_throttle_pauses_the_shop(
    session: Session, services: AppServices
) -> None:
    shop = b.shop(session)
    stores = Stores()
    stores.by_shop[shop.id] = FakeStoreClient(orders=[store_order("1", NOW - timedelta(hours=1))])

    assert run(store_jobs.reconcile_orders, session, services, at=NOW, client_for=stores) == 1
    stores.by_shop[shop.id].fail_next(throttled(retry_after=60))
    later = NOW + timedelta(minutes=15)
    assert run(store_jobs.reconcile_orders, session, services, at=later, client_for=stores) == 0

    reloaded = session.get(Shop, shop.id)
    assert reloaded.store_paused_until == later + timedelta(seconds=60)
    assert reloaded.reconcile_watermark == NOW - timedelta(hours=1)
    count = session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.shop_id == shop.id))
    assert len(list(count)) == 1


def queue_mail(session: Session) -> int:
    shop = b.shop(session)
    message_id, _ = enqueue_message(
        session,
        shop_id=shop.id,
        kind="reward_issued",
        recipient="anna@example.com",
        dedup_key="reward:1",
        subject="Your reward",
        text="Here it is.",
        now=NOW,
    )
    return message_id


def test_without_smtp_the_outbox_job_reports_once_and_keeps_messages(
    session: Session, services: AppServices, caplog: pytest.LogCaptureFixture
) -> None:
    message_id = queue_mail(session)
    store_jobs._report_mail_not_configured.cache_clear()

    with caplog.at_level(logging.WARNING, logger="referral_plugin.store_jobs"):
        assert run(store_jobs.send_outbox, session, services, at=NOW) == 0
        assert run(store_jobs.send_outbox, session, services, at=NOW) == 0

    assert [r.message for r in caplog.records].count(
        "mail not configured: SMTP_URL is unset; outbox messages stay queued"
    ) == 1
    assert session.get(OutboxMessage, message_id).status is OutboxStatus.PENDING


def test_with_smtp_the_outbox_job_sends(
    session: Session, services: AppServices, smtp_server: SmtpServer
) -> None:
    message_id = queue_mail(session)
    configured = dataclasses.replace(
        services, settings=dataclasses.replace(services.settings, smtp_url=smtp_server.url)
    )

    assert run(store_jobs.send_outbox, session, configured, at=NOW) == 1
    assert session.get(OutboxMessage, message_id).status is OutboxStatus.SENT
    assert [m["Subject"] for m in smtp_server.handler.received] == ["Your reward"]


@pytest.mark.parametrize(
    "job",
    [
        store_jobs.issue_rewards,
        store_jobs.revoke_rewards,
        store_jobs.reconcile_orders,
        store_jobs.send_outbox,
    ],
    ids=lambda job: job.__name__,
)
def test_the_jobs_run_under_run_job_on_the_real_engine(
    settings: Settings, engine: Engine, job: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_job's own session stays unused, so the per-shop transactions never wait on it
    (on SQLite it would hold the single write lock). Every shop other tests left in the
    database gets an in-memory store: a test never calls a real store."""
    for platform in Platform:
        monkeypatch.setitem(STORE_CLIENT_FACTORIES, platform, lambda *_: FakeStoreClient())
    real = build_services(settings)
    try:
        scheduled = ScheduledJob(name="store", run=job, interval_seconds=lambda s: 60)
        assert isinstance(run_job(scheduled, real, clock=lambda: NOW), int)
    finally:
        real.engine.dispose()
