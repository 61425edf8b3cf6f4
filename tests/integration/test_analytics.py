"""The analytics on a small data set computed by hand: each metric equals the hand value.

The period is March 2026 (31 days: [Mar 1, Apr 1)); the previous period is the 31 days before
([Jan 29, Mar 1)). Programs: P1 (advocates A1, A3, A4) and P2 (A2, A5). Orders, written as
rows (the analytics read rows, however they were made; `test_the_order_path_feeds_the_analytics`
goes through `record_order_event`):

    order customer    paid                total   refunded  notes
    o1    alice       2025-12-10           100.00            first order long before
    o2    bob         Feb 5                 80.00            P1 A1 converted
    o3    carol       Feb 10                50.00
    o4    alice       Feb 12                40.00
    o5    dave        Mar 2                120.00            P1 A1 converted
    o6    dave        Mar 20                30.00
    o7    erin        Mar 5                200.00    50.00   P2 A2 converted
    o8    frank       Mar 6                 60.00    60.00   P1 A1 reversed (refunded)
    o9    bob         Mar 7                 90.00            P1 A3 converted
    o10   gina        Mar 8                 70.00            P1 A3 in review
    o11   hank        Mar 9                 45.00            cancelled
    o12   ivan        Mar 10                35.00            test
    o13   judy        Mar 11                25.00            unpaid
    o14   carol       Mar 12                55.00
    o15   (customer id c-77) Mar 13         10.00
    o16   (nobody)    Mar 14                15.00
    o17   kim         Mar 31 23:00          40.00            P1 A1 converted
    o18   leo         Apr 1 00:00          500.00            after the period
    o19   mia         Mar 15                99.00 EUR        another currency

Advocates enrolled: A1 Jan 1, A2 Feb 15, A3 Mar 3, A4 Mar 15, A5 Apr 2. Clicks: A1 Feb 1,
Mar 1, Mar 2, Mar 2; A2 Mar 4. Friends invited: A2 Feb 20, A4 Mar 20. Claims: bob Feb 4 (P1),
gina Feb 20 (P1), dave Mar 1 (P1), zoe Mar 3 (P1), erin Mar 4 (P2), kim Mar 31 10:00 (P1).
Rewards: r1 o2 A1 10.00 issued Mar 10 redeemed Mar 15; r2 o5 A1 10.00 issued Mar 25; r3 o5
friend 5.00 issued Mar 3 redeemed Mar 4; r4 o7 A2 20.00 issued Mar 20; r5 o8 A1 10.00 issued
Mar 12, reversed; r6 o9 A3 10.00 held; r7 o2 friend 7.00 issued Feb 20 redeemed Feb 25; r9 o5
points (no money value) issued Mar 5.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from referral_plugin.domain.decisions import AttributionMethod, Beneficiary, Outcome
from referral_plugin.domain.events import OrderEventKind
from referral_plugin.domain.lifecycle import ReferralStatus, RewardStatus
from referral_plugin.domain.metrics import ComparedMetric, Unit
from referral_plugin.domain.programs import RewardKind
from referral_plugin.errors import NotFound, ValidationError
from referral_plugin.models import Claim, Click, Code, Conversion, Referral, Reward
from referral_plugin.models.enums import RevokeState
from referral_plugin.models.shopper_emails import FriendInvite
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.analytics import DayRange, shop_analytics
from referral_plugin.services.orders import record_order_event
from tests.integration import builders as b

MARCH = DayRange(first=date(2026, 3, 1), last=date(2026, 3, 31))
TODAY = date(2026, 4, 10)


def at(month: int, day: int, hour: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@dataclass
class World:
    """The hand data set's shop, programs, advocates (by name) and orders (by number)."""

    session: Session
    shop_id: int
    programs: dict[str, int]
    advocates: dict[str, int]
    orders: dict[int, int]

    def order(self, n: int, who: str | None, paid_at: datetime, total: str, **options: Any) -> None:
        refunded = options.pop("refunded", "0")
        paid = options.pop("paid", True)
        conversion = Conversion(
            shop_id=self.shop_id, order_id=f"o{n}", customer_id=options.pop("customer_id", None),
            email=who and f"{who}@example.com", identity_email=who and f"{who}@example.com",
            currency=options.pop("currency", "USD"), subtotal=Decimal(total),
            total=Decimal(total), refunded_total=Decimal(refunded), paid=paid,
            paid_at=paid_at if paid else None, cancelled=options.pop("cancelled", False),
            is_test=options.pop("is_test", False), outcome=Outcome.NOT_REFERRAL, reasons=[],
            fraud=[], signals={}, decided_at=paid_at, updated_at=paid_at,
        )  # fmt: skip
        assert not options, options
        self.session.add(conversion)
        self.session.flush()
        self.orders[n] = conversion.id

    def refer(self, n: int, program: str, advocate: str, status: ReferralStatus) -> None:
        conversion = self.session.get(Conversion, self.orders[n])
        assert conversion is not None
        conversion.advocate_id = self.advocates[advocate]
        conversion.program_id = self.programs[program]
        self.session.add(
            Referral(
                shop_id=self.shop_id, program_id=self.programs[program],
                advocate_id=self.advocates[advocate], conversion_id=conversion.id, status=status,
                method=AttributionMethod.CODE, code="CODE", reasons=[],
                created_at=conversion.decided_at, updated_at=conversion.decided_at,
            )
        )  # fmt: skip
        self.session.flush()

    def code_id(self, advocate: str) -> int:
        return self.session.scalars(
            select(Code.id).where(Code.advocate_id == self.advocates[advocate])
        ).one()

    def click(self, advocate: str, when: datetime) -> None:
        self.session.add(
            Click(shop_id=self.shop_id, code_id=self.code_id(advocate), created_at=when)
        )

    def invite(self, advocate: str, when: datetime) -> None:
        self.session.add(
            FriendInvite(
                shop_id=self.shop_id, advocate_id=self.advocates[advocate],
                friend_hash=f"{len(self.advocates)}{when:%m%d}".ljust(64, "0"), created_at=when,
            )
        )  # fmt: skip

    def claim(self, who: str, program: str, advocate: str, when: datetime) -> None:
        self.session.add(
            Claim(
                shop_id=self.shop_id, program_id=self.programs[program],
                advocate_id=self.advocates[advocate], identity_email=f"{who}@example.com",
                code_id=self.code_id(advocate), claimed_at=when,
            )
        )  # fmt: skip

    def reward(self, n: int, key: str, program: str, value: str | None, **times: Any) -> None:
        referral_id = self.session.scalars(
            select(Referral.id).where(Referral.conversion_id == self.orders[n])
        ).one()
        status = times.pop("status")
        self.session.add(
            Reward(
                shop_id=self.shop_id, program_id=self.programs[program], referral_id=referral_id,
                conversion_id=self.orders[n], beneficiary=Beneficiary.ADVOCATE, rule_key=key,
                kind=RewardKind.POINTS if value is None else RewardKind.FIXED_DISCOUNT,
                status=status, value=None if value is None else Decimal(value),
                nominal_value=None if value is None else Decimal(value),
                points=100 if value is None else None, currency="USD", debt_offset=Decimal(0),
                spec={}, revoke_state=RevokeState.NONE, created_at=at(1, 1), updated_at=at(1, 1),
                **times,
            )
        )  # fmt: skip


@pytest.fixture
def world(session: Session) -> World:
    shop = b.shop(session)
    p1 = b.program(session, shop.id, b.ONE_SIDED).id
    p2 = b.program(session, shop.id, b.TWO_SIDED).id
    w = World(session, shop.id, {"P1": p1, "P2": p2}, {}, {})
    for name, program, enrolled in (
        ("A1", p1, at(1, 1)), ("A2", p2, at(2, 15)), ("A3", p1, at(3, 3)),
        ("A4", p1, at(3, 15)), ("A5", p2, at(4, 2)),
    ):  # fmt: skip
        advocate = enroll_advocate(
            session, shop.id, program, email=f"{name.lower()}@example.com", now=enrolled
        )
        w.advocates[name] = advocate.id
    orders: list[tuple[Any, ...]] = [
        (1, "alice", at(12, 10, year=2025), "100.00", {}),
        (2, "bob", at(2, 5), "80.00", {}),
        (3, "carol", at(2, 10), "50.00", {}),
        (4, "alice", at(2, 12), "40.00", {}),
        (5, "dave", at(3, 2), "120.00", {}),
        (6, "dave", at(3, 20), "30.00", {}),
        (7, "erin", at(3, 5), "200.00", {"refunded": "50.00"}),
        (8, "frank", at(3, 6), "60.00", {"refunded": "60.00"}),
        (9, "bob", at(3, 7), "90.00", {}),
        (10, "gina", at(3, 8), "70.00", {}),
        (11, "hank", at(3, 9), "45.00", {"cancelled": True}),
        (12, "ivan", at(3, 10), "35.00", {"is_test": True}),
        (13, "judy", at(3, 11), "25.00", {"paid": False}),
        (14, "carol", at(3, 12), "55.00", {}),
        (15, None, at(3, 13), "10.00", {"customer_id": "c-77"}),
        (16, None, at(3, 14), "15.00", {}),
        (17, "kim", at(3, 31, 23), "40.00", {}),
        (18, "leo", at(4, 1, 0), "500.00", {}),
        (19, "mia", at(3, 15), "99.00", {"currency": "EUR"}),
    ]
    for n, who, paid_at, total, options in orders:
        w.order(n, who, paid_at, total, **options)
    converted, reversed_, review = (
        ReferralStatus.CONVERTED, ReferralStatus.REVERSED, ReferralStatus.REVIEW,
    )  # fmt: skip
    for n, program, advocate, status in (
        (2, "P1", "A1", converted), (5, "P1", "A1", converted), (7, "P2", "A2", converted),
        (8, "P1", "A1", reversed_), (9, "P1", "A3", converted), (10, "P1", "A3", review),
        (17, "P1", "A1", converted),
    ):  # fmt: skip
        w.refer(n, program, advocate, status)
    for advocate, when in (
        ("A1", at(2, 1)), ("A1", at(3, 1)), ("A1", at(3, 2)), ("A1", at(3, 2, 15)),
        ("A2", at(3, 4)),
    ):  # fmt: skip
        w.click(advocate, when)
    w.invite("A2", at(2, 20))
    w.invite("A4", at(3, 20))
    for who, program, advocate, when in (
        ("bob", "P1", "A1", at(2, 4)), ("gina", "P1", "A3", at(2, 20)),
        ("dave", "P1", "A1", at(3, 1)), ("zoe", "P1", "A1", at(3, 3)),
        ("erin", "P2", "A2", at(3, 4)), ("kim", "P1", "A1", at(3, 31, 10)),
    ):  # fmt: skip
        w.claim(who, program, advocate, when)
    issued, redeemed = RewardStatus.ISSUED, RewardStatus.REDEEMED
    w.reward(2, "r1", "P1", "10.00", status=redeemed, issued_at=at(3, 10), redeemed_at=at(3, 15))
    w.reward(5, "r2", "P1", "10.00", status=issued, issued_at=at(3, 25))
    w.reward(5, "r3", "P1", "5.00", status=redeemed, issued_at=at(3, 3), redeemed_at=at(3, 4))
    w.reward(7, "r4", "P2", "20.00", status=issued, issued_at=at(3, 20))
    w.reward(8, "r5", "P1", "10.00", status=RewardStatus.REVERSED, issued_at=at(3, 12),
             reversed_at=at(3, 14))  # fmt: skip
    w.reward(9, "r6", "P1", "10.00", status=RewardStatus.HELD)
    w.reward(2, "r7", "P1", "7.00", status=redeemed, issued_at=at(2, 20), redeemed_at=at(2, 25))
    w.reward(5, "r9", "P1", None, status=issued, issued_at=at(3, 5))
    session.flush()
    return w


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
