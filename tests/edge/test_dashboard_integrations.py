"""The dashboard's integrations page: a merchant registers a webhook without the API (the secret
shown once), sends a test that a real local endpoint receives signed, pauses, replays and
deletes; downloads CSV exports with their session. Another shop's endpoint answers 404; bad
input answers 422 at its field; a refused action answers 409 and says why."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from referral_plugin.app import app_services
from referral_plugin.merchant_webhook_jobs import HttpWebhookPoster
from referral_plugin.models import AuditEntry, MerchantWebhookEndpoint
from referral_plugin.services.webhook_sending import SendReport, send_due_deliveries
from tests.dashboard_support import app_on_own_database, connect_shop, csrf_from, sign_in
from tests.integration import builders as b
from tests.merchant_endpoint import MerchantEndpoint, serve_merchant_endpoint

SECRET = re.compile(r'id="secret"[^>]*value="(whsec_[^"]+)"')


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with app_on_own_database(tmp_path_factory.mktemp("integrations")) as own:
        yield own


@pytest.fixture
def merchant() -> Iterator[MerchantEndpoint]:
    yield from serve_merchant_endpoint()


def signed_in(app: Flask, client: FlaskClient) -> tuple[int, str]:
    shop = connect_shop(app)
    sign_in(app, client, shop.id)
    return shop.id, csrf_from(client.get("/admin/integrations").text)


def add(client: FlaskClient, token: str, url: str, *events: str):
    return client.post(
        "/admin/integrations/webhooks",
        data={"url": url, "events": list(events), "description": "CRM", "csrf_token": token},
    )


def send(app: Flask) -> SendReport:
    services = app_services(app)
    return send_due_deliveries(
        services.sessions.begin,
        poster=HttpWebhookPoster(connect_timeout=1, read_timeout=2, allow_loopback=True),
        box=services.box,
        now=datetime.now(tz=UTC),
        worker="test-worker",
        max_attempts=5,
        disable_after=timedelta(hours=72),
    )


def endpoint_id_of(app: Flask, shop_id: int) -> int:
    with app_services(app).sessions.begin() as session:
        return session.scalars(
            select(MerchantWebhookEndpoint.id).where(MerchantWebhookEndpoint.shop_id == shop_id)
        ).one()


def test_a_merchant_adds_a_webhook_sees_the_secret_once_and_a_test_arrives_signed(
    app: Flask, client: FlaskClient, merchant: MerchantEndpoint
) -> None:
    shop_id, token = signed_in(app, client)

    added = add(client, token, merchant.url, "advocate.joined", "reward.issued")

    assert added.status_code == 201
    merchant.secret = SECRET.search(added.text).group(1)
    endpoint_id = endpoint_id_of(app, shop_id)
    page = client.get(f"/admin/integrations/webhooks/{endpoint_id}")
    assert merchant.secret not in page.text  # shown once, in the answer that made it
    assert "advocate.joined, reward.issued" in page.text

    tested = client.post(
        f"/admin/integrations/webhooks/{endpoint_id}/test", data={"csrf_token": token}
    )
    assert tested.status_code == 303 and "done=test" in tested.headers["Location"]
    assert send(app).delivered == 1
    (received,) = merchant.received
    assert received.signature_ok and received.document["type"] == "ping"
    log = client.get(f"/admin/integrations/webhooks/{endpoint_id}").text
    assert "Delivered" in log and "HTTP 200" in log
    with app_services(app).sessions.begin() as session:
        actors = session.scalars(
            select(AuditEntry.actor).where(
                AuditEntry.shop_id == shop_id, AuditEntry.subject_type == "webhook_endpoint"
            )
        ).all()
    assert actors and all(actor != "admin-api" for actor in actors)  # the merchant did it


def test_a_new_secret_signs_what_follows_and_the_old_one_no_longer_verifies(
    app: Flask, client: FlaskClient, merchant: MerchantEndpoint
) -> None:
    shop_id, token = signed_in(app, client)
    old = SECRET.search(add(client, token, merchant.url, "reward.issued").text).group(1)
    endpoint_id = endpoint_id_of(app, shop_id)

    rotated = client.post(
        f"/admin/integrations/webhooks/{endpoint_id}/secret", data={"csrf_token": token}
    )

    new = SECRET.search(rotated.text).group(1)
    assert rotated.status_code == 200 and new != old
    merchant.secret = new
    client.post(f"/admin/integrations/webhooks/{endpoint_id}/test", data={"csrf_token": token})
    send(app)
    assert [r.signature_ok for r in merchant.received] == [True]


def test_a_paused_webhook_refuses_a_test_with_the_reason_and_resumes(
    app: Flask, client: FlaskClient, merchant: MerchantEndpoint
) -> None:
    shop_id, token = signed_in(app, client)
    add(client, token, merchant.url, "referral.created")
    endpoint_id = endpoint_id_of(app, shop_id)
    base = f"/admin/integrations/webhooks/{endpoint_id}"

    paused = client.post(f"{base}/active", data={"active": "false", "csrf_token": token})
    refused = client.post(f"{base}/test", data={"csrf_token": token})
    resumed = client.post(f"{base}/active", data={"active": "true", "csrf_token": token})

    assert paused.status_code == 303
    assert refused.status_code == 409 and "resume it first" in refused.text
    assert resumed.status_code == 303
    assert client.post(f"{base}/test", data={"csrf_token": token}).status_code == 303


def test_a_failed_delivery_is_sent_again_from_the_log(
    app: Flask, client: FlaskClient, merchant: MerchantEndpoint
) -> None:
    shop_id, token = signed_in(app, client)
    merchant.secret = SECRET.search(add(client, token, merchant.url, "reward.issued").text).group(1)
    endpoint_id = endpoint_id_of(app, shop_id)
    base = f"/admin/integrations/webhooks/{endpoint_id}"
    client.post(f"{base}/test", data={"csrf_token": token})
    merchant.answer(500)
    send(app)
    log = client.get(base).text
    assert "HTTP 500" in log
    delivery_id = re.search(r"/deliveries/(\d+)/retry", log).group(1)

    again = client.post(f"{base}/deliveries/{delivery_id}/retry", data={"csrf_token": token})

    assert again.status_code == 303 and "done=retry" in again.headers["Location"]
    send(app)
    assert client.get(base).text.count("Delivered") == 1
    twice = client.post(f"{base}/deliveries/{delivery_id}/retry", data={"csrf_token": token})
    assert twice.status_code == 409 and "already reached your server" in twice.text


@pytest.mark.parametrize(
    ("url", "events", "field", "message"),
    [
        ("", ("reward.issued",), "url-error", "The URL is required"),
        ("ftp://crm.example.com/x", ("reward.issued",), "url-error", "must be an https URL"),
        ("https://crm.example.com/hooks", (), "events-error", "Pick at least one event"),
        ("https://crm.example.com/hooks", ("order.paid",), "events-error", "Pick at least one"),
    ],
)
def test_bad_input_answers_422_at_its_field_and_keeps_what_was_typed(
    app: Flask, client: FlaskClient, url: str, events: tuple[str, ...], field: str, message: str
) -> None:
    shop_id, token = signed_in(app, client)

    answer = add(client, token, url, *events)

    assert answer.status_code == 422
    assert f'id="{field}"' in answer.text and message in answer.text
    assert f'aria-describedby="{field}"' in answer.text
    assert f'value="{url}"' in answer.text
    with app_services(app).sessions.begin() as session:
        assert (
            session.scalars(
                select(MerchantWebhookEndpoint).where(MerchantWebhookEndpoint.shop_id == shop_id)
            ).all()
            == []
        )


def test_another_shops_webhook_answers_404_and_is_not_changed(
    app: Flask, client: FlaskClient, merchant: MerchantEndpoint
) -> None:
    theirs = connect_shop(app)
    sign_in(app, client, theirs.id)
    their_token = csrf_from(client.get("/admin/integrations").text)
    add(client, their_token, merchant.url, "reward.issued")
    their_endpoint = endpoint_id_of(app, theirs.id)
    _, token = signed_in(app, client)  # the same browser, now the other shop's owner

    base = f"/admin/integrations/webhooks/{their_endpoint}"
    answers = [
        client.get(base).status_code,
        client.post(f"{base}/test", data={"csrf_token": token}).status_code,
        client.post(f"{base}/delete", data={"csrf_token": token}).status_code,
        client.post(f"{base}/secret", data={"csrf_token": token}).status_code,
    ]

    assert answers == [404, 404, 404, 404]
    assert endpoint_id_of(app, theirs.id) == their_endpoint


def test_a_form_without_its_csrf_token_changes_nothing(app: Flask, client: FlaskClient) -> None:
    shop_id, _ = signed_in(app, client)

    forged = add(client, "forged", "https://crm.example.com/hooks", "reward.issued")

    assert forged.status_code == 400
    with app_services(app).sessions.begin() as session:
        assert (
            session.scalars(
                select(MerchantWebhookEndpoint).where(MerchantWebhookEndpoint.shop_id == shop_id)
            ).all()
            == []
        )


def test_exports_download_with_the_session_and_a_bad_date_is_named(
    app: Flask, client: FlaskClient
) -> None:
    shop_id, _ = signed_in(app, client)
    with app_services(app).sessions.begin() as session:
        program = b.program(session, shop_id, b.ONE_SIDED)
        b.advocate(session, shop_id, program.id, email="csv.person@example.com")

    csv = client.get("/admin/integrations/exports/advocates.csv")
    bad = client.get("/admin/integrations/exports/advocates.csv?from=2026-13-01")
    unknown = client.get("/admin/integrations/exports/passwords.csv")

    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert "csv.person@example.com" in csv.text
    assert bad.status_code == 422 and "From must be a date as YYYY-MM-DD" in bad.text
    assert unknown.status_code == 404


def test_the_page_needs_a_session(app: Flask) -> None:
    anonymous = app.test_client()

    assert anonymous.get("/admin/integrations").status_code in (302, 303)
    assert anonymous.get("/admin/integrations/exports/advocates.csv").status_code in (302, 303)
