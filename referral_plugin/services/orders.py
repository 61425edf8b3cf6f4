"""Records order events: log the event, decide the order once, then apply its merged state."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Executable, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..domain import rules
from ..domain.decisions import Beneficiary, Decision, Outcome, RewardDecision
from ..domain.emails import identity_email
from ..domain.events import OrderEvent
from ..domain.lifecycle import ReferralStatus, RewardStatus
from ..domain.orders import OrderState, merge_order_events
from ..domain.program_codec import reward_spec_to_dict
from ..domain.programs import Program
from ..models import Conversion, Referral, RevokeState, Reward
from . import merchant_webhooks, reward_moves
from .ledger import bump_successful_referrals
from .order_event_codec import lock_order, log_order_event, logged_order_events
from .order_state import apply_order_state, apply_to_referral
from .snapshot_batches import load_snapshot
from .snapshots import COUNTED_REFERRAL_STATUSES, signal_hashes

logger = logging.getLogger(__name__)
UNIQUE_ORDER = ("shop_id", "order_id")


@dataclass(frozen=True, slots=True, kw_only=True)
class RewardOutcome:
    id: int
    beneficiary: Beneficiary
    rule_key: str
    status: RewardStatus
    value: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderOutcome:
    """Where the order stands after an event; conversion_id is None until order data came."""

    conversion_id: int | None
    outcome: Outcome | None
    referral_status: ReferralStatus | None
    rewards: tuple[RewardOutcome, ...] = ()
    duplicate: bool = False

    @property
    def reward_ids(self) -> tuple[int, ...]:
        return tuple(r.id for r in self.rewards)

    @property
    def reward_statuses(self) -> tuple[RewardStatus, ...]:
        return tuple(r.status for r in self.rewards)


def record_order_event(
    session: Session, shop_id: int, event: OrderEvent, *, now: datetime, code_key: bytes
) -> OrderOutcome:
    """Apply `event` (`apply_order_event`), then read where the order stands.

    Idempotent: the same event (same idempotency key) again is `duplicate=True` with no
    effect, and any arrival order of an order's events converges to the same state.
    `code_key` keys the hashes of fraud signals stored on the conversion. Never commits.
    """
    applied = apply_order_event(session, shop_id, event, now=now, code_key=code_key)
    return order_outcome(session, shop_id, event.order_id, duplicate=not applied)


def apply_order_event(
    session: Session, shop_id: int, event: OrderEvent, *, now: datetime, code_key: bytes
) -> bool:
    """Log `event`, decide the order the first time its data is known, apply its state.

    Returns False for a duplicate (same idempotency key: no effect). The same effects as
    `record_order_event` without reading the outcome back, for callers that ignore it (the
    inbox worker). Idempotent and converging; never commits.
    """
    lock_order(session, shop_id, event.order_id)
    if not log_order_event(session, shop_id, event, now=now):
        return False
    events = logged_order_events(session, shop_id, event.order_id)
    state = merge_order_events(events)
    # The order's first event finds no conversion (if one exists anyway, `_decide` loses on
    # the unique constraint and returns it), so only later events look it up.
    conversion = _conversion(session, shop_id, event.order_id) if len(events) > 1 else None
    if conversion is None and state.order is not None and state.order.has_order_data:
        decided = _decide(session, shop_id, state, state.order, now=now, code_key=code_key)
        if isinstance(decided, NewReferral):  # created with the merged state: no reload
            apply_to_referral(
                session, state, decided.referral, decided.rewards, decided.program, now=now
            )
            session.flush()
            return True
        conversion = decided
    if conversion is not None:
        apply_order_state(session, conversion, state, now=now)
        session.flush()
    return True


def order_outcome(
    session: Session, shop_id: int, order_id: str, *, duplicate: bool = False
) -> OrderOutcome:
    """The current outcome of one order, read from the database."""
    conversion = _conversion(session, shop_id, order_id)
    if conversion is None:
        return OrderOutcome(
            conversion_id=None, outcome=None, referral_status=None, duplicate=duplicate
        )
    referral = session.scalars(
        select(Referral).where(Referral.shop_id == shop_id, Referral.conversion_id == conversion.id)
    ).one_or_none()
    rewards = session.scalars(
        select(Reward)
        .where(Reward.shop_id == shop_id, Reward.conversion_id == conversion.id)
        .order_by(Reward.id)
    ).all()
    return OrderOutcome(
        conversion_id=conversion.id,
        outcome=conversion.outcome,
        referral_status=None if referral is None else referral.status,
        rewards=tuple(
            RewardOutcome(
                id=r.id,
                beneficiary=r.beneficiary,
                rule_key=r.rule_key,
                status=r.status,
                value=r.value,
            )
            for r in rewards
        ),
        duplicate=duplicate,
    )


def _conversion(session: Session, shop_id: int, order_id: str) -> Conversion | None:
    return session.scalars(
        select(Conversion).where(Conversion.shop_id == shop_id, Conversion.order_id == order_id)
    ).one_or_none()


@dataclass(frozen=True, slots=True)
class NewReferral:
    """What `_decide` created for a referred order, so its state is applied without reloading."""

    referral: Referral
    rewards: list[Reward]
    program: Program


def _decide(
    session: Session,
    shop_id: int,
    state: OrderState,
    order: OrderEvent,
    *,
    now: datetime,
    code_key: bytes,
) -> Conversion | NewReferral | None:
    """Decide the order: its conversion, referral and rewards. Returns what is to be brought
    in line with the merged state: the new referral and rewards, or an existing conversion (a
    concurrent worker decided the order first); None for a new unattributed conversion
    (inserted with the merged state, nothing hangs off it: there is nothing to apply)."""
    snapshot = load_snapshot(session, shop_id, order, now, signal_key=code_key)
    decision = rules.decide(order, snapshot, now)
    values = conversion_values(shop_id, state, order, decision, now)
    inserted = _insert_conversion(session, {**values, "signals": signal_hashes(order, code_key)})
    if inserted is None:  # a concurrent worker decided this order first
        logger.info("order already decided", extra={"shop_id": shop_id, "order_id": order.order_id})
        existing = _conversion(session, shop_id, order.order_id)
        assert existing is not None
        return existing
    attribution = decision.attribution
    conversion = None if attribution is None else session.get_one(Conversion, inserted)
    program = None if attribution is None else snapshot.programs.get(attribution.program_id)
    created = None
    if conversion is not None and program is not None:
        referral = _new_referral(session, conversion, decision, now)
        rewards = [
            _new_reward(session, conversion, referral, program, reward, now)
            for reward in decision.rewards
        ]
        created = NewReferral(referral=referral, rewards=rewards, program=program)
    _redeem(session, shop_id, decision.redeemed_reward_ids, now)
    return created if created is not None else conversion


def _insert_conversion(session: Session, values: dict[str, Any]) -> int | None:
    """Insert the order's conversion unless it has one: its id, or None. One Core statement
    (no savepoint, no mapped object)."""
    insert = conversion_insert(session.get_bind().dialect.name)
    return session.connection().execute(insert, values).scalar_one_or_none()


@functools.cache
def conversion_insert(dialect: str, *, returning: bool = True) -> Executable:
    """`INSERT ... ON CONFLICT DO NOTHING [RETURNING id]` on the table, built once per
    dialect (see `order_event_codec.event_insert` for the form without RETURNING)."""
    table = Conversion.__table__
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).on_conflict_do_nothing(index_elements=UNIQUE_ORDER)
    return statement.returning(table.c.id) if returning else statement


def conversion_values(
    shop_id: int, state: OrderState, order: OrderEvent, decision: Decision, now: datetime
) -> dict[str, Any]:
    attribution = decision.attribution
    subtotal = order.subtotal if order.subtotal is not None else Decimal(0)
    return {
        "shop_id": shop_id,
        "order_id": order.order_id,
        "order_number": order.order_number,
        "customer_id": order.customer_id,
        "email": order.email,
        "identity_email": identity_email(order.email),
        "currency": order.currency or "XXX",
        "subtotal": subtotal,
        "total": order.total if order.total is not None else subtotal,
        "refunded_total": state.refunded_total,
        "paid": state.paid,
        "paid_at": state.paid_at,
        "cancelled": state.cancelled,
        "is_test": state.is_test,
        "method": None if attribution is None else attribution.method,
        "advocate_id": None if attribution is None else attribution.advocate_id,
        "program_id": None if attribution is None else attribution.program_id,
        "code": None if attribution is None else attribution.code,
        "outcome": decision.outcome,
        "reasons": list(decision.reasons),
        "fraud": [
            {"check": f.check.value, "action": f.action.value, "detail": f.detail}
            for f in decision.fraud
        ],
        "decided_at": now,
        "updated_at": now,
    }


def _new_referral(
    session: Session, conversion: Conversion, decision: Decision, now: datetime
) -> Referral:
    values = referral_values(conversion.shop_id, conversion.id, decision, now)
    referral = Referral(**values)
    session.add(referral)
    session.flush()
    merchant_webhooks.record_referral_created(session, referral, now)
    if referral.status in COUNTED_REFERRAL_STATUSES:
        bump_successful_referrals(
            session, shop_id=conversion.shop_id, advocate_id=referral.advocate_id, by=1
        )
    return referral


def referral_values(
    shop_id: int, conversion_id: int, decision: Decision, now: datetime
) -> dict[str, Any]:
    """The referral row of an attributed decision, as it is created."""
    attribution = decision.attribution
    assert attribution is not None
    status = {
        Outcome.REJECTED: ReferralStatus.REJECTED,
        Outcome.REVIEW: ReferralStatus.REVIEW,
    }.get(decision.outcome, ReferralStatus.PENDING)
    return {
        "shop_id": shop_id,
        "program_id": attribution.program_id,
        "advocate_id": attribution.advocate_id,
        "conversion_id": conversion_id,
        "status": status,
        "method": attribution.method,
        "code": attribution.code,
        "reasons": [
            {"reason": r.reason.value, "detail": r.detail, "rule_key": r.rule_key}
            for r in decision.rejections
        ],
        "status_reason": decision.reasons[0] if status is ReferralStatus.REJECTED else None,
        "created_at": now,
        "updated_at": now,
    }


def _new_reward(
    session: Session,
    conversion: Conversion,
    referral: Referral,
    program: Program,
    decided: RewardDecision,
    now: datetime,
) -> Reward:
    reward = Reward(**reward_values(program, conversion.id, referral.id, decided, now))
    session.add(reward)
    session.flush()
    reward_moves.book_earned(session, reward, now)
    return reward


def reward_values(
    program: Program, conversion_id: int, referral_id: int, decided: RewardDecision, now: datetime
) -> dict[str, Any]:
    """The reward row of a decided reward, as it is created: pending, or redeemed when it was
    the friend's discount at checkout."""
    value = None if decided.value is None else decided.value.amount
    return {
        "shop_id": program.shop_id,
        "program_id": program.id,
        "referral_id": referral_id,
        "conversion_id": conversion_id,
        "advocate_id": decided.advocate_id,
        "beneficiary": decided.beneficiary,
        "rule_key": decided.rule_key,
        "kind": decided.spec.kind,
        "status": RewardStatus.REDEEMED if decided.at_checkout else RewardStatus.PENDING,
        "value": value,
        "nominal_value": value,
        "points": decided.points,
        "currency": program.currency if decided.value is None else decided.value.currency,
        "debt_offset": Decimal(0),
        "spec": reward_spec_to_dict(decided.spec),
        "hold_until": None,
        "redeemed_at": now if decided.at_checkout else None,
        "revoke_state": RevokeState.NONE,
        "created_at": now,
        "updated_at": now,
    }


def _redeem(session: Session, shop_id: int, reward_ids: tuple[int, ...], now: datetime) -> None:
    for reward_id in reward_ids:
        reward = session.scalars(
            select(Reward).where(Reward.shop_id == shop_id, Reward.id == reward_id)
        ).one_or_none()
        if reward is not None and reward.status is RewardStatus.ISSUED:
            reward_moves.redeem(session, reward, now)
        elif reward is not None:
            logger.warning(
                "reward code used while not issued",
                extra={"shop_id": shop_id, "reward_id": reward_id},
            )
