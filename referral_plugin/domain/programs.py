"""Programs: what a merchant configures, as plain frozen values the rules engine reads.

A program belongs to one shop and has one currency (the shop's). Persistence stores the same
values as JSON (`program_to_dict` / `program_from_dict`) next to a few indexed columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from .colors import DEFAULT_STORE_COLOR
from .money import Money


class ProgramKind(StrEnum):
    ONE_SIDED = "one_sided"  # only the advocate is rewarded
    TWO_SIDED = "two_sided"  # the advocate and the friend
    TIERED = "tiered"  # milestones: the Nth successful referral unlocks a bigger reward
    CONTEST = "contest"  # converted referrals are contest entries (leaderboard, draw)
    CHARITY = "charity"  # each referral donates to a charity
    POINTS = "points"  # each referral earns loyalty points


class RewardKind(StrEnum):
    PERCENT_DISCOUNT = "percent_discount"  # a code for X% off
    FIXED_DISCOUNT = "fixed_discount"  # a code for an amount off
    FREE_SHIPPING = "free_shipping"
    FREE_PRODUCT = "free_product"  # a gift product
    STORE_CREDIT = "store_credit"
    POINTS = "points"
    CASH = "cash"  # cash payout owed, paid by the merchant outside the store; exportable
    CHARITY = "charity"  # a donation per referral, booked to a charity's ledger
    VIP = "vip"  # a tag on the customer in the store (early access, VIP tier)
    CUSTOM = "custom"  # anything the merchant fulfils by hand (tickets, a gift in the parcel)


class ValueBasis(StrEnum):
    FIXED = "fixed"  # `amount` in the program currency (or `points`)
    PERCENT_OF_ORDER = "percent_of_order"  # `percent` of the referred order's eligible subtotal


# Kinds whose value is money that the advocate holds (counts toward the balance and the ledger).
MONEY_VALUE_KINDS = frozenset({RewardKind.FIXED_DISCOUNT, RewardKind.STORE_CREDIT, RewardKind.CASH})
# Kinds the worker fulfils by creating something in the store.
STORE_ISSUED_KINDS = frozenset(
    {
        RewardKind.PERCENT_DISCOUNT,
        RewardKind.FIXED_DISCOUNT,
        RewardKind.FREE_SHIPPING,
        RewardKind.FREE_PRODUCT,
        RewardKind.STORE_CREDIT,
        RewardKind.VIP,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RewardSpec:
    """What one beneficiary gets.

    - PERCENT_DISCOUNT: `percent` (e.g. Decimal("15") for 15%).
    - FIXED_DISCOUNT / STORE_CREDIT / CASH / CHARITY: `basis` FIXED with `amount`, or
      PERCENT_OF_ORDER with `percent` of the eligible subtotal.
    - POINTS: `points` (FIXED) or `percent` of the subtotal as points (PERCENT_OF_ORDER).
    - FREE_PRODUCT: `product_id` (and optional `amount` = its cost, for analytics).
    - VIP: `tag`.  CHARITY: `charity`.  CUSTOM: `description` (and optional `amount` = cost).
    `expires_in_days` and `minimum_subtotal` apply to the code issued in the store.
    """

    kind: RewardKind
    basis: ValueBasis = ValueBasis.FIXED
    amount: Decimal | None = None
    percent: Decimal | None = None
    points: int | None = None
    product_id: str | None = None
    tag: str | None = None
    charity: str | None = None
    description: str | None = None
    expires_in_days: int | None = None
    minimum_subtotal: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Milestone:
    """The `count`th successful referral of an advocate unlocks `reward` (once)."""

    count: int
    reward: RewardSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class EveryN:
    """Every `n`th successful referral (n, 2n, 3n, ...) earns `reward`."""

    n: int
    reward: RewardSpec


class CapScope(StrEnum):
    ADVOCATE = "advocate"
    PROGRAM = "program"


class CapMetric(StrEnum):
    COUNT = "count"  # number of rewarded referrals
    AMOUNT = "amount"  # money value of rewards


class CapPeriod(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"
    LIFETIME = "lifetime"


@dataclass(frozen=True, slots=True, kw_only=True)
class Cap:
    scope: CapScope
    metric: CapMetric
    limit: Decimal
    period: CapPeriod = CapPeriod.LIFETIME


class PartialRefundPolicy(StrEnum):
    # reduce percent-of-order rewards to the remaining subtotal; reverse below the minimum
    PROPORTIONAL = "proportional"
    # keep rewards unless the remaining subtotal falls below the program minimum
    REVERSE_BELOW_MINIMUM = "reverse_below_minimum"


class FraudAction(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"  # flag the referral for the merchant's review queue
    REJECT = "reject"


class FraudCheck(StrEnum):
    SAME_IP = "same_ip"  # friend's browser IP seen on the advocate
    SAME_SHIPPING_ADDRESS = "same_shipping_address"
    SAME_PAYMENT = "same_payment"
    SAME_USER_AGENT_AND_IP = "same_device"
    DISPOSABLE_EMAIL = "disposable_email"
    VELOCITY = "velocity"  # too many referrals by one advocate within 24 hours
    ADVOCATE_NOT_CUSTOMER = "advocate_not_customer"  # advocate never ordered themselves


DEFAULT_FRAUD_POLICY: dict[FraudCheck, FraudAction] = {
    FraudCheck.SAME_IP: FraudAction.REVIEW,
    FraudCheck.SAME_SHIPPING_ADDRESS: FraudAction.REJECT,
    FraudCheck.SAME_PAYMENT: FraudAction.REJECT,
    FraudCheck.SAME_USER_AGENT_AND_IP: FraudAction.REVIEW,
    FraudCheck.DISPOSABLE_EMAIL: FraudAction.REVIEW,
    FraudCheck.VELOCITY: FraudAction.REVIEW,
    FraudCheck.ADVOCATE_NOT_CUSTOMER: FraudAction.ALLOW,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Conditions:
    starts_at: datetime | None = None  # the order must be placed within [starts_at, ends_at)
    ends_at: datetime | None = None
    minimum_subtotal: Decimal | None = None
    first_order_only: bool = True
    allowed_countries: frozenset[str] = frozenset()  # empty = everywhere
    product_ids: frozenset[str] = frozenset()  # empty = whole catalogue
    collection_ids: frozenset[str] = frozenset()
    accept_test_orders: bool = False
    velocity_limit_per_day: int = 10  # referrals per advocate per 24 h before VELOCITY fires


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferCopy:
    """A merchant's own words for the offer in one language (shown instead of ours)."""

    headline: str | None = None
    description: str | None = None


class ClaimMode(StrEnum):
    """How a friend gets the discount from an advocate's link."""

    SHARED_CODE = "shared_code"  # the advocate's own code, shared by every friend
    PER_FRIEND = "per_friend"  # each friend claims a single-use code bound to their email


class ShopperEmail(StrEnum):
    """The emails a program can send to shoppers; each can be switched off per program."""

    WELCOME = "welcome"  # to an advocate enrolled automatically: their code and link
    INVITE = "invite"  # sent by an advocate to a friend, from the store
    REWARD_PENDING = "reward_pending"  # a referral earned a reward, held until a date
    REWARD_ISSUED = "reward_issued"  # the reward is ready (with its code)
    EXPIRY_REMINDER = "expiry_reminder"  # an unused reward expires soon
    SHARE_NUDGE = "share_nudge"  # an advocate joined but never shared


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailSettings:
    """Which shopper emails go out, and when the timed ones do."""

    enabled: frozenset[ShopperEmail] = frozenset(ShopperEmail)
    reminder_days_before: int = 7  # the expiry reminder, days before the reward expires
    nudge_after_days: int = 7  # the share nudge, days after joining without sharing

    def sends(self, kind: ShopperEmail) -> bool:
        return kind in self.enabled


@dataclass(frozen=True, slots=True, kw_only=True)
class Appearance:
    """How the shopper pages look and speak for this program."""

    color: str = DEFAULT_STORE_COLOR  # "#rrggbb", the store's colour (buttons, header bar)
    language: str | None = None  # the store's language (languages.SHOPPER_LANGUAGES), if known


@dataclass(frozen=True, slots=True, kw_only=True)
class Variant:
    """One arm of an A/B test: the offer it replaces (`None` keeps the program's) and its
    relative share of the advocates assigned (`weight`). `key` is what advocates carry."""

    key: str  # "a", "b", ...: lower-case letters, digits, "-" or "_"; never "holdout"
    name: str
    weight: int = 1
    advocate_reward: RewardSpec | None = None  # replaces the program's advocate reward
    friend_reward: RewardSpec | None = None  # replaces the program's friend reward


@dataclass(frozen=True, slots=True, kw_only=True)
class Experiment:
    """An A/B test of a program's offer (`domain.experiments`). Advocates enrolled in
    [started_at, ended_at) are assigned once: `holdout_percent` of them to the holdout (no
    program at all), the rest to a variant by weight. Assignments hold as long as the program
    has the experiment; ending it only stops new assignments and closes the results window."""

    variants: tuple[Variant, ...]
    holdout_percent: int = 0  # 0..50
    started_at: datetime
    ended_at: datetime | None = None

    def assigns_at(self, at: datetime) -> bool:
        """True when an advocate enrolled at `at` is assigned to a group."""
        return self.started_at <= at and (self.ended_at is None or at < self.ended_at)

    def variant(self, key: str | None) -> Variant | None:
        return next((v for v in self.variants if v.key == key), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Program:
    id: int
    shop_id: int
    name: str
    kind: ProgramKind
    currency: str
    active: bool = True
    advocate_reward: RewardSpec | None = None
    friend_reward: RewardSpec | None = None
    milestones: tuple[Milestone, ...] = ()
    every_n: EveryN | None = None
    conditions: Conditions = field(default_factory=Conditions)
    caps: tuple[Cap, ...] = ()
    hold_days: int = 30  # the return window: rewards are held this long after payment
    partial_refund_policy: PartialRefundPolicy = PartialRefundPolicy.PROPORTIONAL
    fraud_policy: dict[FraudCheck, FraudAction] = field(
        default_factory=lambda: dict(DEFAULT_FRAUD_POLICY)
    )
    appearance: Appearance = field(default_factory=Appearance)
    copy: dict[str, OfferCopy] = field(default_factory=dict)  # by language
    claim_mode: ClaimMode = ClaimMode.SHARED_CODE
    emails: EmailSettings = field(default_factory=EmailSettings)
    auto_enroll: bool = False  # enroll customers as advocates after their first paid order
    experiment: Experiment | None = None  # an A/B test of the offer, optionally with a holdout

    def money(self, amount: Decimal) -> Money:
        return Money(amount, self.currency)

    def fraud_action(self, check: FraudCheck) -> FraudAction:
        return self.fraud_policy.get(check, DEFAULT_FRAUD_POLICY[check])
