"""An id in a URL is a row id (1 to 2**63 - 1): a bigger number, or 0, answers 404 on every
route that takes an id, before the view runs, never a 500 from the database.
The routes come from the app's own URL map, so a new route is covered when it is added."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from referral_plugin.app import app_services
from referral_plugin.services.shops import issue_api_token
from tests.dashboard_support import app_on_own_database, connect_shop, sign_in

TOO_BIG, ZERO = 2**64, 0
ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with app_on_own_database(tmp_path_factory.mktemp("route-ids")) as own:
        yield own


def id_routes(app: Flask) -> list[tuple[str, str]]:
    """(method, rule) of every route with an `<int:...>` part."""
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if "<int:" in rule.rule
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    )


def path_with(rule: str, number: int) -> str:
    return ARGUMENT.sub(lambda m: str(number) if m.group(1) == "int" else "x", rule)


def test_the_app_has_id_routes_on_the_api_and_the_dashboard(app: Flask) -> None:
    rules = {rule for _, rule in id_routes(app)}
    assert any(rule.startswith("/api/v1/") for rule in rules)
    assert any(rule.startswith("/admin/") for rule in rules)


@pytest.mark.parametrize("number", [TOO_BIG, ZERO], ids=["2**64", "0"])
def test_an_id_out_of_range_answers_404_on_every_route(
    app: Flask, client: FlaskClient, number: int
) -> None:
    shop = connect_shop(app)
    with app_services(app).sessions.begin() as session:
        token = issue_api_token(session, shop.id)
    sign_in(app, client, shop.id)
    answers = {}
    for method, rule in id_routes(app):
        path = path_with(rule, number)
        response = client.open(
            path, method=method, headers={"Authorization": f"Bearer {token}"}, json={}
        )
        answers[f"{method} {path}"] = response.status_code

    assert answers
    assert {k: v for k, v in answers.items() if v != 404} == {}
