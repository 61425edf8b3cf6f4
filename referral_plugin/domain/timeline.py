"""A referral's story as the advocate sees it: clicked → claimed → ordered → pending until
<date> → approved, or declined with a reason (pure: computed from the stored facts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .decisions import AttributionMethod
from .lifecycle import ReferralStatus


class Step(StrEnum):
    CLICKED = "clicked"  # the friend followed the link
    CLAIMED = "claimed"  # the friend claimed the offer with their email
    ORDERED = "ordered"  # the friend's order reached us
    AWAITING_PAYMENT = "awaiting_payment"  # ordered, not paid yet
    IN_REVIEW = "in_review"  # the store is checking it
    PENDING = "pending"  # paid: the reward waits out the return window (`until`)
    APPROVED = "approved"  # the return window ended: the reward is (being) issued
    DECLINED = "declined"  # no reward: `reason` says why (a reason code)


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineStep:
    step: Step
    at: datetime | None = None
    until: datetime | None = None  # PENDING: when the hold ends
    reason: str | None = None  # DECLINED: the referral's reason code


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferralFacts:
    status: ReferralStatus
    method: AttributionMethod
    ordered_at: datetime
    claimed_at: datetime | None = None
    hold_until: datetime | None = None  # the advocate reward's hold end, once paid
    approved_at: datetime | None = None  # the advocate reward's approval
    reason: str | None = None  # status_reason, else the first reason code


DECLINED_STATUSES = frozenset({ReferralStatus.REJECTED, ReferralStatus.REVERSED})


def referral_timeline(facts: ReferralFacts) -> tuple[TimelineStep, ...]:
    """The steps reached so far, oldest first; the last one is where the referral stands."""
    steps: list[TimelineStep] = []
    if facts.method is AttributionMethod.LANDING_LINK or facts.claimed_at is not None:
        steps.append(TimelineStep(step=Step.CLICKED))
    if facts.claimed_at is not None:
        steps.append(TimelineStep(step=Step.CLAIMED, at=facts.claimed_at))
    steps.append(TimelineStep(step=Step.ORDERED, at=facts.ordered_at))
    if facts.status in DECLINED_STATUSES:
        steps.append(TimelineStep(step=Step.DECLINED, reason=facts.reason))
    elif facts.status is ReferralStatus.REVIEW:
        steps.append(TimelineStep(step=Step.IN_REVIEW))
    elif facts.status is ReferralStatus.PENDING or facts.hold_until is None:
        steps.append(TimelineStep(step=Step.AWAITING_PAYMENT))
    else:
        steps.append(TimelineStep(step=Step.PENDING, until=facts.hold_until))
        if facts.approved_at is not None:
            steps.append(TimelineStep(step=Step.APPROVED, at=facts.approved_at))
    return tuple(steps)
