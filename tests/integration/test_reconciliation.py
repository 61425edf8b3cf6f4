"""Reconciliation reads recent orders back from the store into the inbox: the webhook path,
idempotent, with a watermark that only moves once everything is stored."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.registry import CONNECTORS
from referral_plugin.domain.events import OrderEvent, Platform
from referral_plugin.domain.store import StoreClientError
from referral_plugin.models import Shop, WebhookDelivery
from referral_plugin.services.reconciliation import reconcile_shop
from tests.fakes import FakeStoreClient
from tests.integration import builders as b
from tests.integration.builders import NOW
from tests.integration.reward_builders import store_order

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"


def deliveries(session: Session, shop_id: int) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.shop_id == shop_id)
    return list(session.scalars(query.order_by(WebhookDelivery.id)))


def test_the_first_run_reads_three_days_back_and_stores_orders_like_webhooks(
    session: Session,
) -> None:
    shop = b.shop(session)
    store = FakeStoreClient(
        orders=[store_order("1", NOW - timedelta(hours=5)), store_order("2", NOW - timedelta(1))]
    )

    assert reconcile_shop(session, shop_id=shop.id, client=store, now=NOW) == 2

    assert store.calls_to("orders_updated_since") == [NOW - timedelta(days=3)]
    stored = deliveries(session, shop.id)
    assert [d.topic for d in stored] == ["orders/updated", "orders/updated"]
    assert {d.headers["X-Referral-Source"] for d in stored} == {"reconciliation"}
    assert stored[0].dedup_key.startswith("reconcile:2:") and len(stored[0].dedup_key) == 36
    assert session.get(Shop, shop.id).reconcile_watermark == NOW - timedelta(hours=5)


def test_a_rerun_is_a_no_op_and_reads_from_the_watermark_minus_the_overlap(
    session: Session,
) -> None:
    shop = b.shop(session)
    store = FakeStoreClient(orders=[store_order("1", NOW - timedelta(hours=1))])
    reconcile_shop(session, shop_id=shop.id, client=store, now=NOW)

    again = reconcile_shop(session, shop_id=shop.id, client=store, now=NOW + timedelta(hours=1))

    assert again == 0 and len(deliveries(session, shop.id)) == 1
    assert store.calls_to("orders_updated_since")[-1] == NOW - timedelta(hours=1, minutes=10)


def test_a_changed_order_is_a_new_delivery_and_moves_the_watermark(session: Session) -> None:
    shop = b.shop(session)
    store = FakeStoreClient(orders=[store_order("1", NOW - timedelta(hours=1))])
    reconcile_shop(session, shop_id=shop.id, client=store, now=NOW)
    store.orders.append(store_order("1", NOW + timedelta(minutes=30), status="refunded"))

    assert reconcile_shop(session, shop_id=shop.id, client=store, now=NOW + timedelta(hours=1)) == 1

    assert len(deliveries(session, shop.id)) == 2
    assert session.get(Shop, shop.id).reconcile_watermark == NOW + timedelta(minutes=30)


def test_a_failure_mid_way_keeps_the_watermark_so_nothing_is_skipped(session: Session) -> None:
    shop = b.shop(session)
    old = store_order("1", NOW - timedelta(hours=3))
    store = FakeStoreClient(orders=[old])
    reconcile_shop(session, shop_id=shop.id, client=store, now=NOW)
    store.orders += [store_order("2", NOW - timedelta(hours=1)), store_order("3", NOW)]
    store.fail_orders_after = 2  # the page after order 2 fails

    run = session.begin_nested()
    with pytest.raises(StoreClientError):
        reconcile_shop(session, shop_id=shop.id, client=store, now=NOW + timedelta(hours=1))
    assert session.get(Shop, shop.id).reconcile_watermark == old.updated_at
    run.rollback()  # the job's transaction for this shop

    store.fail_orders_after = None
    assert reconcile_shop(session, shop_id=shop.id, client=store, now=NOW + timedelta(hours=2)) == 2
    assert session.get(Shop, shop.id).reconcile_watermark == NOW
    assert len(deliveries(session, shop.id)) == 3


def test_a_paused_shop_is_not_called(session: Session) -> None:
    shop = b.shop(session)
    shop.store_paused_until = NOW + timedelta(seconds=30)
    store = FakeStoreClient(orders=[store_order("1", NOW)])

    assert reconcile_shop(session, shop_id=shop.id, client=store, now=NOW) == 0
    assert store.calls == []


def test_a_reconciled_order_is_read_by_the_connector_like_a_webhook(session: Session) -> None:
    shop = b.shop(session)
    body = (FIXTURES / "orders_create__docs_sample.json").read_bytes()
    order = dataclasses.replace(store_order("820982911946154508", NOW), body=body)
    reconcile_shop(session, shop_id=shop.id, client=FakeStoreClient(orders=[order]), now=NOW)

    (delivery,) = deliveries(session, shop.id)
    connector = CONNECTORS[Platform.SHOPIFY]
    meta = connector.identify(delivery.headers)
    events = connector.translate(meta, json.loads(delivery.body))

    assert (meta.shop, meta.topic) == (shop.domain, "orders/updated")
    assert [(type(e), e.order_id) for e in events] == [(OrderEvent, "820982911946154508")]
    count = select(func.count()).select_from(WebhookDelivery)
    assert session.scalar(count.where(WebhookDelivery.shop_id == shop.id)) == 1
