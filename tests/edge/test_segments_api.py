"""`/api/v1/programs/<id>/segments/<segment>[/invite]` through the Flask test client, on the
hand-built shop of `tests.integration.segment_builders`: the list with its numbers and pages,
invitations (enrolled, one welcome each, nothing twice, outsiders refused with 422 listing
them), and every way a request can be wrong (404 unknown segment or another shop's program,
400/422 naming the parameter or field, 409 a paused program, 401 without a token).

The app runs on a database of this module's own: the invitations queue welcome emails, and
other tests run jobs that send every shop's outbox."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from referral_plugin.app import app_services
from referral_plugin.email_links import email_hash_key
from referral_plugin.models import OutboxMessage, Shop
from referral_plugin.services import shops
from referral_plugin.services.programs import update_program
from tests.dashboard_support import app_on_own_database
from tests.edge.test_admin_api import ShopClient, error_fields
from tests.integration.builders import NOW
from tests.integration.email_builders import Store
from tests.integration.segment_builders import record, segment_store

REPEAT = "/programs/{program}/segments/repeat_buyers"


def cursor_of(value: object) -> str:
    """A cursor as the pages encode one (base64url of JSON), holding `value`."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with app_on_own_database(tmp_path_factory.mktemp("segments")) as own:
        yield own


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def store(app: Flask, client: FlaskClient) -> tuple[ShopClient, int]:
    """A fresh copy of the hand-built shop, and an API client of it."""
    services = app_services(app)
    key = email_hash_key(services.settings.secret_key)
    with services.sessions.begin() as session:
        built = segment_store(session, f"seg-{uuid.uuid4().hex[:10]}.myshopify.com", key)
        token = shops.issue_api_token(session, built.shop.id)
        return ShopClient(built.shop.id, token, client), built.program_id


def welcomes(app: Flask, shop_id: int) -> list[str]:
    with app_services(app).sessions.begin() as session:
        return sorted(
            session.scalars(
                select(OutboxMessage.recipient).where(
                    OutboxMessage.shop_id == shop_id, OutboxMessage.kind == "welcome"
                )
            )
        )


def test_a_segment_lists_its_customers_best_first_a_page_at_a_time(
    store: tuple[ShopClient, int],
) -> None:
    shop, program = store
    first = shop.call("GET", REPEAT.format(program=program), query_string={"limit": 3})

    assert first.status_code == 200, first.json
    body: dict[str, Any] = first.json
    assert (body["segment"], body["total"], body["currency"]) == ("repeat_buyers", 4, "USD")
    assert body["customers"][0] == {
        "email": "Ben@Example.com", "first_name": None, "last_name": None, "orders": 3,
        "spent": [{"amount": "210.00", "currency": "USD"}],
        "last_order_at": "2026-01-21T12:00:00+00:00",
    }  # fmt: skip
    assert [c["email"] for c in body["customers"]] == [
        "Ben@Example.com", "cara@example.com", "josmith@gmail.com",
    ]  # fmt: skip
    second = shop.call(
        "GET", REPEAT.format(program=program),
        query_string={"limit": 3, "cursor": body["next_cursor"]},
    )  # fmt: skip
    assert [c["email"] for c in second.json["customers"]] == ["kim@example.com"]
    assert second.json["customers"][0]["spent"] == [
        {"amount": "10.00", "currency": "USD"}, {"amount": "40.00", "currency": "EUR"},
    ]  # fmt: skip
    assert second.json["next_cursor"] is None


def test_high_spenders_say_their_threshold(store: tuple[ShopClient, int]) -> None:
    shop, program = store
    top = shop.call("GET", f"/programs/{program}/segments/high_spenders")
    fixed = shop.call(
        "GET", f"/programs/{program}/segments/high_spenders", query_string={"min_spent": "300"}
    )

    assert top.json["threshold"] == {"amount": "1000.00", "currency": "USD"}
    assert [c["email"] for c in top.json["customers"]] == ["dan@example.com"]
    assert [c["email"] for c in fixed.json["customers"]] == ["dan@example.com", "cara@example.com"]
    assert fixed.json["threshold"] == {"amount": "300.00", "currency": "USD"}


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ({"limit": "0"}, 400, "limit"),
        ({"limit": "201"}, 400, "limit"),
        ({"days": "0"}, 422, "days"),
        ({"days": "366"}, 422, "days"),
        ({"days": "ten"}, 422, "days"),
        ({"min_spent": "lots"}, 422, "min_spent"),
        ({"min_spent": "-5"}, 422, "min_spent"),
        ({"min_spent": "NaN"}, 422, "min_spent"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, 422, "cursor"),
        ({"cursor": cursor_of(["repeat_buyers", 2**64, 1, "a@example.com"])}, 422, "cursor"),
        ({"cursor": cursor_of(["repeat_buyers", "2", 1, "a@example.com"])}, 422, "cursor"),
        ({"cursor": cursor_of({"repeat_buyers": 1})}, 422, "cursor"),
    ],
)
def test_bad_parameters_are_named(
    store: tuple[ShopClient, int], query: dict[str, str], status: int, field: str
) -> None:
    shop, program = store
    response = shop.call("GET", REPEAT.format(program=program), query_string=query)

    assert response.status_code == status
    assert field in error_fields(response) or response.json.get("field") == field


def test_an_unknown_segment_or_another_shops_program_is_not_found(
    app: Flask, store: tuple[ShopClient, int], client: FlaskClient
) -> None:
    shop, program = store
    other, other_program = _other_store(app, client)

    unknown = shop.call("GET", f"/programs/{program}/segments/big_spenders")
    assert unknown.status_code == 404
    assert "segment big_spenders" in unknown.json["message"]
    assert shop.call("GET", REPEAT.format(program=other_program)).status_code == 404
    assert shop.call("GET", REPEAT.format(program=2**63)).status_code == 404
    invite = shop.call(
        "POST", REPEAT.format(program=other_program) + "/invite", {"emails": ["ben@example.com"]}
    )
    assert invite.status_code == 404
    assert welcomes(app, other.shop_id) == []
    assert client.get(f"/api/v1{REPEAT.format(program=program)}").status_code == 401


def test_inviting_enrolls_sends_one_welcome_each_and_nothing_twice(
    app: Flask, store: tuple[ShopClient, int]
) -> None:
    shop, program = store
    path = REPEAT.format(program=program) + "/invite"
    first = shop.call("POST", path, {"emails": ["ben@example.com", "CARA@example.com"]})

    assert first.status_code == 200, first.json
    assert first.json == {
        "segment": "repeat_buyers", "program_id": program, "invited": 2, "already_members": 0,
        "skipped": {}, "remaining": 2, "more": True, "daily_remaining": 1998,
    }  # fmt: skip
    again = shop.call("POST", path, {"emails": ["ben@example.com", "cara@example.com"]})
    assert (again.json["invited"], again.json["already_members"]) == (0, 2)
    everyone = shop.call("POST", path, {"all": True})
    assert (everyone.json["invited"], everyone.json["remaining"], everyone.json["more"]) == (
        2, 0, False,
    )  # fmt: skip
    assert welcomes(app, shop.shop_id) == [
        "ben@example.com", "cara@example.com", "josmith@gmail.com", "kim@example.com",
    ]  # fmt: skip
    listed = shop.call("GET", REPEAT.format(program=program))
    assert (listed.json["total"], listed.json["customers"]) == (0, [])


def test_addresses_outside_the_segment_are_refused_listing_them(
    app: Flask, store: tuple[ShopClient, int]
) -> None:
    shop, program = store
    response = shop.call(
        "POST", REPEAT.format(program=program) + "/invite",
        {"emails": ["ben@example.com", "dan@example.com", "stranger@example.com"]},
    )  # fmt: skip

    assert response.status_code == 422
    (error,) = response.json["errors"]
    assert error["field"] == "emails"
    assert "dan@example.com" in error["message"] and "stranger@example.com" in error["message"]
    assert welcomes(app, shop.shop_id) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "emails"),
        ({"emails": []}, "emails"),
        ({"emails": "ben@example.com"}, "emails"),
        ({"emails": [1, 2]}, "emails"),
        ({"emails": ["ben@example.com"], "all": True}, "emails"),
        ({"emails": ["x@example.com"] * 501}, "emails"),
        ({"all": "yes"}, "all"),
        ({"all": True, "days": 0}, "days"),
        ({"all": True, "min_spent": "free"}, "min_spent"),
        ({"all": True, "everyone": True}, "everyone"),
    ],
)
def test_an_invalid_invitation_names_the_field(
    store: tuple[ShopClient, int], body: dict[str, Any], field: str
) -> None:
    shop, program = store
    response = shop.call("POST", REPEAT.format(program=program) + "/invite", body)

    assert response.status_code == 422
    assert field in error_fields(response)


def test_an_invitation_that_is_not_json_is_a_400(store: tuple[ShopClient, int]) -> None:
    shop, program = store
    response = shop.call(
        "POST", REPEAT.format(program=program) + "/invite", data="emails=ben",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip

    assert response.status_code == 400


def test_a_paused_program_invites_nobody(app: Flask, store: tuple[ShopClient, int]) -> None:
    shop, program = store
    with app_services(app).sessions.begin() as session:
        update_program(session, shop.shop_id, program, {"active": False}, now=NOW)

    response = shop.call(
        "POST", REPEAT.format(program=program) + "/invite", {"emails": ["ben@example.com"]}
    )

    assert response.status_code == 409
    assert "not active" in response.json["message"]
    assert welcomes(app, shop.shop_id) == []


def test_recent_buyers_are_counted_from_now(app: Flask, store: tuple[ShopClient, int]) -> None:
    shop, program = store
    services = app_services(app)
    with services.sessions.begin() as session:
        built = Store(shop=session.get_one(Shop, shop.shop_id), program_id=program, anna=None)  # type: ignore[arg-type]
        at = datetime.now(tz=UTC) - timedelta(days=2)
        record(session, built, f"{shop.shop_id}-new", "Nina@Example.com", at, "60.00", "paid")

    recent = shop.call("GET", f"/programs/{program}/segments/recent_not_joined")
    week = shop.call(
        "GET", f"/programs/{program}/segments/recent_not_joined", query_string={"days": "1"}
    )

    # the hand-built orders are from early 2026, long before the wall clock's last 30 days
    assert [c["email"] for c in recent.json["customers"]] == ["Nina@Example.com"]
    assert (recent.json["days"], recent.json["total"]) == (30, 1)
    assert (week.json["days"], week.json["total"]) == (1, 0)


def _other_store(app: Flask, client: FlaskClient) -> tuple[ShopClient, int]:
    services = app_services(app)
    with services.sessions.begin() as session:
        built = segment_store(session, f"other-{uuid.uuid4().hex[:10]}.myshopify.com")
        token = shops.issue_api_token(session, built.shop.id)
        return ShopClient(built.shop.id, token, client), built.program_id
