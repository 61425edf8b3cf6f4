"""`GET /api/v1/analytics`: authenticated, scoped to the shop, parameters validated (422 naming
the parameter, never a 500), and every metric answered with its previous value, change, unit
and explanation, beside the series and the campaign presets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from referral_plugin.app import app_services
from referral_plugin.domain.events import OrderEventKind
from referral_plugin.domain.metrics import DEFINITIONS
from referral_plugin.services.orders import record_order_event
from tests.edge.test_admin_api import ShopClient, connect_shop, error_fields
from tests.integration import builders as b

MARCH = "/analytics?from=2026-03-01&to=2026-03-31"


@pytest.fixture
def shop(app: Flask, client: FlaskClient) -> ShopClient:
    """A shop with a campaign program, an advocate and one referred order paid on March 2."""
    shop = ShopClient(*connect_shop(app), client)
    services = app_services(app)
    with services.sessions.begin() as session:
        campaign = {"starts_at": "2026-03-01T00:00:00Z", "ends_at": "2026-04-01T00:00:00Z"}
        program = b.program(session, shop.shop_id, b.ONE_SIDED, conditions=campaign)
        anna = b.advocate(session, shop.shop_id, program.id)
        order = b.order_event(OrderEventKind.PAID, "7001", codes=(anna.code,), subtotal="80.50")
        record_order_event(session, shop.shop_id, order, now=b.NOW, code_key=services.code_key)
    return shop


def metrics_of(response) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)
    return {m["key"]: m for m in response.json["metrics"]}


def test_a_request_without_a_token_is_challenged(client: FlaskClient) -> None:
    response = client.get(f"/api/v1{MARCH}")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_token_is_refused(client: FlaskClient) -> None:
    response = client.get("/api/v1/analytics", headers={"Authorization": "Bearer rp_nope"})

    assert response.status_code == 401


def test_every_metric_comes_with_previous_value_change_unit_and_explanation(
    shop: ShopClient,
) -> None:
    response = shop.call("GET", MARCH)
    body = response.json

    assert (body["currency"], body["program_id"]) == ("USD", None)
    assert body["period"] == {"from": "2026-03-01", "to": "2026-03-31"}
    assert body["previous_period"] == {"from": "2026-01-29", "to": "2026-02-28"}
    metrics = metrics_of(response)
    assert list(metrics) == [d.key for d in DEFINITIONS]
    revenue = metrics["referred_revenue_net"]
    assert revenue["unit"] == "money" and revenue["currency"] == "USD"
    assert (revenue["value"], revenue["previous"], revenue["change"]) == ("80.50", "0.00", "80.50")
    assert revenue["change_percent"] is None
    assert revenue["display"] == {"value": "80.50 USD", "previous": "0.00 USD"}
    assert revenue["explanation"].startswith("Sum over the period's referred orders")
    orders = metrics["referred_orders"]
    assert (orders["value"], orders["previous"], orders["currency"]) == (1, 0, None)
    rate = metrics["referral_rate"]  # 1 advocate who referred / 1 customer; none before
    assert (rate["unit"], rate["value"], rate["previous"]) == ("percent", "100.0", None)
    assert rate["computation"] == {"value": "1 ÷ 1", "previous": "0 ÷ 0"}
    assert (rate["formula"], rate["better"]) == ("advocates who referred ÷ customers", "up")
    assert (metrics["cac"]["better"], metrics["referred_orders"]["formula"]) == ("down", None)
    assert rate["display"]["previous"] == "—"


def test_the_series_and_the_campaign_preset_come_along(shop: ShopClient) -> None:
    body = shop.call("GET", MARCH).json

    points = body["series"]["points"]
    assert body["series"]["bucket_days"] == 1 and len(points) == 31
    assert points[1] == {
        "start": "2026-03-02",
        "days": 1,
        "referred_orders": 1,
        "referred_revenue": "80.50",
        "referred_revenue_gross": "80.50",
        "clicks": 0,
        "reward_cost_issued": "0.00",
        "reward_cost_redeemed": "0.00",
    }
    previous = body["previous_series"]["points"]
    assert len(previous) == 31 and previous[0]["start"] == "2026-01-29"
    assert [(p["name"], p["from"], p["to"]) for p in body["presets"]] == [
        ("Give 10", "2026-03-01", "2026-03-31")
    ]


def test_one_program_can_be_asked_for(shop: ShopClient) -> None:
    program_id = shop.call("GET", MARCH).json["presets"][0]["program_id"]

    response = shop.call("GET", f"{MARCH}&program_id={program_id}")

    assert response.json["program_id"] == program_id
    assert metrics_of(response)["referred_orders"]["value"] == 1


def test_another_shops_program_is_not_found_and_its_orders_are_not_counted(
    app: Flask, shop: ShopClient
) -> None:
    theirs = shop.call("GET", MARCH).json["presets"][0]["program_id"]
    other = ShopClient(*connect_shop(app), shop.client)

    assert other.call("GET", f"{MARCH}&program_id={theirs}").status_code == 404
    assert metrics_of(other.call("GET", MARCH))["referred_orders"]["value"] == 0


def test_without_dates_the_last_thirty_days_are_shown(shop: ShopClient) -> None:
    today = datetime.now(tz=UTC).date()

    body = shop.call("GET", "/analytics").json

    assert body["period"] == {
        "from": (today - timedelta(days=29)).isoformat(),
        "to": today.isoformat(),
    }


@pytest.mark.parametrize(
    ("label", "query", "fields"),
    [
        ("not a date", "from=yesterday&to=2026-03-31", "from"),
        ("no such month", "from=2026-13-01&to=2026-03-31", "from"),
        ("no dashes", "from=2026-03-01&to=20260331", "to"),
        ("to before from", "from=2026-03-02&to=2026-03-01", "to"),
        ("over two years", "from=2024-01-01&to=2026-03-01", "to"),
        ("the end of time", "from=9999-12-01&to=9999-12-31", "from to"),
        ("before 2000", "from=0001-01-01&to=0001-01-05", "from to"),
        ("only to is wrong", "from=2026-03-01&to=2100-01-01", "to"),
        ("program not a number", "from=2026-03-01&to=2026-03-31&program_id=abc", "program_id"),
        ("program zero", "from=2026-03-01&to=2026-03-31&program_id=0", "program_id"),
        ("program too big", "program_id=99999999999999999999", "program_id"),
    ],
)
def test_bad_parameters_answer_422_naming_them(
    label: str, query: str, fields: str, shop: ShopClient
) -> None:
    response = shop.call("GET", f"/analytics?{query}")

    assert response.status_code == 422, response.get_data(as_text=True)
    assert error_fields(response) == set(fields.split())  # every wrong one


def test_the_openapi_document_lists_every_metric(client: FlaskClient) -> None:
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]

    assert schemas["AnalyticsMetric"]["properties"]["key"]["enum"] == [d.key for d in DEFINITIONS]
