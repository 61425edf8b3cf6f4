"""The dashboard's Grow page through the Flask test client, signed in with a cookie session, on
the hand-built shop of `tests.integration.segment_builders`: the list, the confirmation, the
invitation and its result, "invite all shown", forms without a selection or a CSRF token,
another shop's program (404)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from referral_plugin.app import app_services
from referral_plugin.email_links import email_hash_key
from referral_plugin.models import Advocate
from tests.dashboard_support import app_on_own_database, connect_shop, csrf_from, sign_in
from tests.integration.email_builders import Store
from tests.integration.segment_builders import segment_store

EMAILS = re.compile(r'name="emails" value="([^"]+)"')


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with app_on_own_database(tmp_path_factory.mktemp("grow")) as own:
        yield own


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def a_store(app: Flask) -> Store:
    services = app_services(app)
    with services.sessions.begin() as session:
        domain = f"grow-{uuid.uuid4().hex[:10]}.myshopify.com"
        return segment_store(session, domain, email_hash_key(services.settings.secret_key))


@pytest.fixture
def store(app: Flask, client: FlaskClient) -> Store:
    built = a_store(app)
    sign_in(app, client, built.shop.id)
    return built


def advocates(app: Flask, store: Store) -> set[str]:
    with app_services(app).sessions.begin() as session:
        return set(
            session.scalars(
                select(Advocate.email).where(
                    Advocate.shop_id == store.shop.id, Advocate.program_id == store.program_id
                )
            )
        )


def form(store: Store, token: str, **fields: object) -> dict[str, object]:
    return {"program": str(store.program_id), "segment": "repeat_buyers", "days": "30",
            "csrf_token": token, **fields}  # fmt: skip


def test_the_page_lists_the_segment_with_its_size(client: FlaskClient, store: Store) -> None:
    page = client.get("/admin/grow")

    assert page.status_code == 200
    assert '<a href="/admin/grow" aria-current="page">Grow</a>' in page.text
    assert "Repeat buyers: 4 customers" in page.text
    assert EMAILS.findall(page.text) == [
        "Ben@Example.com", "cara@example.com", "josmith@gmail.com", "kim@example.com",
    ]  # fmt: skip
    assert "$210.00" in page.text and "€40.00" in page.text
    high = client.get(f"/admin/grow?program={store.program_id}&segment=high_spenders")
    assert "High spenders: 1 customer" in high.text and "spent at least $1,000.00" in high.text


def test_ticked_customers_are_confirmed_then_invited_with_the_result_shown(
    app: Flask, client: FlaskClient, store: Store
) -> None:
    token = csrf_from(client.get("/admin/grow").text)
    chosen = ["cara@example.com", "kim@example.com"]

    confirm = client.post("/admin/grow/confirm", data=form(store, token, emails=chosen))
    assert confirm.status_code == 200
    assert "Invite 2 customers to" in confirm.text
    assert EMAILS.findall(confirm.text) == chosen
    assert advocates(app, store) == {"anna@example.com"}  # nothing done before confirming

    done = client.post("/admin/grow/invite", data=form(store, csrf_from(confirm.text),
                                                       emails=chosen))  # fmt: skip
    assert done.status_code == 303
    result = client.get(done.headers["Location"])
    assert "Invited 2 customers" in result.text
    assert "2 more customers of this segment can be invited" in result.text
    assert advocates(app, store) == {"anna@example.com", *chosen}
    assert EMAILS.findall(result.text) == ["Ben@Example.com", "josmith@gmail.com"]


def test_invite_all_shown_confirms_every_customer_of_the_page(
    client: FlaskClient, store: Store
) -> None:
    page = client.get("/admin/grow")
    shown = re.findall(r'name="shown" value="([^"]+)"', page.text)

    confirm = client.post(
        "/admin/grow/confirm", data=form(store, csrf_from(page.text), shown=shown, all_shown="1")
    )

    assert "Invite 4 customers to" in confirm.text
    assert EMAILS.findall(confirm.text) == shown


def test_a_form_without_a_choice_or_its_csrf_token_changes_nothing(
    app: Flask, client: FlaskClient, store: Store
) -> None:
    token = csrf_from(client.get("/admin/grow").text)

    empty = client.post("/admin/grow/confirm", data=form(store, token))
    assert empty.status_code == 422 and "Tick at least one customer" in empty.text
    forged = client.post("/admin/grow/invite", data=form(store, "x", emails=["cara@example.com"]))
    assert forged.status_code == 400
    outsider = client.post(
        "/admin/grow/invite", data=form(store, token, emails=["dan@example.com"])
    )
    assert outsider.status_code == 422 and "no longer in this segment" in outsider.text
    assert advocates(app, store) == {"anna@example.com"}


def test_a_shop_without_programs_is_told_to_create_one(app: Flask, client: FlaskClient) -> None:
    shop = connect_shop(app)
    sign_in(app, client, shop.id)

    page = client.get("/admin/grow")

    assert page.status_code == 200
    assert "No program yet." in page.text and 'name="emails"' not in page.text


def test_another_shops_program_is_not_found(app: Flask, client: FlaskClient, store: Store) -> None:
    other = a_store(app)
    token = csrf_from(client.get("/admin/grow").text)

    assert client.get(f"/admin/grow?program={other.program_id}").status_code == 404
    invite = client.post(
        "/admin/grow/invite",
        data={**form(store, token, emails=["cara@example.com"]), "program": other.program_id},
    )
    assert invite.status_code == 404
    assert advocates(app, other) == {"anna@example.com"}
