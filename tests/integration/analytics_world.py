"""A small analytics data set whose every metric is computed by hand (in
`tests/integration/test_analytics.py`), for the service tests and the analytics page's
browser test.

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

from sqlalchemy import select
from sqlalchemy.orm import Session

from referral_plugin.domain.decisions import AttributionMethod, Beneficiary, Outcome
from referral_plugin.domain.lifecycle import ReferralStatus, RewardStatus
from referral_plugin.domain.programs import RewardKind
from referral_plugin.models import Claim, Click, Code, Conversion, Referral, Reward
from referral_plugin.models.enums import RevokeState
from referral_plugin.models.shopper_emails import FriendInvite
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.analytics import DayRange
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


def build_world(session: Session, domain: str = "referral-tests.myshopify.com") -> World:
    """The data set of the module docstring, in `session` (flushed, not committed)."""
    shop = b.shop(session, domain=domain)
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
