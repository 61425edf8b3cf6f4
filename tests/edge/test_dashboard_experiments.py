"""The dashboard's A/B test pages: the list of programs with a test, and one test's results per
group (the offer each group sees, advocates, conversions, the comparison in words). Another
shop's program answers 404; bad dates answer 422 at their field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from referral_plugin.app import app_services
from referral_plugin.domain.events import OrderEventKind
from referral_plugin.domain.experiments import EnrollmentSource
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.orders import record_order_event
from tests.dashboard_support import app_on_own_database, connect_shop, sign_in
from tests.integration import builders as b

STARTED = datetime.now(tz=UTC) - timedelta(days=3)
EXPERIMENT: dict[str, Any] = {
    "variants": [
        {"key": "a", "name": "Ten off"},
        {"key": "b", "name": "Twenty in credit",
         "advocate_reward": {"kind": "store_credit", "amount": "20.00"}},
    ],
    "holdout_percent": 10,
    "started_at": STARTED.isoformat(),
}  # fmt: skip
# holdout [0, 0.1), a [0.1, 0.55), b [0.55, 1)
GROUPS = {"holdout": 0.05, "a": 0.3, "b": 0.8}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with app_on_own_database(tmp_path_factory.mktemp("experiments")) as own:
        yield own


def a_test(app: Flask, shop_id: int) -> int:
    """A program with the test: 3 advocates in a (one referred a paying friend), 2 in b, 1 held
    out."""
    now = datetime.now(tz=UTC)
    with app_services(app).sessions.begin() as session:
        program = b.program(session, shop_id, b.ONE_SIDED, name="Spring", experiment=EXPERIMENT)
        people = [("a", 3), ("b", 2), ("holdout", 1)]
        codes = {}
        for group, count in people:
            for n in range(count):
                enrolled = enroll_advocate(
                    session, shop_id, program.id, email=f"{group}{n}@example.com", now=now,
                    source=EnrollmentSource.API, random_value=lambda g=group: GROUPS[g],
                )  # fmt: skip
                codes[f"{group}{n}"] = enrolled.code
        order = b.order_event(
            OrderEventKind.PAID, "5001", codes=(codes["a0"],), email="friend@example.net"
        )
        record_order_event(session, shop_id, order, now=now, code_key=b.CODE_KEY)
        return program.id


def test_the_results_show_each_groups_offer_and_numbers(app: Flask, client: FlaskClient) -> None:
    shop = connect_shop(app)
    program_id = a_test(app, shop.id)
    sign_in(app, client, shop.id)

    listing = client.get("/admin/experiments")
    page = client.get(f"/admin/experiments/{program_id}")

    assert listing.status_code == 200 and "Spring" in listing.text
    assert "Ten off, Twenty in credit, holdout 10%" in listing.text
    assert page.status_code == 200
    rows = re.findall(r"<tr>\s*<th scope=\"row\"[^>]*>(.*?)</tr>", page.text, re.S)
    text = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]
    assert text[0].startswith("Ten off (control)")
    assert "Get $10 off for each friend who orders 3 1 33.3% $100.00 $10.00" in text[0]
    assert text[1].startswith("Twenty in credit")
    assert "Get $20 in store credit for each friend who orders 2 0 0.0%" in text[1]
    assert "Too early to tell" in text[1]
    assert text[2].startswith("Holdout No program (holdout) 1")
    assert "Against the holdout" in page.text


def test_another_shops_test_answers_404(app: Flask, client: FlaskClient) -> None:
    theirs = connect_shop(app)
    program_id = a_test(app, theirs.id)
    sign_in(app, client, connect_shop(app).id)

    assert client.get(f"/admin/experiments/{program_id}").status_code == 404
    assert "Spring" not in client.get("/admin/experiments").text


@pytest.mark.parametrize(
    ("query", "field"),
    [("from=2026-02-30", "from"), ("to=9999-12-31", "to"), ("from=2026-05-02&to=2026-05-01", "to")],
)
def test_a_bad_date_answers_422_at_its_field(
    app: Flask, client: FlaskClient, query: str, field: str
) -> None:
    shop = connect_shop(app)
    program_id = a_test(app, shop.id)
    sign_in(app, client, shop.id)

    page = client.get(f"/admin/experiments/{program_id}?{query}")

    assert page.status_code == 422
    assert f'id="{field}-error"' in page.text and 'aria-invalid="true"' in page.text


def test_without_a_test_the_page_says_how_to_start_one(app: Flask, client: FlaskClient) -> None:
    sign_in(app, client, connect_shop(app).id)

    page = client.get("/admin/experiments")

    assert page.status_code == 200 and "No A/B test is running." in page.text
