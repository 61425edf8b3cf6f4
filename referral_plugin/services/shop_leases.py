"""Per-shop leases for the worker's store jobs, and each shop's last outcome per job.

A store job (reconcile orders, ensure webhook subscriptions) claims a shop before it calls the
store: one conditional `UPDATE ... WHERE locked_until IS NULL OR locked_until <= now`, committed
at once, so of several workers exactly one works on a shop at a time and no row lock is held
while the store answers. A worker killed mid-way loses its lease when it expires. The release
records ok or the error (and counts consecutive failures), which `failing_shops` lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import ShopJobLease

OK, FAILED = "ok", "failed"
ERROR_LIMIT = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopFailure:
    shop_id: int
    error: str
    failures: int
    since: datetime | None


def claim_shop(
    session: Session, shop_id: int, job: str, *, worker: str, now: datetime, lease: timedelta
) -> bool:
    """Take the shop's lease for `job` until now + lease; False when another worker holds it.
    The caller commits before calling the store."""
    claim = (
        update(ShopJobLease)
        .where(
            ShopJobLease.shop_id == shop_id,
            ShopJobLease.job == job,
            or_(ShopJobLease.locked_until.is_(None), ShopJobLease.locked_until <= now),
        )
        .values(locked_until=now + lease, locked_by=worker, last_started_at=now)
        .execution_options(synchronize_session=False)
    )
    if _rows(session.execute(claim)):
        return True
    try:
        with session.begin_nested():
            session.execute(
                insert(ShopJobLease).values(
                    shop_id=shop_id,
                    job=job,
                    locked_until=now + lease,
                    locked_by=worker,
                    last_started_at=now,
                    failures=0,
                )
            )
        return True
    except IntegrityError:
        return False  # the row exists and is leased (or another worker just inserted it)


def release_shop(
    session: Session,
    shop_id: int,
    job: str,
    *,
    worker: str,
    now: datetime,
    error: str | None = None,
) -> None:
    """Give the lease back and record the outcome (`error` None: ok). A lease that expired and
    was taken by another worker is left to that worker."""
    outcome: dict[str, Any] = (
        {"last_status": OK, "last_error": None, "failures": 0}
        if error is None
        else {
            "last_status": FAILED,
            "last_error": error[:ERROR_LIMIT],
            "failures": ShopJobLease.failures + 1,
        }
    )
    session.execute(
        update(ShopJobLease)
        .where(
            ShopJobLease.shop_id == shop_id,
            ShopJobLease.job == job,
            ShopJobLease.locked_by == worker,
        )
        .values(locked_until=None, locked_by=None, last_finished_at=now, **outcome)
        .execution_options(synchronize_session=False)
    )


def failing_shops(session: Session, job: str) -> list[ShopFailure]:
    """Shops whose last run of `job` failed, most consecutive failures first."""
    rows = session.scalars(
        select(ShopJobLease)
        .where(and_(ShopJobLease.job == job, ShopJobLease.last_status == FAILED))
        .order_by(ShopJobLease.failures.desc(), ShopJobLease.shop_id)
    )
    return [
        ShopFailure(
            shop_id=row.shop_id,
            error=row.last_error or "",
            failures=row.failures,
            since=row.last_finished_at,
        )
        for row in rows
    ]


def _rows(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount
