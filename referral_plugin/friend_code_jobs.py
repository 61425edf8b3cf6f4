"""Referral codes into their stores: the worker's `sync_friend_codes` job, and `push_code` /
`push_advocate_code` for a page that must show a code only once it works at checkout.

Each advocate's code is added to its program's friend offer (`domain.store.friend_code_offer`)
through the shop's StoreClient: on Shopify one discount per program holding every advocate's
code, on WooCommerce one coupon per code. A friend's claimed code becomes a single-use code of
its own, bound to the friend's email (`StoreClient.issue_reward`, idempotent on the code); a
refusal of one such code is recorded on it alone, a failure of the store stops the batch. The
job visits shops with due codes (installed, not paused), each under the shop's lease
(`store_jobs.run_leased`), so several workers never push one store's codes at once; the codes
themselves are claimed first (`services.friend_codes`), so the job and `push_code` never push
the same code together either. Store calls happen outside any transaction: one short
transaction claims, one records each call's outcome. Both clients treat a code already holding
the offer (or a claimed code already created) as added, so a push repeated after a crash is
harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from referral_plugin.app import AppServices
from referral_plugin.domain.decisions import CodeKind
from referral_plugin.domain.store import (
    FriendCodesRejected,
    StoreClient,
    StoreClientError,
    StoreUnavailable,
)
from referral_plugin.models import Code, Shop
from referral_plugin.services import friend_codes
from referral_plugin.services.deliveries import describe_error
from referral_plugin.services.store_failures import (
    FailureOutcome,
    describe,
    plan_retry,
    shop_paused,
)
from referral_plugin.store_clients import ClientFor, client_or_unavailable, store_client_for
from referral_plugin.store_jobs import ShopsFailed, callable_shop_ids, run_leased

logger = logging.getLogger(__name__)

JOB = "sync_friend_codes"
BATCH_SIZE = 250  # codes per store call: Shopify's bulk limit (WooCommerce splits by 100)
RUN_LIMIT = 1000  # codes per shop per run; the rest wait for the next run


class FriendCodeState(StrEnum):
    IN_STORE = "in_store"  # friends can use it at checkout
    PENDING = "pending"  # not yet: the job pushes it (or is pushing it now)
    FAILED = "failed"  # refused or failed for good: see the code's store_error
    NOT_FOR_STORE = "not_for_store"  # the program has no friend offer a discount expresses


@dataclass(frozen=True, slots=True, kw_only=True)
class CodePush:
    state: FriendCodeState
    retry_at: datetime | None = None  # PENDING: when the code is tried next


def sync_friend_codes(
    session: Session,
    *,
    now: datetime,
    services: AppServices,
    client_for: ClientFor = store_client_for,
) -> int:
    """Push the due advocate codes of every installed, unpaused shop; returns how many codes
    were recorded (pushed, refused, or failed). A shop another worker holds is skipped. Raises
    ShopsFailed after visiting all when some shop failed unexpectedly (each is logged and
    recorded on its lease)."""
    with services.sessions.begin() as listing:
        due = set(friend_codes.shops_with_due_codes(listing, now=now))
    total, failed = 0, []
    for shop_id in [shop for shop in callable_shop_ids(services, now) if shop in due]:
        try:
            total += run_leased(
                services, shop_id, JOB, now,
                lambda shop_id=shop_id: _sync_shop(services, shop_id, now, client_for),
            ) or 0  # fmt: skip
        except Exception as exc:  # isolate the shop; recorded on its lease, reported below
            logger.exception("friend codes not synced", extra={"shop_id": shop_id})
            failed.append(f"shop {shop_id}: {describe_error(exc)}")
    if failed:
        raise ShopsFailed(f"{JOB}: {len(failed)} shop(s) failed: " + "; ".join(failed[:5]))
    return total


def push_advocate_code(
    services: AppServices,
    shop_id: int,
    advocate_id: int,
    *,
    now: datetime,
    client_for: ClientFor = store_client_for,
) -> FriendCodeState:
    """Push one advocate's code now (after the enrollment was committed) and say where it
    stands. PENDING when it could not be pushed now (the job is pushing it, the shop is
    paused, or a retryable failure): show "your code is on its way" and ask again later."""
    with services.sessions.begin() as session:
        code = session.scalars(
            select(Code).where(
                Code.shop_id == shop_id,
                Code.advocate_id == advocate_id,
                Code.kind == CodeKind.ADVOCATE,
            )
        ).first()
        if code is None:
            raise LookupError(f"advocate {advocate_id} of shop {shop_id} has no code")
        code_id = code.id
    return push_code(services, shop_id, code_id, now=now, client_for=client_for).state


def push_code(
    services: AppServices,
    shop_id: int,
    code_id: int,
    *,
    now: datetime,
    client_for: ClientFor = store_client_for,
) -> CodePush:
    """Push one code (an advocate's, or a friend's claimed code) now, after its row was
    committed, and say where it stands; a code already in the store costs no store call.
    PENDING comes with the time of the next attempt."""
    _sync_shop(services, shop_id, now, client_for, code_ids=[code_id])
    with services.sessions.begin() as session:
        code = session.scalars(
            select(Code).where(Code.shop_id == shop_id, Code.id == code_id)
        ).one_or_none()
        state = _state(code)
        retry_at = code.store_next_attempt_at if code is not None else None
    return CodePush(state=state, retry_at=retry_at if state is FriendCodeState.PENDING else None)


def _state(code: Code | None) -> FriendCodeState:
    if code is None:  # deleted meanwhile (customer redacted): nothing works at checkout
        return FriendCodeState.FAILED
    if code.store_synced_at is not None:
        return FriendCodeState.IN_STORE
    if code.store_next_attempt_at is not None:
        return FriendCodeState.PENDING
    return FriendCodeState.FAILED if code.store_error else FriendCodeState.NOT_FOR_STORE


def _sync_shop(
    services: AppServices,
    shop_id: int,
    now: datetime,
    client_for: ClientFor,
    code_ids: Sequence[int] | None = None,
) -> int:
    """Claim the shop's due codes (all, or `code_ids`) and push them program by program;
    returns how many codes were recorded."""
    with services.sessions.begin() as session:
        shop = session.get(Shop, shop_id)
        if shop is None or shop_paused(shop, now):
            return 0
        batches = friend_codes.claim_due_codes(
            session, shop_id, now=now, key=services.code_key, limit=RUN_LIMIT,
            batch_size=BATCH_SIZE, code_ids=code_ids,
        )  # fmt: skip
        if not batches:
            return 0
        client = client_or_unavailable(shop, services, client_for)
    handled = 0
    for index, batch in enumerate(batches):
        outcome = _push(services, shop_id, batch, client, now)
        handled += len(batch.codes)
        if outcome.stop is not None:
            _postpone_rest(services, shop_id, batches[index + 1 :], outcome.stop, now)
            break
    return handled


def _push(
    services: AppServices,
    shop_id: int,
    batch: friend_codes.FriendCodeBatch,
    client: StoreClient,
    now: datetime,
) -> FailureOutcome:
    """One store call for one batch, then its outcome recorded in its own transaction."""
    if batch.requests:
        return _issue_claimed(services, shop_id, batch, client, now)
    rejected: dict[str, str] = {}
    try:
        client.add_friend_codes(batch.offer, list(batch.codes.values()))
    except FriendCodesRejected as refused:
        rejected = refused.rejected
    except StoreClientError as error:
        with services.sessions.begin() as session:
            return friend_codes.record_push_failure(session, shop_id, batch.codes, error, now=now)
    with services.sessions.begin() as session:
        friend_codes.mark_pushed(
            session, shop_id, batch.codes, now=now, rejected=rejected, codes=batch.codes
        )
    logger.info(
        "friend codes pushed",
        extra={
            "shop_id": shop_id,
            "program_id": batch.offer.program_id,
            "codes": len(batch.codes) - len(rejected),
            "refused": len(rejected),
        },
    )
    return FailureOutcome(counter="pushed")


def _issue_claimed(
    services: AppServices,
    shop_id: int,
    batch: friend_codes.FriendCodeBatch,
    client: StoreClient,
    now: datetime,
) -> FailureOutcome:
    """Friends' claimed codes, one store call each. A code the store refuses for good is
    recorded as refused and the others go on; a failure of the store itself (retryable, or
    the shop unavailable) is recorded on this code and the rest of the batch."""
    done: list[int] = []
    refused: dict[str, str] = {}
    for code_id, request in batch.requests.items():
        try:
            client.issue_reward(request)
        except StoreClientError as error:
            if error.retryable or isinstance(error, StoreUnavailable):
                rest = [other for other in batch.requests if other not in done]
                with services.sessions.begin() as session:
                    _record_issued(session, shop_id, batch, done, refused, now)
                    return friend_codes.record_push_failure(session, shop_id, rest, error, now=now)
            refused[request.code] = describe(error)
        done.append(code_id)
    with services.sessions.begin() as session:
        _record_issued(session, shop_id, batch, done, refused, now)
    logger.info(
        "claimed codes pushed",
        extra={"shop_id": shop_id, "codes": len(done) - len(refused), "refused": len(refused)},
    )
    return FailureOutcome(counter="pushed")


def _record_issued(
    session: Session,
    shop_id: int,
    batch: friend_codes.FriendCodeBatch,
    done: Sequence[int],
    refused: dict[str, str],
    now: datetime,
) -> None:
    codes = {code_id: batch.codes[code_id] for code_id in done}
    friend_codes.mark_pushed(session, shop_id, codes, now=now, rejected=refused, codes=codes)


def _postpone_rest(
    services: AppServices,
    shop_id: int,
    rest: Sequence[friend_codes.FriendCodeBatch],
    stop: StoreClientError,
    now: datetime,
) -> None:
    """The shop stopped answering (throttled, unavailable): the rest of the claimed codes are
    due again when the failed batch's codes are, without counting an attempt."""
    ids = [code_id for batch in rest for code_id in batch.codes]
    if not ids:
        return
    until = plan_retry(stop, attempts=0, now=now, max_attempts=1).next_attempt_at or now
    with services.sessions.begin() as session:
        friend_codes.postpone(session, shop_id, ids, until=until, reason=describe(stop))
