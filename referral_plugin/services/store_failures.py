"""How a failed store call is recorded on a reward and on its shop (pacing across workers), and
how an operator makes failed rewards due again.

- throttled (429 / THROTTLED): the shop is paused until now + retry_after (default 10 s), so no
  worker calls it before then; the reward waits for the same time. Not counted as an attempt:
  pacing is the shop's state, and a flash sale must not turn rewards into operator work.
- other retryable errors (5xx, timeouts): one more attempt, next try after retry_after or an
  exponential backoff; after `max_attempts` it becomes terminal.
- terminal errors: `next_store_attempt_at` None with `last_store_error` set, so the claim skips
  it until an operator retries it (`referral-plugin rewards retry`).
- StoreUnavailable (no client, uninstalled, revoked token): not counted; retried in an hour.
`plan_retry` is these rules as a value, shared with the friend-code job (`friend_codes`).
The rows are locked by the caller's claim, so the attempt counter is a safe read-modify-write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from ..domain.lifecycle import IllegalTransition, RewardStatus
from ..domain.store import StoreClientError, StoreUnavailable
from ..errors import NotFound
from ..models import RevokeState, Reward, Shop
from .audit import record_audit
from .retries import backoff_delay

logger = logging.getLogger(__name__)

THROTTLE_STATUS = 429
THROTTLE_CODES = frozenset({"THROTTLED", "TOO_MANY_REQUESTS"})
DEFAULT_THROTTLE_PAUSE = timedelta(seconds=10)
UNAVAILABLE_RETRY = timedelta(hours=1)
ERROR_TEXT_LIMIT = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureOutcome:
    """`counter` names the report field; `stop` is set when the shop must not be called again
    in this run (throttled or unavailable)."""

    counter: str
    stop: StoreClientError | None = None


def shop_paused(shop: Shop, now: datetime) -> bool:
    """True while the store asked us to wait."""
    return shop.store_paused_until is not None and shop.store_paused_until > now


def is_throttle(error: StoreClientError) -> bool:
    return error.retryable and (
        error.status == THROTTLE_STATUS or (error.code or "").upper() in THROTTLE_CODES
    )


def throttle_pause(error: StoreClientError) -> timedelta:
    """How long a throttled shop waits: the store's retry_after, else a short default."""
    return _seconds(error.retry_after, DEFAULT_THROTTLE_PAUSE)


def describe(error: StoreClientError) -> str:
    """A one-line error for `last_store_error` (the client's message carries no secrets)."""
    parts = [type(error).__name__]
    if error.status is not None:
        parts.append(f"status={error.status}")
    if error.code:
        parts.append(f"code={error.code}")
    return f"{' '.join(parts)}: {error}"[:ERROR_TEXT_LIMIT]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPlan:
    """What one failed store call means for the row it was made for (a reward, a code)."""

    attempts: int  # the row's attempt counter after this failure
    next_attempt_at: datetime | None  # None: failed for good
    pause_until: datetime | None  # throttled: no call to the shop before then
    outcome: FailureOutcome


def plan_retry(
    error: StoreClientError, *, attempts: int, now: datetime, max_attempts: int
) -> RetryPlan:
    """The rules above as a value: unavailable and throttled are not counted, other retryable
    errors back off until `max_attempts`, terminal errors stop."""
    if isinstance(error, StoreUnavailable):
        return RetryPlan(
            attempts=attempts,
            next_attempt_at=now + UNAVAILABLE_RETRY,
            pause_until=None,
            outcome=FailureOutcome(counter="retrying", stop=error),
        )
    if is_throttle(error):
        until = now + throttle_pause(error)
        return RetryPlan(
            attempts=attempts,
            next_attempt_at=until,
            pause_until=until,
            outcome=FailureOutcome(counter="retrying", stop=error),
        )
    attempts += 1
    if error.retryable and attempts < max_attempts:
        delay = _seconds(error.retry_after, backoff_delay(attempts))
        return RetryPlan(
            attempts=attempts,
            next_attempt_at=now + delay,
            pause_until=None,
            outcome=FailureOutcome(counter="retrying"),
        )
    return RetryPlan(
        attempts=attempts,
        next_attempt_at=None,
        pause_until=None,
        outcome=FailureOutcome(counter="failed"),
    )


def record_store_failure(
    session: Session,
    reward: Reward,
    error: StoreClientError,
    *,
    now: datetime,
    max_attempts: int,
) -> FailureOutcome:
    """Record `error` on the reward (and pause its shop when throttled); returns the outcome."""
    reward.last_store_error = describe(error)
    reward.updated_at = now
    _log(reward, error)
    plan = plan_retry(
        error, attempts=reward.store_attempts or 0, now=now, max_attempts=max_attempts
    )
    if plan.pause_until is not None:
        pause_shop(session, reward.shop_id, plan.pause_until)
    reward.store_attempts = plan.attempts
    reward.next_store_attempt_at = plan.next_attempt_at
    return plan.outcome


def pause_shop(session: Session, shop_id: int, until: datetime) -> None:
    """No store call to the shop before `until` (never shortens a longer pause)."""
    shop = session.get(Shop, shop_id)
    if shop is not None and (shop.store_paused_until is None or shop.store_paused_until < until):
        shop.store_paused_until = until


def _seconds(value: float | None, default: timedelta) -> timedelta:
    return timedelta(seconds=value) if value is not None and value > 0 else default


def _log(reward: Reward, error: StoreClientError) -> None:
    logger.warning(
        "store call failed",
        extra={
            "shop_id": reward.shop_id,
            "reward_id": reward.id,
            "status": error.status,
            "error_code": error.code,
            "retryable": error.retryable,
        },
    )


def failed_store_calls(shop_id: int | None = None) -> ColumnElement[bool]:
    """Rewards whose store call failed for good: approved (issue) or reversed with a pending
    revoke, no next attempt, an error recorded."""
    condition = and_(
        or_(
            Reward.status == RewardStatus.APPROVED,
            Reward.revoke_state == RevokeState.PENDING,
        ),
        Reward.next_store_attempt_at.is_(None),
        Reward.last_store_error.is_not(None),
    )
    return condition if shop_id is None else and_(condition, Reward.shop_id == shop_id)


def retry_store_calls(
    session: Session,
    *,
    now: datetime,
    reward_id: int | None = None,
    shop_id: int | None = None,
    actor: str = "operator",
) -> list[int]:
    """Make failed rewards due again (attempts reset; the last error stays visible until the
    next success): one reward by id, or every failed one (of a shop). Returns their ids.

    Raises NotFound for an unknown id and IllegalTransition for a reward with no store call
    left to make. Idempotent: retrying a due reward just keeps it due.
    """
    if reward_id is not None:
        rewards = [_retryable(session, reward_id, shop_id)]
    else:
        rewards = list(
            session.scalars(select(Reward).where(failed_store_calls(shop_id)).order_by(Reward.id))
        )
    for reward in rewards:
        reward.store_attempts = 0
        reward.next_store_attempt_at = now
        reward.updated_at = now
        record_audit(
            session,
            reward.shop_id,
            actor=actor,
            action="reward.store_retry",
            subject_type="reward",
            subject_id=reward.id,
            details={"last_store_error": reward.last_store_error},
            now=now,
        )
    session.flush()
    return [reward.id for reward in rewards]


def _retryable(session: Session, reward_id: int, shop_id: int | None) -> Reward:
    query = select(Reward).where(Reward.id == reward_id)
    if shop_id is not None:
        query = query.where(Reward.shop_id == shop_id)
    reward = session.scalars(query).one_or_none()
    if reward is None:
        raise NotFound("reward", reward_id)
    if (
        reward.status is not RewardStatus.APPROVED
        and reward.revoke_state is not RevokeState.PENDING
    ):
        raise IllegalTransition(f"reward {reward_id} is {reward.status}: no store call to retry")
    return reward
