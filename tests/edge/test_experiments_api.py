"""A/B tests through the Flask test client: the experiment set through the program API (422
naming the field, 409 for dropping an assigned variant), the results route (404 for another
shop's program or a program without one, 422 for a bad window), and the join page answering a
held-out shopper politely in their language."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from referral_plugin.app import app_services
from referral_plugin.domain.experiments import EnrollmentSource
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.settings import Settings
from referral_plugin.web.shopper_links import AdvocateRef, share_token, status_token
from tests.edge.conftest import built_app
from tests.edge.test_admin_api import (
    TWO_SIDED,
    ShopClient,
    connect_shop,
    create_program,
    error_fields,
)
from tests.edge.test_shopper_pages import NOW, a_store, h1, join

EXPERIMENT: dict[str, Any] = {
    "variants": [
        {"key": "a", "name": "Ten off"},
        {"key": "b", "name": "Twenty off",
         "advocate_reward": {"kind": "fixed_discount", "amount": "20.00"}},
    ],
    "holdout_percent": 10,
    "started_at": "2020-01-01T00:00:00Z",
}  # fmt: skip


@pytest.fixture
def shop(app: Flask, client: FlaskClient) -> ShopClient:
    return ShopClient(*connect_shop(app), client)


def enroll(app: Flask, shop_id: int, program_id: int, email: str, draw: float):
    with app_services(app).sessions.begin() as session:
        return enroll_advocate(
            session, shop_id, program_id, email=email, now=NOW,
            source=EnrollmentSource.API, random_value=lambda: draw,
        )  # fmt: skip


def test_an_experiment_is_set_through_the_program_and_its_results_read_back(
    app: Flask, shop: ShopClient
) -> None:
    program = create_program(shop, experiment={**EXPERIMENT, "started_at": None})
    assert program["experiment"]["started_at"] is not None  # the time of the request
    assert [v["key"] for v in program["experiment"]["variants"]] == ["a", "b"]
    response = shop.call("POST", "/advocates", {"program_id": program["id"], "email": "x@e.com"})
    assert response.status_code == 201
    variant = response.json["variant"]
    assert variant in ("a", "b", "holdout")
    assert (response.json["code"] is None) == (variant == "holdout")

    results = shop.call("GET", f"/programs/{program['id']}/experiment")
    assert results.status_code == 200, results.json
    assert results.json["control"] == "a"
    counts = {g["key"]: g["advocates"] for g in results.json["groups"]}
    assert counts == {key: int(key == variant) for key in ("a", "b", "holdout")}


def test_bad_experiment_input_answers_422_naming_the_field(shop: ShopClient) -> None:
    variants = [EXPERIMENT["variants"][0], {**EXPERIMENT["variants"][1], "weight": 0}]
    bad_weight = {**EXPERIMENT, "variants": variants}
    created = shop.call("POST", "/programs", {**TWO_SIDED, "experiment": bad_weight})
    assert created.status_code == 422
    assert "experiment.variants.1.weight" in error_fields(created)
    program = create_program(shop)
    one_sided_friend = {**EXPERIMENT, "variants": [
        EXPERIMENT["variants"][0],
        {"key": "c", "name": "C", "friend_reward": {"kind": "percent_discount", "percent": "5"}},
    ]}  # fmt: skip
    patched = shop.call(
        "PATCH", f"/programs/{program['id']}",
        {"kind": "one_sided", "friend_reward": None, "experiment": one_sided_friend},
    )  # fmt: skip
    assert patched.status_code == 422
    assert error_fields(patched) == {"experiment.variants.1.friend_reward"}
    holdout = shop.call(
        "PATCH", f"/programs/{program['id']}", {"experiment": {**EXPERIMENT, "holdout_percent": 60}}
    )
    assert error_fields(holdout) == {"experiment.holdout_percent"}


def test_dropping_a_variant_with_advocates_answers_409_naming_the_field(
    app: Flask, shop: ShopClient
) -> None:
    program = create_program(shop, experiment=EXPERIMENT)
    enroll(app, shop.shop_id, program["id"], "ben@example.com", 0.9)  # b
    only_a = {**EXPERIMENT, "variants": [EXPERIMENT["variants"][0]]}
    response = shop.call("PATCH", f"/programs/{program['id']}", {"experiment": only_a})
    assert response.status_code == 409
    assert error_fields(response) == {"experiment.variants"}
    assert "variant(s) b" in response.json["message"]
    ended = shop.call("PATCH", f"/programs/{program['id']}", {"experiment": None})
    assert ended.status_code == 200 and ended.json["experiment"] is None


def test_the_results_route_is_scoped_to_the_shop_and_checks_its_window(
    app: Flask, client: FlaskClient, shop: ShopClient
) -> None:
    program = create_program(shop, experiment=EXPERIMENT)
    other = ShopClient(*connect_shop(app), client)
    assert other.call("GET", f"/programs/{program['id']}/experiment").status_code == 404
    plain = create_program(shop)
    assert shop.call("GET", f"/programs/{plain['id']}/experiment").status_code == 404
    assert shop.call("GET", f"/programs/{2**64}/experiment").status_code == 404
    assert client.get(f"/api/v1/programs/{program['id']}/experiment").status_code == 401
    for query, field in [("since=yesterday", "since"), ("until=2020-01-01T00:00:00", "until"),
                         ("since=2030-01-01&until=2029-01-01", "until")]:  # fmt: skip
        response = shop.call("GET", f"/programs/{program['id']}/experiment?{query}")
        assert response.status_code == 422, query
        assert error_fields(response) == {field}
    window = shop.call(
        "GET", f"/programs/{program['id']}/experiment?since=2020-01-01&until=2020-02-01T00:00:00Z"
    )
    assert (window.json["since"], window.json["until"]) == (
        "2020-01-01T00:00:00+00:00",
        "2020-02-01T00:00:00+00:00",
    )


@pytest.mark.parametrize(
    ("query", "title"),
    [("", "This program isn't available to you right now"),
     ("?lang=ro", "Acest program nu îți este disponibil momentan")],
)  # fmt: skip
def test_a_held_out_shopper_gets_no_code_and_a_polite_page(
    app: Flask, client: FlaskClient, query: str, title: str
) -> None:
    store = a_store(app, experiment=EXPERIMENT)
    enroll(app, store.shop_id, store.program_id, "hana@example.com", 0.05)  # the holdout
    client.get(f"/p/{store.public_id}/join{query}")  # the language choice is remembered
    response = join(client, store, "Hana@example.com")
    assert response.status_code == 200
    assert h1(response) == title.replace("'", "&#39;")
    assert "Bella Ceramics" in response.get_data(as_text=True)
    assert 'id="code"' not in response.get_data(as_text=True)


OFFERS: dict[str, Any] = {
    "variants": [
        {"key": "a", "name": "The program's offer"},
        {"key": "b", "name": "Bigger",
         "advocate_reward": {"kind": "fixed_discount", "amount": "20.00"},
         "friend_reward": {"kind": "percent_discount", "percent": "25"}},
    ],
    "started_at": "2020-01-01T00:00:00Z",
}  # fmt: skip


@pytest.fixture
def offline_app(settings: Settings, engine: Engine) -> Iterator[Flask]:
    """The store is unreachable (port 9): pages say the code works in a few minutes."""
    yield from built_app(dataclasses.replace(settings, shopify_shop_origin="http://127.0.0.1:9"))


@pytest.mark.parametrize(
    ("draw", "headline", "friend_offer"),
    [(0.2, "Give 15% off, get $10 off", "15% off"), (0.7, "Give 25% off, get $20 off", "25% off")],
)  # fmt: skip
def test_the_share_status_and_link_pages_show_the_advocates_variant(
    offline_app: Flask, draw: float, headline: str, friend_offer: str
) -> None:
    app, client = offline_app, offline_app.test_client()
    store = a_store(app, experiment=OFFERS)
    advocate = enroll(app, store.shop_id, store.program_id, "ana@example.com", draw)
    secret = app_services(app).settings.secret_key
    ref = AdvocateRef(store.public_id, advocate.code)
    share = client.get(f"/p/{store.public_id}/share/{share_token(secret, ref)}")
    status = client.get(f"/p/{store.public_id}/status/{status_token(secret, ref)}")
    assert share.status_code == status.status_code == 200
    assert title(share) == f"{headline} · Bella Ceramics"
    message = f"Get {friend_offer} at Bella Ceramics with my code {advocate.code}"
    assert message in unquote(share.get_data(as_text=True))  # the one-tap share message
    friend = app.test_client()  # another browser: the friend's
    landing = friend.get(f"/r/{advocate.code}", headers={"User-Agent": "Mozilla/5.0"})
    assert landing.status_code == 200
    assert f"Your friend gives you {friend_offer} at Bella Ceramics" in landing.get_data(
        as_text=True
    )


def title(response: Any) -> str:
    return re.search(r"<title>(.*?)</title>", response.get_data(as_text=True), re.S).group(1)
