"""The database side of putting advocates' codes into their stores (the friend offer).

An advocate code is due while `codes.store_next_attempt_at` is set and has passed (enrollment
sets it to the enrollment time). `claim_due_codes` takes a shop's due codes of active programs
and active advocates by moving that time forward by `CLAIM` (one conditional UPDATE, committed
by the caller before any store call), so a second caller never pushes the same code at the
same time, and a worker killed mid-way frees its codes when the claim runs out. The outcome is
then recorded: pushed (`store_synced_at`), refused for good (`store_error`, no next attempt),
or a failed call with the shared retry rules of `store_failures.plan_retry` (a throttle pauses
the shop for every worker). Codes of a program whose friend reward no store discount expresses
are released with no next attempt and no error: they are not for the store (see
`domain.store.friend_code_offer`). Blocked advocates and inactive programs wait until they are
active again. The caller owns the transaction; every query is scoped to one shop.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session

from ..domain.codes import normalize_code
from ..domain.decisions import CodeKind
from ..domain.store import FriendCodeOffer, StoreClientError, friend_code_offer
from ..models import Advocate, AdvocateStatus, Code, Program, ProgramStatus
from .snapshots import load_program
from .store_failures import ERROR_TEXT_LIMIT, FailureOutcome, describe, pause_shop, plan_retry

CLAIM = timedelta(minutes=10)  # longer than any push of one shop's claimed codes
MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class FriendCodeBatch:
    """Claimed codes of one program and the offer they are pushed with."""

    offer: FriendCodeOffer
    codes: dict[int, str]  # code id -> the display code shown to the advocate


@dataclass(frozen=True, slots=True, kw_only=True)
class FriendCodeCounts:
    pending: int  # still to push (due now or later)
    failed: int  # refused or failed for good: see `store_error`


def due_codes(now: datetime) -> ColumnElement[bool]:
    """Advocate codes due for the store now, of active programs and active advocates (the
    caller joins Program and Advocate)."""
    return and_(
        Code.kind == CodeKind.ADVOCATE,
        Code.store_next_attempt_at <= now,
        Program.status == ProgramStatus.ACTIVE,
        Advocate.status == AdvocateStatus.ACTIVE,
    )


def shops_with_due_codes(session: Session, *, now: datetime) -> list[int]:
    """Ids of shops with codes due now (any shop state: the caller filters)."""
    query = (
        select(Code.shop_id)
        .join(Program, Program.id == Code.program_id)
        .join(Advocate, Advocate.id == Code.advocate_id)
        .where(due_codes(now))
        .distinct()
        .order_by(Code.shop_id)
    )
    return list(session.scalars(query))


def claim_due_codes(
    session: Session,
    shop_id: int,
    *,
    now: datetime,
    key: bytes,
    limit: int,
    batch_size: int,
    code_ids: Collection[int] | None = None,
) -> list[FriendCodeBatch]:
    """Claim up to `limit` due codes of the shop (only `code_ids`, when given), oldest due
    first; returns them per program in batches of at most `batch_size`. Codes of programs
    without a friend offer are released (not for the store) and not returned."""
    query = (
        select(Code.id, Code.code, Code.program_id)
        .join(Program, Program.id == Code.program_id)
        .join(Advocate, Advocate.id == Code.advocate_id)
        .where(Code.shop_id == shop_id, Program.shop_id == shop_id, due_codes(now))
        .order_by(Code.store_next_attempt_at, Code.id)
        .limit(limit)
    )
    if code_ids is not None:
        query = query.where(Code.id.in_(list(code_ids)))
    rows = {row.id: row for row in session.execute(query)}
    claimed = _claim(session, shop_id, list(rows), now)
    by_program: dict[int, dict[int, str]] = {}
    for code_id in sorted(claimed):
        row = rows[code_id]
        by_program.setdefault(row.program_id, {})[code_id] = row.code
    return _batches(session, shop_id, by_program, now=now, key=key, batch_size=batch_size)


def _claim(session: Session, shop_id: int, ids: list[int], now: datetime) -> set[int]:
    """Move the codes' next attempt past the claim; only codes still due are taken."""
    if not ids:
        return set()
    taken = session.execute(
        update(Code)
        .where(Code.shop_id == shop_id, Code.id.in_(ids), Code.store_next_attempt_at <= now)
        .values(store_next_attempt_at=now + CLAIM)
        .returning(Code.id)
        .execution_options(synchronize_session=False)
    )
    return set(taken.scalars())


def _batches(
    session: Session,
    shop_id: int,
    by_program: dict[int, dict[int, str]],
    *,
    now: datetime,
    key: bytes,
    batch_size: int,
) -> list[FriendCodeBatch]:
    rows = session.scalars(
        select(Program).where(Program.shop_id == shop_id, Program.id.in_(list(by_program)))
    )
    batches: list[FriendCodeBatch] = []
    for row in rows:
        codes = by_program[row.id]
        offer = friend_code_offer(load_program(row), now=now, key=key)
        if offer is None:
            _set(session, shop_id, codes, store_next_attempt_at=None, store_error=None)
            continue
        items = list(codes.items())
        for start in range(0, len(items), batch_size):
            chunk = dict(items[start : start + batch_size])
            batches.append(FriendCodeBatch(offer=offer, codes=chunk))
    return batches


def mark_pushed(
    session: Session,
    shop_id: int,
    code_ids: Collection[int],
    *,
    now: datetime,
    rejected: Mapping[str, str] | None = None,
    codes: Mapping[int, str] | None = None,
) -> int:
    """Record the push of `code_ids`: in the store since `now`, except the codes named in
    `rejected` (display or store form -> reason; `codes` maps ids to display codes), which
    are failed for good with the reason. Returns how many codes were recorded."""
    refused = {normalize_code(code): reason for code, reason in (rejected or {}).items()}
    failed = {
        code_id: refused[normalize_code(display)]
        for code_id, display in (codes or {}).items()
        if normalize_code(display) in refused
    }
    pushed = [code_id for code_id in code_ids if code_id not in failed]
    _set(
        session,
        shop_id,
        pushed,
        store_next_attempt_at=None,
        store_synced_at=now,
        store_error=None,
    )
    for code_id, reason in failed.items():
        _set(
            session,
            shop_id,
            [code_id],
            store_next_attempt_at=None,
            store_error=f"refused by the store: {reason}"[:ERROR_TEXT_LIMIT],
            store_attempts=Code.store_attempts + 1,
        )
    return len(pushed) + len(failed)


def record_push_failure(
    session: Session,
    shop_id: int,
    code_ids: Collection[int],
    error: StoreClientError,
    *,
    now: datetime,
    max_attempts: int = MAX_ATTEMPTS,
) -> FailureOutcome:
    """Record a failed push of `code_ids` (one call, one error) on each code with the shared
    retry rules; a throttle pauses the shop. Returns the outcome (`stop`: call the shop no
    more in this run)."""
    text = describe(error)
    outcome = FailureOutcome(counter="retrying")
    for code in session.scalars(
        select(Code).where(Code.shop_id == shop_id, Code.id.in_(list(code_ids)))
    ):
        plan = plan_retry(error, attempts=code.store_attempts, now=now, max_attempts=max_attempts)
        code.store_attempts = plan.attempts
        code.store_next_attempt_at = plan.next_attempt_at
        code.store_error = text
        outcome = plan.outcome
        if plan.pause_until is not None:
            pause_shop(session, shop_id, plan.pause_until)
    session.flush()
    return outcome


def postpone(
    session: Session, shop_id: int, code_ids: Collection[int], *, until: datetime, reason: str
) -> None:
    """Claimed codes not attempted (the shop stopped answering): due again at `until`."""
    _set(
        session,
        shop_id,
        code_ids,
        store_next_attempt_at=until,
        store_error=f"not attempted: {reason}"[:ERROR_TEXT_LIMIT],
    )


def friend_code_counts(session: Session) -> FriendCodeCounts:
    """Advocate codes still to push and failed for good, over all shops (for `status`)."""
    pending = func.count().filter(Code.store_next_attempt_at.is_not(None))
    failed = func.count().filter(
        Code.store_next_attempt_at.is_(None), Code.store_error.is_not(None)
    )
    row = session.execute(
        select(pending, failed).where(
            Code.kind == CodeKind.ADVOCATE,
            (Code.store_next_attempt_at.is_not(None)) | (Code.store_error.is_not(None)),
        )
    ).one()
    return FriendCodeCounts(pending=row[0], failed=row[1])


def retry_failed_codes(session: Session, *, now: datetime, shop_id: int | None = None) -> int:
    """Make advocate codes that failed for good due again (attempts reset; the error stays
    visible until they are pushed); returns how many. Idempotent."""
    condition = and_(
        Code.kind == CodeKind.ADVOCATE,
        Code.store_next_attempt_at.is_(None),
        Code.store_error.is_not(None),
    )
    if shop_id is not None:
        condition = and_(condition, Code.shop_id == shop_id)
    result = session.execute(
        update(Code)
        .where(condition)
        .values(store_next_attempt_at=now, store_attempts=0)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _set(session: Session, shop_id: int, code_ids: Collection[int], **values: Any) -> None:
    if not code_ids:
        return
    session.execute(
        update(Code)
        .where(Code.shop_id == shop_id, Code.id.in_(list(code_ids)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
