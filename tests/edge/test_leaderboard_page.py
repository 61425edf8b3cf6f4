"""The public leaderboard `/p/<public_id>/leaderboard[/<token>]` through the Flask test client:
masked names and never an email, the viewer's own rank through their signed status link, a
bad link shown as such, the shopper 404 page for anything that is not a contest."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from referral_plugin.web.shopper_links import AdvocateRef, status_token
from tests.edge.test_admin_api import ShopClient, connect_shop, create_program
from tests.edge.test_contests_api import ENDED, RUNNING, enroll, pay_order

SECRET_KEY = "test-secret-key"  # the `settings` fixture's


@pytest.fixture
def shop(app: Flask, client: FlaskClient) -> ShopClient:
    return ShopClient(*connect_shop(app), client)


def contest_with_entries(app: Flask, shop: ShopClient, config=ENDED) -> tuple[str, list]:
    program = create_program(shop, **config)
    people = [
        enroll(app, shop.shop_id, program["id"], "anna.nowak@example.com",
               first_name="Anna", last_name="Nowak"),
        enroll(app, shop.shop_id, program["id"], "bartek@example.com"),
        enroll(app, shop.shop_id, program["id"], "cleo@example.com", first_name="Cleo"),
    ]  # fmt: skip
    for person, days in zip(people, ((3, 4, 5), (6, 7), ()), strict=True):
        for day in days:
            pay_order(app, shop.shop_id, person.code, datetime(2020, 1, day, tzinfo=UTC))
    return program["public_id"], people


def page(client: FlaskClient, public_id: str, suffix: str = "", lang: str = "en"):
    return client.get(f"/p/{public_id}/leaderboard{suffix}?lang={lang}")


def rows(html: str) -> list[list[str]]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_the_public_board_masks_names_and_shows_no_email(
    app: Flask, shop: ShopClient, client: FlaskClient
) -> None:
    public_id, _ = contest_with_entries(app, shop)

    response = page(client, public_id)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert rows(html) == [["1", "Anna N.", "3"], ["2", "b•••@example.com", "2"]]
    assert "The contest has ended." in html and "Entries in total: 5" in html
    assert "example.com" not in html.replace("b•••@example.com", "")
    assert "Take part" not in html  # ended: nothing left to join for


def test_the_signed_status_link_shows_the_viewers_own_rank(
    app: Flask, shop: ShopClient, client: FlaskClient
) -> None:
    public_id, people = contest_with_entries(app, shop)

    bartek = page(
        client, public_id, "/" + status_token(SECRET_KEY, AdvocateRef(public_id, people[1].code))
    )
    cleo = page(
        client, public_id, "/" + status_token(SECRET_KEY, AdvocateRef(public_id, people[2].code))
    )

    assert "Your rank: 2 · Your entries: 2" in bartek.get_data(as_text=True)
    assert 'class="me" aria-current="true"' in bartek.get_data(as_text=True)
    assert rows(bartek.get_data(as_text=True))[1] == ["2", "b•••@example.com (you)", "2"]
    assert "You have no entries yet." in cleo.get_data(as_text=True)


@pytest.mark.parametrize("which", ["forged", "other program", "unknown code"])
def test_a_bad_link_shows_the_board_without_a_rank(
    app: Flask, shop: ShopClient, client: FlaskClient, which: str
) -> None:
    public_id, people = contest_with_entries(app, shop)
    token = {
        "forged": "not-a-token",
        "other program": status_token(SECRET_KEY, AdvocateRef("another-program", people[0].code)),
        "unknown code": status_token(SECRET_KEY, AdvocateRef(public_id, "NOPE-0000")),
    }[which]

    response = page(client, public_id, f"/{token}")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Your personal link has expired or is not valid" in html and "Your rank" not in html
    assert len(rows(html)) == 2


def test_a_running_contest_says_when_it_ends_and_invites_to_join(
    app: Flask, shop: ShopClient, client: FlaskClient
) -> None:
    program = create_program(shop, **RUNNING)

    html = page(client, program["public_id"]).get_data(as_text=True)

    assert "The contest ends on January 1, 2100 at 12:00\u202fAM (UTC)." in html
    assert "No entries yet" in html and f"/p/{program['public_id']}/join" in html


def test_the_persian_board_is_right_to_left_and_translated(
    app: Flask, shop: ShopClient, client: FlaskClient
) -> None:
    public_id, _ = contest_with_entries(app, shop)

    html = page(client, public_id, lang="fa").get_data(as_text=True)

    assert 'dir="rtl"' in html and "<bdi>Anna N.</bdi>" in html
    assert "<h1>جدول رده‌بندی</h1>" in html and "مسابقه به پایان رسیده است." in html
    assert rows(html)[0] == ["1", "Anna N.", "3"]  # numbers as on the other Persian pages


def test_only_contests_have_a_leaderboard(
    app: Flask, shop: ShopClient, client: FlaskClient
) -> None:
    two_sided = create_program(shop)

    assert page(client, two_sided["public_id"]).status_code == 404
    assert page(client, "no-such-program").status_code == 404
    assert "This page is not available" in page(client, "no-such-program").get_data(as_text=True)
