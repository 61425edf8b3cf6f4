"""The database side of putting referral codes into their stores: advocates' codes (added to
the program's friend offer, or to their A/B variant's when it replaces the friend reward) and
friends' claimed codes (each a single-use code of its own, bound to the friend's email:
`domain.store.claimed_code_request`, with the offer of the advocate whose link they used).

A code is due while `codes.store_next_attempt_at` is set and has passed (enrollment and a
claim set it to their time). `claim_due_codes` takes a shop's due codes of active programs
and active advocates by moving that time forward by `CLAIM` (one conditional UPDATE, committed
by the caller before any store call), so a second caller never pushes the same code at the
same time, and a worker killed mid-way frees its codes when the claim runs out. The outcome is
then recorded: pushed (`store_synced_at`), refused for good (`store_error`, no next attempt),
or a failed call with the shared retry rules of `store_failures.plan_retry` (a throttle pauses
the shop for every worker). Codes of a program whose friend reward no store discount expresses
are released with no next attempt and no error: they are not for the store (see
`domain.store.friend_code_offer`); so are advocates' codes of a per-friend program, where only
a claimed code may work at checkout. Blocked advocates and inactive programs wait until they are
active again. A claimed code keeps the friend's typed address (`store_email`) only until it is
in the store; one whose friend was redacted meanwhile is never pushed and loses it. The caller
owns the transaction; every query is scoped to one shop.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session

from ..domain.codes import normalize_code
from ..domain.decisions import CodeKind
from ..domain.experiments import friend_offer_variant
from ..domain.programs import ClaimMode
from ..domain.programs import Program as LoadedProgram
from ..domain.store import (
    FriendCodeOffer,
    RewardCodeRequest,
    StoreClientError,
    claimed_code_request,
    friend_code_offer,
)
from ..models import Advocate, AdvocateStatus, Code, Program, ProgramStatus
from .redaction import MARKER_DOMAIN
from .snapshots import load_program
from .store_failures import ERROR_TEXT_LIMIT, FailureOutcome, describe, pause_shop, plan_retry

CLAIM = timedelta(minutes=10)  # longer than any push of one shop's claimed codes
MAX_ATTEMPTS = 8
STORE_KINDS = (CodeKind.ADVOCATE, CodeKind.FRIEND)


@dataclass(frozen=True, slots=True, kw_only=True)
class FriendCodeBatch:
    """Claimed codes of one program and the offer they are pushed with."""

    offer: FriendCodeOffer
    codes: dict[int, str]  # code id -> the display code shown to the advocate or friend
    # Friends' claimed codes: the store request of each (by code id), issued one by one; empty
    # for a batch of advocates' codes, which are added to the offer together.
    requests: dict[int, RewardCodeRequest] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class FriendCodeCounts:
    pending: int  # still to push (due now or later)
    failed: int  # refused or failed for good: see `store_error`


def due_codes(now: datetime) -> ColumnElement[bool]:
    """Advocate and claimed friend codes due for the store now, of active programs and active
    advocates (the caller joins Program and Advocate)."""
    return and_(
        Code.kind.in_(STORE_KINDS),
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
        select(
            Code.id,
            Code.code,
            Code.program_id,
            Code.kind,
            Code.friend_email,
            Code.store_email,
            Advocate.variant,  # the code's advocate's A/B group: their friends' offer
        )
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
    by_program: dict[int, list[Any]] = {}
    for code_id in sorted(claimed):
        by_program.setdefault(rows[code_id].program_id, []).append(rows[code_id])
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
    by_program: dict[int, list[Any]],
    *,
    now: datetime,
    key: bytes,
    batch_size: int,
) -> list[FriendCodeBatch]:
    programs = session.scalars(
        select(Program).where(Program.shop_id == shop_id, Program.id.in_(list(by_program)))
    )
    batches: list[FriendCodeBatch] = []
    for program in programs:
        loaded = load_program(program)
        by_offer: dict[str | None, list[Any]] = {}
        for row in by_program[program.id]:
            by_offer.setdefault(friend_offer_variant(loaded, row.variant), []).append(row)
        for variant, rows in by_offer.items():
            offer = friend_code_offer(loaded, now=now, key=key, variant=variant)
            batches += _offer_batches(session, shop_id, loaded, offer, rows, batch_size)
    return batches


def _offer_batches(
    session: Session,
    shop_id: int,
    program: LoadedProgram,
    offer: FriendCodeOffer | None,
    rows: list[Any],
    batch_size: int,
) -> list[FriendCodeBatch]:
    """The batches of one offer's claimed codes (one per program and A/B friend offer)."""
    # Not for the store (attributed by the link, the claim, the email): every code of a
    # program without an offer, and an advocate's code in a per-friend program, where
    # only a claimed code may work at checkout (a shared one would let anyone in).
    per_friend = program.claim_mode is ClaimMode.PER_FRIEND
    kept = [r for r in rows if offer and not (per_friend and r.kind is CodeKind.ADVOCATE)]
    kept_ids = {row.id for row in kept}
    released = [row.id for row in rows if row.id not in kept_ids]
    _set(session, shop_id, released, store_next_attempt_at=None, store_error=None)
    if offer is None:
        return []
    shared = {row.id: row.code for row in kept if row.kind is CodeKind.ADVOCATE}
    claimed = [row for row in kept if row.kind is CodeKind.FRIEND]
    return _chunks(offer, shared, {}, batch_size) + _chunks(
        offer, *_claimed_requests(session, shop_id, offer, claimed), batch_size
    )


def _claimed_requests(
    session: Session, shop_id: int, offer: FriendCodeOffer, rows: list[Any]
) -> tuple[dict[int, str], dict[int, RewardCodeRequest]]:
    """The store requests of claimed friend codes; a redacted friend's code is released."""
    redacted = [row.id for row in rows if (row.friend_email or "").endswith("@" + MARKER_DOMAIN)]
    _set(session, shop_id, redacted, store_next_attempt_at=None, store_email=None)
    requests = {
        row.id: claimed_code_request(
            offer, code_id=row.id, code=row.code, email=row.store_email or row.friend_email
        )
        for row in rows
        if row.id not in redacted
    }
    return {code_id: request.code for code_id, request in requests.items()}, requests


def _chunks(
    offer: FriendCodeOffer,
    codes: dict[int, str],
    requests: dict[int, RewardCodeRequest],
    batch_size: int,
) -> list[FriendCodeBatch]:
    items = list(codes.items())
    chunks = []
    for start in range(0, len(items), batch_size):
        chunk = dict(items[start : start + batch_size])
        wanted = {code_id: requests[code_id] for code_id in chunk if code_id in requests}
        chunks.append(FriendCodeBatch(offer=offer, codes=chunk, requests=wanted))
    return chunks


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
        store_email=None,  # a claimed code's address: the store holds it now
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
    """Advocate and claimed codes still to push and failed for good, over all shops (for
    `status`)."""
    pending = func.count().filter(Code.store_next_attempt_at.is_not(None))
    failed = func.count().filter(
        Code.store_next_attempt_at.is_(None), Code.store_error.is_not(None)
    )
    row = session.execute(
        select(pending, failed).where(
            Code.kind.in_(STORE_KINDS),
            (Code.store_next_attempt_at.is_not(None)) | (Code.store_error.is_not(None)),
        )
    ).one()
    return FriendCodeCounts(pending=row[0], failed=row[1])


def retry_failed_codes(session: Session, *, now: datetime, shop_id: int | None = None) -> int:
    """Make advocate and claimed codes that failed for good due again (attempts reset; the
    error stays visible until they are pushed); returns how many. Idempotent."""
    condition = and_(
        Code.kind.in_(STORE_KINDS),
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
