"""The review queue: referrals a fraud check flagged (status `review`), and the merchant's
decisions on them, one or many at a time.

A decision goes through the existing review resolution (`services.rewards.approve_referral` /
`reject_referral`): approving releases the held rewards to mature when their hold ends,
rejecting reverses them. Each id is decided in its own savepoint and reported on its own
(approved, rejected, already decided with its current status, not found), so a bulk decision
is idempotent and one bad id never spoils the others. Every decision is written to the audit
log with the merchant as actor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from ..domain.lifecycle import IllegalTransition, ReferralStatus
from ..errors import FieldError, NotFound, ValidationError
from .audit import record_audit
from .dashboard_lists import Page, ReferralRow, list_referrals, referral_statuses
from .rewards import approve_referral, reject_referral

MAX_IDS = 100
MAX_NOTE = 500


class ReviewDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ReviewOutcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    ALREADY_DECIDED = "already_decided"  # not under review (any more): `status` says where
    NOT_FOUND = "not_found"  # no such referral in this shop


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewResult:
    id: int
    outcome: ReviewOutcome
    status: str | None  # the referral's status after the call; None when not found


def list_flagged(
    session: Session,
    shop_id: int,
    *,
    program_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[ReferralRow]:
    """Referrals waiting for the merchant, newest first, each with its fraud findings."""
    return list_referrals(
        session, shop_id, status=ReferralStatus.REVIEW, program_id=program_id, limit=limit,
        offset=offset,
    )  # fmt: skip


def decide_referrals(
    session: Session,
    shop_id: int,
    ids: Sequence[int],
    decision: ReviewDecision,
    *,
    note: str | None,
    actor: str,
    now: datetime,
) -> list[ReviewResult]:
    """Approve or reject each referral of `ids` (duplicates once, in the order given).

    Returns one ReviewResult per distinct id. Raises ValidationError (ids: empty or more than
    MAX_IDS; note: longer than MAX_NOTE). Idempotent: deciding again reports already_decided.
    """
    _check(ids, note)
    results = []
    for referral_id in dict.fromkeys(ids):
        try:
            with session.begin_nested():
                status = _decide(session, shop_id, referral_id, decision, now)
                record_audit(
                    session, shop_id, actor=actor, action=f"referral.{decision.value}",
                    subject_type="referral", subject_id=referral_id,
                    details={"note": note} if note else {}, now=now,
                )  # fmt: skip
        except NotFound:
            results.append(
                ReviewResult(id=referral_id, outcome=ReviewOutcome.NOT_FOUND, status=None)
            )
            continue
        except IllegalTransition:
            current = referral_statuses(session, shop_id, [referral_id]).get(referral_id)
            results.append(
                ReviewResult(id=referral_id, outcome=ReviewOutcome.ALREADY_DECIDED, status=current)
            )
            continue
        outcome = (
            ReviewOutcome.APPROVED if decision is ReviewDecision.APPROVE else ReviewOutcome.REJECTED
        )
        results.append(ReviewResult(id=referral_id, outcome=outcome, status=status))
    return results


def _decide(
    session: Session, shop_id: int, referral_id: int, decision: ReviewDecision, now: datetime
) -> str:
    if decision is ReviewDecision.APPROVE:
        return str(approve_referral(session, shop_id, referral_id, now=now).status)
    return str(reject_referral(session, shop_id, referral_id, now=now).status)


def _check(ids: Sequence[int], note: str | None) -> None:
    problems = []
    if not ids:
        problems.append(FieldError("ids", "must name at least one referral"))
    elif len(set(ids)) > MAX_IDS:
        problems.append(FieldError("ids", f"must name at most {MAX_IDS} referrals"))
    if note is not None and len(note) > MAX_NOTE:
        problems.append(FieldError("note", f"must be at most {MAX_NOTE} characters"))
    if problems:
        raise ValidationError(problems)
