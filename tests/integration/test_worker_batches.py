"""The drain's chunks: several deliveries in one transaction, each in its own savepoint, on a
database of the test's own."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from connectors.registry import CONNECTORS
from referral_plugin.app import AppServices, build_services
from referral_plugin.domain.events import Platform
from referral_plugin.inbox_worker import process_batch, process_chunk
from referral_plugin.models import (
    Advocate,
    Conversion,
    DeliveryStatus,
    OrderEventRecord,
    WebhookDelivery,
)
from referral_plugin.services import delivery_batches, referral_batches
from referral_plugin.services.advocate_locks import lock_chunk_advocates
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.deliveries import claim_deliveries, translate_delivery
from referral_plugin.services.order_batches import BatchItem
from referral_plugin.services.orders import apply_order_event
from referral_plugin.settings import Settings
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.inbox_support import (
    APP_SECRET,
    ReferralShop,
    order_body,
    own_database,
    referral_shop,
    store,
    utc,
)

NOW = utc(2026, 11, 20, 12)
POISON = "5002"  # the order whose delivery fails after its first effects


class PoisonConnector:
    """The real Shopify connector; order POISON also yields an event naming another shop, so
    its handler fails after the first event's effects were written."""

    def identify(self, headers: Mapping[str, str]) -> Any:
        return CONNECTORS[Platform.SHOPIFY].identify(headers)

    def translate(self, meta: Any, payload: Any) -> Any:
        events = tuple(CONNECTORS[Platform.SHOPIFY].translate(meta, payload))
        if events[0].order_id != POISON:
            return events
        return (*events, dataclasses.replace(events[0], shop="other.myshopify.com"))


@pytest.fixture
def services(tmp_path: Path) -> Iterator[AppServices]:
    with own_database(tmp_path) as url:
        settings = Settings(
            database_url=url,
            secret_key="batch-test-secret",
            encryption_key=TEST_ENCRYPTION_KEY,
            environment="test",
            instance_path=tmp_path / "instance",
            shopify_api_secret=APP_SECRET,
        )
        built = build_services(settings)
        yield built
        built.engine.dispose()


@pytest.fixture
def shop(services: AppServices) -> ReferralShop:
    with services.sessions.begin() as session:
        return referral_shop(session, services.box, NOW)


def claimed(services: AppServices, shop: ReferralShop, *order_ids: int) -> list[int]:
    with services.sessions.begin() as session:
        for order_id in order_ids:
            store(session, shop.shop_id, shop.domain, order_body(order_id, code=shop.code), now=NOW)
    with services.sessions.begin() as session:
        return claim_deliveries(session, now=NOW, limit=100, lease_seconds=60, worker="w")


def test_a_failing_delivery_rolls_back_only_its_own_savepoint(
    services: AppServices, shop: ReferralShop
) -> None:
    ids = claimed(services, shop, 5001, 5002, 5003)
    connectors = {Platform.SHOPIFY: PoisonConnector()}

    handled = process_chunk(
        services, ids, worker="w", stop=threading.Event(), clock=lambda: NOW, connectors=connectors
    )

    assert handled == 3
    with services.sessions.begin() as session:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        assert [r.status for r in rows] == [
            DeliveryStatus.DONE,
            DeliveryStatus.FAILED,
            DeliveryStatus.DONE,
        ]
        assert "other.myshopify.com" in (rows[1].last_error or "")
        decided = session.scalars(select(Conversion.order_id).order_by(Conversion.order_id))
        assert list(decided) == ["5001", "5003"]  # nothing of the failed delivery remains
        logged = set(session.scalars(select(OrderEventRecord.order_id)))
        assert logged == {"5001", "5003"}


def test_a_bug_in_the_bulk_paths_leaves_the_chunk_to_the_per_delivery_path(
    services: AppServices,
    shop: ReferralShop,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unexpected error inside the bulk or referral batch rolls back their savepoint only:
    the same chunk's transaction then applies every delivery one by one, and the error is
    logged as one."""
    ids = claimed(services, shop, 5101, 5102, 5103)

    def broken(*args: Any, **kwargs: Any) -> set[int]:
        raise RuntimeError("a bug in the referral batch")

    monkeypatch.setattr(delivery_batches, "apply_referral_rounds", broken)
    handled = process_chunk(
        services, ids, worker="w", stop=threading.Event(), clock=lambda: NOW, connectors=CONNECTORS
    )

    assert handled == 3
    with services.sessions.begin() as session:
        statuses = session.scalars(select(WebhookDelivery.status)).all()
        assert statuses == [DeliveryStatus.DONE] * 3
        decided = session.scalars(select(Conversion.order_id).order_by(Conversion.order_id))
        assert list(decided) == ["5101", "5102", "5103"]
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in errors] == ["bulk order path skipped for this chunk"]


def test_stopping_mid_chunk_commits_the_done_ones_and_releases_the_rest(
    services: AppServices, shop: ReferralShop
) -> None:
    ids = claimed(services, shop, 5101, 5102, 5103)
    stop = threading.Event()

    class StopAfterFirst(PoisonConnector):
        """Stops the drain at its first translation. Orders after the first come as their
        event twice, which the bulk path leaves: the stop meets them in the per-delivery path."""

        def translate(self, meta: Any, payload: Any) -> Any:
            stop.set()
            events = tuple(CONNECTORS[Platform.SHOPIFY].translate(meta, payload))
            return events if events[0].order_id == "5101" else (*events, events[0])

    handled = process_batch(
        services,
        ids,
        worker="w",
        stop=stop,
        clock=lambda: NOW,
        connectors={Platform.SHOPIFY: StopAfterFirst()},
    )

    assert handled == 1
    with services.sessions.begin() as session:
        rows = session.execute(
            select(WebhookDelivery.status, WebhookDelivery.attempts).order_by(WebhookDelivery.id)
        ).all()
    assert rows == [
        (DeliveryStatus.DONE, 1),
        (DeliveryStatus.PENDING, 0),
        (DeliveryStatus.PENDING, 0),
    ]


def test_apply_order_event_reports_a_duplicate_without_effect(
    services: AppServices, shop: ReferralShop
) -> None:
    ids = claimed(services, shop, 5201)
    with services.sessions.begin() as session:
        delivery = session.get(WebhookDelivery, ids[0])
        meta = CONNECTORS[Platform.SHOPIFY].identify(delivery.headers)
        (event,) = CONNECTORS[Platform.SHOPIFY].translate(meta, json.loads(delivery.body))
        first = apply_order_event(session, shop.shop_id, event, now=NOW, code_key=b"k")
        again = apply_order_event(session, shop.shop_id, event, now=NOW, code_key=b"k")
        assert (first, again) == (True, False)
        assert len(session.scalars(select(Conversion)).all()) == 1


def test_a_chunk_locks_the_advocates_its_orders_may_touch_before_processing(
    services: AppServices, shop: ReferralShop
) -> None:
    """Two workers whose chunks hold the same advocates' referrals in opposite order would
    deadlock; locking a chunk's advocates first, in id order, makes one wait instead."""
    if services.engine.dialect.name != "postgresql":
        pytest.skip("row locks: SQLite has one writer")
    with services.sessions.begin() as session:
        anna = session.scalars(select(Advocate.id).where(Advocate.shop_id == shop.shop_id)).one()
        program_id = session.scalars(select(Advocate.program_id).where(Advocate.id == anna)).one()
        ben = enroll_advocate(
            session, shop.shop_id, program_id, email="ben@example.com", now=NOW
        ).id
    with services.sessions.begin() as session:
        store(session, shop.shop_id, shop.domain, order_body(5201, code=shop.code), now=NOW)
        store(session, shop.shop_id, shop.domain, order_body(5202), now=NOW)
        deliveries = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        events = [translate_delivery(d, CONNECTORS[Platform.SHOPIFY])[0] for d in deliveries[-2:]]
    items = [BatchItem(n, shop.shop_id, event) for n, event in enumerate(events)]

    with services.sessions.begin() as session:
        assert lock_chunk_advocates(session, items) == 1
        with services.engine.connect() as other:
            anna_free = _lockable(other, anna)
            ben_free = _lockable(other, ben)

    assert (anna_free, ben_free) == (False, True)


def _lockable(connection: Any, advocate_id: int) -> bool:
    try:
        with connection.begin():
            connection.execute(
                text("SELECT id FROM advocates WHERE id = :id FOR UPDATE NOWAIT"),
                {"id": advocate_id},
            )
        return True
    except OperationalError:
        return False


def test_referral_rounds_widen_their_window_until_it_spans_what_is_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A round after the first looks at a few candidates; when it takes nothing it looks at
    twice as many, and the rounds end only once one spanning all that is left took nothing."""
    takeable = {0, 1, 15}  # one taken per round, the first the window shows
    windows: list[tuple[int, int]] = []

    def one_per_round(session: Any, items: Any, *, now: Any, code_key: Any, window: int) -> set:
        windows.append((len(items), window))
        shown = [item.ref for item in items[:window] if item.ref in takeable]
        return set(shown[:1])

    monkeypatch.setattr(referral_batches, "apply_referral_batch", one_per_round)
    items = [BatchItem(ref, 1, None) for ref in range(20)]  # type: ignore[arg-type]

    taken = referral_batches.apply_referral_rounds(None, items, now=NOW, code_key=b"")  # type: ignore[arg-type]

    assert taken == takeable
    assert windows == [(20, 20), (19, 8), (18, 8), (18, 16), (17, 8), (17, 16), (17, 32)]
