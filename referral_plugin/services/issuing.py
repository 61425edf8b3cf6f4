"""Issue approved rewards through the shop's StoreClient, and revoke reversed ones.

The caller owns the transaction (one per shop in `store_jobs`): rewards are claimed with
FOR UPDATE SKIP LOCKED on PostgreSQL, so several workers never call the store for the same
reward at once. A crash after the store call and before the commit is safe: the code is derived
from the reward id (`codes.reward_code`), so the rerun asks for the same code and the client
treats "already exists" as success.

What each kind means here:
- store kinds (discounts, free shipping, free product, store credit, VIP tag): created in the
  store, bound to the beneficiary; a money reward is created for value - debt_offset, and one
  whose value the advocate's debt absorbed entirely is marked issued with no store call;
- CASH (a payout the merchant owes, exported later), POINTS, CHARITY, CUSTOM: nothing to create
  in the store, so they are marked issued and the merchant fulfils them. Their store_code is
  our derived code, a stable reference to quote.

Failures: retryable errors back off exponentially (or by the store's retry_after); a 429 /
THROTTLED pauses the whole shop (`Shop.store_paused_until`) and is not counted as an attempt;
terminal errors and exhausted attempts leave the reward APPROVED with `next_store_attempt_at`
None and `last_store_error` set, until an operator runs `referral-plugin rewards retry`.
`StoreUnavailable` stops the shop's store calls for this run and is retried after an hour.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session

from ..domain.codes import reward_code
from ..domain.lifecycle import RewardStatus
from ..domain.programs import MONEY_VALUE_KINDS, STORE_ISSUED_KINDS
from ..domain.store import (
    StoreClient,
    StoreClientError,
    StoreUnavailable,
)
from ..errors import Conflict
from ..models import RevokeState, Reward, Shop
from . import rewards, shopper_emails
from .audit import record_audit
from .reward_requests import build_request
from .store_failures import (
    UNAVAILABLE_RETRY,
    FailureOutcome,
    describe,
    record_store_failure,
    shop_paused,
)

logger = logging.getLogger(__name__)

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueReport:
    """What one run did for one shop. `handled` counts rewards whose state changed."""

    issued: int = 0  # created in the store and marked issued
    recorded: int = 0  # marked issued without a store call (cash, points, absorbed, ...)
    retrying: int = 0  # failed, will be retried automatically
    failed: int = 0  # failed for good: waits for `rewards retry`
    paused_until: datetime | None = None  # the shop is paused (throttled) until then
    unavailable: str | None = None  # why the store could not be called at all

    @property
    def handled(self) -> int:
        return self.issued + self.recorded + self.retrying + self.failed


def due_for_store(now: datetime) -> ColumnElement[bool]:
    """The retry condition shared by issue and revoke: due now, or new (never failed)."""
    return or_(
        Reward.next_store_attempt_at <= now,
        and_(Reward.next_store_attempt_at.is_(None), Reward.last_store_error.is_(None)),
    )


def _claim(session: Session, query: Select[Reward], limit: int) -> list[Reward]:
    query = query.order_by(Reward.updated_at, Reward.id).limit(limit)
    # SKIP LOCKED on PostgreSQL; SQLite renders no FOR UPDATE (it has a single writer).
    return list(session.scalars(query.with_for_update(skip_locked=True, of=Reward)))


def issue_due_rewards(
    session: Session,
    *,
    shop_id: int,
    client: StoreClient,
    now: datetime,
    code_key: bytes,
    limit: int = 50,
    max_attempts: int = 8,
) -> IssueReport:
    """Issue up to `limit` due APPROVED rewards of the shop. Returns an IssueReport.

    Never raises for a store failure (it is recorded on the reward); idempotent per reward.
    Does nothing while the shop is paused.
    """
    shop = session.get(Shop, shop_id)
    if shop is None or shop_paused(shop, now):
        return IssueReport(paused_until=shop.store_paused_until if shop else None)
    claimed = _claim(
        session,
        select(Reward).where(
            Reward.shop_id == shop_id,
            Reward.status == RewardStatus.APPROVED,
            due_for_store(now),
        ),
        limit,
    )
    counts: Counter[str] = Counter()
    stop: StoreClientError | None = None
    for reward in claimed:
        code = reward_code(reward.id, code_key)
        if not needs_store_call(reward):
            _record_without_store(session, reward, code, now)
            counts["recorded"] += 1
        elif stop is None:
            outcome = _issue_one(session, reward, code, client, now, max_attempts)
            counts[outcome.counter] += 1
            stop = outcome.stop
        elif isinstance(stop, StoreUnavailable):
            counts[_postpone(reward, stop, now).counter] += 1
    session.flush()
    return _report(counts, shop, stop)


def needs_store_call(reward: Reward) -> bool:
    """True for a store kind with something left to create after the debt offset."""
    if reward.kind not in STORE_ISSUED_KINDS:
        return False
    if reward.kind in MONEY_VALUE_KINDS and reward.value is not None:
        return reward.value - reward.debt_offset > ZERO
    return True


def _record_without_store(session: Session, reward: Reward, code: str, now: datetime) -> None:
    rewards.mark_reward_issued(session, reward.shop_id, reward.id, store_code=code, now=now)
    _clear_store_state(reward)
    if reward.kind in STORE_ISSUED_KINDS:  # a store kind with nothing left: debt absorbed it
        record_audit(
            session,
            reward.shop_id,
            actor="worker",
            action="reward.absorbed_by_debt",
            subject_type="reward",
            subject_id=reward.id,
            details={"value": str(reward.value), "debt_offset": str(reward.debt_offset)},
            now=now,
        )


def _issue_one(
    session: Session,
    reward: Reward,
    code: str,
    client: StoreClient,
    now: datetime,
    max_attempts: int,
) -> FailureOutcome:
    try:
        issued = client.issue_reward(build_request(session, reward, code, now))
        rewards.mark_reward_issued(
            session,
            reward.shop_id,
            reward.id,
            store_code=issued.code or code,
            store_ref=issued.store_ref,
            now=now,
        )
    except StoreClientError as error:
        return record_store_failure(session, reward, error, now=now, max_attempts=max_attempts)
    except Conflict as error:  # the store returned a code that belongs to something else
        failure = StoreClientError(str(error), retryable=False, code="CODE_CONFLICT")
        return record_store_failure(session, reward, failure, now=now, max_attempts=max_attempts)
    _clear_store_state(reward)
    shopper_emails.queue_reward_issued(session, reward, now)
    logger.info("reward issued", extra={"shop_id": reward.shop_id, "reward_id": reward.id})
    return FailureOutcome(counter="issued")


def _postpone(reward: Reward, error: StoreClientError, now: datetime) -> FailureOutcome:
    """A reward not attempted because the store is unavailable: the same error, visible."""
    reward.last_store_error = f"not attempted: {describe(error)}"[:1000]
    reward.next_store_attempt_at = now + UNAVAILABLE_RETRY
    reward.updated_at = now
    return FailureOutcome(counter="retrying")


def _clear_store_state(reward: Reward) -> None:
    reward.store_attempts = 0  # a later revoke starts with a fresh budget
    reward.next_store_attempt_at = None
    reward.last_store_error = None


def _report(counts: Counter[str], shop: Shop, stop: StoreClientError | None) -> IssueReport:
    return IssueReport(
        issued=counts["issued"],
        recorded=counts["recorded"],
        retrying=counts["retrying"],
        failed=counts["failed"],
        paused_until=shop.store_paused_until if stop is not None else None,
        unavailable=str(stop) if isinstance(stop, StoreUnavailable) else None,
    )


def revoke_reversed_rewards(
    session: Session,
    *,
    shop_id: int,
    client: StoreClient,
    now: datetime,
    limit: int = 50,
    max_attempts: int = 8,
) -> int:
    """Disable the store codes of reversed rewards (revoke_state pending). Returns how many
    rewards changed state (revoked or failure recorded). Idempotent: "already gone" counts as
    revoked, and a reward with nothing in the store is marked revoked without a call."""
    shop = session.get(Shop, shop_id)
    if shop is None or shop_paused(shop, now):
        return 0
    claimed = _claim(
        session,
        select(Reward).where(
            Reward.shop_id == shop_id,
            Reward.revoke_state == RevokeState.PENDING,
            due_for_store(now),
        ),
        limit,
    )
    handled = 0
    for reward in claimed:
        outcome = _revoke_one(session, reward, client, now, max_attempts)
        handled += 1
        if outcome.stop is not None:
            break
    session.flush()
    return handled


def _revoke_one(
    session: Session, reward: Reward, client: StoreClient, now: datetime, max_attempts: int
) -> FailureOutcome:
    if reward.store_ref is not None and reward.kind in STORE_ISSUED_KINDS:
        try:
            client.revoke_reward(reward.store_ref, reward.store_code)
        except StoreClientError as error:
            return record_store_failure(session, reward, error, now=now, max_attempts=max_attempts)
    rewards.mark_reward_revoked(session, reward.shop_id, reward.id, now=now)
    _clear_store_state(reward)
    return FailureOutcome(counter="issued")


__all__ = [
    "IssueReport",
    "build_request",
    "due_for_store",
    "issue_due_rewards",
    "needs_store_call",
    "revoke_reversed_rewards",
]
