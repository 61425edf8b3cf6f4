"""Scheduled jobs as data, the scheduler that runs them, and the worker process's main loop.

Only the `worker` process imports this module (`referral-plugin worker`); the web process never
starts a scheduler. A job runs as `run(session, now=..., services=...)` inside a transaction of
its own, so a failed run rolls back alone; jobs that need finer transactions (draining the
inbox: one per claim and one per delivery) take them from `services.sessions` and leave the
session unused (it never connects). Jobs claim rows with row locks and leases, so several
workers may run side by side. Every run is recorded in `job_runs` for `referral-plugin status`.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session

from connectors.base import Connector
from connectors.registry import CONNECTORS
from referral_plugin import (
    friend_code_jobs,
    merchant_webhook_jobs,
    shopper_email_jobs,
    store_jobs,
    subscription_jobs,
)
from referral_plugin.app import AppServices, build_services
from referral_plugin.domain.events import Platform
from referral_plugin.inbox_worker import drain_inbox
from referral_plugin.services import job_runs, rewards
from referral_plugin.services.deliveries import describe_error
from referral_plugin.settings import Settings

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


def worker_id() -> str:
    """`hostname:pid`, the name a worker's claims and job runs are recorded under."""
    return f"{socket.gethostname()}:{os.getpid()}"[-64:]


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerRuntime:
    """What a running worker shares with its jobs: its id, the stop flag, the clock."""

    worker: str = field(default_factory=worker_id)
    stop: threading.Event = field(default_factory=threading.Event)
    clock: Clock = utc_now
    connectors: Mapping[Platform, Connector] = field(default_factory=lambda: CONNECTORS)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledJob:
    """One job: `run(session, now=..., services=...)` returns how many rows it handled.

    `takes_runtime`: the job also gets `runtime=` (a WorkerRuntime: stop flag, worker id).
    """

    name: str
    run: Callable[..., int]
    interval_seconds: Callable[[Settings], int]
    takes_runtime: bool = False


def mature_held_rewards(session: Session, *, now: datetime, services: AppServices) -> int:
    """Held rewards whose return window has ended become approved."""
    return rewards.mature_held_rewards(session, now=now)


def drain_inbox_job(
    session: Session, *, now: datetime, services: AppServices, runtime: WorkerRuntime
) -> int:
    """Process the webhook inbox until it is empty (see `inbox_worker.drain_inbox`)."""
    return drain_inbox(
        services,
        worker=runtime.worker,
        stop=runtime.stop,
        clock=runtime.clock,
        connectors=runtime.connectors,
    )


JOBS: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        name="drain_inbox",
        run=drain_inbox_job,
        interval_seconds=lambda settings: settings.drain_interval_seconds,
        takes_runtime=True,
    ),
    ScheduledJob(
        name="mature_held_rewards",
        run=mature_held_rewards,
        interval_seconds=lambda settings: settings.mature_interval_seconds,
    ),
    ScheduledJob(
        name="issue_rewards",
        run=store_jobs.issue_rewards,
        interval_seconds=lambda settings: settings.issue_interval_seconds,
    ),
    ScheduledJob(
        name="revoke_rewards",
        run=store_jobs.revoke_rewards,
        interval_seconds=lambda settings: settings.issue_interval_seconds,
    ),
    ScheduledJob(
        name="sync_friend_codes",
        run=friend_code_jobs.sync_friend_codes,
        interval_seconds=lambda settings: settings.friend_code_sync_interval_seconds,
    ),
    ScheduledJob(
        name="reconcile_orders",
        run=store_jobs.reconcile_orders,
        interval_seconds=lambda settings: settings.reconcile_interval_seconds,
    ),
    ScheduledJob(
        name="ensure_webhooks",
        run=subscription_jobs.ensure_webhook_subscriptions,
        interval_seconds=lambda settings: settings.webhook_check_interval_seconds,
    ),
    ScheduledJob(
        name="prepare_shopper_emails",
        run=shopper_email_jobs.prepare_shopper_emails,
        interval_seconds=lambda settings: settings.outbox_interval_seconds,
    ),
    ScheduledJob(
        name="send_outbox",
        run=store_jobs.send_outbox,
        interval_seconds=lambda settings: settings.outbox_interval_seconds,
    ),
    ScheduledJob(
        name="queue_expiry_reminders",
        run=shopper_email_jobs.queue_expiry_reminders,
        interval_seconds=lambda settings: settings.shopper_email_interval_seconds,
    ),
    ScheduledJob(
        name="queue_share_nudges",
        run=shopper_email_jobs.queue_share_nudges,
        interval_seconds=lambda settings: settings.shopper_email_interval_seconds,
    ),
    ScheduledJob(
        name="auto_enroll_customers",
        run=shopper_email_jobs.auto_enroll_customers,
        interval_seconds=lambda settings: settings.auto_enroll_interval_seconds,
    ),
    ScheduledJob(
        name="send_merchant_webhooks",
        run=merchant_webhook_jobs.send_merchant_webhooks,
        interval_seconds=lambda settings: settings.merchant_webhook_interval_seconds,
        takes_runtime=True,
    ),
)


def run_job(
    job: ScheduledJob,
    services: AppServices,
    clock: Clock = utc_now,
    runtime: WorkerRuntime | None = None,
) -> int | None:
    """Run `job` once in its own transaction, record the run in `job_runs` and log it;
    returns the count handled, or None when the run failed (logged, never raised)."""
    runtime = runtime or WorkerRuntime(clock=clock)
    started, started_clock = time.monotonic(), clock()
    _record_run(
        services, job_runs.start_job_run, job.name, now=started_clock, worker=runtime.worker
    )
    extra = {"runtime": runtime} if job.takes_runtime else {}
    try:
        with services.sessions.begin() as session:
            handled = job.run(session, now=started_clock, services=services, **extra)
    except Exception as exc:
        # Log and keep the scheduler alive; the transaction rolled back, the next run retries.
        logger.exception("job failed", extra={"job": job.name})
        _record_run(
            services,
            job_runs.finish_job_run,
            job.name,
            now=clock(),
            worker=runtime.worker,
            count=None,
            error=describe_error(exc),
        )
        return None
    elapsed_ms = round((time.monotonic() - started) * 1000)
    _record_run(
        services,
        job_runs.finish_job_run,
        job.name,
        now=clock(),
        worker=runtime.worker,
        count=handled,
    )
    logger.info("job done", extra={"job": job.name, "handled": handled, "elapsed_ms": elapsed_ms})
    return handled


def _record_run(
    services: AppServices, record: Callable[..., None], name: str, **values: object
) -> None:
    """Bookkeeping in its own transaction; a failure is logged, never fails the job itself."""
    try:
        with services.sessions.begin() as session:
            record(session, name, **values)
    except Exception:
        logger.warning("job run not recorded", extra={"job": name}, exc_info=True)


def build_scheduler(
    services: AppServices,
    jobs: tuple[ScheduledJob, ...] = JOBS,
    clock: Clock = utc_now,
    runtime: WorkerRuntime | None = None,
) -> BlockingScheduler:
    """A blocking scheduler with every job due at once and then at its interval."""
    runtime = runtime or WorkerRuntime(clock=clock)
    scheduler = BlockingScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=max(1, len(jobs)))},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    for job in jobs:
        scheduler.add_job(
            run_job,
            trigger=IntervalTrigger(seconds=job.interval_seconds(services.settings), timezone=UTC),
            args=(job, services, clock, runtime),
            id=job.name,
            name=job.name,
            next_run_time=clock(),
        )
    return scheduler


def stop_on_signals(scheduler: BlockingScheduler, stop: threading.Event) -> None:
    """SIGTERM and SIGINT raise the stop flag (the inbox drain finishes its current delivery
    and releases the rest of its batch), let running jobs finish, then stop the scheduler."""

    def shutdown(signum: int, _frame: FrameType | None) -> None:
        logger.info("worker stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()
        if scheduler.running:
            scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)


class ExpectedOverlapFilter(logging.Filter):
    """Drop APScheduler's "skipped: maximum number of running instances" warning: a drain run
    that outlasts its interval is working through a backlog, which is the design."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


# The drain makes and drops many small containers per delivery (the decoded payload, rows,
# events), few of them in cycles. With Python's default thresholds (700, 10, 10) the collector
# ran every few hundred of them and walked everything the start-up left (modules, mappers, the
# statement cache) again and again: bench/process.py, one worker on PostgreSQL, 8-20 % more
# events/s with these, in three runs alternating with the defaults.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_garbage_collection() -> None:
    """Once start-up is done: move what it made out of the collector's reach (`gc.freeze`)
    and collect the youngest objects every GC_THRESHOLDS[0] allocations, not 700."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_worker(settings: Settings, jobs: tuple[ScheduledJob, ...] = JOBS) -> None:
    """The worker process's main loop; returns after SIGTERM/SIGINT."""
    logging.getLogger("apscheduler.scheduler").addFilter(ExpectedOverlapFilter())
    services = build_services(settings)
    tune_garbage_collection()
    runtime = WorkerRuntime()
    scheduler = build_scheduler(services, jobs, runtime=runtime)
    stop_on_signals(scheduler, runtime.stop)
    logger.info(
        "worker started",
        extra={"worker": runtime.worker, "jobs": ",".join(job.name for job in jobs)},
    )
    try:
        if not runtime.stop.is_set():
            scheduler.start()
    finally:
        services.engine.dispose()
    logger.info("worker stopped", extra={"worker": runtime.worker})
