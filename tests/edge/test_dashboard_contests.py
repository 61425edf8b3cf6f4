"""The dashboard's contest pages: standings with names for the merchant, the winner draw
(refused before the end with the reason, invalid input at its field), every draw kept and
checked again; another shop's contest answers 404."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from referral_plugin.app import app_services
from referral_plugin.services.programs import create_program
from tests.dashboard_support import app_on_own_database, connect_shop, csrf_from, sign_in
from tests.edge.test_contests_api import ENDED, PLACED, RUNNING, enroll, pay_order


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with app_on_own_database(tmp_path_factory.mktemp("contests")) as own:
        yield own


def a_contest(app: Flask, shop_id: int, config: dict) -> int:
    """The contest with Anna's two entries and Bea's one."""
    with app_services(app).sessions.begin() as session:
        program_id = create_program(session, shop_id, config, now=PLACED).id
    anna = enroll(app, shop_id, program_id, "anna@example.com", first_name="Anna")
    bea = enroll(app, shop_id, program_id, "bea@example.com", first_name="Bea")
    for code, day in ((anna.code, 3), (anna.code, 4), (bea.code, 6)):
        pay_order(app, shop_id, code, datetime(2020, 1, day, tzinfo=UTC))
    return program_id


def signed_in(app: Flask, client: FlaskClient) -> int:
    shop = connect_shop(app)
    sign_in(app, client, shop.id)
    return shop.id


def test_the_standings_and_a_seeded_draw_that_checks_out(app: Flask, client: FlaskClient) -> None:
    program_id = a_contest(app, signed_in(app, client), ENDED)
    page = client.get(f"/admin/contests/{program_id}")
    assert page.status_code == 200
    assert re.search(r"Anna\s*</a>\s*<span class=\"muted\">anna@example.com", page.text)
    assert "3 from 2 advocates" in page.text
    assert "Winter contest" in client.get("/admin/contests").text

    drawn = client.post(
        f"/admin/contests/{program_id}/draws",
        data={"winners": "2", "seed": "lottery 2020-02-01", "weighting": "per_entry",
              "csrf_token": csrf_from(page.text)},
    )  # fmt: skip

    assert drawn.status_code == 303
    after = client.get(drawn.headers["Location"])
    assert "lottery 2020-02-01" in after.text and "(yours)" in after.text
    assert after.text.count("<li>") >= 2
    draw_id = re.search(r"/draws/(\d+)/verify", after.text).group(1)
    check = client.get(f"/admin/contests/{program_id}/draws/{draw_id}/verify")
    assert check.status_code == 200 and "Verified:" in check.text


def test_a_running_contest_has_no_draw_form_and_a_post_is_refused(
    app: Flask, client: FlaskClient
) -> None:
    program_id = a_contest(app, signed_in(app, client), RUNNING)
    page = client.get(f"/admin/contests/{program_id}")
    assert "The draw opens when the contest has ended" in page.text
    assert 'name="winners"' not in page.text

    refused = client.post(
        f"/admin/contests/{program_id}/draws",
        data={"winners": "1", "weighting": "per_entry", "csrf_token": csrf_from(page.text)},
    )

    assert refused.status_code == 409 and "draw after it has ended" in refused.text


@pytest.mark.parametrize(
    ("form", "field"),
    [({"winners": "0"}, "winners"), ({"winners": "x"}, "winners"), ({"winners": "3"}, "winners")],
)
def test_bad_input_answers_422_at_its_field(
    app: Flask, client: FlaskClient, form: dict[str, str], field: str
) -> None:
    program_id = a_contest(app, signed_in(app, client), ENDED)
    token = csrf_from(client.get(f"/admin/contests/{program_id}").text)

    answer = client.post(
        f"/admin/contests/{program_id}/draws",
        data={"weighting": "per_entry", "csrf_token": token, **form},
    )

    assert answer.status_code == 422
    assert f'id="{field}-error"' in answer.text and "No draw yet." in answer.text


def test_another_shops_contest_answers_404(app: Flask, client: FlaskClient) -> None:
    theirs = a_contest(app, connect_shop(app).id, ENDED)
    signed_in(app, client)
    token = csrf_from(client.get("/admin/contests").text)

    assert client.get(f"/admin/contests/{theirs}").status_code == 404
    drawn = client.post(
        f"/admin/contests/{theirs}/draws",
        data={"winners": "1", "weighting": "per_entry", "csrf_token": token},
    )
    assert drawn.status_code == 404
