"""The analytics on a small data set computed by hand (`analytics_world`: March 2026 beside
the 31 days before, two programs, nineteen orders): each metric equals the hand value."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from referral_plugin.domain.events import OrderEventKind
from referral_plugin.domain.metrics import ComparedMetric, Unit
from referral_plugin.errors import NotFound, ValidationError
from referral_plugin.services.analytics import DayRange, shop_analytics
from referral_plugin.services.orders import record_order_event
from tests.integration import builders as b
from tests.integration.analytics_world import MARCH, TODAY, World, build_world


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def values(metrics: tuple[ComparedMetric, ...]) -> dict[str, tuple[object, object]]:
    return {m.current.key: (m.current.value, m.previous.value) for m in metrics}


def D(text: str) -> Decimal:
    return Decimal(text)


# Hand computation, March (current) and the 31 days before (previous), all programs:
# customers: dave erin frank bob gina carol c-77 o16 kim mia = 10 | bob carol alice = 3
# referred orders: o5 o7 o8 o9 o17 = 5 (o10 in review left out) | o2 = 1
# referring advocates: A1 (o5 o8 o17), A2 (o7), A3 (o9) = 3, repeat: A1 = 1 | A1 = 1, repeat 0
# referral rate: 3 / 10 = 30.0 % | 1 / 3 = 33.3 %
# advocates enrolled by the end: A1 A2 A3 A4 = 4 | A1 A2 = 2
# sharing: A1 A2 (clicks), A4 (invite) = 3, share rate 3 / 4 = 75.0 % | A1 A2 = 2 / 2 = 100.0 %
# clicks 4 | 1; invites 1 | 1; claims dave zoe erin kim = 4 | bob gina = 2
# converted claims: dave (o5) erin (o7) kim (o17) = 3 -> 75.0 % | bob (o2) = 1 -> 50.0 %
# click to claim: 4 / 4 = 100.0 % | 2 / 1 = 200.0 %
# gross: 120 + 200 + 60 + 90 + 40 = 510.00 | 80.00; net: 120 + 150 + 0 + 90 + 40 = 400.00 | 80.00
# refunded: 510 - 400 = 110.00 | 0.00
# issued, not reversed: r1 10 + r2 10 + r3 5 + r4 20 = 45.00 (r5 reversed, r9 points) | r7 7.00
# redeemed: r1 10 + r3 5 = 15.00 | r7 7.00
# new referred customers: dave erin frank kim = 4 | bob = 1
# CAC: 45.00 / 4 = 11.25 | 7.00 / 1 = 7.00
# ROI: (400.00 - 45.00) / 45.00 = 788.9 % | (80.00 - 7.00) / 7.00 = 1042.9 %
# k: 4 / 4 = 1.00 | 1 / 2 = 0.50
# LTV referred: dave 150 + erin 150 + frank 0 + kim 40 = 340.00 / 4 = 85.00 | bob 80.00 / 1
# LTV other: gina 70 + c-77 10 + o16 15 (+ mia, EUR: counted, no USD) = 95.00 / 4 = 23.75
#   | carol 50.00 / 1 = 50.00
# LTV ratio: 85.00 / 23.75 = 3.58 | 80.00 / 50.00 = 1.60
ALL_PROGRAMS = {
    "customers": (10, 3),
    "referral_rate": (D("30.0"), D("33.3")),
    "share_rate": (D("75.0"), D("100.0")),
    "clicks": (4, 1),
    "claims": (4, 2),
    "converted_claims": (3, 1),
    "referred_orders": (5, 1),
    "click_to_claim_rate": (D("100.0"), D("200.0")),
    "friend_conversion_rate": (D("75.0"), D("50.0")),
    "invites": (1, 1),
    "referred_revenue_gross": (D("510.00"), D("80.00")),
    "referred_refunds": (D("110.00"), D("0.00")),
    "referred_revenue_net": (D("400.00"), D("80.00")),
    "reward_cost_issued": (D("45.00"), D("7.00")),
    "reward_cost_redeemed": (D("15.00"), D("7.00")),
    "referred_customers": (4, 1),
    "other_customers": (4, 1),
    "cac": (D("11.25"), D("7.00")),
    "roi": (D("788.9"), D("1042.9")),
    "referring_advocates": (3, 1),
    "repeat_referrers": (1, 0),
    "k_factor": (D("1.00"), D("0.50")),
    "ltv_referred": (D("85.00"), D("80.00")),
    "ltv_other": (D("23.75"), D("50.00")),
    "ltv_ratio": (D("3.58"), D("1.60")),
}

# Program P1 only, March | the period before (customers and "other" customers stay shop-wide):
# referred orders o5 o8 o9 o17 = 4 | o2 = 1; referring A1 A3 = 2 (repeat A1) | A1 = 1
# referral rate 2 / 10 = 20.0 % | 1 / 3 = 33.3 %; advocates A1 A3 A4 = 3 | A1 = 1
# sharing A1 (clicks) A4 (invite) = 2 / 3 = 66.7 % | A1 = 1 / 1 = 100.0 %
# clicks 3 | 1; invites 1 | 0; claims dave zoe kim = 3, converted dave kim = 2 -> 66.7 %
#   | bob gina = 2, converted bob = 1 -> 50.0 %; click to claim 3 / 3 | 2 / 1
# gross 120 + 60 + 90 + 40 = 310.00, net 250.00, refunded 60.00 | 80.00, 80.00, 0.00
# issued r1 r2 r3 = 25.00, redeemed r1 r3 = 15.00 | 7.00, 7.00
# new referred customers dave frank kim = 3 (erin came through P2) | bob = 1
# CAC 25.00 / 3 = 8.33 | 7.00; ROI (250 - 25) / 25 = 900.0 % | 1042.9 %; k 3 / 3 = 1.00 | 1 / 1
# LTV referred (150 + 0 + 40) / 3 = 63.33 | 80.00; other 23.75 | 50.00; ratio 2.67 | 1.60
PROGRAM_ONE = {  # customers, click to claim, redeemed, repeat referrers and LTV other: as above
    **ALL_PROGRAMS,
    "referral_rate": (D("20.0"), D("33.3")),
    "share_rate": (D("66.7"), D("100.0")),
    "clicks": (3, 1),
    "claims": (3, 2),
    "converted_claims": (2, 1),
    "referred_orders": (4, 1),
    "friend_conversion_rate": (D("66.7"), D("50.0")),
    "invites": (1, 0),
    "referred_revenue_gross": (D("310.00"), D("80.00")),
    "referred_refunds": (D("60.00"), D("0.00")),
    "referred_revenue_net": (D("250.00"), D("80.00")),
    "reward_cost_issued": (D("25.00"), D("7.00")),
    "referred_customers": (3, 1),
    "cac": (D("8.33"), D("7.00")),
    "roi": (D("900.0"), D("1042.9")),
    "referring_advocates": (2, 1),
    "k_factor": (D("1.00"), D("1.00")),
    "ltv_referred": (D("63.33"), D("80.00")),
    "ltv_ratio": (D("2.67"), D("1.60")),
}


def test_every_metric_equals_the_hand_computation(world: World) -> None:
    found = shop_analytics(world.session, world.shop_id, MARCH, today=TODAY)

    assert values(found.metrics) == ALL_PROGRAMS
    for m in found.metrics:  # counts are ints and the rest Decimals on both databases
        kinds = {type(m.current.value), type(m.previous.value)} - {type(None)}
        assert kinds == ({int} if m.current.unit is Unit.COUNT else {Decimal}), m.current.key
    assert (found.previous.first, found.previous.last) == (date(2026, 1, 29), date(2026, 2, 28))
    assert found.currency == "USD" and found.program_id is None


def test_one_programs_metrics_equal_the_hand_computation(world: World) -> None:
    found = shop_analytics(
        world.session, world.shop_id, MARCH, program_id=world.programs["P1"], today=TODAY
    )

    assert values(found.metrics) == PROGRAM_ONE


def test_changes_are_differences_and_percentages_of_the_previous_value(world: World) -> None:
    metrics = {
        m.current.key: m
        for m in shop_analytics(world.session, world.shop_id, MARCH, today=TODAY).metrics
    }

    # customers 10 vs 3: +7, +233.3 %; referral rate 30.0 vs 33.3: -3.3 points, -9.9 %
    assert (metrics["customers"].change, metrics["customers"].change_percent) == (7, D("233.3"))
    assert (metrics["referral_rate"].change, metrics["referral_rate"].change_percent) == (
        D("-3.3"),
        D("-9.9"),
    )
    # refunded 110.00 vs 0.00: no percentage of nothing
    assert (metrics["referred_refunds"].change, metrics["referred_refunds"].change_percent) == (
        D("110.00"),
        None,
    )
    assert metrics["cac"].current.computation == "45.00 USD ÷ 4"
    assert metrics["roi"].current.computation == "(400.00 USD - 45.00 USD) ÷ 45.00 USD"


def test_the_daily_series_holds_every_day_of_the_period(world: World) -> None:
    series = shop_analytics(world.session, world.shop_id, MARCH, today=TODAY).series
    by_day = {p.start: (p.referred_orders, p.referred_revenue, p.clicks) for p in series.points}

    assert series.bucket_days == 1 and len(series.points) == 31
    assert by_day[date(2026, 3, 1)] == (0, D("0"), 1)
    assert by_day[date(2026, 3, 2)] == (1, D("120.00"), 2)  # o5; two clicks
    assert by_day[date(2026, 3, 5)] == (1, D("150.00"), 0)  # o7, net of its refund
    assert by_day[date(2026, 3, 8)] == (0, D("0"), 0)  # o10 is in review
    assert by_day[date(2026, 3, 31)] == (1, D("40.00"), 0)  # o17 at 23:00 UTC
    assert sum(p.referred_orders for p in series.points) == 5
    assert sum(p.referred_revenue for p in series.points) == D("400.00")


def test_the_series_carry_gross_revenue_and_reward_costs_for_both_periods(world: World) -> None:
    found = shop_analytics(world.session, world.shop_id, MARCH, today=TODAY)
    by_day = {
        p.start: (p.referred_revenue_gross, p.referred_revenue, p.reward_cost_issued,
                  p.reward_cost_redeemed)
        for p in (*found.series.points, *found.previous_series.points)
    }  # fmt: skip

    assert by_day[date(2026, 3, 5)] == (D("200.00"), D("150.00"), 0, 0)  # o7; r9 is points
    assert by_day[date(2026, 3, 6)] == (D("60.00"), D("0.00"), 0, 0)  # o8, all refunded
    assert by_day[date(2026, 3, 3)] == (0, 0, D("5.00"), 0)  # r3 issued
    assert by_day[date(2026, 3, 4)] == (0, 0, 0, D("5.00"))  # r3 redeemed
    assert by_day[date(2026, 3, 12)] == (0, 0, 0, 0)  # r5 was reversed
    assert sum(p.reward_cost_issued for p in found.series.points) == D("45.00")
    assert sum(p.reward_cost_redeemed for p in found.series.points) == D("15.00")
    assert sum(p.referred_revenue_gross for p in found.series.points) == D("510.00")
    previous = found.previous_series
    assert len(previous.points) == 31 and previous.points[0].start == date(2026, 1, 29)
    assert by_day[date(2026, 2, 5)] == (D("80.00"), D("80.00"), 0, 0)  # o2
    assert by_day[date(2026, 2, 20)] == (0, 0, D("7.00"), 0)  # r7
    assert by_day[date(2026, 2, 25)] == (0, 0, 0, D("7.00"))


def test_one_programs_series_leaves_the_others_rewards_out(world: World) -> None:
    found = shop_analytics(
        world.session, world.shop_id, MARCH, program_id=world.programs["P1"], today=TODAY
    )

    assert sum(p.reward_cost_issued for p in found.series.points) == D("25.00")  # r4 is P2's
    assert sum(p.referred_revenue_gross for p in found.series.points) == D("310.00")


def test_a_long_range_is_charted_week_by_week(world: World) -> None:
    days = DayRange(first=date(2026, 1, 1), last=date(2026, 4, 30))  # 120 days
    series = shop_analytics(world.session, world.shop_id, days, today=TODAY).series

    assert series.bucket_days == 7
    assert [p.days for p in series.points] == [7] * 17 + [1]
    assert sum(p.referred_orders for p in series.points) == 6  # o2 and March's five
    assert sum(p.clicks for p in series.points) == 5


def test_a_campaign_period_is_offered_as_a_preset(world: World) -> None:
    campaign = b.program(
        world.session, world.shop_id, b.ONE_SIDED, name="Spring",
        conditions={"starts_at": "2026-03-10T00:00:00Z", "ends_at": "2026-04-01T00:00:00Z"},
    ).id  # fmt: skip
    open_ended = b.program(
        world.session, world.shop_id, b.ONE_SIDED, name="Summer",
        conditions={"starts_at": "2026-04-05T09:30:00Z"},
    ).id  # fmt: skip

    presets = shop_analytics(world.session, world.shop_id, MARCH, today=TODAY).presets

    assert [(p.program_id, p.name, p.days.first, p.days.last) for p in presets] == [
        (campaign, "Spring", date(2026, 3, 10), date(2026, 3, 31)),
        (open_ended, "Summer", date(2026, 4, 5), TODAY),
    ]


def test_another_shops_program_is_not_found(world: World) -> None:
    other = b.shop(world.session, domain="other-analytics.myshopify.com")
    theirs = b.program(world.session, other.id, b.ONE_SIDED).id

    with pytest.raises(NotFound):
        shop_analytics(world.session, world.shop_id, MARCH, program_id=theirs, today=TODAY)
    mine = shop_analytics(world.session, other.id, MARCH, today=TODAY)
    assert values(mine.metrics)["customers"] == (0, 0)  # the first shop's orders stay its own


@pytest.mark.parametrize(
    ("label", "first", "last", "field"),
    [
        ("to before from", date(2026, 3, 2), date(2026, 3, 1), "to"),
        ("longer than two years", date(2024, 1, 1), date(2026, 1, 3), "to"),
        ("from too early", date(1999, 12, 31), date(2000, 1, 5), "from"),
        ("to too late", date(2099, 12, 1), date(2100, 1, 1), "to"),
    ],
)
def test_ranges_out_of_bounds_are_refused(
    label: str, first: date, last: date, field: str, world: World
) -> None:
    with pytest.raises(ValidationError) as refused:
        shop_analytics(world.session, world.shop_id, DayRange(first=first, last=last), today=TODAY)
    assert [e.field for e in refused.value.errors] == [field]


def test_an_empty_shop_has_no_rates_only_zeros_and_dashes(session: Session) -> None:
    shop = b.shop(session, domain="empty-analytics.myshopify.com")

    found = values(shop_analytics(session, shop.id, MARCH, today=TODAY).metrics)

    assert found["customers"] == (0, 0) and found["referred_revenue_net"] == (0, 0)
    for ratio in ("referral_rate", "share_rate", "cac", "roi", "k_factor", "ltv_ratio"):
        assert found[ratio] == (None, None), ratio


def test_the_order_path_feeds_the_analytics(session: Session) -> None:
    """A referred order and its later refund, through `record_order_event`."""
    shop = b.shop(session, domain="path-analytics.myshopify.com")
    program = b.program(session, shop.id, b.ONE_SIDED, hold_days=0)
    anna = b.advocate(session, shop.id, program.id)
    paid = b.order_event(OrderEventKind.PAID, "9001", codes=(anna.code,), subtotal="80.00")
    record_order_event(session, shop.id, paid, now=b.NOW, code_key=b.CODE_KEY)
    days = DayRange(first=b.NOW.date(), last=b.NOW.date())

    before = values(shop_analytics(session, shop.id, days, today=TODAY).metrics)
    refund = b.order_event(
        OrderEventKind.REFUNDED, "9001", refunds=(("rf-1", "30.00"),), with_data=False
    )
    record_order_event(session, shop.id, refund, now=b.later(days=1), code_key=b.CODE_KEY)
    after = values(shop_analytics(session, shop.id, days, today=TODAY).metrics)

    assert before["referred_orders"][0] == 1 and before["referred_customers"][0] == 1
    assert before["referred_revenue_net"][0] == D("80.00")
    assert after["referred_revenue_net"][0] == D("50.00")  # the refund came later
    assert after["ltv_referred"][0] == D("50.00")
