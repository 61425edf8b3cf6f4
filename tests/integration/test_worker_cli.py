"""The drain_inbox job and the worker's commands (`deliveries list|replay`, `status`), on a
database of the test's own (the drain processes every delivery it finds)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.registry import CONNECTORS
from referral_plugin.app import AppServices, app_services, build_services, create_app
from referral_plugin.cli import main
from referral_plugin.domain.events import Platform
from referral_plugin.inbox_worker import drain_inbox
from referral_plugin.jobs import JOBS, ScheduledJob, WorkerRuntime, run_job
from referral_plugin.models import Conversion, DeliveryStatus, JobRun, WebhookDelivery
from referral_plugin.settings import Settings
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.inbox_support import (
    APP_SECRET,
    ReferralShop,
    order_body,
    own_database,
    referral_shop,
    shopify_headers,
    store,
    utc,
)

NOW = utc(2026, 11, 20, 12)
DRAIN = next(job for job in JOBS if job.name == "drain_inbox")


@pytest.fixture
def own_settings(tmp_path: Path) -> Iterator[Settings]:
    with own_database(tmp_path) as url:
        yield Settings(
            database_url=url,
            secret_key="worker-test-secret",
            encryption_key=TEST_ENCRYPTION_KEY,
            environment="test",
            instance_path=tmp_path / "instance",
            shopify_api_secret=APP_SECRET,
            inbox_batch_size=2,
        )


@pytest.fixture
def services(own_settings: Settings) -> Iterator[AppServices]:
    built = build_services(own_settings)
    yield built
    built.engine.dispose()


@pytest.fixture
def shop(services: AppServices) -> ReferralShop:
    with services.sessions.begin() as session:
        return referral_shop(session, services.box, NOW)


@pytest.fixture
def environ(own_settings: Settings) -> dict[str, str]:
    return {
        "APP_ENV": "test",
        "DATABASE_URL": own_settings.database_url,
        "INSTANCE_PATH": str(own_settings.instance_path),
        "SECRET_KEY": own_settings.secret_key,
        "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
    }


def store_orders(services: AppServices, shop: ReferralShop, *bodies: bytes) -> list[int]:
    with services.sessions.begin() as session:
        return [store(session, shop.shop_id, shop.domain, body, now=NOW) for body in bodies]


def statuses(services: AppServices) -> dict[int, DeliveryStatus]:
    with services.sessions.begin() as session:
        return dict(session.execute(select(WebhookDelivery.id, WebhookDelivery.status)).all())


def count(services: AppServices, model: type) -> int:
    with services.sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(model))


def run(capsys: pytest.CaptureFixture[str], environ: dict[str, str], *argv: str):
    status = main(list(argv), environ=environ)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


class StoppingConnector:
    """The real Shopify connector, raising the worker's stop flag on its first delivery. Each
    order comes as its event twice, which the bulk path leaves to the per-delivery path."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def identify(self, headers: Mapping[str, str]) -> Any:
        return CONNECTORS[Platform.SHOPIFY].identify(headers)

    def translate(self, meta: Any, payload: Any) -> Any:
        self.stop.set()  # as SIGTERM would, in the middle of a batch
        events = tuple(CONNECTORS[Platform.SHOPIFY].translate(meta, payload))
        return (*events, events[0])


def test_a_signed_webhook_is_drained_into_a_conversion_and_the_run_recorded(
    own_settings: Settings, services: AppServices, shop: ReferralShop
) -> None:
    app = create_app(own_settings)
    body = order_body(9000, code=shop.code)
    headers = shopify_headers(shop.domain, body, "orders/paid", "evt-9000")
    assert (
        app.test_client().post("/webhooks/shopify", data=body, headers=headers).status_code == 200
    )
    app_services(app).engine.dispose()

    assert run_job(DRAIN, services, clock=lambda: NOW, runtime=WorkerRuntime(worker="h:1")) == 1

    assert list(statuses(services).values()) == [DeliveryStatus.DONE]
    assert count(services, Conversion) == 1
    with services.sessions.begin() as session:
        recorded = session.get(JobRun, "drain_inbox")
        assert (recorded.last_status, recorded.last_count, recorded.worker) == ("ok", 1, "h:1")
        assert recorded.runs == 1


def test_a_backlog_is_drained_in_one_run_batch_after_batch(
    services: AppServices, shop: ReferralShop
) -> None:
    store_orders(services, shop, *(order_body(9100 + i, code=shop.code) for i in range(5)))

    handled = drain_inbox(
        services, worker="w", stop=threading.Event(), clock=lambda: NOW, connectors=CONNECTORS
    )

    assert handled == 5  # batches of 2, 2, 1: the run went on while batches came back full
    assert set(statuses(services).values()) == {DeliveryStatus.DONE}


def test_stopping_finishes_the_current_delivery_and_releases_the_rest(
    services: AppServices, shop: ReferralShop
) -> None:
    # Deliveries of two events each take the per-delivery path, where the stop flag is checked
    # between deliveries (the bulk path applies its share of a chunk at once).
    first, second = store_orders(
        services, shop, order_body(9200, code=shop.code), order_body(9201, code=shop.code)
    )
    stop = threading.Event()
    connectors = {Platform.SHOPIFY: StoppingConnector(stop)}

    handled = drain_inbox(services, worker="w", stop=stop, clock=lambda: NOW, connectors=connectors)

    assert handled == 1
    assert statuses(services) == {first: DeliveryStatus.DONE, second: DeliveryStatus.PENDING}
    with services.sessions.begin() as session:
        released = session.get(WebhookDelivery, second)
        assert (released.attempts, released.locked_by) == (0, None)


def test_a_failing_job_run_is_recorded_with_its_error(services: AppServices) -> None:
    def failing(session: Any, *, now: Any, services: Any) -> int:
        raise RuntimeError("store API down")

    job = ScheduledJob(name="flaky", run=failing, interval_seconds=lambda s: 60)
    assert run_job(job, services, clock=lambda: NOW) is None

    with services.sessions.begin() as session:
        recorded = session.get(JobRun, "flaky")
        assert (recorded.last_status, recorded.last_error) == (
            "failed",
            "RuntimeError: store API down",
        )


def test_failed_deliveries_are_listed_and_replayed_from_the_command_line(
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
    services: AppServices,
    shop: ReferralShop,
) -> None:
    broken, fine = store_orders(services, shop, b"{oops", order_body(9300))
    run_job(DRAIN, services, clock=lambda: NOW)

    status, out, _ = run(capsys, environ, "deliveries", "list", "--status", "failed")
    assert status == 0
    assert f"{broken:>6}  {shop.domain}" in out and "the body is not JSON" in out
    assert [line.split()[0] for line in out.splitlines()[1:]] == [str(broken)]
    assert statuses(services)[fine] == DeliveryStatus.DONE

    status, out, _ = run(capsys, environ, "deliveries", "replay", "--id", str(broken))
    assert (status, out.strip()) == (
        0,
        "Queued 1 of 1 deliveries for replay; the worker processes them next.",
    )
    assert statuses(services)[broken] == DeliveryStatus.PENDING

    status, out, _ = run(capsys, environ, "deliveries", "replay", "--failed")
    assert (status, out.split(";")[0]) == (0, "Queued 0 deliveries for replay")


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (("deliveries", "replay"), "--id N (repeatable) or --failed"),
        (("deliveries", "replay", "--id", "1", "--failed"), "not both"),
        (("deliveries", "replay", "--id", "424242"), "only failed, dead or done"),
        (("deliveries", "list", "--limit", "0"), "--limit must be between 1 and 1000"),
    ],
)
def test_mistakes_are_one_line_errors_with_status_2(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], argv: tuple[str, ...], named: str
) -> None:
    status, _, err = run(capsys, environ, *argv)

    assert status == 2 and err.startswith("error: ") and named in err
    assert len(err.strip().splitlines()) == 1


def test_status_shows_the_inbox_rewards_due_and_the_last_job_runs(
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
    services: AppServices,
    shop: ReferralShop,
) -> None:
    status, out, _ = run(capsys, environ, "status")
    assert (
        status == 0
        and "Jobs: no run recorded yet" in out
        and "Oldest waiting delivery: none" in out
    )

    store_orders(services, shop, order_body(9400, code=shop.code), b"[]", order_body(9401))
    runtime = WorkerRuntime(worker="host:42")
    run_job(DRAIN, services, clock=lambda: NOW, runtime=runtime)
    store_orders(services, shop, order_body(9402))
    status, out, _ = run(capsys, environ, "status")

    assert status == 0
    lines = [line.split() for line in out.splitlines()]
    assert ["pending", "1"] in lines and ["done", "2"] in lines and ["dead", "0"] in lines
    assert ["failed", "1", "(1", "waiting", "for", "a", "replay)"] in lines
    assert "Dead letters: 0" in out and "Rewards due for issue: 0" in out
    assert any(line[:2] == ["drain_inbox", "ok"] and "host:42" in line for line in lines)


def test_settings_for_the_inbox_come_from_the_environment(environ: dict[str, str]) -> None:
    settings = Settings.from_env(
        {**environ, "INBOX_BATCH_SIZE": "7", "INBOX_LEASE_SECONDS": "9", "INBOX_MAX_ATTEMPTS": "3"}
        | {"INBOX_BACKOFF_BASE_SECONDS": "2", "INBOX_BACKOFF_MAX_SECONDS": "8"}
        | {"DRAIN_INTERVAL_SECONDS": "5"}
    )
    expected = {
        "inbox_batch_size": 7,
        "inbox_lease_seconds": 9,
        "inbox_max_attempts": 3,
        "inbox_backoff_base_seconds": 2,
        "inbox_backoff_max_seconds": 8,
        "drain_interval_seconds": 5,
    }
    assert {key: getattr(settings, key) for key in expected} == expected
    assert dataclasses.replace(settings, **expected) == settings
