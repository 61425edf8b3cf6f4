"""One-time store connect requests (the WooCommerce key flow's `user_id`).

The key POST from the store is unsigned and does not say which store it comes from, so the
`user_id` we hand out is a random, single-use, expiring token mapped to the store URL the
merchant typed. Only its SHA-256 is stored. A request is claimed at most once (an atomic
`UPDATE ... WHERE used_at IS NULL AND expires_at > now`), and keeps its outcome so the return
page can tell the merchant what happened.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..domain.events import Platform
from ..errors import Conflict, NotFound
from ..models import ConnectRequest

PENDING, VERIFYING, CONNECTED, FAILED, DECLINED = (
    "pending",
    "verifying",
    "connected",
    "failed",
    "declined",
)
DEFAULT_TTL = timedelta(minutes=30)
ERROR_LIMIT = 1000


class RequestExpired(Conflict):
    """The request is older than its time to live; the merchant starts again."""


class RequestUsed(Conflict):
    """The request was already answered once (a replay, or a second key POST)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectOutcome:
    """What the return page shows: the store, the status and, on failure, why."""

    request_id: int
    store_url: str
    status: str
    error: str | None
    shop_id: int | None
    expired: bool


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_connect_request(
    session: Session,
    *,
    platform: Platform,
    store_url: str,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> str:
    """Record a request to connect `store_url`; returns the one-time token (shown once)."""
    token = secrets.token_urlsafe(24)
    session.add(
        ConnectRequest(
            platform=platform,
            token_hash=_hash(token),
            store_url=store_url,
            status=PENDING,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    session.flush()
    return token


def claim_connect_request(
    session: Session, token: str, *, platform: Platform, now: datetime
) -> tuple[int, str]:
    """Use the request once: returns (request id, store URL). Raises NotFound (unknown
    token), RequestUsed or RequestExpired. The claim is one conditional UPDATE, so two
    concurrent POSTs of the same token never both succeed."""
    claimed = session.execute(
        update(ConnectRequest)
        .where(
            ConnectRequest.token_hash == _hash(token),
            ConnectRequest.platform == platform,
            ConnectRequest.used_at.is_(None),
            ConnectRequest.expires_at > now,
        )
        .values(used_at=now, status=VERIFYING)
        .returning(ConnectRequest.id, ConnectRequest.store_url)
    ).one_or_none()
    if claimed is not None:
        return int(claimed[0]), str(claimed[1])
    existing = _find(session, token, platform)
    if existing is None:
        raise NotFound("connect request", "(unknown user_id)")
    if existing.used_at is not None:
        raise RequestUsed("this connect request was already used: start again")
    raise RequestExpired("this connect request has expired: start again")


def finish_connect_request(
    session: Session,
    request_id: int,
    *,
    shop_id: int | None = None,
    error: str | None = None,
) -> None:
    """Record the outcome: connected to `shop_id`, or failed with `error` (shown to the
    merchant; it must never contain a key or secret)."""
    session.execute(
        update(ConnectRequest)
        .where(ConnectRequest.id == request_id)
        .values(
            status=FAILED if error else CONNECTED,
            error=error[:ERROR_LIMIT] if error else None,
            shop_id=shop_id,
        )
    )


def decline_connect_request(session: Session, token: str, *, platform: Platform) -> None:
    """The merchant declined at the store: a pending request becomes declined (idempotent;
    a request that already got keys keeps its outcome)."""
    session.execute(
        update(ConnectRequest)
        .where(
            ConnectRequest.token_hash == _hash(token),
            ConnectRequest.platform == platform,
            ConnectRequest.status == PENDING,
        )
        .values(status=DECLINED)
    )


def connect_outcome(
    session: Session, token: str, *, platform: Platform, now: datetime
) -> ConnectOutcome | None:
    """The request's current outcome, or None for an unknown token."""
    found = _find(session, token, platform)
    if found is None:
        return None
    return ConnectOutcome(
        request_id=found.id,
        store_url=found.store_url,
        status=found.status,
        error=found.error,
        shop_id=found.shop_id,
        expired=found.status == PENDING and found.expires_at <= now,
    )


def _find(session: Session, token: str, platform: Platform) -> ConnectRequest | None:
    return session.scalars(
        select(ConnectRequest).where(
            ConnectRequest.token_hash == _hash(token), ConnectRequest.platform == platform
        )
    ).one_or_none()
