"""Inviting friends from the share page, through the Flask test client: the form and its CSRF
token, one invitation per friend address ever (never to the advocate), the same answer for a
new, an invited and an unsubscribed address, 422 next to the field for malformed input, the
rate limits per IP and per advocate, and the page's language recorded at join and invite."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from referral_plugin.app import app_services
from referral_plugin.email_links import email_hash_key
from referral_plugin.models import Advocate, OutboxMessage
from referral_plugin.services.email_unsubscribes import recipient_hash, unsubscribe
from referral_plugin.settings import Settings
from tests.edge.conftest import built_app
from tests.edge.email_stores import invite, join, stores_fixture  # noqa: F401 (fixture)
from tests.edge.test_shopper_pages import Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
THANKS = "Thank you! Your invitations are on their way."


@pytest.fixture
def app(settings: Settings, engine: Engine) -> Iterator[Flask]:
    changed = dataclasses.replace(settings, invite_limit_per_ip=4, invite_limit_per_advocate=7)
    yield from built_app(changed)


@pytest.fixture
def store(stores: Callable[..., Store]) -> Store:
    return stores()


def invite_form(client: FlaskClient, share: str) -> tuple[str, str]:
    """The invite form's action and CSRF token, as the share page shows them."""
    page = client.get(share).get_data(as_text=True)
    form = re.search(r'<form method="post" action="([^"]+)" novalidate>\s*'
                     r'<input type="hidden" name="csrf_token" value="([^"]+)">', page)  # fmt: skip
    assert form is not None, "no invite form on the share page"
    return form.group(1), form.group(2)


def invites(app: Flask, store: Store) -> list[tuple[str, str]]:
    """(recipient, language) of the store's queued invitations, oldest first."""
    with app_services(app).sessions.begin() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.shop_id == store.shop_id, OutboxMessage.kind == "invite")
            .order_by(OutboxMessage.id)
        ).all()
        return [(row.recipient, row.payload["draft"]["language"]) for row in rows]


def test_the_share_page_has_the_invite_form_unless_invitations_are_off(
    client: FlaskClient, stores: Callable[..., Store]
) -> None:
    store, quiet_store = stores(), stores(emails={"enabled": ["reward_pending"]})
    share = join(client, store, "anna@example.com")
    action, token = invite_form(client, share)
    assert action == f"{share}/invite" and len(token) > 30
    page = client.get(share).get_data(as_text=True)
    assert '<label for="emails">' in page and 'aria-describedby="emails_hint"' in page

    quiet = join(client, quiet_store, "anna@example.com")
    assert 'id="invite"' not in client.get(quiet).get_data(as_text=True)
    refused = client.post(f"{quiet}/invite", data={"emails": "ola@example.com"})
    assert refused.status_code == 404


def test_each_friend_is_invited_once_and_every_answer_is_the_same(
    app: Flask, client: FlaskClient, store: Store, settings: Settings
) -> None:
    share = join(client, store, "anna@example.com")
    with app_services(app).sessions.begin() as session:
        key = email_hash_key(settings.secret_key)
        gone = recipient_hash(key, store.shop_id, "gone@example.com")
        unsubscribe(session, store.shop_id, gone, now=NOW)

    answers = [
        invite(client, share, "ola@example.com, Marco@Example.com"),
        invite(client, share, "ola@example.com anna@example.com"),  # again, and herself
        invite(client, share, "gone@example.com"),  # unsubscribed
    ]
    assert {(a.status_code, a.headers["Location"]) for a in answers} == {(303, f"{share}#invite")}
    assert THANKS in client.get(share).get_data(as_text=True)
    assert invites(app, store) == [("ola@example.com", "en"), ("marco@example.com", "en")]


def test_without_the_form_s_token_nothing_is_sent(
    app: Flask, client: FlaskClient, store: Store
) -> None:
    share = join(client, store, "anna@example.com")
    action, _ = invite_form(client, share)
    forged = client.post(action, data={"csrf_token": "forged", "emails": "ola@example.com"})
    assert forged.status_code == 400
    assert "The form expired. Please send it again." in forged.get_data(as_text=True)
    assert invites(app, store) == []


@pytest.mark.parametrize(
    ("emails", "problem"),
    [
        ("ola@example.com, not-an-email", "This is not an email address: not-an-email"),
        (
            " ".join(f"f{n}@example.com" for n in range(6)),
            "Please enter at most 5 email addresses.",
        ),
        (" , ", "Please enter at least one email address."),
    ],
    ids=["malformed", "six addresses", "empty"],
)
def test_malformed_input_is_refused_next_to_the_field(
    app: Flask, client: FlaskClient, store: Store, emails: str, problem: str
) -> None:
    share = join(client, store, "anna@example.com")
    answer = invite(client, share, emails)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert f'<p id="emails_error" class="error">{problem}</p>' in page
    assert 'aria-invalid="true"' in page and 'aria-describedby="emails_hint emails_error"' in page
    assert f">{emails}</textarea>" in page  # what was typed stays
    assert invites(app, store) == []


def test_an_expired_or_foreign_share_link_invites_nobody(
    client: FlaskClient, stores: Callable[..., Store]
) -> None:
    first, second = stores(), stores()
    share = join(client, first, "anna@example.com")
    foreign = share.replace(first.public_id, second.public_id)
    answer = client.post(f"{foreign}/invite", data={"emails": "ola@example.com"})
    assert answer.status_code == 404
    assert "This link has expired or is not valid" in answer.get_data(as_text=True)


def test_invitations_are_limited_per_ip_and_per_advocate(
    app: Flask, client: FlaskClient, store: Store
) -> None:
    anna = join(client, store, "anna@example.com")
    first = [invite(client, anna, f"a{n}@example.com") for n in range(4)]
    assert {answer.status_code for answer in first} == {303}
    over = invite(client, anna, "a5@example.com")
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0

    elsewhere = {"environ_base": {"REMOTE_ADDR": "203.0.113.9"}}
    bob = join(client, store, "bob@example.com")
    assert (
        invite(client, bob, "b1@example.com b2@example.com b3@example.com", **elsewhere).status_code
        == 303
    )
    assert invite(client, bob, "b4@example.com b5@example.com", **elsewhere).status_code == 303
    assert (
        invite(client, bob, "b6@example.com b7@example.com b8@example.com", **elsewhere).status_code
        == 429
    )
    sent = {recipient for recipient, _ in invites(app, store)}
    assert {"b1@example.com", "b5@example.com"} <= sent and "b6@example.com" not in sent


def test_the_page_language_is_kept_at_join_and_for_invitations(
    app: Flask, client: FlaskClient, store: Store
) -> None:
    share = join(client, store, "anna@example.com", query="?lang=ro")
    assert invite(client, share, "ola@example.com").status_code == 303
    persian = app.test_client()
    join(persian, store, "reza@example.com", query="?lang=fa")

    with app_services(app).sessions.begin() as session:
        languages = dict(
            session.execute(
                select(Advocate.email, Advocate.language).where(Advocate.shop_id == store.shop_id)
            ).all()
        )
    assert languages == {"anna@example.com": "ro", "reza@example.com": "fa"}
    assert invites(app, store) == [("ola@example.com", "ro")]
