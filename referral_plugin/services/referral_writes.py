"""Writing the referral batch's decided orders (`referral_batches`), every row in its final state.

The caller inserts the orders' events and conversions; `apply_referrals` then writes what
`orders._decide` and `order_state.apply_to_referral` would have written one order at a time:
referrals (one INSERT), rewards (one INSERT), ledger entries (one INSERT), each advocate's
balance, points and successful referrals (one executemany UPDATE), "reward pending" drafts
(one INSERT) and `referral.created` events for the shop's endpoints. A paid order's referral is
inserted converted and its rewards held, so no UPDATE follows an INSERT.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from ..db import among
from ..domain.decisions import Beneficiary, Decision, RewardDecision
from ..domain.events import OrderEvent
from ..domain.lifecycle import ReferralStatus, RewardStatus, check_move
from ..domain.orders import OrderState
from ..domain.programs import Program, ShopperEmail
from ..models import (
    POINTS_UNIT,
    Advocate,
    AdvocateStatus,
    Conversion,
    LedgerEntry,
    LedgerKind,
    Referral,
    Reward,
)
from . import merchant_webhooks
from .order_state import hold_until
from .orders import conversion_values, referral_values, reward_values
from .outbox import enqueue_drafts
from .reward_moves import earned_entry
from .shopper_emails import reward_draft
from .snapshots import COUNTED_REFERRAL_STATUSES, signal_hashes


@dataclass(frozen=True, slots=True)
class Planned:
    """A referred order the batch applies: its decision and the attributed program."""

    ref: int
    shop_id: int
    state: OrderState
    order: OrderEvent
    decision: Decision
    program: Program | None  # None: a conversion only (nothing attributed to a known program)
    advocates: dict[int, Any]  # the advocates rows its rewards name


def conversion_rows(plans: Sequence[Planned], now: datetime, code_key: bytes) -> list[dict]:
    """The planned orders' conversions, as `orders._decide` inserts them."""
    return [
        {
            **conversion_values(plan.shop_id, plan.state, plan.order, plan.decision, now),
            "signals": signal_hashes(plan.order, code_key),
        }
        for plan in plans
    ]


def apply_referrals(session: Session, plans: Sequence[Planned], *, now: datetime) -> None:
    """Referrals, rewards, ledger entries, counters, emails and merchant webhooks of the
    planned orders, whose conversions the caller inserted. Never commits."""
    conn = session.connection()
    referred = [plan for plan in plans if plan.program is not None]
    if not referred:
        return
    conversion_ids = _conversion_ids(conn, referred)
    referral_rows = [_referral_row(plan, conversion_ids, now) for plan in referred]
    table = Referral.__table__
    returned = conn.execute(
        insert(table).returning(table.c.id, table.c.conversion_id, sort_by_parameter_order=True),
        [{k: v for k, v in row.items() if k != "created_status"} for row in referral_rows],
    ).all()
    referral_ids = {conversion_id: referral_id for referral_id, conversion_id in returned}
    rewards = [
        (plan, reward, _reward_row(plan, reward, conversion_ids, referral_ids, now))
        for plan in referred
        for reward in plan.decision.rewards
    ]
    reward_ids: list[int] = []
    if rewards:
        table = Reward.__table__
        reward_ids = list(
            conn.execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True),
                [row for _, _, row in rewards],
            ).scalars()
        )
    _post_earned(conn, rewards, reward_ids, referral_rows, now)
    _queue_pending_emails(session, rewards, reward_ids, now)
    _record_referrals_created(session, referred, referral_rows, referral_ids, now)


def _conversion_ids(conn: Connection, plans: Sequence[Planned]) -> dict[int, int]:
    """Conversion id by plan ref (the caller inserted them)."""
    table = Conversion.__table__
    ids: dict[int, int] = {}
    for shop_id in sorted({plan.shop_id for plan in plans}):
        own = {plan.order.order_id: plan.ref for plan in plans if plan.shop_id == shop_id}
        query = select(table.c.id, table.c.order_id).where(
            table.c.shop_id == shop_id, among(table.c.order_id, sorted(own), conn.dialect.name)
        )
        ids |= {own[order_id]: conversion_id for conversion_id, order_id in conn.execute(query)}
    return ids


def _referral_row(plan: Planned, conversion_ids: dict[int, int], now: datetime) -> dict:
    """As `orders._new_referral` creates it, then `order_state._hold` moves it."""
    values = referral_values(plan.shop_id, conversion_ids[plan.ref], plan.decision, now)
    created = values["status"]
    program = plan.program
    assert program is not None
    held = created is ReferralStatus.PENDING and hold_until(plan.state, program) is not None
    return {
        **values,
        "status": ReferralStatus.CONVERTED if held else created,
        "created_status": created,  # not a column: dropped before the insert
    }


def _reward_row(
    plan: Planned,
    decided: RewardDecision,
    conversion_ids: dict[int, int],
    referral_ids: dict[int, int],
    now: datetime,
) -> dict:
    """As `orders._new_reward` creates it, then `reward_moves.hold` moves it."""
    program = plan.program
    assert program is not None
    conversion_id = conversion_ids[plan.ref]
    values = reward_values(program, conversion_id, referral_ids[conversion_id], decided, now)
    until = hold_until(plan.state, program)
    if values["status"] is RewardStatus.PENDING and until is not None:
        check_move(values["status"], RewardStatus.HELD)
        values["status"] = RewardStatus.HELD
        values["hold_until"] = until
    return values


def ledger_amount(decided: RewardDecision) -> tuple[Decimal | int, str] | None:
    """What `reward_moves.book_earned` posts for the reward once stored: (amount, unit)."""
    value = decided.value
    return earned_entry(
        decided.beneficiary, decided.advocate_id, decided.spec.kind,
        None if value is None else value.amount, "" if value is None else value.currency,
        decided.points,
    )  # fmt: skip


def _post_earned(
    conn: Connection,
    rewards: Sequence[tuple[Planned, RewardDecision, dict]],
    reward_ids: Sequence[int],
    referral_rows: Sequence[dict],
    now: datetime,
) -> None:
    """The ledger entries of the new rewards and each advocate's balance, points and
    successful referrals moved by their sum: one INSERT, one UPDATE per advocate."""
    entries = []
    moves: dict[int, dict[str, Any]] = {}

    def move(shop_id: int, advocate_id: int) -> dict[str, Any]:
        zero = {"add_balance": Decimal(0), "add_points": 0, "add_referrals": 0}
        return moves.setdefault(advocate_id, {"advocate": advocate_id, "shop": shop_id, **zero})

    for (plan, decided, _row), reward_id in zip(rewards, reward_ids, strict=True):
        earned = ledger_amount(decided)
        if earned is None or earned[0] == 0:
            continue
        amount, unit = earned
        assert decided.advocate_id is not None
        entries.append(
            {
                "shop_id": plan.shop_id,
                "advocate_id": decided.advocate_id,
                "reward_id": reward_id,
                "kind": LedgerKind.EARNED,
                "amount": Decimal(amount),
                "unit": unit,
                "note": None,
                "created_at": now,
            }
        )
        target = move(plan.shop_id, decided.advocate_id)
        target["add_points" if unit == POINTS_UNIT else "add_balance"] += amount
    for row in referral_rows:
        if row["created_status"] in COUNTED_REFERRAL_STATUSES:
            move(row["shop_id"], row["advocate_id"])["add_referrals"] += 1
    if entries:
        conn.execute(insert(LedgerEntry.__table__), entries)
    if moves:
        conn.execute(_advocate_moves(), [moves[a] for a in sorted(moves)])


@functools.cache
def _advocate_moves() -> Any:
    table = Advocate.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("advocate"), table.c.shop_id == bindparam("shop"))
        .values(
            balance=table.c.balance + bindparam("add_balance"),
            points=table.c.points + bindparam("add_points"),
            successful_referrals=table.c.successful_referrals + bindparam("add_referrals"),
        )
    )


def _queue_pending_emails(
    session: Session,
    rewards: Sequence[tuple[Planned, RewardDecision, dict]],
    reward_ids: Sequence[int],
    now: datetime,
) -> None:
    """The "reward pending" drafts `reward_moves.hold` queues for rewards that became held."""
    drafts = []
    for (plan, decided, row), reward_id in zip(rewards, reward_ids, strict=True):
        assert plan.program is not None
        if row["status"] is not RewardStatus.HELD:
            continue
        if not plan.program.emails.sends(ShopperEmail.REWARD_PENDING):
            continue
        recipient = _recipient(plan, decided)
        if recipient is None:
            continue
        drafts.append(reward_draft(plan.shop_id, ShopperEmail.REWARD_PENDING, recipient, reward_id))
    enqueue_drafts(session, drafts, now=now)


def _recipient(plan: Planned, decided: RewardDecision) -> str | None:
    """`shopper_emails.reward_recipient` for a reward being created."""
    if decided.beneficiary is Beneficiary.ADVOCATE and decided.advocate_id is not None:
        advocate = plan.advocates.get(decided.advocate_id)
        active = advocate is not None and advocate.status is AdvocateStatus.ACTIVE
        return advocate.email if active else None
    if decided.beneficiary is Beneficiary.FRIEND:
        return plan.order.email
    return None


def _record_referrals_created(
    session: Session,
    plans: Sequence[Planned],
    referral_rows: Sequence[dict],
    referral_ids: dict[int, int],
    now: datetime,
) -> None:
    """`merchant_webhooks.record_referral_created` for each, with the status it was created
    with; nothing at all when the shop has no endpoint for it."""
    for plan, row in zip(plans, referral_rows, strict=True):
        if not merchant_webhooks.subscribers(session, plan.shop_id).get(
            merchant_webhooks.REFERRAL_CREATED
        ):
            continue
        referral_id = referral_ids[row["conversion_id"]]
        advocate = plan.advocates.get(row["advocate_id"])
        data = merchant_webhooks.referral_data(
            referral_id=referral_id,
            program_id=row["program_id"],
            status=row["created_status"],
            advocate_id=row["advocate_id"],
            advocate_email=None if advocate is None else advocate.email,
            code=row["code"],
            conversion=conversion_values(plan.shop_id, plan.state, plan.order, plan.decision, now),
            created_at=now,
        )
        merchant_webhooks.record_event(
            session,
            plan.shop_id,
            merchant_webhooks.REFERRAL_CREATED,
            f"{merchant_webhooks.REFERRAL_CREATED}:{referral_id}",
            lambda data=data: {"referral": data},
            now=now,
        )
