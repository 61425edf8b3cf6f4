"""The rules engine: one pure function from an order and a snapshot to a referral Decision.

See docs/RULES.md for the contract: attribution precedence, every Reason, fraud checks, caps.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from .attribution import attribute, has_unknown_landing_ref, redeemed_reward_ids
from .caps import apply_caps
from .clock import utc
from .conditions import Referral, condition_rejections, eligible_subtotal, placed_at
from .decisions import (
    AdvocateView,
    Attribution,
    AttributionMethod,
    Beneficiary,
    Decision,
    FraudFinding,
    Outcome,
    Reason,
    Rejection,
    RewardDecision,
    Snapshot,
)
from .events import OrderEvent
from .experiments import program_for
from .fraud import fraud_findings, fraud_rejections, needs_review
from .money import Money
from .programs import Program, ProgramKind, RewardKind, RewardSpec
from .rewards_value import reward_value

# Program kinds that never reward the friend, and kinds with no per-referral reward at all.
NO_FRIEND_REWARD_KINDS = frozenset({ProgramKind.ONE_SIDED, ProgramKind.CONTEST})
NO_REWARD_KINDS = frozenset({ProgramKind.CONTEST})
# Friend reward kinds a store discount code can deliver at checkout.
CHECKOUT_DISCOUNT_KINDS = frozenset(
    {
        RewardKind.PERCENT_DISCOUNT,
        RewardKind.FIXED_DISCOUNT,
        RewardKind.FREE_SHIPPING,
        RewardKind.FREE_PRODUCT,
    }
)


def _beneficiary(spec: RewardSpec, default: Beneficiary) -> Beneficiary:
    return Beneficiary.CHARITY if spec.kind is RewardKind.CHARITY else default


def _valued(
    spec: RewardSpec,
    rule_key: str,
    default: Beneficiary,
    subtotal: Decimal,
    program: Program,
    advocate_id: int | None = None,
) -> RewardDecision:
    value, points = reward_value(spec, subtotal, program.currency)
    return RewardDecision(
        beneficiary=_beneficiary(spec, default),
        rule_key=rule_key,
        spec=spec,
        value=value,
        points=points,
        advocate_id=advocate_id,
    )


def _advocate_rule_specs(
    program: Program, advocate: AdvocateView
) -> tuple[tuple[str, RewardSpec], ...]:
    """(rule key, spec) the advocate's next successful referral earns, without repeats."""
    count = advocate.successful_referrals + 1
    planned: list[tuple[str, RewardSpec]] = []
    if program.advocate_reward is not None:
        planned.append(("advocate", program.advocate_reward))
    # Exact count only: a milestone skipped over (e.g. after a reversal) is never back-filled.
    planned.extend(
        (f"milestone:{m.count}", m.reward) for m in program.milestones if m.count == count
    )
    every = program.every_n
    if every is not None and every.n > 0 and count % every.n == 0:
        planned.append((f"every:{count}", every.reward))
    chosen: dict[str, RewardSpec] = {}
    for key, spec in planned:
        # "advocate" is earned on every referral; bonus keys only once while unreversed.
        if key != "advocate" and key in advocate.earned_rule_keys:
            continue
        chosen.setdefault(key, spec)
    return tuple(chosen.items())


def advocate_rewards(
    program: Program, advocate: AdvocateView, subtotal: Decimal
) -> tuple[RewardDecision, ...]:
    """The base, milestone and every-N rewards for the advocate's next successful referral,
    valued nominally (debt is absorbed by the service, not here)."""
    if program.kind in NO_REWARD_KINDS:
        return ()
    return tuple(
        _valued(spec, key, Beneficiary.ADVOCATE, subtotal, program, advocate.id)
        for key, spec in _advocate_rule_specs(program, advocate)
    )


def friend_reward(
    program: Program, attribution: Attribution, event: OrderEvent, subtotal: Decimal
) -> RewardDecision | None:
    """The friend's reward, or None when the program has none for friends.

    Attributed by CODE with a discount-kind spec, the code itself was the friend's discount:
    `at_checkout=True`, valued at the order's `discount_total` when known. Otherwise it is a
    post-purchase reward valued like any other.
    """
    spec = program.friend_reward
    if spec is None or program.kind in NO_FRIEND_REWARD_KINDS:
        return None
    if attribution.method is AttributionMethod.CODE and spec.kind in CHECKOUT_DISCOUNT_KINDS:
        known = event.discount_total
        return RewardDecision(
            beneficiary=Beneficiary.FRIEND,
            rule_key="friend",
            spec=spec,
            value=Money(known, program.currency).rounded() if known is not None else None,
            at_checkout=True,
        )
    return _valued(spec, "friend", Beneficiary.FRIEND, subtotal, program)


def referral_rewards(
    program: Program, advocate: AdvocateView, attribution: Attribution, event: OrderEvent
) -> tuple[RewardDecision, ...]:
    """Every reward an accepted (or reviewed) referral earns before caps: advocate's first."""
    subtotal = eligible_subtotal(event, program.conditions)
    friend = friend_reward(program, attribution, event, subtotal)
    advocates = advocate_rewards(program, advocate, subtotal)
    return advocates + ((friend,) if friend is not None else ())


def _not_referral(event: OrderEvent, snapshot: Snapshot, redeemed: tuple[int, ...]) -> Decision:
    if has_unknown_landing_ref(event, snapshot):
        why = Rejection(reason=Reason.UNKNOWN_CODE, detail="the ref link's code is not ours")
    else:
        why = Rejection(reason=Reason.NO_REFERRAL_CODE, detail="no referral signal on the order")
    return Decision(outcome=Outcome.NOT_REFERRAL, rejections=(why,), redeemed_reward_ids=redeemed)


def _judge(referral: Referral, redeemed: tuple[int, ...]) -> Decision:
    program, advocate = referral.program, referral.advocate
    findings: tuple[FraudFinding, ...] = ()
    if program is not None and advocate is not None:
        findings = fraud_findings(referral.event, advocate, program, referral.snapshot)
    rejections = condition_rejections(referral) + fraud_rejections(findings)
    # A missing program or advocate always yields a rejection; the `is None` tests narrow types.
    if rejections or program is None or advocate is None:
        return Decision(
            outcome=Outcome.REJECTED,
            attribution=referral.attribution,
            rejections=rejections,
            fraud=findings,
            redeemed_reward_ids=redeemed,
        )
    earned = referral_rewards(program, advocate, referral.attribution, referral.event)
    rewards, capped = apply_caps(earned, program, advocate.id, referral.snapshot)
    return Decision(
        outcome=Outcome.REVIEW if needs_review(findings) else Outcome.ACCEPTED,
        attribution=referral.attribution,
        rewards=rewards,
        rejections=capped,
        fraud=findings,
        redeemed_reward_ids=redeemed,
    )


def decide(event: OrderEvent, snapshot: Snapshot, now: datetime) -> Decision:
    """The referral Decision for one order (the merged order's data-bearing event).

    NOT_REFERRAL without a referral signal; REJECTED with every whole-referral reason
    (conditions, the advocate being in an A/B test's holdout, and REJECT fraud findings);
    otherwise REVIEW when a fraud check asks for it, else ACCEPTED, with the rewards the caps
    let through; rewards follow the offer of the advocate's A/B group (`program_for`). Pure
    and deterministic; raises ValueError only for naive datetimes.
    """
    utc(now)
    placed_at(event)
    redeemed = redeemed_reward_ids(event, snapshot)
    attribution = attribute(event, snapshot)
    if attribution is None:
        return _not_referral(event, snapshot, redeemed)
    program = snapshot.programs.get(attribution.program_id)
    advocate = snapshot.advocates.get(attribution.advocate_id)
    if program is not None and advocate is not None:
        program = program_for(program, advocate.variant)  # the offer of the advocate's group
    referral = Referral(
        event=event, attribution=attribution, snapshot=snapshot, program=program, advocate=advocate
    )
    return _judge(referral, redeemed)
