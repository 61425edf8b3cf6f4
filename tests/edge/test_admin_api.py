"""The admin JSON API through the Flask test client, against the session's migrated database."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from referral_plugin.app import app_services
from referral_plugin.domain.events import Platform
from referral_plugin.domain.lifecycle import IllegalTransition
from referral_plugin.errors import Conflict, NotFound, ValidationError
from referral_plugin.services import shops
from referral_plugin.settings import Settings
from tests.edge.conftest import built_app

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TWO_SIDED = {
    "name": "Give 15%, get $10",
    "kind": "two_sided",
    "friend_reward": {"kind": "percent_discount", "percent": "15"},
    "advocate_reward": {"kind": "fixed_discount", "amount": "10.00"},
}


@dataclasses.dataclass(frozen=True)
class ShopClient:
    """A test client authenticated as one shop."""

    shop_id: int
    token: str
    client: FlaskClient

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any):
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        if body is not None:
            kwargs["json"] = body
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)


def connect_shop(app: Flask) -> tuple[int, str]:
    services = app_services(app)
    with services.sessions.begin() as session:
        shop = shops.add_shop(
            session,
            platform=Platform.SHOPIFY,
            domain=f"api-{uuid.uuid4().hex[:10]}.myshopify.com",
            currency="USD",
            credentials={"access_token": "shpat_test"},
            box=services.box,
            now=NOW,
        )
        return shop.id, shops.issue_api_token(session, shop.id)


@pytest.fixture
def shop(app: Flask, client: FlaskClient) -> ShopClient:
    return ShopClient(*connect_shop(app), client)


@pytest.fixture
def other_shop(app: Flask, client: FlaskClient) -> ShopClient:
    return ShopClient(*connect_shop(app), client)


def create_program(shop: ShopClient, **overrides: Any) -> dict[str, Any]:
    response = shop.call("POST", "/programs", {**TWO_SIDED, **overrides})
    assert response.status_code == 201, response.json
    return response.json


def enroll(shop: ShopClient, program_id: int, email: str | None = None, **fields: Any):
    email = email or f"advocate-{uuid.uuid4().hex[:8]}@example.com"
    return shop.call("POST", "/advocates", {"program_id": program_id, "email": email, **fields})


def error_fields(response: Any) -> set[str]:
    return {error["field"] for error in response.json.get("errors", [])}


# --- authentication -------------------------------------------------------------------------


def test_a_request_without_a_token_is_challenged(client: FlaskClient) -> None:
    response = client.get("/api/v1/programs")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["error"] == "unauthorized"


@pytest.mark.parametrize(
    ("label", "header"),
    [
        ("unknown token", "Bearer rp_not-a-real-token"),
        ("empty bearer", "Bearer "),
        ("basic scheme", "Basic dXNlcjpwYXNz"),
    ],
)
def test_an_invalid_token_is_refused(label: str, header: str, client: FlaskClient) -> None:
    response = client.get("/api/v1/advocates", headers={"Authorization": header})

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


# --- programs -------------------------------------------------------------------------------


def test_programs_can_be_created_listed_read_and_patched(shop: ShopClient) -> None:
    created = shop.call("POST", "/programs", TWO_SIDED)

    assert created.status_code == 201
    program = created.json
    assert created.headers["Location"].endswith(f"/api/v1/programs/{program['id']}")
    assert (program["shop_id"], program["currency"], program["kind"]) == (
        shop.shop_id,
        "USD",
        "two_sided",
    )
    assert shop.call("GET", f"/programs/{program['id']}").json == program
    assert [p["id"] for p in shop.call("GET", "/programs").json["programs"]] == [program["id"]]
    # Where shoppers join: the random public id, never the sequential one.
    assert len(program["public_id"]) >= 16 and str(program["id"]) != program["public_id"]
    assert program["join_url"].endswith(f"/p/{program['public_id']}/join")
    assert shop.client.get(urlsplit(program["join_url"]).path).status_code == 200

    patched = shop.call("PATCH", f"/programs/{program['id']}", {"name": "Spring", "hold_days": 14})

    assert patched.status_code == 200
    assert (patched.json["name"], patched.json["hold_days"]) == ("Spring", 14)
    assert patched.json["friend_reward"] == program["friend_reward"]
    assert shop.call("GET", f"/programs/{program['id']}").json == patched.json


@pytest.mark.parametrize(
    ("label", "body", "fields"),
    [
        ("missing name and kind", {}, {"name", "kind"}),
        ("unknown kind", {**TWO_SIDED, "kind": "pyramid"}, {"kind"}),
        (
            "two-sided without friend reward",
            {**TWO_SIDED, "friend_reward": None},
            {"friend_reward"},
        ),
        (
            "bad reward amount",
            {**TWO_SIDED, "advocate_reward": {"kind": "fixed_discount", "amount": "ten"}},
            {"advocate_reward.amount"},
        ),
        ("hold days out of range", {**TWO_SIDED, "hold_days": 9999}, {"hold_days"}),
    ],
)
def test_an_invalid_program_is_refused_naming_the_fields(
    label: str, body: dict[str, Any], fields: set[str], shop: ShopClient
) -> None:
    response = shop.call("POST", "/programs", body)

    assert response.status_code == 422
    assert response.json["error"] == "validation_failed"
    assert fields <= error_fields(response)


def test_an_invalid_patch_is_refused_and_changes_nothing(shop: ShopClient) -> None:
    program = create_program(shop)

    response = shop.call("PATCH", f"/programs/{program['id']}", {"kind": "pyramid"})

    assert response.status_code == 422
    assert "kind" in error_fields(response)
    assert shop.call("GET", f"/programs/{program['id']}").json == program


def test_another_shops_program_is_not_found(shop: ShopClient, other_shop: ShopClient) -> None:
    program = create_program(other_shop)
    path = f"/programs/{program['id']}"

    assert shop.call("GET", path).status_code == 404
    assert shop.call("PATCH", path, {"name": "Mine now"}).status_code == 404
    assert shop.call("GET", "/programs").json["programs"] == []
    assert enroll(shop, program["id"]).status_code == 404
    assert other_shop.call("GET", path).json["name"] == TWO_SIDED["name"]


# --- advocates ------------------------------------------------------------------------------


def test_enrolling_returns_the_advocate_with_a_code_once(shop: ShopClient) -> None:
    program = create_program(shop)

    first = enroll(shop, program["id"], "Ana@Example.com", first_name="Ana")
    again = enroll(shop, program["id"], "ana@example.com", first_name="Ana")

    assert first.status_code == 201
    assert first.headers["Location"].endswith(f"/api/v1/advocates/{first.json['id']}")
    assert re.fullmatch(r"[A-Z0-9-]{8,}", first.json["code"])
    assert first.json["program_id"] == program["id"]
    assert again.status_code == 200
    assert again.json["id"] == first.json["id"]
    assert again.json["code"] == first.json["code"]


def test_advocates_can_be_read_listed_by_program_and_patched(shop: ShopClient) -> None:
    spring, summer = create_program(shop), create_program(shop, name="Summer")
    ana = enroll(shop, spring["id"], first_name="Ana").json
    ben = enroll(shop, summer["id"], first_name="Ben").json

    assert shop.call("GET", f"/advocates/{ana['id']}").json == ana
    listed = shop.call("GET", f"/advocates?program_id={summer['id']}").json
    assert [a["id"] for a in listed["advocates"]] == [ben["id"]]
    assert {a["id"] for a in shop.call("GET", "/advocates").json["advocates"]} == {
        ana["id"],
        ben["id"],
    }
    page = shop.call("GET", "/advocates?limit=1&offset=1").json
    assert (len(page["advocates"]), page["limit"], page["offset"]) == (1, 1, 1)

    patched = shop.call("PATCH", f"/advocates/{ana['id']}", {"last_name": "Lima"})

    assert patched.status_code == 200
    assert patched.json["last_name"] == "Lima"
    assert shop.call("GET", f"/advocates/{ana['id']}").json["last_name"] == "Lima"


@pytest.mark.parametrize(
    ("label", "body", "fields"),
    [
        ("missing both", {}, {"program_id", "email"}),
        ("program id as text", {"program_id": "one", "email": "a@example.com"}, {"program_id"}),
        ("email not text", {"program_id": 1, "email": 42}, {"email"}),
        ("unknown field", {"program_id": 1, "email": "a@example.com", "vip": True}, {"vip"}),
    ],
)
def test_an_invalid_enrollment_names_the_fields(
    label: str, body: dict[str, Any], fields: set[str], shop: ShopClient
) -> None:
    response = shop.call("POST", "/advocates", body)

    assert response.status_code == 422
    assert fields <= error_fields(response)


def test_an_enrollment_with_a_malformed_email_is_refused(shop: ShopClient) -> None:
    response = enroll(shop, create_program(shop)["id"], "not-an-email")

    assert response.status_code == 422
    assert "email" in error_fields(response)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=201", "limit"),
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("program_id=abc", "program_id"),
    ],
)
def test_bad_query_parameters_are_named(query: str, parameter: str, shop: ShopClient) -> None:
    response = shop.call("GET", f"/advocates?{query}")

    assert response.status_code == 400
    assert response.json["error"] == "invalid_parameter"
    assert error_fields(response) == {parameter}


def test_another_shops_advocate_is_not_found(shop: ShopClient, other_shop: ShopClient) -> None:
    advocate = enroll(other_shop, create_program(other_shop)["id"]).json
    path = f"/advocates/{advocate['id']}"

    assert shop.call("GET", path).status_code == 404
    assert shop.call("PATCH", path, {"first_name": "Eve"}).status_code == 404
    assert shop.call("GET", "/advocates").json["advocates"] == []


# --- unreadable requests and HTTP errors ----------------------------------------------------


@pytest.mark.parametrize(
    ("label", "data", "content_type", "error"),
    [
        ("malformed json", "{not json", "application/json", "malformed_json"),
        ("a list, not an object", "[1, 2]", "application/json", "malformed_json"),
        ("form post", "name=x", "application/x-www-form-urlencoded", "unsupported_content_type"),
        ("no content type", "{}", None, "unsupported_content_type"),
    ],
)
def test_an_unreadable_body_is_a_400_naming_the_problem(
    label: str, data: str, content_type: str | None, error: str, shop: ShopClient
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}

    response = shop.call("POST", "/programs", data=data, headers=headers)

    assert response.status_code == 400
    assert response.json["error"] == error
    assert response.json["message"]


def test_unknown_routes_and_methods_answer_json(client: FlaskClient, shop: ShopClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    wrong_method = shop.call("DELETE", "/programs/1")

    assert (missing.status_code, missing.json["error"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json["error"]) == (405, "method_not_allowed")
    assert "PATCH" in wrong_method.headers["Allow"]


def test_a_body_over_the_limit_is_a_413(settings: Settings, engine: Engine) -> None:
    small = dataclasses.replace(settings, webhook_max_body_bytes=1024)
    for app in built_app(small):
        shop = ShopClient(*connect_shop(app), app.test_client())

        response = shop.call("POST", "/programs", {**TWO_SIDED, "name": "x" * 2000})

        assert response.status_code == 413
        assert response.json["error"] == "request_too_large"


@pytest.mark.parametrize(
    ("exception", "status", "error"),
    [
        (ValidationError.single("name", "is required"), 422, "validation_failed"),
        (NotFound("program", 7), 404, "not_found"),
        (Conflict("code ANNA is taken"), 409, "conflict"),
        (IllegalTransition("reward cannot move from redeemed to held"), 409, "conflict"),
        (RuntimeError("secret details /etc/passwd"), 500, "internal_error"),
    ],
)
def test_service_errors_map_to_http_in_one_place(
    exception: Exception, status: int, error: str, app: Flask, client: FlaskClient
) -> None:
    def fail() -> None:
        raise exception

    app.add_url_rule("/raise-for-test", view_func=fail)

    response = client.get("/raise-for-test")

    assert response.status_code == status
    assert response.json["error"] == error
    assert "Traceback" not in response.get_data(as_text=True)
    assert "/etc/passwd" not in response.get_data(as_text=True)


# --- the OpenAPI document -------------------------------------------------------------------


def test_the_openapi_document_is_served_as_yaml_and_json(client: FlaskClient) -> None:
    as_yaml = client.get("/api/v1/openapi.yaml")
    as_json = client.get("/api/v1/openapi.json")

    assert as_yaml.status_code == 200
    assert as_yaml.mimetype == "application/yaml"
    assert as_yaml.get_data(as_text=True).startswith("openapi: 3.1")
    assert as_json.status_code == 200
    assert as_json.json["openapi"].startswith("3.1")
    assert set(as_json.json["components"]["schemas"]) >= {
        "Program",
        "RewardSpec",
        "Conditions",
        "Advocate",
        "Error",
    }


def test_every_api_route_is_documented_and_every_documented_route_exists(
    app: Flask, client: FlaskClient
) -> None:
    document = json.loads(client.get("/api/v1/openapi.json").get_data(as_text=True))
    documented = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
        if method != "parameters"
    }

    assert flask_api_operations(app) == documented


def flask_api_operations(app: Flask) -> set[tuple[str, str]]:
    """(OpenAPI path relative to /api/v1, METHOD) for every Flask route under /api/v1."""
    operations = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operations.add((path, method))
    return operations
