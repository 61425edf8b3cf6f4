"""Scheduled jobs as data, the scheduler that runs them, and the worker process's main loop.

Only the `worker` process imports this module (`referral-plugin worker`); the web process never
starts a scheduler. Each run of a job is one transaction of its own, so a failed run rolls back
alone and the next run starts clean. Jobs claim their rows with row locks in the services, so
several workers may run side by side.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session

from referral_plugin.app import AppServices, build_services
from referral_plugin.services import rewards
from referral_plugin.settings import Settings

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledJob:
    """One job: `run(session, now=..., services=...)` returns how many rows it handled."""

    name: str
    run: Callable[..., int]
    interval_seconds: Callable[[Settings], int]


def mature_held_rewards(session: Session, *, now: datetime, services: AppServices) -> int:
    """Held rewards whose return window has ended become approved."""
    return rewards.mature_held_rewards(session, now=now)


JOBS: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        name="mature_held_rewards",
        run=mature_held_rewards,
        interval_seconds=lambda settings: settings.mature_interval_seconds,
    ),
)


def run_job(job: ScheduledJob, services: AppServices, clock: Clock = utc_now) -> int | None:
    """Run `job` once in its own transaction; logs the outcome, returns the count or None."""
    started = time.monotonic()
    try:
        with services.sessions.begin() as session:
            handled = job.run(session, now=clock(), services=services)
    except Exception:
        # Log and keep the scheduler alive; the transaction rolled back, the next run retries.
        logger.exception("job failed", extra={"job": job.name})
        return None
    elapsed_ms = round((time.monotonic() - started) * 1000)
    logger.info("job done", extra={"job": job.name, "handled": handled, "elapsed_ms": elapsed_ms})
    return handled


def build_scheduler(
    services: AppServices, jobs: tuple[ScheduledJob, ...] = JOBS, clock: Clock = utc_now
) -> BlockingScheduler:
    """A blocking scheduler with every job due at once and then at its interval."""
    scheduler = BlockingScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=max(1, len(jobs)))},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    for job in jobs:
        scheduler.add_job(
            run_job,
            trigger=IntervalTrigger(seconds=job.interval_seconds(services.settings), timezone=UTC),
            args=(job, services, clock),
            id=job.name,
            name=job.name,
            next_run_time=clock(),
        )
    return scheduler


def stop_on_signals(scheduler: BlockingScheduler) -> None:
    """SIGTERM and SIGINT let running jobs finish, then stop the scheduler."""

    def shutdown(signum: int, _frame: FrameType | None) -> None:
        logger.info("worker stopping", extra={"signal": signal.Signals(signum).name})
        if scheduler.running:
            scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)


def run_worker(settings: Settings, jobs: tuple[ScheduledJob, ...] = JOBS) -> None:
    """The worker process's main loop; returns after SIGTERM/SIGINT."""
    services = build_services(settings)
    scheduler = build_scheduler(services, jobs)
    stop_on_signals(scheduler)
    logger.info("worker started", extra={"jobs": ",".join(job.name for job in jobs)})
    try:
        scheduler.start()
    finally:
        services.engine.dispose()
    logger.info("worker stopped")
