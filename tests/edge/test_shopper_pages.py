"""The shopper pages through the Flask test client: language choice, CSRF, validation next to
the field, the same answer for a new and a known email, the rate limit, signed status links,
the merchant's copy and colour, and the admin API refusing bad appearance/copy with 422."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from referral_plugin.app import app_services
from referral_plugin.domain.events import Platform
from referral_plugin.models import Advocate
from referral_plugin.models import Program as ProgramRow
from referral_plugin.services import shops
from referral_plugin.services.programs import create_program
from referral_plugin.settings import Settings
from referral_plugin.web.shopper_links import AdvocateRef, share_token, status_token
from tests.edge.conftest import built_app

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TWO_SIDED = {
    "name": "Give 15%, get $10",
    "kind": "two_sided",
    "friend_reward": {"kind": "percent_discount", "percent": "15"},
    "advocate_reward": {"kind": "fixed_discount", "amount": "10.00"},
}
H1 = re.compile(r"<h1>(.*?)</h1>", re.S)


@pytest.fixture
def app(settings: Settings, engine: Engine) -> Iterator[Flask]:
    # The store is unreachable (port 9): joining must still work and say the code is on its way.
    changed = dataclasses.replace(
        settings, shopify_shop_origin="http://127.0.0.1:9", join_limit_per_email=2
    )
    yield from built_app(changed)


@dataclasses.dataclass(frozen=True)
class Store:
    shop_id: int
    program_id: int
    public_id: str
    token: str  # admin API


def a_store(app: Flask, **program: Any) -> Store:
    services = app_services(app)
    with services.sessions.begin() as session:
        shop = shops.add_shop(
            session, platform=Platform.SHOPIFY, domain=f"s-{uuid.uuid4().hex[:10]}.myshopify.com",
            currency="USD", credentials={"access_token": "shpat_test"}, box=services.box,
            name="Bella Ceramics", now=NOW,
        )  # fmt: skip
        created = create_program(session, shop.id, {**TWO_SIDED, **program}, now=NOW)
        public_id = session.scalars(
            select(ProgramRow.public_id).where(ProgramRow.id == created.id)
        ).one()
        return Store(shop.id, created.id, public_id, shops.issue_api_token(session, shop.id))


@pytest.fixture
def store(app: Flask) -> Store:
    return a_store(app)


def h1(response: Any) -> str:
    return H1.search(response.get_data(as_text=True)).group(1).strip()


def form_token(client: FlaskClient, store: Store) -> str:
    page = client.get(f"/p/{store.public_id}/join").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def join(client: FlaskClient, store: Store, email: str, **extra: str) -> Any:
    data = {"csrf_token": form_token(client, store), "email": email, **extra}
    return client.post(f"/p/{store.public_id}/join", data=data)


@pytest.mark.parametrize(
    ("query", "headers", "language", "headline"),
    [
        ("", {}, "en", "Give 15% off, get $10 off"),
        ("?lang=ro", {}, "ro", "Oferă reducere de 15 %, primește reducere de 10 USD"),
        ("", {"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"}, "pl",
         "Podaruj 15% rabatu, odbierz 10 USD rabatu"),
        ("?lang=it", {"Accept-Language": "pl"}, "it",
         "Regala 15% di sconto, ricevi 10 USD di sconto"),
        ("?lang=fa", {}, "fa", "15% تخفیف هدیه بدهید، \u200e$ 10 تخفیف بگیرید"),
        ("?lang=de", {"Accept-Language": "de-DE"}, "en", "Give 15% off, get $10 off"),
    ],
)  # fmt: skip
def test_the_join_page_speaks_the_chosen_language(
    client: FlaskClient, store: Store, query: str, headers: dict, language: str, headline: str
) -> None:
    response = client.get(f"/p/{store.public_id}/join{query}", headers=headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    direction = "rtl" if language == "fa" else "ltr"
    assert f'<html lang="{language}" dir="{direction}">' in html
    assert h1(response).replace("\xa0", " ") == headline.replace("\xa0", " ")


def test_an_explicit_language_is_remembered_and_the_store_language_is_the_fallback(
    app: Flask, client: FlaskClient
) -> None:
    store = a_store(app, appearance={"color": "#FFEB3B", "language": "it"})
    assert 'lang="it"' in client.get(f"/p/{store.public_id}/join").get_data(as_text=True)
    english = client.get(f"/p/{store.public_id}/join", headers={"Accept-Language": "en"})
    assert 'lang="en"' in english.get_data(as_text=True)
    client.get(f"/p/{store.public_id}/join?lang=fa")
    later = client.get(f"/p/{store.public_id}/join", headers={"Accept-Language": "en"})
    assert 'dir="rtl"' in later.get_data(as_text=True)  # the cookie wins over the browser
    html = later.get_data(as_text=True)
    assert "--brand: #ffeb3b; --on-brand: #000000;" in html  # light colour, black text


def test_the_merchant_s_copy_replaces_the_headline_in_its_language(
    app: Flask, client: FlaskClient
) -> None:
    store = a_store(app, copy={"ro": {"headline": "Cadouri pentru prieteni <3",
                                      "description": "Vase făcute de mână."}})  # fmt: skip
    romanian = client.get(f"/p/{store.public_id}/join?lang=ro")
    assert h1(romanian) == "Cadouri pentru prieteni &lt;3"  # plain text, escaped
    assert "Vase făcute de mână." in romanian.get_data(as_text=True)
    assert h1(client.get(f"/p/{store.public_id}/join?lang=en")) == "Give 15% off, get $10 off"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"appearance": {"color": "red"}}, "appearance.color"),
        ({"appearance": {"language": "de"}}, "appearance.language"),
        ({"appearance": {"font": "x"}}, "appearance.font"),
        ({"copy": {"de": {"headline": "Hallo"}}}, "copy.de"),
        ({"copy": {"ro": {"headline": "x" * 121}}}, "copy.ro.headline"),
        ({"copy": {"ro": {"title": "x"}}}, "copy.ro.title"),
        ({"copy": ["ro"]}, "copy"),
    ],
)
def test_the_admin_api_refuses_bad_appearance_and_copy_naming_the_field(
    client: FlaskClient, store: Store, change: dict, field: str
) -> None:
    response = client.patch(
        f"/api/v1/programs/{store.program_id}", json=change,
        headers={"Authorization": f"Bearer {store.token}"},
    )  # fmt: skip
    assert response.status_code == 422, response.json
    assert field in [error["field"] for error in response.json["errors"]]


def test_a_join_without_the_form_token_is_refused_and_enrolls_nobody(
    app: Flask, client: FlaskClient, store: Store
) -> None:
    response = client.post(
        f"/p/{store.public_id}/join", data={"email": "ana@example.com", "csrf_token": "forged"}
    )
    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    with app_services(app).sessions.begin() as session:
        assert (
            session.scalars(select(Advocate).where(Advocate.shop_id == store.shop_id)).all() == []
        )


def test_a_bad_email_is_answered_next_to_the_field(client: FlaskClient, store: Store) -> None:
    response = join(client, store, "ana@", first_name="Ana")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'aria-invalid="true" aria-describedby="email_error"' in html
    assert '<p id="email_error" class="error">Please enter an email address' in html
    assert 'value="Ana"' in html  # kept for correcting


SIGNED_LINK = re.compile(r"/(share|status)/[A-Za-z0-9_.-]+")


def test_a_new_and_a_known_email_get_the_same_answer(client: FlaskClient, store: Store) -> None:
    first = join(client, store, "ana@example.com", first_name="Ana")
    again = join(client, store, "ANA@example.com")
    assert first.status_code == again.status_code == 303
    pages = [client.get(r.headers["Location"]) for r in (first, again)]
    # Signed links carry their signing second; apart from that the pages are equal.
    bodies = [SIGNED_LINK.sub(r"/\1/<token>", p.get_data(as_text=True)) for p in pages]
    assert bodies[0] == bodies[1]  # same code, same words: nothing tells the two apart
    assert h1(pages[0]) == "Your code is almost ready"  # the store is unreachable right now
    assert "will work in the store in a few minutes" in bodies[0]


def test_too_many_joins_answer_429_with_when_to_try_again(
    client: FlaskClient, store: Store
) -> None:
    answers = [join(client, store, "ana@example.com") for _ in range(3)]
    assert [a.status_code for a in answers] == [303, 303, 429]
    assert int(answers[2].headers["Retry-After"]) > 0
    assert "Please try again after" in answers[2].get_data(as_text=True)
    assert join(client, store, "bea@example.com").status_code == 303  # per email


def test_the_status_page_needs_a_valid_status_link(app: Flask, client: FlaskClient) -> None:
    one_sided = {"kind": "one_sided", "friend_reward": None}  # no code goes to the store
    store = a_store(app, **one_sided)
    code = _joined_code(client, store)
    secret = app_services(app).settings.secret_key
    ref = AdvocateRef(store.public_id, code)
    good = client.get(f"/p/{store.public_id}/status/{status_token(secret, ref)}")
    assert good.status_code == 200 and code in good.get_data(as_text=True)
    assert "No orders from friends yet" in good.get_data(as_text=True)
    old = status_token(secret, ref, clock=lambda: NOW.timestamp() - 31 * 24 * 3600)
    for token in (
        status_token(secret, ref)[:-2] + "xx",  # forged
        old,  # expired
        share_token(secret, ref),  # another purpose
        status_token(secret, AdvocateRef("another", code)),  # another program
        status_token("another-secret-key", ref),
    ):
        response = client.get(f"/p/{store.public_id}/status/{token}")
        assert response.status_code == 404
        assert "Status links work for 30 days" in response.get_data(as_text=True)


def test_an_unknown_program_answers_a_404_page(client: FlaskClient) -> None:
    response = client.get("/p/not-a-program/join?lang=pl")
    assert response.status_code == 404
    assert h1(response) == "Ta strona jest niedostępna"


def _joined_code(client: FlaskClient, store: Store) -> str:
    share = client.get(join(client, store, "cid@example.com").headers["Location"])
    return re.search(r'id="code">([^<]+)<', share.get_data(as_text=True)).group(1)


def join_from(client: FlaskClient, store: Store, shopper_ip: str, email: str) -> int:
    """Join as a shopper at `shopper_ip` whose request reaches us through a router."""
    data = {"csrf_token": form_token(client, store), "email": email}
    answer = client.post(
        f"/p/{store.public_id}/join",
        data=data,
        headers={"X-Forwarded-For": shopper_ip},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},  # the router
    )
    return answer.status_code


def test_behind_a_trusted_proxy_the_ip_limit_counts_shoppers_not_the_router(
    settings: Settings, engine: Engine
) -> None:
    """With TRUSTED_PROXY_HOPS=1 the client address comes from X-Forwarded-For: two shoppers
    behind the same router have their own per-IP windows; without it they would share one."""
    changed = dataclasses.replace(
        settings,
        shopify_shop_origin="http://127.0.0.1:9",
        join_limit_per_ip=1,
        trusted_proxy_hops=1,
    )
    for app in built_app(changed):
        store, client = a_store(app), app.test_client()
        assert join_from(client, store, "203.0.113.7", "ana@example.com") == 303
        assert join_from(client, store, "198.51.100.9", "bea@example.com") == 303
        assert join_from(client, store, "203.0.113.7", "cai@example.com") == 429
