"""The worker's ensure-subscriptions job against FakeWooCommerce: webhooks WooCommerce disabled
after 7 failed deliveries come back, deleted ones are recreated, a failing store is recorded
and shown by `referral-plugin status` without stopping the others, and a shop another worker
holds is left alone. Each test has its own database: the job visits every shop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from referral_plugin import subscription_jobs
from referral_plugin.app import AppServices, build_services
from referral_plugin.cli import main
from referral_plugin.jobs import JOBS, run_job
from referral_plugin.services import shop_leases
from referral_plugin.settings import Settings
from referral_plugin.store_jobs import ShopsFailed
from referral_plugin.woocommerce_connect import connect_store
from tests.inbox_support import app_environ, own_database
from tests.woocommerce_fake import FakeWooCommerce

PUBLIC = "https://referrals.example.test"


@pytest.fixture
def environ(tmp_path: Path) -> Iterator[dict[str, str]]:
    with own_database(tmp_path) as url:
        yield app_environ(url, tmp_path, "subscriptions-test", PUBLIC)


@pytest.fixture
def services(environ: dict[str, str]) -> Iterator[AppServices]:
    built = build_services(Settings.from_env(environ))
    yield built
    built.engine.dispose()


@pytest.fixture
def store() -> Iterator[FakeWooCommerce]:
    with FakeWooCommerce() as fake:  # our public URL is not routed: every delivery fails
        yield fake


def connect(services: AppServices, store: FakeWooCommerce) -> int:
    return connect_store(
        services,
        store_url=store.url,
        consumer_key=store.consumer_key,
        consumer_secret=store.consumer_secret,
        now=datetime.now(tz=UTC),
    ).shop_id


def ours(store: FakeWooCommerce) -> dict[str, dict]:
    return {h["topic"]: h for h in store.webhooks.values() if h["name"].startswith("referral")}


def ensure(services: AppServices, sleeps: list[float] | None = None) -> int:
    return subscription_jobs.ensure_webhook_subscriptions(
        None,  # the job takes its own transactions
        now=datetime.now(tz=UTC),
        services=services,
        sleep=(sleeps if sleeps is not None else []).append,
    )


def test_disabled_and_deleted_webhooks_are_restored(
    services: AppServices, store: FakeWooCommerce
) -> None:
    connect(services, store)
    created = ours(store)["order.created"]
    for _ in range(7):  # WooCommerce disables a webhook on the 7th failure in a row
        store.deliver(created, store.add_order(modified=datetime.now(tz=UTC))["id"])
    assert created["status"] == "disabled"
    secret = store.webhook_secrets[created["id"]]
    del store.webhooks[ours(store)["order.deleted"]["id"]]  # the merchant deleted one

    assert ensure(services) == 1

    hooks = ours(store)
    assert sorted(hooks) == ["order.created", "order.deleted", "order.updated"]
    assert {hook["status"] for hook in hooks.values()} == {"active"}
    assert store.webhook_secrets[hooks["order.deleted"]["id"]] == secret
    writes = len(store.writes())
    assert ensure(services) == 1
    assert len(store.writes()) == writes  # a healthy store costs one read


def test_a_failing_store_is_recorded_and_shown_and_does_not_stop_the_others(
    services: AppServices,
    environ: dict[str, str],
    store: FakeWooCommerce,
    capsys: pytest.CaptureFixture[str],
) -> None:
    revoked = FakeWooCommerce().__enter__()
    broken = connect(services, revoked)
    del revoked.keys[revoked.consumer_key]  # the merchant revoked our key
    working = connect(services, store)
    store.webhooks.clear()
    sleeps: list[float] = []

    with pytest.raises(ShopsFailed) as raised:
        ensure(services, sleeps)
    revoked.__exit__()

    assert f"shop {broken}" in str(raised.value)
    assert sorted(ours(store)) == ["order.created", "order.deleted", "order.updated"]
    assert sleeps == [subscription_jobs.PACE_SECONDS]  # paced between the two stores
    with services.sessions.begin() as session:
        (failure,) = shop_leases.failing_shops(session, subscription_jobs.JOB)
    assert (failure.shop_id, failure.failures) == (broken, 1)
    assert working != broken

    job = next(job for job in JOBS if job.name == "ensure_webhooks")
    assert run_job(job, services) is None  # recorded as a failed run
    main(["status"], environ=environ)
    out = capsys.readouterr().out.splitlines()
    line = next(text for text in out if "ensure_webhooks" in text)
    assert "failed" in line and f"shop {broken}" in line


def test_a_shop_another_worker_holds_is_skipped(
    services: AppServices, store: FakeWooCommerce
) -> None:
    shop_id = connect(services, store)
    store.webhooks.clear()
    now = datetime.now(tz=UTC)
    with services.sessions.begin() as session:
        assert shop_leases.claim_shop(
            session, shop_id, subscription_jobs.JOB, worker="other:1", now=now,
            lease=timedelta(minutes=5),
        )  # fmt: skip

    assert ensure(services) == 0
    assert store.webhooks == {}
    with services.sessions.begin() as session:  # and a second claim fails while it is held
        assert not shop_leases.claim_shop(
            session, shop_id, subscription_jobs.JOB, worker="me:2", now=now,
            lease=timedelta(minutes=5),
        )  # fmt: skip


def test_the_worker_schedules_the_job_at_its_interval(environ: dict[str, str]) -> None:
    settings = Settings.from_env({**environ, "WEBHOOK_CHECK_INTERVAL_SECONDS": "1800"})

    job = next(job for job in JOBS if job.name == "ensure_webhooks")

    assert job.interval_seconds(settings) == 1800
    assert Settings.from_env(environ).webhook_check_interval_seconds == 3600
