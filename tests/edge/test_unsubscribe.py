"""The unsubscribe link through the Flask test client: GET only shows a translated page (mail
scanners open links), POST and the RFC 8058 one-click POST unsubscribe (idempotently), a forged
token is a 404, a paused program's link still works; and end to end, the link in an email read
back from a real SMTP server stops the next email to that address."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from referral_plugin.app import AppServices, app_services
from referral_plugin.email_links import (
    UnsubscribeRef,
    email_hash_key,
    read_unsubscribe_token,
    unsubscribe_token,
)
from referral_plugin.models import OutboxMessage, OutboxStatus
from referral_plugin.models.shopper_emails import EmailUnsubscribe
from referral_plugin.services.email_unsubscribes import recipient_hash
from referral_plugin.services.outbox import send_due_messages
from referral_plugin.services.programs import update_program
from referral_plugin.settings import Settings
from referral_plugin.shopper_email_jobs import prepare_shopper_emails
from referral_plugin.web.shopper_links import AdvocateRef, status_token
from tests.edge.email_stores import invite, join, stores_fixture  # noqa: F401 (fixture)
from tests.edge.test_shopper_pages import Store
from tests.integration.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
H1 = re.compile(r"<h1>(.*?)</h1>", re.S)


@pytest.fixture
def store(stores: Callable[..., Store]) -> Store:
    return stores(appearance={"color": "#ffeb3b"})


def link(settings: Settings, store: Store, email: str, language: str = "en") -> tuple[str, str]:
    """The unsubscribe path for `email` and the hash it carries."""
    email_hash = recipient_hash(email_hash_key(settings.secret_key), store.shop_id, email)
    token = unsubscribe_token(
        settings.secret_key, UnsubscribeRef(store.public_id, email_hash, language)
    )
    return f"/u/{token}", email_hash


def unsubscribed(app: Flask, store: Store) -> list[str]:
    with app_services(app).sessions.begin() as session:
        return list(
            session.scalars(
                select(EmailUnsubscribe.email_hash).where(EmailUnsubscribe.shop_id == store.shop_id)
            )
        )


def test_opening_the_link_only_asks_in_the_email_s_language(
    app: Flask, client: FlaskClient, settings: Settings, store: Store
) -> None:
    path, _ = link(settings, store, "ola@example.com", "it")
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="it" dir="ltr">' in html
    assert H1.search(html).group(1) == "Annullare l&#39;iscrizione alle email di Bella Ceramics?"
    assert '<form method="post">' in html and "Annulla l'iscrizione</button>" in html
    assert "--brand: #ffeb3b; --on-brand: #000000;" in html  # the store's colour, readable
    assert unsubscribed(app, store) == []

    persian, _ = link(settings, store, "ola@example.com", "fa")
    assert '<html lang="fa" dir="rtl">' in client.get(persian).get_data(as_text=True)
    browser = client.get(persian, headers={"Accept-Language": "pl"}).get_data(as_text=True)
    assert '<html lang="pl" dir="ltr">' in browser  # the reader's browser wins


def test_pressing_the_button_unsubscribes_once(
    app: Flask, client: FlaskClient, settings: Settings, store: Store
) -> None:
    path, email_hash = link(settings, store, "Ola@Example.com")
    first, again = client.post(path), client.post(path)
    assert first.status_code == again.status_code == 200
    assert H1.search(first.get_data(as_text=True)).group(1) == "You are unsubscribed"
    assert first.get_data(as_text=True) == again.get_data(as_text=True)
    assert unsubscribed(app, store) == [email_hash]


def test_the_one_click_post_of_a_mail_provider_unsubscribes_without_cookies(
    app: Flask, settings: Settings, store: Store
) -> None:
    path, email_hash = link(settings, store, "ola@example.com")
    provider = app.test_client(use_cookies=False)
    answer = provider.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 200
    assert unsubscribed(app, store) == [email_hash]


def test_a_forged_or_foreign_token_is_not_found(
    app: Flask, client: FlaskClient, settings: Settings, store: Store
) -> None:
    path, _ = link(settings, store, "ola@example.com")
    forged = path[:-3] + ("abc" if not path.endswith("abc") else "xyz")
    status = status_token(settings.secret_key, AdvocateRef(store.public_id, "ANNA-1234"))
    other_key = "/u/" + unsubscribe_token(
        "another-secret", UnsubscribeRef(store.public_id, "0" * 64, "en")
    )
    for bad in (forged, f"/u/{status}", other_key, "/u/not-a-token"):
        assert client.get(bad).status_code == 404
        assert client.post(bad).status_code == 404
    assert unsubscribed(app, store) == []


def test_the_link_still_works_after_the_program_is_paused(
    app: Flask, client: FlaskClient, settings: Settings, store: Store
) -> None:
    with app_services(app).sessions.begin() as session:
        update_program(session, store.shop_id, store.program_id, {"active": False}, now=NOW)
    path, email_hash = link(settings, store, "ola@example.com")
    assert client.post(path).status_code == 200
    assert unsubscribed(app, store) == [email_hash]


def test_the_link_in_a_received_email_stops_the_next_email(
    app: Flask, client: FlaskClient, settings: Settings, store: Store, smtp_server: SmtpServer
) -> None:
    services = app_services(app)
    first = invite_from(client, store, "anna@example.com", "ola@example.com")
    now = datetime.now(tz=UTC)
    deliver(services, smtp_server, now)
    (received,) = [
        m for m in smtp_server.handler.received if m["X-Envelope-To"] == "ola@example.com"
    ]
    url = received["List-Unsubscribe"].strip("<>")
    assert url.startswith(f"{settings.public_base_url}/u/")
    ref = read_unsubscribe_token(settings.secret_key, url.rsplit("/", 1)[1])
    assert ref is not None and ref.public_id == store.public_id

    assert client.post(url.removeprefix(settings.public_base_url)).status_code == 200
    second = invite_from(app.test_client(), store, "bob@example.com", "ola@example.com")
    with services.sessions.begin() as session:
        prepare_shopper_emails(session, now=now, services=services)
    assert first == 303 and second == 303  # the same answer for Bob
    with services.sessions.begin() as session:
        rows = session.scalars(
            select(OutboxMessage.status).where(OutboxMessage.shop_id == store.shop_id)
        ).all()
    assert rows == [OutboxStatus.SENT]  # Bob's invitation was never queued


def deliver(services: AppServices, smtp_server: SmtpServer, now: datetime) -> None:
    """The worker's email steps until nothing is left to do (mail of other tests in the
    database may be queued ahead of this test's)."""
    for _ in range(100):
        with services.sessions.begin() as session:
            prepared = prepare_shopper_emails(session, now=now, services=services)
        report = send_due_messages(services.sessions, mailer=smtp_server.mailer(), now=now)
        if not prepared and not (report.sent or report.failed or report.dead):
            return


def invite_from(client: FlaskClient, store: Store, advocate: str, friend: str) -> int:
    """Join as `advocate` and invite `friend` from the share page; the answer's status."""
    return invite(client, join(client, store, advocate), friend).status_code
