"""Sending the merchant's webhooks to a real local HTTP server: signed as documented, delivered
once, retried with backoff after 5xx, timeouts and refused connections, given up after N
attempts and replayable, 410 disabling the endpoint, a long failure streak disabling it too."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from referral_plugin.db import make_engine
from referral_plugin.errors import Conflict
from referral_plugin.merchant_webhook_jobs import HttpWebhookPoster, non_public_address
from referral_plugin.models import (
    MerchantDeliveryStatus,
    MerchantWebhookDelivery,
    MerchantWebhookEndpoint,
)
from referral_plugin.services import webhook_endpoints
from referral_plugin.services.webhook_sending import SendReport, send_due_deliveries
from tests.inbox_support import own_database
from tests.integration import builders as b
from tests.integration.builders import BOX, NOW
from tests.merchant_endpoint import MerchantEndpoint, serve_merchant_endpoint


@pytest.fixture(scope="module")
def own_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database of this module's own: the sender claims due deliveries of every shop, so
    rows other modules committed to the shared database must not be in sight."""
    with own_database(tmp_path_factory.mktemp("merchant-webhooks")) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def session(own_engine: Engine) -> Iterator[Session]:
    """Like conftest's `session`, on this module's database: rolled back after each test."""
    connection = own_engine.connect()
    outer = connection.begin()
    db_session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield db_session
    finally:
        db_session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def merchant() -> Iterator[MerchantEndpoint]:
    yield from serve_merchant_endpoint()


@pytest.fixture
def sessions(session: Session) -> sessionmaker[Session]:
    """Sessions on the test's connection: each `begin()` is a savepoint."""
    return sessionmaker(
        bind=session.bind, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


def register(session: Session, merchant: MerchantEndpoint, url: str | None = None) -> int:
    """A shop with an endpoint for every event; the server learns the secret. Returns the
    shop id."""
    shop = b.shop(session)
    body = {"url": url or merchant.url, "events": ["advocate.joined", "reward.issued"]}
    _, secret = webhook_endpoints.create_endpoint(
        session, shop.id, body, box=BOX, allow_loopback=True, now=NOW
    )
    merchant.secret = secret
    return shop.id


def join(session: Session, shop_id: int, email: str = "anna@example.com") -> None:
    """A real enrollment, which records `advocate.joined` in this transaction."""
    program = b.program(session, shop_id, b.ONE_SIDED)
    b.advocate(session, shop_id, program.id, email=email)
    session.flush()


def send(
    sessions: sessionmaker[Session],
    now: datetime = NOW,
    *,
    max_attempts: int = 5,
    disable_after: timedelta = timedelta(hours=72),
    poster: HttpWebhookPoster | None = None,
    worker: str = "worker-1",
) -> SendReport:
    return send_due_deliveries(
        sessions.begin,
        poster=poster or HttpWebhookPoster(connect_timeout=1, read_timeout=2, allow_loopback=True),
        box=BOX,
        now=now,
        worker=worker,
        max_attempts=max_attempts,
        disable_after=disable_after,
        clock=lambda: datetime.now(tz=UTC),  # the receiver checks the timestamp's freshness
    )


def deliveries(session: Session) -> list[MerchantWebhookDelivery]:
    session.expire_all()
    return list(
        session.scalars(select(MerchantWebhookDelivery).order_by(MerchantWebhookDelivery.id))
    )


def endpoint(session: Session) -> MerchantWebhookEndpoint:
    session.expire_all()
    return session.scalars(select(MerchantWebhookEndpoint)).one()


def test_an_event_is_signed_as_documented_and_delivered_once(
    session: Session, sessions: sessionmaker[Session], merchant: MerchantEndpoint
) -> None:
    shop_id = register(session, merchant)
    join(session, shop_id)

    assert send(sessions) == SendReport(delivered=1)
    assert send(sessions, NOW + timedelta(hours=1)) == SendReport()  # never twice

    [request] = merchant.received
    assert request.signature_ok
    assert request.path == "/hooks/referrals"
    assert request.headers["Content-Type"] == "application/json"
    document: dict[str, Any] = request.document
    assert request.headers["X-Referral-Event-Id"] == document["id"]
    assert request.headers["X-Referral-Event"] == document["type"] == "advocate.joined"
    assert request.headers["X-Referral-Signature"].startswith(
        f"t={request.headers['X-Referral-Timestamp']},v1="
    )
    assert document["shop"] == "referral-tests.myshopify.com"
    assert document["created_at"] == "2026-03-02T12:00:00Z"
    assert document["data"]["advocate"]["email"] == "anna@example.com"
    [row] = deliveries(session)
    assert (row.status, row.attempts, row.last_status_code) == (
        MerchantDeliveryStatus.DELIVERED,
        1,
        200,
    )
    assert row.delivered_at == NOW and row.locked_by is None


def test_a_signature_with_another_secret_fails_the_receivers_check(
    session: Session, sessions: sessionmaker[Session], merchant: MerchantEndpoint
) -> None:
    shop_id = register(session, merchant)
    join(session, shop_id)
    endpoint_id = endpoint(session).id
    webhook_endpoints.rotate_secret(session, shop_id, endpoint_id, box=BOX, now=NOW)
    session.flush()  # the server still holds the old secret

    send(sessions)

    assert [r.signature_ok for r in merchant.received] == [False]


def test_a_server_error_is_retried_after_the_backoff(
    session: Session, sessions: sessionmaker[Session], merchant: MerchantEndpoint
) -> None:
    shop_id = register(session, merchant)
    join(session, shop_id)
    merchant.answer(500)

    assert send(sessions) == SendReport(retrying=1)
    [row] = deliveries(session)
    assert (row.status, row.attempts, row.last_status_code) == (
        MerchantDeliveryStatus.PENDING,
        1,
        500,
    )
    assert row.last_error == "HTTP 500"
    assert row.next_attempt_at == NOW + timedelta(minutes=1)  # retries.backoff_delay(1)
    assert endpoint(session).failing_since == NOW

    assert send(sessions, NOW + timedelta(seconds=30)) == SendReport()  # not due yet
    assert send(sessions, NOW + timedelta(seconds=61)) == SendReport(delivered=1)

    [row] = deliveries(session)
    assert (row.status, row.attempts, row.last_status_code) == (
        MerchantDeliveryStatus.DELIVERED,
        2,
        200,
    )
    assert len(merchant.received) == 2
    assert len(set(merchant.event_ids())) == 1  # the same event, the same id
    assert endpoint(session).failing_since is None


def test_a_timeout_is_retried(
    session: Session, sessions: sessionmaker[Session], merchant: MerchantEndpoint
) -> None:
    shop_id = register(session, merchant)
    join(session, shop_id)
    merchant.answer(("sleep", 1.5))

    report = send(
        sessions, poster=HttpWebhookPoster(connect_timeout=1, read_timeout=0.3, allow_loopback=True)
    )

    assert report == SendReport(retrying=1)
    [row] = deliveries(session)
    assert row.last_status_code is None
    assert row.last_error == "no answer within 0.3 s"
    assert row.next_attempt_at == NOW + timedelta(minutes=1)


def test_a_refused_connection_is_retried(
    session: Session, sessions: sessionmaker[Session], merchant: MerchantEndpoint
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    shop_id = register(session, merchant, url=f"http://127.0.0.1:{closed}/hooks")
    join(session, shop_id)

    assert send(sessions) == SendReport(retrying=1)
    [row] = deliveries(session)
    assert row.last_error == "connection failed"


def test_an_endpoint_resolving_to_this_machine_is_never_called_in_production_mode(
    session: Session, sessions: sessionmaker[Session], merchant: MerchantEndpoint
) -> None:
    """A name (not a number the API would refuse) that resolves to loopback: production's
    poster refuses before connecting, so the request never leaves."""
    port = urlsplit(merchant.url).port
    shop_id = register(session, merchant, url=f"http://localhost:{port}/hooks")
    join(session, shop_id)

    report = send(sessions, poster=HttpWebhookPoster(allow_loopback=False))

    assert report == SendReport(retrying=1)
    assert merchant.received == []
    [row] = deliveries(session)
    assert (
        row.last_error == "the endpoint's host resolves to a private or reserved address: refused"
    )


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://127.0.0.1:9/x", True),
        ("http://10.1.2.3/x", True),
        ("http://169.254.169.254/latest/meta-data", True),
        ("http://[::1]:9/x", True),
        ("http://192.168.0.10/x", True),
        ("https://93.184.215.14/x", False),
    ],
)
def test_only_public_addresses_are_called(url: str, refused: bool) -> None:
    assert (non_public_address(url, allow_loopback=False) is not None) is refused


def test_gone_fails_the_delivery_and_disables_the_endpoint(
    session: Session, sessions: sessionmaker[Session], merchant: MerchantEndpoint
) -> None:
    shop_id = register(session, merchant)
    join(session, shop_id)
    merchant.answer(410)

    assert send(sessions) == SendReport(failed=1)
    [row] = deliveries(session)
    assert (row.status, row.next_attempt_at) == (MerchantDeliveryStatus.FAILED, None)
    disabled = endpoint(session)
    assert not disabled.active
    assert disabled.disabled_reason == "the endpoint answered 410 Gone"

    with sessions.begin() as later:  # a later transaction: no active endpoint, nothing recorded
        join(later, shop_id, email="ben@example.com")
    assert len(deliveries(session)) == 1
    with pytest.raises(Conflict):
        webhook_endpoints.retry_delivery(session, shop_id, disabled.id, row.id, now=NOW)


def test_gives_up_after_max_attempts_and_a_manual_retry_delivers(
    session: Session, sessions: sessionmaker[Session], merchant: MerchantEndpoint
) -> None:
    shop_id = register(session, merchant)
    join(session, shop_id)
    merchant.answer(503, 503, 503)
    moment = NOW
    for _ in range(3):
        send(sessions, moment, max_attempts=3)
        moment += timedelta(hours=1)

    [row] = deliveries(session)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        MerchantDeliveryStatus.FAILED,
        3,
        None,
    )
    assert send(sessions, moment) == SendReport()  # failed stays failed

    view = webhook_endpoints.retry_delivery(session, shop_id, row.endpoint_id, row.id, now=moment)
    session.flush()
    assert (view["status"], view["attempts"]) == ("pending", 0)
    assert send(sessions, moment, max_attempts=3) == SendReport(delivered=1)
    assert len(merchant.received) == 4
    session.expire_all()  # the sender committed in its own sessions
    with pytest.raises(Conflict):  # delivered: a retry would send it twice
        webhook_endpoints.retry_delivery(session, shop_id, row.endpoint_id, row.id, now=moment)


def test_an_endpoint_failing_for_long_is_disabled_with_the_reason(
    session: Session, sessions: sessionmaker[Session], merchant: MerchantEndpoint
) -> None:
    shop_id = register(session, merchant)
    join(session, shop_id)
    merchant.answer(502, 502)

    send(sessions, NOW, disable_after=timedelta(hours=2))
    assert endpoint(session).active
    send(sessions, NOW + timedelta(hours=3), disable_after=timedelta(hours=2))

    disabled = endpoint(session)
    assert not disabled.active
    assert disabled.disabled_reason == "failing since 2026-03-02T12:00:00Z; last error: HTTP 502"
    [row] = deliveries(session)
    assert row.status is MerchantDeliveryStatus.PENDING  # kept; sent once re-enabled

    webhook_endpoints.update_endpoint(
        session, shop_id, disabled.id, {"active": True}, allow_loopback=True, now=NOW
    )
    session.flush()
    assert send(sessions, NOW + timedelta(hours=4)) == SendReport(delivered=1)
    assert endpoint(session).disabled_reason is None


def test_send_test_queues_a_ping_delivered_like_the_others(
    session: Session, sessions: sessionmaker[Session], merchant: MerchantEndpoint
) -> None:
    shop_id = register(session, merchant)
    endpoint_id = endpoint(session).id

    delivery_id = webhook_endpoints.send_test(session, shop_id, endpoint_id, now=NOW)
    session.flush()
    assert send(sessions) == SendReport(delivered=1)

    [request] = merchant.received
    assert request.signature_ok
    assert request.document["type"] == "ping"
    assert request.document["data"]["endpoint_id"] == str(endpoint_id)
    assert [row.id for row in deliveries(session)] == [delivery_id]
