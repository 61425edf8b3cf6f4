"""`/admin/analytics` through the Flask test client, on the hand-computed data set of
`tests/integration/analytics_world.py` (committed to a database of this module's own) with
the app's clock pinned to 2026-04-10: the headline cards, their explanations and the table
show the hand values; named ranges and campaign periods resolve to the right days; another
shop's program answers 404; bad controls answer 422 naming the field; a shop without data
sees what to do; and the page's statements do not grow with the data."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from referral_plugin.app import app_services
from referral_plugin.domain.metrics import DEFINITIONS
from referral_plugin.services.programs import public_ids
from tests.dashboard_support import app_on_own_database, connect_shop, sign_in
from tests.integration import builders as b
from tests.integration.analytics_world import World, build_world

NOW = datetime(2026, 4, 10, 15, 30, tzinfo=UTC)
MARCH = "/admin/analytics?period=custom&from=2026-03-01&to=2026-03-31"
HEADLINE = (  # key: value, previous, tone of the change (hand values: test_analytics.py)
    ("referred_revenue_net", "$400.00", "$80.00", "good"),
    ("roi", "788.9%", "1,042.9%", "bad"),
    ("cac", "$11.25", "$7.00", "bad"),  # a cost going up
    ("referral_rate", "30.0%", "33.3%", "bad"),
    ("friend_conversion_rate", "75.0%", "50.0%", "good"),
    ("reward_cost_issued", "$45.00", "$7.00", "bad"),
)


class Shops:
    def __init__(self, app: Flask, world_shop: int, campaign: int, plain: int) -> None:
        self.app, self.world_shop, self.campaign, self.plain = app, world_shop, campaign, plain
        self.programs: dict[str, int] = {}


@pytest.fixture(scope="module")
def shops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shops]:
    """The hand data set's shop, plus a campaign program (10-31 March) and a plain one."""
    with app_on_own_database(tmp_path_factory.mktemp("analytics"), clock=lambda: NOW) as app:
        with app_services(app).sessions.begin() as session:
            world: World = build_world(session)
            campaign = b.program(
                session, world.shop_id, b.ONE_SIDED, name="Spring",
                conditions={"starts_at": "2026-03-10T00:00:00Z",
                            "ends_at": "2026-04-01T00:00:00Z"},
            ).id  # fmt: skip
            shops = Shops(app, world.shop_id, campaign, world.programs["P2"])
            shops.programs = dict(world.programs)
        yield shops


@pytest.fixture
def client(shops: Shops) -> FlaskClient:
    client = shops.app.test_client()
    sign_in(shops.app, client, shops.world_shop)
    return client


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def explained(body: str, ident: str) -> tuple[str, str]:
    """The number shown by the button described by `ident`, and its explanation's text."""
    button = re.search(rf'aria-describedby="{ident}" data-explain>([^<]*)</button>', body)
    tip = re.search(rf'<span role="tooltip" id="{ident}" class="explain">(.*?)</span>\s*</span>',
                    body, re.S)  # fmt: skip
    assert button and tip, ident
    return html.unescape(button.group(1)), text(tip.group(1))


def card(body: str, key: str) -> str:
    found = re.search(
        rf'<li class="card">((?:(?!</li>).)*aria-describedby="card-{key}-how".*?)</li>', body, re.S
    )
    assert found, key
    return found.group(1)


def dates_shown(body: str) -> tuple[str, str]:
    found = [re.search(rf'id="{name}" name="{name}" type="date" value="([^"]*)"', body)
             for name in ("from", "to")]  # fmt: skip
    assert found[0] and found[1]
    return found[0].group(1), found[1].group(1)


def test_the_headline_cards_show_the_hand_values_beside_the_previous_period(
    client: FlaskClient,
) -> None:
    body = page(client, MARCH)

    assert "1 Mar 2026 to 31 Mar 2026 (31 days), beside the previous 31 days" in text(body)
    for key, value, previous, tone in HEADLINE:
        one = card(body, key)
        assert explained(body, f"card-{key}-how")[0] == value, key
        assert f"Previous period: {previous}" in text(one), key
        assert f'class="change {tone}"' in one, key


def test_a_number_explains_its_formula_with_the_periods_numbers(client: FlaskClient) -> None:
    body = page(client, MARCH)

    value, how = explained(body, "card-roi-how")
    assert value == "788.9%"
    assert how.startswith(
        "Return on rewards (ROI) = (net referred revenue - rewards issued) ÷ rewards issued"
        " = ($400.00 - $45.00) ÷ $45.00 = 788.9%"
    )
    assert "Revenue, not profit" in how
    assert how.endswith("Previous period: ($80.00 - $7.00) ÷ $7.00 = 1,042.9%")
    assert explained(body, "card-cac-how")[1].startswith(
        "Cost per referred customer (CAC) = rewards issued ÷ new referred customers"
        " = $45.00 ÷ 4 = $11.25"
    )


def test_every_other_metric_is_in_the_table_with_its_explanation(client: FlaskClient) -> None:
    body = page(client, MARCH)
    rows = re.findall(r'<tr id="metric-([a-z_]+)">', body)

    assert rows == [d.key for d in DEFINITIONS if d.key not in {k for k, *_ in HEADLINE}]
    assert explained(body, "table-k_factor-how") == (
        "1.00",
        "Viral coefficient (k-factor) = new referred customers ÷ advocates enrolled = 4 ÷ 4"
        " = 1.00 "
        + next(d.explanation for d in DEFINITIONS if d.key == "k_factor")
        + " Previous period: 1 ÷ 2 = 0.50",
    )
    assert explained(body, "table-ltv_referred-how")[0] == "$85.00"
    assert explained(body, "table-referred_revenue_gross-how")[0] == "$510.00"


def test_the_charts_are_drawn_with_their_words(client: FlaskClient) -> None:
    body = page(client, MARCH)

    for title in ("Referred revenue over time", "Click → claim → order funnel",
                  "Reward cost: issued and redeemed", "Lifetime value: referred vs other",
                  "Viral coefficient (k-factor)", "Advocates who referred, and again"):  # fmt: skip
        assert f"<h2>{html.escape(title, quote=False)}</h2>" in body, title
    funnel = re.search(r'<desc id="chart-funnel-desc">([^<]*)</desc>', body)
    assert funnel and html.unescape(funnel.group(1)) == (
        "Link clicks: 4; 100.0% went on, 0 dropped off; Friends who claimed: 4; "
        "75.0% went on, 1 dropped off; Claimed friends who ordered: 3."
    )
    ltv = re.search(r'<desc id="chart-ltv-desc">([^<]*)</desc>', body)
    assert ltv and html.unescape(ltv.group(1)) == (
        "Referred customers (4 new customers): $85.00; "
        "Customers from other channels (4 new customers): $23.75."
    )
    revenue = re.search(r'<desc id="chart-revenue-desc">([^<]*)</desc>', body)
    assert revenue and html.unescape(revenue.group(1)) == (
        "From 1 Mar to 31 Mar. Gross: total $510.00; Net of refunds: total $400.00; "
        "Net, previous period: total $80.00."
    )
    assert '<td>5 Mar 2026</td><td class="number">$200.00</td>' in body  # o7's table row


def test_one_program_narrows_the_referral_metrics(shops: Shops, client: FlaskClient) -> None:
    body = page(client, f"{MARCH}&program={shops.programs['P1']}")

    assert explained(body, "card-referred_revenue_net-how")[0] == "$250.00"
    assert f'<option value="{shops.programs["P1"]}" selected>' in body


@pytest.mark.parametrize(
    ("period", "first", "last"),
    [
        ("", "2026-03-12", "2026-04-10"),  # the default: the last 30 days
        ("last_7_days", "2026-04-04", "2026-04-10"),
        ("last_30_days", "2026-03-12", "2026-04-10"),
        ("last_90_days", "2026-01-11", "2026-04-10"),
        ("this_month", "2026-04-01", "2026-04-10"),
        ("last_month", "2026-03-01", "2026-03-31"),
        ("year_to_date", "2026-01-01", "2026-04-10"),
    ],
)
def test_named_ranges_are_counted_from_the_apps_today(
    client: FlaskClient, period: str, first: str, last: str
) -> None:
    body = page(client, f"/admin/analytics?period={period}")

    assert dates_shown(body) == (first, last)
    if period == "last_month":  # the same days as the custom March
        assert explained(body, "card-roi-how")[0] == "788.9%"


def test_a_campaign_period_sets_the_range_to_the_programs_dates(
    shops: Shops, client: FlaskClient
) -> None:
    body = page(client, f"/admin/analytics?period=campaign-{shops.campaign}")

    assert dates_shown(body) == ("2026-03-10", "2026-03-31")
    assert (
        f'<option value="campaign-{shops.campaign}" selected>'
        "Campaign: Spring, 10 Mar 2026 to 31 Mar 2026 (22 days)</option>"
    ) in body
    refused = page(client, f"/admin/analytics?period=campaign-{shops.plain}", 422)
    assert 'id="period" name="period" data-period aria-invalid="true"' in refused
    assert "this program has no campaign period" in refused


def test_another_shops_program_or_campaign_is_not_found(shops: Shops) -> None:
    other = connect_shop(shops.app)
    client = shops.app.test_client()
    sign_in(shops.app, client, other.id)

    assert "Not found" in page(client, f"{MARCH}&program={shops.programs['P1']}", 404)
    page(client, f"/admin/analytics?period=campaign-{shops.campaign}", 404)


@pytest.mark.parametrize(
    ("label", "query", "fields", "message"),
    [
        ("no such month", "period=custom&from=2026-13-01&to=2026-03-31", ["from"],
         "From must be a date as YYYY-MM-DD, from 2000-01-01 to 2099-12-31."),
        ("the end of time", "period=custom&from=2026-03-01&to=9999-12-31", ["to"],
         "To must be a date as YYYY-MM-DD"),
        ("to before from", "period=custom&from=2026-03-05&to=2026-03-01", ["to"],
         "To must not be before from."),
        ("over two years", "period=custom&from=2023-01-01&to=2026-03-01", ["to"],
         "the range may span at most 732 days"),
        ("custom without dates", "period=custom", ["from", "to"], "enter a date"),
        ("dates alone are custom", "from=2026-03-01&to=yesterday", ["to"], "To must be a date"),
        ("no such period", "period=forever", ["period"], "choose one of the periods"),
        ("program not an id", "program=abc", ["program"], "choose one from the list"),
    ],
)  # fmt: skip
def test_bad_controls_are_named_on_the_page(
    client: FlaskClient, label: str, query: str, fields: list[str], message: str
) -> None:
    body = page(client, f"/admin/analytics?{query}", 422)

    invalid = re.findall(r'id="([a-z]+)" name="[a-z]+"[^>]*aria-invalid="true"', body)
    assert invalid == fields
    assert message in text(body)
    assert 'role="alert"' in body and 'class="card"' not in body


def test_a_shop_without_data_is_told_what_to_do(shops: Shops) -> None:
    fresh = connect_shop(shops.app)
    client = shops.app.test_client()
    sign_in(shops.app, client, fresh.id)

    assert "You have no referral program yet" in page(client, "/admin/analytics")
    with app_services(shops.app).sessions.begin() as session:
        program = b.program(session, fresh.id, b.ONE_SIDED, name="Friends of Bella")
        public_id = public_ids(session, fresh.id, [program.id])[program.id]
    body = page(client, "/admin/analytics")

    assert "No referral activity in these dates yet" in body
    assert "share your program link" in body
    assert f"https://referrals.example.test/p/{public_id}/join" in body
    assert 'class="card"' not in body


def statements(app: Flask, client: FlaskClient, url: str) -> int:
    counted = []
    engine = app_services(app).engine

    def count(*_: object) -> None:
        counted.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        page(client, url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(counted)


def test_the_page_reads_as_many_statements_whatever_the_data(shops: Shops) -> None:
    fresh = connect_shop(shops.app)
    with app_services(shops.app).sessions.begin() as session:
        b.program(session, fresh.id, b.ONE_SIDED)
    empty = shops.app.test_client()
    sign_in(shops.app, empty, fresh.id)
    full = shops.app.test_client()
    sign_in(shops.app, full, shops.world_shop)

    # one program and no orders, or four programs, a campaign and nineteen orders
    assert statements(shops.app, full, MARCH) == statements(shops.app, empty, MARCH)
