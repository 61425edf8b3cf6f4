"""A program's offer in plain terms ("give 15% off, get $10"), for the shopper pages (pure).

`describe_offer` reduces a program to what a shopper needs to know: what a friend gets, what
the advocate gets, and the minimum order. The words and the money formatting per language
belong to the edge (`referral_plugin.web.offer_text`), which reads these terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .money import Money
from .programs import Program, RewardKind, RewardSpec, ValueBasis


@dataclass(frozen=True, slots=True, kw_only=True)
class RewardTerms:
    """One side's reward as a shopper reads it: exactly one of percent / money / points is
    set for the kinds that have a value; `of_order` means a percent of the friend's order."""

    kind: RewardKind
    percent: Decimal | None = None
    money: Money | None = None
    points: int | None = None
    of_order: bool = False
    label: str | None = None  # the charity's name, or the merchant's description of a custom reward


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferDescription:
    friend: RewardTerms | None
    advocate: RewardTerms | None
    minimum_subtotal: Money | None = None
    milestone_count: int | None = None  # tiered: the advocate's reward comes at this referral


def describe_offer(program: Program) -> OfferDescription:
    """What the friend and the advocate get in `program` (None for a side that gets nothing).

    A tiered program describes its first milestone; every-Nth rewards describe that reward.
    """
    advocate_spec, milestone = program.advocate_reward, None
    if advocate_spec is None and program.milestones:
        advocate_spec, milestone = program.milestones[0].reward, program.milestones[0].count
    if advocate_spec is None and program.every_n is not None:
        advocate_spec, milestone = program.every_n.reward, program.every_n.n
    minimum = program.conditions.minimum_subtotal
    return OfferDescription(
        friend=reward_terms(program.friend_reward, program.currency),
        advocate=reward_terms(advocate_spec, program.currency),
        minimum_subtotal=None if minimum is None else Money(minimum, program.currency),
        milestone_count=milestone,
    )


def reward_terms(spec: RewardSpec | None, currency: str) -> RewardTerms | None:
    """One reward as a shopper reads it (None for no reward)."""
    if spec is None:
        return None
    label = spec.charity if spec.kind is RewardKind.CHARITY else spec.description
    if spec.kind is RewardKind.PERCENT_DISCOUNT or spec.basis is ValueBasis.PERCENT_OF_ORDER:
        of_order = spec.kind is not RewardKind.PERCENT_DISCOUNT
        return RewardTerms(kind=spec.kind, percent=spec.percent, of_order=of_order, label=label)
    if spec.kind is RewardKind.POINTS:
        return RewardTerms(kind=spec.kind, points=spec.points, label=label)
    money = None if spec.amount is None else Money(spec.amount, currency)
    if spec.kind in {RewardKind.FREE_PRODUCT, RewardKind.CUSTOM, RewardKind.VIP}:
        money = None  # the amount there is the merchant's cost, not what the shopper gets
    return RewardTerms(kind=spec.kind, money=money, label=label)
