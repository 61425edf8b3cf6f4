"""Events recorded by the real flows, in the transaction of the change, and sent by the worker's
job to a real local endpoint: enroll → advocate.joined; a signed `orders/paid` with the code
through the inbox worker → referral.created; maturing → referral.approved; issuing through the
fake store → reward.issued; a full refund → reward.reversed. Plus: a shop without endpoints
costs one query per transaction, and two workers on one database never deliver twice."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from connectors.registry import CONNECTORS
from referral_plugin.app import AppServices, build_services
from referral_plugin.domain.codes import normalize_code
from referral_plugin.domain.events import Platform
from referral_plugin.inbox_worker import drain_inbox
from referral_plugin.jobs import WorkerRuntime
from referral_plugin.merchant_webhook_jobs import HttpWebhookPoster, send_merchant_webhooks
from referral_plugin.models import MerchantDeliveryStatus, MerchantWebhookDelivery
from referral_plugin.services import issuing, merchant_webhooks, rewards, webhook_endpoints
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.programs import create_program
from referral_plugin.services.shops import add_shop
from referral_plugin.services.webhook_sending import send_due_deliveries
from referral_plugin.settings import Settings
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.fakes import FakeStoreClient
from tests.inbox_support import APP_SECRET, ONE_SIDED, order_body, own_database, refund_body, store
from tests.merchant_endpoint import MerchantEndpoint, serve_merchant_endpoint

PAID_AT = datetime(2026, 11, 20, 12, tzinfo=UTC)  # the orders' updated_at in order_body


@pytest.fixture
def services(tmp_path: Path) -> Iterator[AppServices]:
    with own_database(tmp_path) as url:
        settings = Settings(
            database_url=url,
            secret_key="merchant-webhooks-test",
            encryption_key=TEST_ENCRYPTION_KEY,
            environment="test",
            instance_path=tmp_path / "instance",
            shopify_api_secret=APP_SECRET,
        )
        built = build_services(settings)
        yield built
        built.engine.dispose()


@pytest.fixture
def merchant() -> Iterator[MerchantEndpoint]:
    yield from serve_merchant_endpoint()


def new_shop(session: Session, services: AppServices) -> tuple[int, str]:
    domain = f"hooks-{uuid.uuid4().hex[:10]}.myshopify.com"
    shop = add_shop(
        session,
        platform=Platform.SHOPIFY,
        domain=domain,
        currency="USD",
        credentials={"access_token": "shpat_test"},
        box=services.box,
        now=PAID_AT,
    )
    return shop.id, domain


def listen(
    session: Session, services: AppServices, shop_id: int, merchant: MerchantEndpoint
) -> int:
    body = {"url": merchant.url, "events": list(merchant_webhooks.EVENT_TYPES)}
    view, merchant.secret = webhook_endpoints.create_endpoint(
        session, shop_id, body, box=services.box, allow_loopback=True, now=PAID_AT
    )
    return view["id"]


def drain(services: AppServices, now: datetime) -> int:
    return drain_inbox(
        services, worker="test", stop=threading.Event(), clock=lambda: now, connectors=CONNECTORS
    )


def run_job(services: AppServices, now: datetime) -> int:
    runtime = WorkerRuntime(worker="job-test", clock=lambda: datetime.now(tz=UTC))
    with services.sessions.begin() as unused:
        return send_merchant_webhooks(unused, now=now, services=services, runtime=runtime)


def test_the_real_flows_record_every_event_and_the_job_delivers_them(
    services: AppServices, merchant: MerchantEndpoint
) -> None:
    with services.sessions.begin() as session:
        shop_id, domain = new_shop(session, services)
        listen(session, services, shop_id, merchant)
        program = create_program(session, shop_id, ONE_SIDED, now=PAID_AT)
        advocate = enroll_advocate(
            session, shop_id, program.id, email="Anna@Example.com", now=PAID_AT
        )
        again = enroll_advocate(session, shop_id, program.id, email="anna@example.com", now=PAID_AT)
        assert not again.created  # enrolled already: no second advocate.joined
        store(session, shop_id, domain, order_body(5001, code=advocate.code), now=PAID_AT)
    assert drain(services, PAID_AT) == 1
    matured = PAID_AT + timedelta(days=31)
    with services.sessions.begin() as session:
        assert rewards.mature_held_rewards(session, now=matured) == 1
    with services.sessions.begin() as session:
        report = issuing.issue_due_rewards(
            session,
            shop_id=shop_id,
            client=FakeStoreClient(),
            now=matured,
            code_key=services.code_key,
        )
        assert report.handled == 1
    with services.sessions.begin() as session:
        refund = refund_body(5001, 77, "404.95")
        store(session, shop_id, domain, refund, topic="refunds/create", now=matured)
    assert drain(services, matured) == 1

    assert run_job(services, matured) == 5

    documents = [r.document for r in merchant.received]
    assert all(r.signature_ok for r in merchant.received)
    assert [d["type"] for d in documents] == [
        "advocate.joined",
        "referral.created",
        "referral.approved",
        "reward.issued",
        "reward.reversed",
    ]
    assert {d["shop"] for d in documents} == {domain}
    joined, created, approved, issued, reversed_ = (d["data"] for d in documents)
    assert joined["advocate"]["email"] == "anna@example.com"
    assert joined["advocate"]["code"] == advocate.code
    assert created["referral"]["order_id"] == "5001"
    assert created["referral"]["code"] == normalize_code(advocate.code)
    assert created["referral"]["advocate_email"] == "anna@example.com"
    assert created["referral"]["order_subtotal"] == {"amount": "404.95", "currency": "USD"}
    assert approved["referral"]["id"] == created["referral"]["id"]
    assert approved["referral"]["approved_at"] == "2026-12-21T12:00:00Z"
    assert issued["reward"]["value"] == {"amount": "10.00", "currency": "USD"}
    assert issued["reward"]["code"]
    assert issued["reward"]["advocate_email"] == "anna@example.com"
    assert reversed_["reward"]["id"] == issued["reward"]["id"]
    assert reversed_["reward"]["status"] == "reversed"
    assert reversed_["reward"]["reversal_reason"] == "order_refunded"
    for document in documents:  # no IP, user agent or the friend's address
        text = str(document)
        assert "198.51." not in text and "friend-5001" not in text
    assert run_job(services, matured + timedelta(days=1)) == 0  # nothing twice


def test_events_wait_in_the_changes_transaction(
    services: AppServices, merchant: MerchantEndpoint
) -> None:
    with services.sessions.begin() as session:
        shop_id, _ = new_shop(session, services)
        listen(session, services, shop_id, merchant)
        program_id = create_program(session, shop_id, ONE_SIDED, now=PAID_AT).id
    session = services.sessions()
    try:
        with session.begin():
            enroll_advocate(session, shop_id, program_id, email="zoe@example.com", now=PAID_AT)
            session.rollback()  # the enrollment never happened: neither did its event
    finally:
        session.close()
    with services.sessions.begin() as session:
        assert session.scalars(select(MerchantWebhookDelivery)).all() == []


def test_an_unsubscribed_or_inactive_endpoint_gets_nothing(
    services: AppServices, merchant: MerchantEndpoint
) -> None:
    with services.sessions.begin() as session:
        shop_id, _ = new_shop(session, services)
        body = {"url": merchant.url, "events": ["reward.issued"]}
        webhook_endpoints.create_endpoint(
            session, shop_id, body, box=services.box, allow_loopback=True, now=PAID_AT
        )
        off = {**body, "events": ["advocate.joined"], "active": False}
        webhook_endpoints.create_endpoint(
            session, shop_id, off, box=services.box, allow_loopback=True, now=PAID_AT
        )
    with services.sessions.begin() as session:
        program_id = create_program(session, shop_id, ONE_SIDED, now=PAID_AT).id
        enroll_advocate(session, shop_id, program_id, email="kai@example.com", now=PAID_AT)
        assert session.scalars(select(MerchantWebhookDelivery)).all() == []


def test_a_shop_without_endpoints_costs_one_query_per_transaction(
    services: AppServices,
) -> None:
    with services.sessions.begin() as session:
        shop_id, _ = new_shop(session, services)
        program_id = create_program(session, shop_id, ONE_SIDED, now=PAID_AT).id
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "merchant_webhook" in statement:
            statements.append(statement)

    event.listen(services.engine, "before_cursor_execute", count)
    try:
        with services.sessions.begin() as session:
            for n in range(3):
                enroll_advocate(
                    session, shop_id, program_id, email=f"p{n}@example.com", now=PAID_AT
                )
    finally:
        event.remove(services.engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert statements[0].lstrip().upper().startswith("SELECT")


def test_two_workers_never_deliver_an_event_twice(
    services: AppServices, merchant: MerchantEndpoint
) -> None:
    with services.sessions.begin() as session:
        shop_id, _ = new_shop(session, services)
        endpoint_id = listen(session, services, shop_id, merchant)
        for _ in range(40):
            webhook_endpoints.send_test(session, shop_id, endpoint_id, now=PAID_AT)
    merchant.answer(*([("sleep", 0.02)] * 40))
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            send_due_deliveries(
                services.sessions.begin,
                poster=HttpWebhookPoster(allow_loopback=True),
                box=services.box,
                now=PAID_AT,
                worker=name,
                max_attempts=3,
                disable_after=timedelta(hours=1),
            )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    ids = merchant.event_ids()
    assert len(ids) == 40 and len(set(ids)) == 40
    with services.sessions.begin() as session:
        rows = session.scalars(select(MerchantWebhookDelivery)).all()
        assert {row.status for row in rows} == {MerchantDeliveryStatus.DELIVERED}
        assert {row.attempts for row in rows} == {1}
