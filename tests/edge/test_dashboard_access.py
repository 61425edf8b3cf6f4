"""Who may see the dashboard: a signed-in browser session or a verified Shopify session token,
each bound to one shop. No session sends the browser to sign in; another shop's ids answer
404; a form without its CSRF token is refused; forged, expired and foreign session tokens are
refused; pages are never framed by anyone but the shop's own Shopify admin."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from referral_plugin.app import app_services
from referral_plugin.domain.events import Platform
from referral_plugin.domain.lifecycle import ReferralStatus
from referral_plugin.models import Advocate, LedgerEntry, OutboxMessage, Referral
from referral_plugin.models.merchant_access import MerchantSession
from referral_plugin.services.merchant_sessions import token_hash
from referral_plugin.services.shops import mark_uninstalled
from referral_plugin.settings import Settings
from tests.dashboard_support import (
    app_on_own_database,
    connect_shop,
    csrf_from,
    flagged_referral,
    referral_id_of,
    sign_in,
)
from tests.edge.conftest import built_app
from tests.integration import builders as b
from tests.shopify_fake_oauth import session_token

PAGES = (
    "/admin/",
    "/admin/referrals",
    "/admin/review",
    "/admin/advocates",
    "/admin/rewards",
    "/admin/analytics",
)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The queued sign-in emails and the advocates these tests commit stay in a database of
    this module's own (other tests run jobs that read every shop)."""
    with app_on_own_database(tmp_path_factory.mktemp("dashboard")) as own:
        yield own


def token_for(settings: Settings, domain: str, **overrides: object) -> str:
    return session_token(
        domain, secret=settings.shopify_api_secret or "", audience=settings.shopify_api_key or "",
        **overrides,
    )  # fmt: skip


def advocate_of(app: Flask, shop_id: int, email: str = "anna@example.com") -> int:
    with app_services(app).sessions.begin() as session:
        program = b.program(session, shop_id, b.ONE_SIDED)
        return b.advocate(session, shop_id, program.id, email=email).id


def ledger_count(app: Flask, advocate_id: int) -> int:
    with app_services(app).sessions.begin() as session:
        return session.scalar(
            select(func.count(LedgerEntry.id)).where(LedgerEntry.advocate_id == advocate_id)
        )


# --- no session ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_without_a_session_every_page_sends_the_browser_to_sign_in(
    client: FlaskClient, path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/login")


def test_an_unknown_or_ended_session_cookie_signs_nobody_in(
    app: Flask, client: FlaskClient
) -> None:
    shop = connect_shop(app)
    client.set_cookie("rp_dashboard", "not-a-session", path="/admin")
    assert client.get("/admin/").status_code == 303

    sign_in(app, client, shop.id)
    page = client.get("/admin/")
    assert page.status_code == 200
    signed_out = client.post("/admin/logout", data={"csrf_token": csrf_from(page.text)})
    assert signed_out.status_code == 303
    assert "rp_dashboard=;" in signed_out.headers["Set-Cookie"]

    assert client.get("/admin/").status_code == 303


def test_a_post_without_a_session_changes_nothing(app: Flask, client: FlaskClient) -> None:
    shop = connect_shop(app)
    advocate_id = advocate_of(app, shop.id)

    response = client.post(
        f"/admin/advocates/{advocate_id}/adjustments", data={"amount": "5", "reason": "gift"}
    )

    assert response.status_code == 303
    assert ledger_count(app, advocate_id) == 0


def test_the_stylesheet_and_script_need_no_session(client: FlaskClient) -> None:
    css = client.get("/admin/static/dashboard.css")
    js = client.get("/admin/static/dashboard.js")

    assert (css.status_code, css.mimetype) == (200, "text/css")
    assert js.status_code == 200 and "idToken" in js.text
    css.close()
    js.close()


# --- a signed-in browser -------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_a_signed_in_merchant_sees_the_pages_unframeable_and_uncached(
    app: Flask, client: FlaskClient, path: str
) -> None:
    shop = connect_shop(app, name="Bella Ceramics")
    sign_in(app, client, shop.id)

    response = client.get(path)

    assert response.status_code == 200
    assert "Bella Ceramics" in response.text
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none';"
    assert response.headers["Cache-Control"] == "no-store"
    assert "cdn.shopify.com" not in response.text  # App Bridge only inside Shopify admin


def test_another_shops_advocate_answers_404_and_cannot_be_adjusted(
    app: Flask, client: FlaskClient
) -> None:
    mine, theirs = connect_shop(app), connect_shop(app)
    their_advocate = advocate_of(app, theirs.id)
    sign_in(app, client, mine.id)
    token = csrf_from(client.get("/admin/").text)

    page = client.get(f"/admin/advocates/{their_advocate}")
    adjusted = client.post(
        f"/admin/advocates/{their_advocate}/adjustments",
        data={"amount": "5.00", "reason": "gift", "csrf_token": token},
    )

    assert page.status_code == 404 and "Not found" in page.text
    assert adjusted.status_code == 404
    assert ledger_count(app, their_advocate) == 0


def test_another_shops_referral_cannot_be_decided(app: Flask, client: FlaskClient) -> None:
    mine, theirs = connect_shop(app), connect_shop(app)
    with app_services(app).sessions.begin() as session:
        referral_id = referral_id_of(session, flagged_referral(session, theirs.id, order_id="41"))
    sign_in(app, client, mine.id)
    token = csrf_from(client.get("/admin/review").text)

    response = client.post(
        "/admin/review/decide",
        data={"ids": [str(referral_id)], "decision": "reject", "csrf_token": token},
    )

    assert response.status_code == 303
    assert "done" not in response.headers["Location"]
    assert "skipped=1" in response.headers["Location"]
    with app_services(app).sessions.begin() as session:
        assert session.get(Referral, referral_id).status is ReferralStatus.REVIEW


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/admin/advocates/{advocate}/adjustments", {"amount": "5.00", "reason": "gift"}),
        ("/admin/review/decide", {"ids": ["1"], "decision": "approve"}),
        ("/admin/logout", {}),
    ],
)
def test_a_form_without_its_csrf_token_is_refused(
    app: Flask, client: FlaskClient, path: str, form: dict[str, object]
) -> None:
    shop = connect_shop(app)
    advocate_id = advocate_of(app, shop.id)
    sign_in(app, client, shop.id)
    client.get("/admin/")  # the browser has a CSRF token; the forged form does not carry it

    response = client.post(path.format(advocate=advocate_id), data={**form, "csrf_token": "x"})

    assert response.status_code == 400
    assert "The form expired" in response.text
    assert ledger_count(app, advocate_id) == 0
    assert client.get("/admin/").status_code == 200  # still signed in


def test_a_session_of_an_uninstalled_shop_ends(app: Flask, client: FlaskClient) -> None:
    shop = connect_shop(app)
    sign_in(app, client, shop.id)
    with app_services(app).sessions.begin() as session:
        mark_uninstalled(session, shop.id, now=datetime.now(tz=UTC))

    assert client.get("/admin/").status_code == 303


# --- Shopify, embedded in Shopify admin ------------------------------------------------------


def test_shopify_admin_opens_the_dashboard_with_a_session_token(
    app: Flask, client: FlaskClient, settings: Settings
) -> None:
    shop = connect_shop(app, Platform.SHOPIFY, name="Lamp Shop")

    response = client.get(f"/admin/?id_token={token_for(settings, shop.domain)}&embedded=1")

    assert response.status_code == 200
    assert "Lamp Shop" in response.text
    assert '<meta name="shopify-api-key" content="test-api-key">' in response.text
    assert 'src="https://cdn.shopify.com/shopifycloud/app-bridge.js"' in response.text
    assert "Sign out" not in response.text  # Shopify admin signs the merchant in and out
    assert response.headers["Content-Security-Policy"] == (
        f"frame-ancestors https://{shop.domain} https://admin.shopify.com;"
    )
    assert "rp_dashboard" not in response.headers.get("Set-Cookie", "")


def test_inside_shopify_admin_forms_carry_the_token_not_a_csrf_field(
    app: Flask, client: FlaskClient, settings: Settings
) -> None:
    shop = connect_shop(app, Platform.SHOPIFY)
    advocate_id = advocate_of(app, shop.id)
    bearer = {"Authorization": f"Bearer {token_for(settings, shop.domain)}"}

    page = client.get(f"/admin/advocates/{advocate_id}", headers=bearer)
    response = client.post(
        f"/admin/advocates/{advocate_id}/adjustments",
        data={"amount": "2.50", "reason": "Thank you gift"},
        headers=bearer,
    )

    assert page.status_code == 200
    assert response.status_code == 303
    with app_services(app).sessions.begin() as session:
        assert session.get(Advocate, advocate_id).balance == Decimal("2.50")


@pytest.mark.parametrize(
    ("case", "overrides", "secret"),
    [
        ("forged: another secret", {}, "not-the-app-secret-but-as-long-as-one"),
        ("expired", {"exp": 1_700_000_000}, None),
        ("for another app", {"aud": "another-app"}, None),
    ],
)
def test_a_bad_session_token_is_refused(
    app: Flask,
    client: FlaskClient,
    settings: Settings,
    case: str,
    overrides: dict[str, object],
    secret: str | None,
) -> None:
    shop = connect_shop(app, Platform.SHOPIFY)
    token = session_token(
        shop.domain, secret=secret or settings.shopify_api_secret or "",
        audience=settings.shopify_api_key or "", **overrides,
    )  # fmt: skip

    as_query = client.get(f"/admin/?id_token={token}")
    as_header = client.get("/admin/referrals", headers={"Authorization": f"Bearer {token}"})

    for response in (as_query, as_header):
        assert response.status_code == 401, case
        assert "Please reload the app" in response.text
        assert (
            "frame-ancestors https://admin.shopify.com;"
            in (response.headers["Content-Security-Policy"])
        )


def test_a_token_of_a_shop_without_the_app_is_refused(
    client: FlaskClient, settings: Settings
) -> None:
    response = client.get(f"/admin/?id_token={token_for(settings, 'nobody.myshopify.com')}")

    assert response.status_code == 401


def test_a_session_token_in_the_query_of_a_post_is_not_accepted(
    app: Flask, client: FlaskClient, settings: Settings
) -> None:
    shop = connect_shop(app, Platform.SHOPIFY)
    advocate_id = advocate_of(app, shop.id)

    response = client.post(
        f"/admin/advocates/{advocate_id}/adjustments?id_token={token_for(settings, shop.domain)}",
        data={"amount": "5.00", "reason": "gift"},
    )

    assert response.status_code == 303  # to sign in: only the header counts on a POST
    assert ledger_count(app, advocate_id) == 0


@pytest.fixture
def production_app(settings: Settings, engine: Engine) -> Iterator[Flask]:
    yield from built_app(replace(settings, environment="production"))


def test_in_production_a_shopify_shop_signs_in_only_from_shopify_admin(
    production_app: Flask,
) -> None:
    client = production_app.test_client()
    shop = connect_shop(production_app, Platform.SHOPIFY)
    sign_in(production_app, client, shop.id)

    assert client.get("/admin/").status_code == 303
    form = client.get("/admin/login")
    asked = client.post(
        "/admin/login", data={"address": shop.domain, "csrf_token": csrf_from(form.text)}
    )
    assert asked.status_code == 303
    with app_services(production_app).sessions.begin() as session:
        queued = session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.shop_id == shop.id)
        )
    assert queued == 0


def test_outside_production_a_shopify_shop_may_use_the_emailed_link(
    app: Flask, client: FlaskClient
) -> None:
    shop = connect_shop(app, Platform.SHOPIFY)
    form = client.get("/admin/login")

    client.post("/admin/login", data={"address": shop.domain, "csrf_token": csrf_from(form.text)})

    with app_services(app).sessions.begin() as session:
        queued = session.scalars(
            select(OutboxMessage.recipient).where(
                OutboxMessage.shop_id == shop.id, OutboxMessage.kind == "merchant_sign_in"
            )
        ).all()
    assert queued == [shop.email]


def test_the_sign_in_form_without_its_csrf_token_sends_nothing(
    app: Flask, client: FlaskClient
) -> None:
    shop = connect_shop(app)

    response = client.post("/admin/login", data={"address": shop.email, "csrf_token": "x"})

    assert response.status_code == 400
    with app_services(app).sessions.begin() as session:
        assert not session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.shop_id == shop.id)
        ).all()


def test_an_idle_session_ends(app: Flask, client: FlaskClient, settings: Settings) -> None:
    shop = connect_shop(app)
    token = sign_in(app, client, shop.id)
    idle = timedelta(minutes=settings.merchant_session_idle_minutes, seconds=1)
    with app_services(app).sessions.begin() as session:
        row = session.scalars(
            select(MerchantSession).where(MerchantSession.token_hash == token_hash(token))
        ).one()
        row.last_seen_at = datetime.now(tz=UTC) - idle

    assert client.get("/admin/").status_code == 303
