"""Signing merchants in: single-use, 15-minute links and server-side sessions, stored only as
hashes; and the whole emailed-link flow through the app, the outbox and a real SMTP server."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from referral_plugin.app import app_services
from referral_plugin.domain.events import Platform
from referral_plugin.models import OutboxMessage, Shop, ShopStatus
from referral_plugin.models.merchant_access import MerchantSession, MerchantSignInLink
from referral_plugin.services import merchant_sessions as sessions
from tests.dashboard_support import (
    app_on_own_database,
    connect_shop,
    csrf_from,
    send_sign_in_emails,
)
from tests.integration import builders as b
from tests.integration.builders import NOW
from tests.integration.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401

HOUR = timedelta(hours=1)
LINK = re.compile(r"https://referrals\.example\.test(/admin/login/[A-Za-z0-9_-]+)")


def woo_shop(session: Session, email: str | None = "owner@bella.example") -> Shop:
    shop = b.shop(session, "https://bella.example")
    shop.platform, shop.email, shop.name = Platform.WOOCOMMERCE, email, "Bella"
    session.flush()
    return shop


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- the service -----------------------------------------------------------------------------


def test_a_link_signs_in_once_and_only_its_hash_is_stored(session: Session) -> None:
    shop = woo_shop(session)
    link = sessions.create_sign_in_link(session, shop.id, now=NOW)

    hashes = select(MerchantSignInLink.token_hash).where(MerchantSignInLink.shop_id == shop.id)
    assert session.scalars(hashes).all() == [sha256(link.token)]
    assert sessions.usable_sign_in_link(session, link.token, now=NOW) == "Bella"
    assert sessions.usable_sign_in_link(session, link.token, now=NOW) == "Bella"  # reading is free
    started = sessions.sign_in_with_link(session, link.token, now=NOW, lifetime=HOUR)
    with pytest.raises(sessions.SignInLinkInvalid):
        sessions.sign_in_with_link(session, link.token, now=NOW, lifetime=HOUR)

    assert started.shop_id == shop.id and started.expires_at == NOW + HOUR
    assert sessions.usable_sign_in_link(session, link.token, now=NOW) is None
    stored = session.scalars(
        select(MerchantSession).where(MerchantSession.shop_id == shop.id)
    ).one()
    assert stored.token_hash == sha256(started.token) != started.token
    assert stored.actor == "merchant:owner@bella.example"


def test_a_link_expires_after_15_minutes(session: Session) -> None:
    shop = woo_shop(session)
    link = sessions.create_sign_in_link(session, shop.id, now=NOW)
    late = NOW + timedelta(minutes=15)

    assert link.expires_at == late
    assert sessions.usable_sign_in_link(session, link.token, now=late - timedelta(seconds=1))
    assert sessions.usable_sign_in_link(session, link.token, now=late) is None
    with pytest.raises(sessions.SignInLinkInvalid):
        sessions.sign_in_with_link(session, link.token, now=late, lifetime=HOUR)


def test_an_unknown_link_or_a_link_of_an_uninstalled_shop_signs_nobody_in(
    session: Session,
) -> None:
    shop = woo_shop(session)
    link = sessions.create_sign_in_link(session, shop.id, now=NOW)
    shop.status = ShopStatus.UNINSTALLED
    session.flush()

    for token in ("made-up", link.token):
        with pytest.raises(sessions.SignInLinkInvalid):
            sessions.sign_in_with_link(session, token, now=NOW, lifetime=HOUR)


def test_a_session_ends_when_idle_at_its_end_or_when_signed_out(session: Session) -> None:
    shop = woo_shop(session)
    idle = timedelta(minutes=30)
    started = sessions.start_session(session, shop.id, actor="merchant:a", now=NOW, lifetime=HOUR)

    def who(at_minutes: float) -> int | None:
        at = NOW + timedelta(minutes=at_minutes)
        found = sessions.session_identity(session, started.token, now=at, idle=idle)
        return None if found is None else found.shop_id

    assert who(29) == shop.id  # each visit moves the idle deadline
    assert who(58) == shop.id
    assert who(60) is None  # the absolute end, however active
    other = sessions.start_session(session, shop.id, actor="merchant:a", now=NOW, lifetime=HOUR)
    assert sessions.session_identity(session, other.token, now=NOW + idle, idle=idle) is None
    third = sessions.start_session(session, shop.id, actor="merchant:a", now=NOW, lifetime=HOUR)
    sessions.end_session(session, third.token, now=NOW)
    sessions.end_session(session, third.token, now=NOW)  # idempotent
    assert sessions.session_identity(session, third.token, now=NOW, idle=idle) is None


def test_sign_in_targets_match_the_store_address_or_admin_email_of_active_shops(
    session: Session,
) -> None:
    shop = woo_shop(session, email="Owner@Bella.example")
    woo = frozenset({Platform.WOOCOMMERCE})

    def found(**query: str | None) -> list[int]:
        targets = sessions.find_sign_in_targets(
            session, domain=query.get("domain"), email=query.get("email"), platforms=woo
        )
        return [target.shop_id for target in targets]

    assert found(domain="https://bella.example") == [shop.id]
    assert found(email="owner@bella.example") == [shop.id]
    assert found(email="someone@bella.example") == []
    assert found() == []
    assert (
        sessions.find_sign_in_targets(
            session, domain="https://bella.example", email=None,
            platforms=frozenset({Platform.SHOPIFY}),
        )
        == []
    )  # fmt: skip


# --- the emailed link, end to end ------------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """On a database of this module's own: the queued sign-in emails stay out of the shared
    one, whose outbox other tests send."""
    with app_on_own_database(tmp_path_factory.mktemp("sign-in"), sign_in_limit_per_shop=2) as own:
        yield own


def ask_for_link(app: Flask, address: str) -> int:
    client = app.test_client()
    form = client.get("/admin/login")
    answer = client.post(
        "/admin/login", data={"address": address, "csrf_token": csrf_from(form.text)}
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/admin/login?sent=1")
    return answer.status_code


def queued_for(app: Flask, shop_id: int) -> list[OutboxMessage]:
    with app_services(app).sessions.begin() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.shop_id == shop_id, OutboxMessage.kind == "merchant_sign_in")
                .order_by(OutboxMessage.id)
            )
        )


def test_the_emailed_link_signs_the_merchant_in_once(app: Flask, smtp_server: SmtpServer) -> None:
    shop = connect_shop(app, name="Bella Ceramics")
    ask_for_link(app, shop.domain.upper() + "/")  # typed loosely: the canonical form matches
    assert send_sign_in_emails(app, shop.id, smtp_server.mailer()) == 1

    [received] = smtp_server.handler.received
    assert received["X-Envelope-To"] == shop.email
    assert received["Subject"] == "Sign in to the referral dashboard of Bella Ceramics"
    body = received.get_payload(decode=True).decode()
    assert "within 15 minutes" in body
    path = LINK.search(body).group(1)
    token = path.rsplit("/", 1)[1]
    with app_services(app).sessions.begin() as session:
        stored = session.scalars(
            select(MerchantSignInLink.token_hash).where(MerchantSignInLink.shop_id == shop.id)
        ).all()
    assert stored == [sha256(token)]

    browser = app.test_client()
    shown = browser.get(path)
    assert shown.status_code == 200 and "Sign in to Bella Ceramics" in shown.text
    assert browser.get(path).status_code == 200  # a mail scanner's visit consumes nothing
    signed_in = browser.post(path, data={"csrf_token": csrf_from(shown.text)})
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"].endswith("/admin/")
    cookie = signed_in.headers["Set-Cookie"]
    for attribute in ("rp_dashboard=", "Secure", "HttpOnly", "SameSite=Lax", "Path=/admin"):
        assert attribute in cookie
    assert browser.get("/admin/").status_code == 200

    again = app.test_client()
    reused = again.post(path, data={"csrf_token": csrf_from(again.get("/admin/login").text)})
    assert reused.status_code == 404 and "no longer works" in reused.text


def test_the_answer_is_the_same_for_unknown_stores_and_limits_cap_the_emails(app: Flask) -> None:
    shop = connect_shop(app)

    ask_for_link(app, "https://unknown-store.example.com")
    ask_for_link(app, "nobody@example.com")
    for _ in range(3):  # the third is over the store's limit of 2 an hour: same answer
        ask_for_link(app, shop.email)

    assert [message.recipient for message in queued_for(app, shop.id)] == [shop.email] * 2
    with app_services(app).sessions.begin() as session:
        links = session.scalar(
            select(func.count(MerchantSignInLink.id)).where(MerchantSignInLink.shop_id == shop.id)
        )
    assert links == 2


def test_a_text_that_is_neither_a_store_nor_an_email_is_named_on_the_form(app: Flask) -> None:
    client = app.test_client()
    form = client.get("/admin/login")

    answer = client.post(
        "/admin/login", data={"address": "shop", "csrf_token": csrf_from(form.text)}
    )

    assert answer.status_code == 422
    assert 'aria-invalid="true"' in answer.text and "Enter a store address" in answer.text
