"""Referred orders in bulk: the first events of a chunk's referred orders, decided together and
applied in a few set-based statements.

The per-order path (`orders.apply_order_event`) takes ~30 statements for a referred order: its
snapshot, the conversion, the referral (inserted, then updated to converted), each reward
(inserted, then held), ledger entries, counters and the "reward pending" email. Here a chunk's
referred orders take a fixed number: snapshots for all of them (`snapshot_batches`), then one
INSERT each for their order events and conversions (`order_batches`' statements), referrals,
rewards, ledger entries and email drafts, and one executemany UPDATE of the advocates. Every
row is written in its final state: what `apply_to_referral` would have moved it to right after
creation.

Only what the per-order path would do the same way is taken (`plan_referrals`):
- the order's first event, alone in the chunk, carrying the order's data;
- nothing it reads is touched by another order of the chunk that is not already applied (its
  advocates, its customer, its advocates' own orders, a program-wide cap): such orders are
  left; the caller runs the batch again on what is left
  (`apply_referral_rounds`), so one held back only by orders applied since
  is decided on what they wrote, and the rest go one after the other through the per-order
  path, in chunk order;
- a decision without reward codes redeemed, no refund or cancellation yet, no charity reward,
  and money rewards in the advocate's currency.
The rest goes through `apply_order_event`. `referral_writes` writes what is taken.
tests/integration/test_referral_batches.py compares both paths row by row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from ..domain import rules
from ..domain.decisions import Beneficiary
from ..domain.events import OrderEvent
from ..domain.orders import OrderState, merge_order_events
from ..domain.programs import RewardKind
from ..models import POINTS_UNIT, Conversion
from .order_batches import (
    BatchItem,
    OrderKey,
    append_events,
    insert_conversions,
    logged_events,
    per_shop,
)
from .order_state import void_reason
from .referral_writes import Planned, apply_referrals, conversion_rows, ledger_amount
from .snapshot_batches import ReferralRows, load_referral_rows, person_keys, snapshots_for

ROUND_WINDOW = 8  # candidates of a round after the first (see apply_referral_rounds)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An order event of the chunk left by the bulk path, in chunk order."""

    item: BatchItem
    state: OrderState | None  # the merged state when it is the order's first event, else None
    existing: Any = None  # the order's conversion row (advocate_id, customer_id, identity_email)

    @property
    def ref(self) -> int:
        return self.item.ref

    @property
    def shop_id(self) -> int:
        return self.item.shop_id

    @property
    def event(self) -> OrderEvent:
        return self.item.event

    def touches(self, rows: ReferralRows) -> frozenset[tuple[Any, ...]]:
        """`ReferralRows.touches`, and the advocate and customer of the order's conversion."""
        keys = set(rows.touches(self.event))
        if self.existing is not None:
            if self.existing.advocate_id is not None:
                keys.add(("advocate", self.existing.advocate_id))
            keys |= person_keys(self.existing.customer_id, self.existing.identity_email)
        return frozenset(keys)


def apply_referral_batch(
    session: Session,
    items: Sequence[BatchItem],
    *,
    now: datetime,
    code_key: bytes,
    window: int | None = None,
) -> set[int]:
    """Decide and apply the referred orders of `items` the batch can take (see the module
    docstring); returns their refs, the others untouched. `items` are the chunk's order events
    the bulk path left, in chunk order, whose orders' locks and advocates' locks the caller
    holds. With a `window`, only the first `window` items are candidates: every order before
    a candidate is still among them, so what is taken is what the whole list would give
    within them. Raises with effects half done: run it in a savepoint."""
    if not items:
        return set()
    conn = session.connection()
    counts = Counter(item.key for item in items)  # "alone in the chunk": over all of them
    items = items[:window]
    conversions = _conversions(conn, {item.key for item in items})
    fresh = [i for i in items if counts[i.key] == 1 and i.key not in conversions]
    logs = logged_events(conn, {item.key for item in fresh}) if fresh else {}
    firsts = {item.ref for item in fresh if not logs[item.key]}
    candidates = [
        Candidate(
            item,
            merge_order_events([item.event]) if item.ref in firsts else None,
            conversions.get(item.key),
        )
        for item in items
    ]
    plans = plan_referrals(session, candidates, now=now, code_key=code_key)
    if not plans:
        return set()
    planned = {plan.ref for plan in plans}
    append_events(conn, [item for item in items if item.ref in planned], now)
    insert_conversions(conn, conversion_rows(plans, now, code_key))
    apply_referrals(session, plans, now=now)
    return planned


def apply_referral_rounds(
    session: Session, items: list[BatchItem], *, now: datetime, code_key: bytes
) -> set[int]:
    """The referral batch again and again on what it left, while it takes something; returns
    every ref taken. A round takes no order that an order left before it in the chunk could
    change (`_independent`), so an order held back only by orders a
    previous round applied (the same advocate twice in a chunk) is taken by the next one,
    decided on what they wrote: what the per-order path would decide in chunk order.

    A round after the first considers the first ROUND_WINDOW items left, or twice as many as
    the round before took, and widens the window when it takes nothing, until it spans them
    all: a chunk of one advocate's orders (one taken per round) costs each round a few
    candidates, not the whole chunk again."""
    applied: set[int] = set()
    window = len(items)
    while items:
        taken = apply_referral_batch(session, items, now=now, code_key=code_key, window=window)
        if taken:
            applied |= taken
            items = [item for item in items if item.ref not in taken]
            window = max(ROUND_WINDOW, 2 * len(taken))
        elif window >= len(items):
            break
        else:
            window *= 2
    return applied


def _conversions(conn: Connection, keys: Iterable[OrderKey]) -> dict[OrderKey, Any]:
    """The orders' conversions: who they are attributed to and whose they are."""
    table = Conversion.__table__
    query = select(
        table.c.shop_id,
        table.c.order_id,
        table.c.advocate_id,
        table.c.customer_id,
        table.c.identity_email,
    ).where(per_shop(table.c.shop_id, table.c.order_id, keys, conn.dialect.name))
    return {(row.shop_id, row.order_id): row for row in conn.execute(query)}


def plan_referrals(
    session: Session, candidates: Sequence[Candidate], *, now: datetime, code_key: bytes
) -> list[Planned]:
    """The candidates the batch can apply, decided. `candidates` are every order event of
    the chunk the bulk path left, in chunk order; those with a state are first events of
    their orders. Reads only."""
    conn = session.connection()
    planned: list[Planned] = []
    for shop_id in sorted({c.shop_id for c in candidates}):
        own = [c for c in candidates if c.shop_id == shop_id]
        rows = load_referral_rows(conn, shop_id, [c.event for c in own])
        chosen = _independent(own, rows)
        if not chosen:
            continue
        snapshots = snapshots_for(
            session, shop_id, rows, [c.event for c in chosen], now, signal_key=code_key
        )
        for candidate, snapshot in zip(chosen, snapshots, strict=True):
            assert candidate.state is not None and candidate.state.order is not None
            decision = rules.decide(candidate.state.order, snapshot, now)
            attribution = decision.attribution
            program = None if attribution is None else snapshot.programs.get(attribution.program_id)
            plan = Planned(
                ref=candidate.ref,
                shop_id=shop_id,
                state=candidate.state,
                order=candidate.state.order,
                decision=decision,
                program=program,
                advocates=rows.advocates,
            )
            if _batchable(plan):
                planned.append(plan)
    return planned


def _independent(candidates: Sequence[Candidate], rows: ReferralRows) -> list[Candidate]:
    """First events whose decision reads nothing an earlier order of the chunk (one left to
    the per-order path, or one taken here) could change."""
    chosen = []
    touched: set[tuple[Any, ...]] = set()
    for candidate in candidates:
        keys = candidate.touches(rows)
        state = candidate.state
        first = state is not None and state.order is not None and state.order.has_order_data
        if first and not keys & touched and rows.advocate_ids(candidate.event):
            chosen.append(candidate)
        touched |= keys
    return chosen


def _batchable(plan: Planned) -> bool:
    """The per-order path would do nothing here that the batch does not."""
    decision, program, state = plan.decision, plan.program, plan.state
    if decision.redeemed_reward_ids or state.refunds or state.cancelled:
        return False
    if program is None:
        return True
    if void_reason(state, program) is not None:
        return False
    for reward in decision.rewards:
        if reward.spec.kind is RewardKind.CHARITY or reward.beneficiary is Beneficiary.CHARITY:
            return False
        money = ledger_amount(reward)
        if money is None:
            continue
        advocate = plan.advocates.get(reward.advocate_id)
        if advocate is None or (money[1] != POINTS_UNIT and advocate.currency != money[1]):
            return False
    return True
