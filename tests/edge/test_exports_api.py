"""`GET /api/v1/exports/{advocates,referrals,rewards}.csv`: the shop's rows only, a header row,
amounts as plain decimals beside the currency, formula cells defused, dates validated."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from referral_plugin.app import app_services
from referral_plugin.domain.events import OrderEventKind
from referral_plugin.services.exports import EXPORTS, csv_cell, export_csv
from referral_plugin.services.orders import record_order_event
from tests.edge.test_admin_api import ShopClient, connect_shop, error_fields
from tests.integration import builders as b

AB_TEST = {  # both variants keep the program's offer
    "variants": [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}],
    "started_at": "2026-01-01T00:00:00Z",
}
EVIL_NAME = '=HYPERLINK("https://evil.example","x")'


@pytest.fixture
def shop(app: Flask, client: FlaskClient) -> ShopClient:
    """A shop with two advocates (one with a formula as a name, in A/B group b) and one
    referred, paid order."""
    shop = ShopClient(*connect_shop(app), client)
    services = app_services(app)
    with services.sessions.begin() as session:
        program = b.program(session, shop.shop_id, b.ONE_SIDED, experiment=AB_TEST)
        anna = b.advocate(
            session, shop.shop_id, program.id, first_name=EVIL_NAME, random_value=lambda: 0.7
        )
        b.advocate(session, shop.shop_id, program.id, email="ben@example.com", first_name="-Ben")
        order = b.order_event(OrderEventKind.PAID, "7001", codes=(anna.code,), subtotal="80.5")
        record_order_event(session, shop.shop_id, order, now=b.NOW, code_key=services.code_key)
    return shop


def rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_advocates_are_exported_with_formulas_defused(shop: ShopClient) -> None:
    response = shop.call("GET", "/exports/advocates.csv")

    assert "attachment" in response.headers["Content-Disposition"]
    found = rows(response)
    assert [r["email"] for r in found] == ["anna@example.com", "ben@example.com"]
    assert found[0]["first_name"] == "'" + EVIL_NAME
    assert found[1]["first_name"] == "'-Ben"
    assert (found[0]["balance"], found[0]["currency"]) == ("10.00", "USD")
    assert found[0]["created_at"] == "2026-03-02T12:00:00Z"
    assert found[0]["variant"] == "b"
    header = response.get_data(as_text=True).splitlines()[0]
    assert header.split(",") == list(EXPORTS["advocates"].header)


def test_referrals_and_rewards_carry_amounts_and_currency(shop: ShopClient) -> None:
    [referral] = rows(shop.call("GET", "/exports/referrals.csv"))
    assert (referral["order_id"], referral["advocate_email"]) == ("7001", "anna@example.com")
    assert (referral["order_subtotal"], referral["currency"]) == ("80.50", "USD")
    assert referral["status"] == "converted"

    [reward] = rows(shop.call("GET", "/exports/rewards.csv"))
    assert (reward["value"], reward["currency"], reward["status"]) == ("10.00", "USD", "held")
    assert reward["referral_id"] == referral["id"] and reward["order_id"] == "7001"


def test_another_shops_rows_are_not_exported(app: Flask, shop: ShopClient) -> None:
    other = ShopClient(*connect_shop(app), shop.client)
    for kind in ("advocates", "referrals", "rewards"):
        assert rows(other.call("GET", f"/exports/{kind}.csv")) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [("from=2026-03-02&to=2026-03-02", 2), ("from=2026-03-03", 0), ("to=2026-03-01", 0)],
)
def test_the_date_window_is_inclusive_utc_days(shop: ShopClient, query: str, expected: int) -> None:
    assert len(rows(shop.call("GET", f"/exports/advocates.csv?{query}"))) == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-13-01", "from"),
        ("from=yesterday", "from"),
        ("to=2026-03-02T10:00:00", "to"),
        ("from=2026-03-05&to=2026-03-01", "to"),
        ("to=9999-12-31", "to"),  # the day after it does not exist: once a 500
        ("from=0001-01-01", "from"),
        ("to=2100-01-01", "to"),
    ],
)
def test_bad_dates_answer_422_naming_the_parameter(
    shop: ShopClient, query: str, field: str
) -> None:
    response = shop.call("GET", f"/exports/referrals.csv?{query}")
    assert response.status_code == 422
    assert error_fields(response) == {field}


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("-12.50", "-12.50"),  # a plain number stays a number
        ("-1+2", "'-1+2"),
        ("plain", "plain"),
        (None, ""),
    ],
)
def test_csv_cells(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


def test_pages_follow_each_other_by_id(app: Flask, shop: ShopClient) -> None:
    services = app_services(app)
    text = "".join(export_csv(services.sessions.begin, shop.shop_id, "advocates", page_size=1))
    assert [r["email"] for r in csv.DictReader(io.StringIO(text))] == [
        "anna@example.com",
        "ben@example.com",
    ]
