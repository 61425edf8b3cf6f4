"""`/api/v1/programs/<id>/contest` through the Flask test client: the admin leaderboard, draws
refused before the end (409) and for invalid fields (422), recorded draws read back and
verified, and every route closed to other shops (404) and to requests without a token (401).

The views read the wall clock, so the contests here ended in 2020 or end in 2100."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from referral_plugin.app import app_services
from referral_plugin.domain.events import OrderEventKind
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.orders import record_order_event
from tests.edge.test_admin_api import ShopClient, connect_shop, create_program, error_fields
from tests.integration import builders as b

ENDED = {
    "name": "Winter contest",
    "kind": "contest",
    "conditions": {"starts_at": "2020-01-01T00:00:00Z", "ends_at": "2020-02-01T00:00:00Z"},
}
RUNNING = {**ENDED, "name": "Long contest", "conditions": {"ends_at": "2100-01-01T00:00:00Z"}}
PLACED = datetime(2020, 1, 5, 12, tzinfo=UTC)


@pytest.fixture
def shop(app: Flask, client: FlaskClient) -> ShopClient:
    return ShopClient(*connect_shop(app), client)


def enroll(app: Flask, shop_id: int, program_id: int, email: str, **names: str):
    with app_services(app).sessions.begin() as session:
        return enroll_advocate(session, shop_id, program_id, email=email, now=PLACED, **names)


def pay_order(app: Flask, shop_id: int, code: str, paid_at: datetime, *, kind=None) -> str:
    """A friend's order with `code`, placed and paid at `paid_at` (or another event kind)."""
    order_id = uuid.uuid4().hex[:12]
    services = app_services(app)
    for event_kind in (OrderEventKind.PLACED, kind or OrderEventKind.PAID):
        event = b.order_event(
            event_kind, order_id, codes=(code,), email=f"f-{order_id}@example.com", at=paid_at
        )
        event = dataclasses.replace(event, placed_at=paid_at)
        with services.sessions.begin() as session:
            record_order_event(session, shop_id, event, now=paid_at, code_key=services.code_key)
    return order_id


def cancel_order(app: Flask, shop_id: int, order_id: str, at: datetime) -> None:
    event = b.order_event(OrderEventKind.CANCELLED, order_id, at=at, with_data=False)
    services = app_services(app)
    with services.sessions.begin() as session:
        record_order_event(session, shop_id, event, now=at, code_key=services.code_key)


@dataclasses.dataclass(frozen=True)
class EndedContest:
    program_id: int
    anna: Any
    bea: Any
    annas_orders: list[str]


@pytest.fixture
def ended(app: Flask, shop: ShopClient) -> EndedContest:
    program_id = create_program(shop, **ENDED)["id"]
    anna = enroll(app, shop.shop_id, program_id, "anna@example.com", first_name="Anna")
    bea = enroll(app, shop.shop_id, program_id, "bea@example.com", first_name="Bea")
    orders = [
        pay_order(app, shop.shop_id, anna.code, datetime(2020, 1, d, tzinfo=UTC)) for d in (3, 4)
    ]
    pay_order(app, shop.shop_id, bea.code, datetime(2020, 1, 6, tzinfo=UTC))
    return EndedContest(program_id, anna, bea, orders)


def draw(shop: ShopClient, program_id: int, **body: Any):
    return shop.call("POST", f"/programs/{program_id}/contest/draws", body)


# --- the admin leaderboard --------------------------------------------------------------------


def test_the_contest_shows_window_state_totals_and_names(
    shop: ShopClient, ended: EndedContest
) -> None:
    response = shop.call("GET", f"/programs/{ended.program_id}/contest?limit=1")

    assert response.status_code == 200
    body = response.json
    assert body["state"] == "ended"
    assert body["window"] == {
        "starts_at": "2020-01-01T00:00:00Z",
        "ends_at": "2020-02-01T00:00:00Z",
    }
    assert body["totals"] == {"entries": 3, "advocates": 2, "in_review": 0}
    assert body["leaderboard"] == [
        {
            "rank": 1,
            "advocate_id": ended.anna.id,
            "first_name": "Anna",
            "last_name": None,
            "email": "anna@example.com",
            "entries": 2,
            "reached_at": "2020-01-04T00:00:00Z",
        }
    ]


def test_a_running_contest_without_entries(shop: ShopClient) -> None:
    program_id = create_program(shop, **RUNNING)["id"]

    body = shop.call("GET", f"/programs/{program_id}/contest").json

    assert (body["state"], body["totals"]["entries"], body["leaderboard"]) == ("running", 0, [])
    assert body["window"] == {"starts_at": None, "ends_at": "2100-01-01T00:00:00Z"}


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_a_bad_limit_is_a_bad_request(shop: ShopClient, ended: EndedContest, limit: str) -> None:
    response = shop.call("GET", f"/programs/{ended.program_id}/contest?limit={limit}")

    assert response.status_code == 400 and error_fields(response) == {"limit"}


# --- draws ------------------------------------------------------------------------------------


def test_a_draw_is_created_listed_read_and_verified(
    app: Flask, shop: ShopClient, ended: EndedContest
) -> None:
    response = draw(shop, ended.program_id, winners=2, seed="winter-2020", weighting="per_entry")

    assert response.status_code == 201, response.json
    made = response.json
    assert response.headers["Location"].endswith(
        f"/api/v1/programs/{ended.program_id}/contest/draws/{made['id']}"
    )
    assert {w["advocate_id"] for w in made["winners"]} == {ended.anna.id, ended.bea.id}
    assert {w["email"] for w in made["winners"]} == {"anna@example.com", "bea@example.com"}
    assert (made["entries"], made["advocates"], made["seed"]) == (3, 2, "winter-2020")
    assert made["algorithm"] == "hmac-sha256-rejection/v1" and len(made["entries_digest"]) == 64
    assert made["drawn_by"] == "admin-api" and made["weighting"] == "per_entry"

    base = f"/programs/{ended.program_id}/contest/draws"
    assert shop.call("GET", f"{base}/{made['id']}").json == made
    assert shop.call("GET", base).json == {"draws": [made]}
    verified = shop.call("GET", f"{base}/{made['id']}/verify").json
    assert verified["verified"] is True and verified["current"]["winners"] == [
        w["advocate_id"] for w in made["winners"]
    ]

    cancel_order(app, shop.shop_id, ended.annas_orders[0], datetime.now(tz=UTC))
    changed = shop.call("GET", f"{base}/{made['id']}/verify").json
    assert (changed["verified"], changed["entries_match"]) == (False, False)
    assert changed["current"]["entries"] == 2 and changed["recorded"]["entries"] == 3
    assert changed["changed_referrals"][0]["status"] == "reversed"
    assert "3 then, 2 now" in changed["message"]


def test_drawing_twice_records_two_draws_with_the_same_winners_for_the_same_seed(
    shop: ShopClient, ended: EndedContest
) -> None:
    first = draw(shop, ended.program_id, winners=1, seed="same", weighting="per_advocate").json
    second = draw(shop, ended.program_id, winners=1, seed="same", weighting="per_advocate").json
    generated = draw(shop, ended.program_id, winners=1, weighting="per_advocate").json

    assert first["id"] != second["id"] and first["winners"] == second["winners"]
    assert generated["seed_source"] == "generated" and len(generated["seed"]) == 64
    listed = shop.call("GET", f"/programs/{ended.program_id}/contest/draws").json["draws"]
    assert [d["id"] for d in listed] == [generated["id"], second["id"], first["id"]]


def test_a_draw_before_the_end_is_a_conflict(app: Flask, shop: ShopClient) -> None:
    program_id = create_program(shop, **RUNNING)["id"]
    anna = enroll(app, shop.shop_id, program_id, "anna@example.com")
    pay_order(app, shop.shop_id, anna.code, datetime(2026, 1, 5, tzinfo=UTC))

    response = draw(shop, program_id, winners=1, weighting="per_entry")

    assert response.status_code == 409
    assert response.json["message"] == (
        "The contest ends at 2100-01-01T00:00:00Z; draw after it has ended."
    )
    assert shop.call("GET", f"/programs/{program_id}/contest/draws").json == {"draws": []}


def test_a_draw_without_entries_is_a_conflict(shop: ShopClient) -> None:
    program_id = create_program(shop, **ENDED)["id"]

    response = draw(shop, program_id, winners=1, weighting="per_entry")

    assert response.status_code == 409 and "no entries" in response.json["message"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        pytest.param({"weighting": "per_entry"}, {"winners"}, id="winners missing"),
        pytest.param({"winners": 0, "weighting": "per_entry"}, {"winners"}, id="no winners"),
        pytest.param({"winners": 101, "weighting": "per_entry"}, {"winners"}, id="over 100"),
        pytest.param({"winners": "2", "weighting": "per_entry"}, {"winners"}, id="a string"),
        pytest.param({"winners": True, "weighting": "per_entry"}, {"winners"}, id="a boolean"),
        pytest.param({"winners": 1.5, "weighting": "per_entry"}, {"winners"}, id="a fraction"),
        pytest.param(
            {"winners": 3, "weighting": "per_entry"}, {"winners"}, id="more than entrants"
        ),
        pytest.param({"winners": 1}, {"weighting"}, id="weighting missing"),
        pytest.param({"winners": 1, "weighting": "by_luck"}, {"weighting"}, id="unknown weighting"),
        pytest.param({"winners": 1, "weighting": ["per_entry"]}, {"weighting"}, id="a list"),
        pytest.param(
            {"winners": 1, "weighting": "per_entry", "seed": ""}, {"seed"}, id="empty seed"
        ),
        pytest.param(
            {"winners": 1, "weighting": "per_entry", "seed": 42}, {"seed"}, id="seed number"
        ),
        pytest.param(
            {"winners": 1, "weighting": "per_entry", "seed": "x" * 257}, {"seed"}, id="long seed"
        ),
        pytest.param(
            {"winners": 1, "weighting": "per_entry", "seed": "a\u0000"}, {"seed"}, id="NUL"
        ),
        pytest.param(
            {"winners": 1, "weighting": "per_entry", "seed": "\ud800"},
            {"seed"},
            id="lone surrogate",
        ),
        pytest.param(
            {"winners": 1, "weighting": "per_entry", "winner": 1}, {"winner"}, id="unknown field"
        ),
        pytest.param({}, {"winners", "weighting"}, id="empty body"),
    ],
)
def test_invalid_fields_answer_422_naming_them(
    shop: ShopClient, ended: EndedContest, body: dict[str, Any], fields: set[str]
) -> None:
    response = draw(shop, ended.program_id, **body)

    assert response.status_code == 422, response.json
    assert error_fields(response) == fields


def test_a_body_that_is_not_json_is_a_bad_request(shop: ShopClient, ended: EndedContest) -> None:
    response = shop.call(
        "POST", f"/programs/{ended.program_id}/contest/draws", data="winners=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip

    assert response.status_code == 400


# --- scoping and authentication ---------------------------------------------------------------


def routes(program_id: int, draw_id: int) -> list[tuple[str, str, Any]]:
    base = f"/programs/{program_id}/contest"
    return [
        ("GET", base, None),
        ("POST", f"{base}/draws", {"winners": 1, "weighting": "per_entry"}),
        ("GET", f"{base}/draws", None),
        ("GET", f"{base}/draws/{draw_id}", None),
        ("GET", f"{base}/draws/{draw_id}/verify", None),
    ]


def test_another_shops_contest_and_draws_are_not_found(
    app: Flask, client: FlaskClient, shop: ShopClient, ended: EndedContest
) -> None:
    other_shop = ShopClient(*connect_shop(app), client)
    made = draw(shop, ended.program_id, winners=1, weighting="per_entry").json

    for method, path, body in routes(ended.program_id, made["id"]):
        response = other_shop.call(method, path, body)
        assert response.status_code == 404, (method, path)
        assert response.json["error"] == "not_found"
    theirs = create_program(other_shop, **ENDED)["id"]
    for method, path in (("GET", "draws/{id}"), ("GET", "draws/{id}/verify")):
        response = other_shop.call(
            method, f"/programs/{theirs}/contest/{path}".format(id=made["id"])
        )
        assert response.status_code == 404


def test_ids_past_bigint_are_not_found(shop: ShopClient, ended: EndedContest) -> None:
    huge = 2**63
    for method, path, body in [*routes(huge, 1), *routes(ended.program_id, huge)[3:]]:
        response = shop.call(method, path, body)
        assert response.status_code == 404, (method, path, response.json)


def test_a_program_that_is_not_a_contest_is_not_found(shop: ShopClient) -> None:
    program_id = create_program(shop)["id"]  # two-sided

    for method, path, body in routes(program_id, 1):
        assert shop.call(method, path, body).status_code == 404, (method, path)


def test_every_route_needs_a_token(client: FlaskClient) -> None:
    for method, path, body in routes(1, 1):
        response = client.open(f"/api/v1{path}", method=method, json=body)
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
