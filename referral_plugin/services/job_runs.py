"""The last run of each scheduled job (`job_runs`, one row per job), for the status command."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import JobRun

RUNNING, OK, FAILED = "running", "ok", "failed"


def start_job_run(session: Session, name: str, *, now: datetime, worker: str) -> None:
    """Record that `worker` started a run of job `name` (status running). Idempotent upsert."""
    _upsert(session, name, last_started_at=now, last_status=RUNNING, worker=worker)


def finish_job_run(
    session: Session,
    name: str,
    *,
    now: datetime,
    worker: str,
    count: int | None,
    error: str | None = None,
) -> None:
    """Record the end of a run: ok with the count handled, or failed with the error.

    `runs` counts finished runs (`runs = runs + 1` in the database, safe with several workers).
    """
    _upsert(
        session,
        name,
        last_finished_at=now,
        last_status=OK if error is None else FAILED,
        last_count=count,
        last_error=error,
        worker=worker,
        runs=JobRun.runs + 1,
    )


def last_job_runs(session: Session) -> list[JobRun]:
    """Every job's last run, by job name."""
    return list(session.scalars(select(JobRun).order_by(JobRun.name)))


def _upsert(session: Session, name: str, **values: Any) -> None:
    """UPDATE the job's row; the first time, INSERT it (a concurrent insert wins: update it)."""
    statement = (
        update(JobRun)
        .where(JobRun.name == name)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], session.execute(statement)).rowcount:
        return
    try:
        with session.begin_nested():
            session.execute(insert(JobRun).values(name=name, runs=0))
    except IntegrityError:
        pass  # another worker inserted the row first; the update below applies ours
    session.execute(statement)
