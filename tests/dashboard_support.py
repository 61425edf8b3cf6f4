"""Helpers for the dashboard tests: connected shops, a signed-in browser, the forms' CSRF token,
and a referral flagged for review (paid order whose friend used a disposable email)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from referral_plugin.app import app_services, create_app
from referral_plugin.domain.events import OrderEventKind, Platform
from referral_plugin.mailer import OutgoingMail, SmtpMailer
from referral_plugin.models import OutboxMessage, Reward
from referral_plugin.services.merchant_sessions import start_session
from referral_plugin.services.orders import OrderOutcome, record_order_event
from referral_plugin.services.shops import add_shop
from referral_plugin.settings import Settings
from referral_plugin.web.dashboard.access import COOKIE_PATH, SESSION_COOKIE
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.inbox_support import own_database
from tests.integration import builders as b

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class ConnectedShop:
    id: int
    domain: str
    email: str


@contextmanager
def app_on_own_database(
    tmp: Path, clock: Callable[[], datetime] | None = None, **changes: Any
) -> Iterator[Flask]:
    """The test app (the suite's settings, with `changes`, and `clock` if given) on a
    database of its own, so what it commits (referrals, rewards, queued emails) stays out of
    the shared test database, where other tests run jobs that read every shop (maturing
    rewards, sending the outbox)."""
    with own_database(tmp) as url:
        settings = Settings(
            database_url=url, secret_key="test-secret-key", encryption_key=TEST_ENCRYPTION_KEY,
            public_base_url="https://referrals.example.test", environment="test",
            instance_path=tmp / "instance", shopify_api_key="test-api-key",
            shopify_api_secret="test-api-secret-long-enough-for-hs256",
        )  # fmt: skip
        app = create_app(replace(settings, **changes), clock=clock)
        app.config["TESTING"] = True
        try:
            yield app
        finally:
            app_services(app).engine.dispose()


def connect_shop(
    app: Flask, platform: Platform = Platform.WOOCOMMERCE, name: str = "Bella Ceramics"
) -> ConnectedShop:
    """A connected, active shop with an admin email, unique per call."""
    handle = uuid.uuid4().hex[:10]
    domain = (
        f"https://store-{handle}.example.com"
        if platform is Platform.WOOCOMMERCE
        else f"dash-{handle}.myshopify.com"
    )
    email = f"owner-{handle}@example.com"
    services = app_services(app)
    with services.sessions.begin() as session:
        shop = add_shop(
            session, platform=platform, domain=domain, currency="USD",
            credentials={"access_token": "secret"}, box=services.box, name=name, email=email,
            now=datetime.now(tz=UTC),
        )  # fmt: skip
        return ConnectedShop(id=shop.id, domain=domain, email=email)


def sign_in(app: Flask, client: FlaskClient, shop_id: int) -> str:
    """Start a session for the shop the way a used sign-in link does; the cookie is set on
    `client`. Returns the session token."""
    with app_services(app).sessions.begin() as session:
        started = start_session(
            session, shop_id, actor="merchant:owner@example.com", now=datetime.now(tz=UTC),
            lifetime=timedelta(hours=1),
        )  # fmt: skip
    client.set_cookie(SESSION_COOKIE, started.token, path=COOKIE_PATH)
    return started.token


def send_sign_in_emails(app: Flask, shop_id: int, mailer: SmtpMailer) -> int:
    """Hand the shop's queued sign-in emails to `mailer` (a real SMTP server); how many."""
    with app_services(app).sessions.begin() as session:
        queued = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.shop_id == shop_id, OutboxMessage.kind == "merchant_sign_in")
            .order_by(OutboxMessage.id)
        ).all()
        mails = [
            OutgoingMail(outbox_id=m.id, recipient=m.recipient, subject=m.payload["subject"],
                         text=m.payload["text"])
            for m in queued
        ]  # fmt: skip
    for mail in mails:
        mailer.send(mail)
    return len(mails)


def csrf_from(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def flagged_referral(
    session: Session, shop_id: int, *, order_id: str, email: str = "anna@example.com"
) -> OrderOutcome:
    """A paid order with an advocate's code whose friend used a disposable email domain: the
    referral waits in `review` with its advocate reward held."""
    program = b.program(session, shop_id, b.ONE_SIDED, name=f"Program {order_id}")
    advocate = b.advocate(session, shop_id, program.id, email=email)
    event = b.order_event(
        OrderEventKind.PAID, order_id, codes=(advocate.code,),
        email=f"friend{order_id}@mailinator.com",
    )  # fmt: skip
    return record_order_event(session, shop_id, event, now=b.NOW, code_key=b.CODE_KEY)


def referral_id_of(session: Session, outcome: OrderOutcome) -> int:
    referral_id = session.scalar(
        select(Reward.referral_id).where(Reward.id == outcome.reward_ids[0])
    )
    assert referral_id is not None
    return referral_id
