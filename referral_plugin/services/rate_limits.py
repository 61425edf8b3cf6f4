"""A small fixed-window rate limiter kept in the database (`rate_limit_counters`).

Each shopper action counts one hit for each of its keys (the IP, the email, ...) in the
current window; the action is allowed while every key stays within its limit. Keys are stored
only as a keyed HMAC (the key comes from the caller, derived from SECRET_KEY), never raw. The
count is one `INSERT ... ON CONFLICT DO UPDATE SET hits = hits + 1 RETURNING hits`, so
concurrent requests on any number of web processes count exactly. A fixed window allows up to
twice the limit across a window edge; for join/claim abuse that is enough and costs one row.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..models import RateLimitCounter


@dataclass(frozen=True, slots=True, kw_only=True)
class Limit:
    """At most `hits` per `window` for one key of one scope (e.g. "join:ip")."""

    scope: str
    hits: int
    window: timedelta


@dataclass(frozen=True, slots=True, kw_only=True)
class RateDecision:
    allowed: bool
    retry_at: datetime | None = None  # when the exhausted window ends (None when allowed)


def key_hash(key: bytes, scope: str, value: str) -> str:
    """The stored form of a key: HMAC-SHA256 of scope and value under `key`, as hex."""
    return hmac.new(key, f"{scope}\x00{value}".encode(), hashlib.sha256).hexdigest()


def window_start(now: datetime, window: timedelta) -> datetime:
    """The start of the fixed window holding `now` (windows are aligned to the epoch)."""
    seconds = int(window.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def count_hits(
    session: Session,
    shop_id: int,
    checks: list[tuple[Limit, str]],
    *,
    key: bytes,
    now: datetime,
) -> RateDecision:
    """Count one hit for each (limit, raw value) and say whether all are within their limits.

    Every hit is counted even when refused, so hammering keeps the window exhausted. Returns
    the latest window end among the exhausted limits as `retry_at`. Flushes; never commits.
    """
    retry_at: datetime | None = None
    for limit, value in checks:
        digest = key_hash(key, limit.scope, value)
        start = window_start(now, limit.window)
        hits = _hit(session, shop_id, limit.scope, digest, start)
        if hits > limit.hits:
            end = start + limit.window
            retry_at = end if retry_at is None else max(retry_at, end)
    return RateDecision(allowed=retry_at is None, retry_at=retry_at)


def _hit(session: Session, shop_id: int, scope: str, digest: str, start: datetime) -> int:
    session.execute(  # the key's finished windows: nothing reads them again
        delete(RateLimitCounter).where(
            RateLimitCounter.shop_id == shop_id,
            RateLimitCounter.scope == scope,
            RateLimitCounter.key_hash == digest,
            RateLimitCounter.window_start < start,
        )
    )
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(RateLimitCounter).values(
        shop_id=shop_id, scope=scope, key_hash=digest, window_start=start, hits=1
    )
    statement = statement.on_conflict_do_update(
        index_elements=["shop_id", "scope", "key_hash", "window_start"],
        set_={"hits": RateLimitCounter.hits + 1},
    ).returning(RateLimitCounter.hits)
    return int(session.execute(statement).scalar_one())
