"""The rules engine's inputs (a snapshot of what we know) and outputs (a decision).

The service layer loads a `Snapshot` for one order; `rules.decide` turns it into a `Decision`.
Expected "no" answers are `Rejection` values with a `Reason`, never exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from .money import Money
from .programs import CapPeriod, CapScope, FraudAction, FraudCheck, Program, RewardSpec


class CodeKind(StrEnum):
    ADVOCATE = "advocate"  # an advocate's shared code
    FRIEND = "friend"  # a per-friend single-use code bound to one friend email
    REWARD = "reward"  # a code we issued as a reward; seeing it on an order means redeemed


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeView:
    code: str  # normalized
    kind: CodeKind
    program_id: int
    advocate_id: int | None = None
    friend_email: str | None = None  # identity email (emails.identity_email) for FRIEND codes
    reward_id: int | None = None  # for REWARD codes


@dataclass(frozen=True, slots=True, kw_only=True)
class AdvocateView:
    """One advocate as the rules need them; history excludes the order being decided."""

    id: int
    program_id: int
    email: str | None  # normalized
    customer_id: str | None = None
    active: bool = True
    successful_referrals: int = 0  # converted, not reversed
    earned_rule_keys: frozenset[str] = frozenset()  # e.g. {"milestone:3"} of unreversed rewards
    known_ips: frozenset[str] = frozenset()
    known_devices: frozenset[tuple[str, str]] = frozenset()  # (ip, user agent)
    known_shipping_fingerprints: frozenset[str] = frozenset()
    known_payment_fingerprints: frozenset[str] = frozenset()
    referrals_last_24h: int = 0
    has_ordered: bool = False
    debt: Decimal = Decimal(0)  # clawed-back value the next money reward absorbs
    variant: str | None = None  # the advocate's A/B group (`experiments.program_for`)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimView:
    """A friend who claimed an offer with their email (before ordering)."""

    email: str  # identity email
    advocate_id: int
    program_id: int
    code: str  # the code they were given (normalized)
    claimed_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CapUsage:
    count: int = 0
    amount: Decimal = Decimal(0)


# (scope, owner id: the program id or the advocate id, period)
CapKey = tuple[CapScope, int, CapPeriod]


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """Everything `decide` may read about the shop's state, loaded for one order."""

    programs: Mapping[int, Program]
    codes: Mapping[str, CodeView]  # the order's codes and landing ref that we know, by code
    advocates: Mapping[int, AdvocateView]  # the candidate advocates
    claims: tuple[ClaimView, ...] = ()  # claims whose identity email matches the order's
    prior_orders: int = 0  # paid orders by this customer/email we saw before this one
    cap_usage: Mapping[CapKey, CapUsage] = field(default_factory=dict)
    disposable_email_domains: frozenset[str] = frozenset()


class AttributionMethod(StrEnum):
    CODE = "code"  # a referral code on the order (strongest)
    CLAIM_EMAIL = "claim_email"  # the order email matches a friend's claim
    LANDING_LINK = "landing_link"  # ?ref= in the landing site or note attributes (weakest)


ATTRIBUTION_PRECEDENCE = (
    AttributionMethod.CODE,
    AttributionMethod.CLAIM_EMAIL,
    AttributionMethod.LANDING_LINK,
)


class Beneficiary(StrEnum):
    ADVOCATE = "advocate"
    FRIEND = "friend"
    CHARITY = "charity"


class Outcome(StrEnum):
    NOT_REFERRAL = "not_referral"  # no referral signal at all: an ordinary order
    REJECTED = "rejected"  # a referral signal, refused with reasons
    REVIEW = "review"  # rewards decided but held for the merchant's review (fraud flags)
    ACCEPTED = "accepted"


class Reason(StrEnum):
    NO_REFERRAL_CODE = "no_referral_code"
    UNKNOWN_CODE = "unknown_code"
    PROGRAM_INACTIVE = "program_inactive"
    ADVOCATE_INACTIVE = "advocate_inactive"
    SELF_REFERRAL = "self_referral"
    FRIEND_CODE_OTHER_EMAIL = "friend_code_other_email"
    BELOW_MINIMUM = "below_minimum"
    NOT_FIRST_ORDER = "not_first_order"
    OUTSIDE_DATES = "outside_dates"
    COUNTRY_NOT_ALLOWED = "country_not_allowed"
    PRODUCT_NOT_IN_SCOPE = "product_not_in_scope"
    CURRENCY_MISMATCH = "currency_mismatch"
    TEST_ORDER = "test_order"
    ADVOCATE_CAP_REACHED = "advocate_cap_reached"
    PROGRAM_CAP_REACHED = "program_cap_reached"
    FRAUD = "fraud"  # rejected by a fraud check; the finding names which
    HOLDOUT = "holdout"  # the advocate is in the program's control group: no rewards


@dataclass(frozen=True, slots=True, kw_only=True)
class Attribution:
    advocate_id: int
    program_id: int
    code: str  # the advocate's (or friend's) code that attributed it, normalized
    method: AttributionMethod


@dataclass(frozen=True, slots=True, kw_only=True)
class RewardDecision:
    """One reward for one beneficiary, keyed by rule so that deciding twice is one reward."""

    beneficiary: Beneficiary
    rule_key: str  # "advocate", "friend", "milestone:3", "every:5"
    spec: RewardSpec
    value: Money | None = None  # money value (money kinds, charity, declared cost)
    points: int | None = None
    advocate_id: int | None = None
    at_checkout: bool = False  # the friend's discount already applied on this order


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    reason: Reason
    detail: str
    rule_key: str | None = None  # None: the whole referral; else only that reward


@dataclass(frozen=True, slots=True, kw_only=True)
class FraudFinding:
    check: FraudCheck
    action: FraudAction
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    outcome: Outcome
    attribution: Attribution | None = None
    rewards: tuple[RewardDecision, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    fraud: tuple[FraudFinding, ...] = ()
    redeemed_reward_ids: tuple[int, ...] = ()  # our reward codes that came back on this order

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r.reason.value for r in self.rejections)
